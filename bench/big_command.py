"""How long a 1 MB-ish command text takes at each step: tokenizing, the core's handling, and a signed Slack
request carrying it (refused with 413 before it is read), with /healthz answered meanwhile.

    python bench/big_command.py [--size 1000000] [--db sqlite|postgresql+asyncpg://...]

Prints seconds per step; nothing is asserted (DESIGN.md, "Testing": speed is measured here)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

from adapters.slack.app import SlackAdapter
from adapters.slack.server import EVENTS_PATH, HEALTH_PATH, web_app
from adapters.slack.settings import SlackSettings
from bot.clock import SystemClock
from bot.commands.parser import tokenize
from bot.core import MentorBot
from bot.errors import UserError
from bot.events import Actor, CommandEvent
from bot.text import MAX_COMMAND_CHARS
from storage.db import Database
from storage.migrate import upgrade
from testkit.fake_slack import FakeSlack, signed_headers

TEAM, TOKEN, SECRET = "T1", "xoxb-bench", "bench-secret"


def texts(size: int) -> dict[str, str]:
    """The shapes of text that made shlex.split slow, each about `size` characters."""
    return {
        "one long word": "problem " + "x" * size,
        "many short words": "problem " + "ab " * (size // 3),
        "quoted, with escapes": 'problem "' + 'say \\"hi\\" ' * (size // 12) + '"',
        "unclosed quote": 'problem "' + "x" * size,
    }


def timed(label: str, work: Callable[[], Any]) -> None:
    start = time.perf_counter()
    try:
        result = work()
        outcome = f"{len(result)} words" if isinstance(result, list) else "done"
    except UserError as err:
        outcome = err.key
    print(f"  {label:<28} {time.perf_counter() - start:8.3f} s   ({outcome})")


async def atimed(label: str, work: Callable[[], Awaitable[str]]) -> None:
    start = time.perf_counter()
    outcome = await work()
    print(f"  {label:<28} {time.perf_counter() - start:8.3f} s   ({outcome})")


async def run(size: int, db_url: str) -> int:
    print(f"tokenize, {size:,} characters:")
    for label, text in texts(size).items():
        timed(label, lambda text=text: tokenize(text))
    db = Database(db_url)
    fake = FakeSlack(team=TEAM)
    fake.add_user("UBOB", "Bob")
    api = await fake.start()
    try:
        bot = MentorBot(db, SystemClock())
        actor = Actor("slack", TEAM, "UBOB", "Bob")
        print(f"MentorBot.handle (commands over {MAX_COMMAND_CHARS:,} characters are refused unread):")
        for label, text in texts(size).items():
            await atimed(label, lambda text=text: _reply(bot, CommandEvent(actor, text)))
        await atimed(f"at the limit ({MAX_COMMAND_CHARS:,})",
                     lambda: _reply(bot, CommandEvent(actor, "pair " + "@x " * ((MAX_COMMAND_CHARS - 5) // 3))))
        settings = SlackSettings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                                 slack_api_url=api)
        adapter = SlackAdapter(bot, settings)
        bot.add_messenger(adapter.messenger)  # as the Slack adapter's serve() does
        runner = web.AppRunner(web_app(adapter.app), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        body = urlencode({"team_id": TEAM, "user_id": "UBOB", "command": "/mentor", "text": texts(size)["one long word"],
                          "response_url": fake.hook_url("big"), "trigger_id": "t1"})
        try:
            async with ClientSession() as http:
                async def post() -> str:
                    async with http.post(base + EVENTS_PATH, data=body.encode(),
                                         headers=signed_headers(body, "application/x-www-form-urlencoded",
                                                                secret=SECRET)) as resp:
                        return f"HTTP {resp.status}"

                async def health() -> str:
                    async with http.get(base + HEALTH_PATH) as resp:
                        return f"HTTP {resp.status}"

                print(f"Slack, a signed {len(body):,}-byte request, and /healthz sent meanwhile:")
                await asyncio.gather(atimed("the big request", post), atimed("/healthz", health))
        finally:
            await runner.cleanup()
            await adapter.close()
    finally:
        await fake.stop()
        await db.close()
    return 0


async def _reply(bot: MentorBot, event: CommandEvent) -> str:
    response = await bot.handle(event)
    return response.messages[0].text[:60] if response.messages else "no reply"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000, help="characters of text (default 1,000,000)")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a PostgreSQL URL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'big.db'}" if args.db == "sqlite" else args.db
        upgrade(url)
        return asyncio.run(run(args.size, url))


if __name__ == "__main__":
    raise SystemExit(main())
