"""A fake platform served from its own event loop in a thread, for code under test that runs its own loop
(`mentorbot import` through `adapters.cli.main`, which calls asyncio.run)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from bot.clock import ManualClock
from bot.core import MentorBot
from bot.events import Actor, CommandEvent
from storage.db import Database
from testkit.console import START

WAIT = 10.0  # seconds for the fake to start or stop


@contextmanager
def served(start: Callable[[], Awaitable[str]], stop: Callable[[], Awaitable[None]]) -> Iterator[str]:
    """Run `start` (a fake's, returning its API URL) on a loop in a thread; `stop` it at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(WAIT)  # type: ignore[arg-type]
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(WAIT)  # type: ignore[arg-type]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)


def create_program(url: str, platform: str, workspace: str, admin: str, name: str) -> None:
    """A migrated database at `url` with program `name` created by the workspace admin `admin`, as chat would."""

    async def create() -> None:
        db = Database(url)
        await db.upgrade()
        actor = Actor(platform, workspace, admin, admin, is_admin=True)
        await MentorBot(db, ManualClock(START)).handle(CommandEvent(actor, f"program create {name}"))
        await db.close()

    asyncio.run(create())
