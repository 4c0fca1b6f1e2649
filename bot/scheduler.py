"""APScheduler drives the periodic work; the database decides what is due, so there are no per-pair jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import MentorBot
from bot.health import DELIVERY

SWEEP_SECONDS = 30
DELIVER_SECONDS = 2
log = logging.getLogger(__name__)


class _Solo:
    """Runs one piece of work at a time. A call while it runs asks for one more run afterwards instead of
    starting a second copy, so a slow run is never doubled and never makes APScheduler skip with a warning
    (the job itself only starts the task and returns)."""

    def __init__(self, name: str, work: Callable[[], Awaitable[Any]]) -> None:
        self.name = name
        self.work = work
        self.task: asyncio.Task[None] | None = None
        self.again = False

    def poke(self) -> None:
        """Start a run now, or one more right after the run in progress."""
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.get_running_loop().create_task(self._runs(), name=self.name)

    async def job(self) -> None:
        """The APScheduler job: a coroutine function, so the scheduler runs it on the loop, not in a thread."""
        self.poke()

    async def _runs(self) -> None:
        while True:
            self.again = False
            try:
                await self.work()
            except Exception:
                log.exception("%s failed", self.name)
            if not self.again:
                return

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class Heartbeat:
    """Two interval jobs: the sweeps and the deliverer. A slow run is never doubled, a missed one is not replayed.
    It changes nothing on the bot: the starter wires `bot.on_handled(heartbeat.deliver_soon)`."""

    def __init__(self, bot: MentorBot, sweep_seconds: float = SWEEP_SECONDS,
                 deliver_seconds: float = DELIVER_SECONDS) -> None:
        self.bot = bot
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.sweeps = _Solo("sweeps", bot.run_sweeps)
        self.delivery = _Solo("deliver", self.deliver_once)
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None, "replace_existing": True}
        self.scheduler.add_job(self.sweeps.job, "interval", seconds=sweep_seconds, id="sweeps",
                               next_run_time=datetime.now(UTC), **common)
        self.scheduler.add_job(self.delivery.job, "interval", seconds=deliver_seconds, id="deliver",
                               next_run_time=datetime.now(UTC), **common)

    async def deliver_once(self) -> int:
        """One run of the deliverer (until nothing is due), timed and recorded for /metrics and /healthz."""
        started = time.perf_counter()
        sent = await self.bot.deliver()
        self.bot.health.ran(DELIVERY, time.perf_counter() - started)
        return sent

    def start(self) -> None:
        self.scheduler.start()

    def deliver_soon(self) -> None:
        """Run the deliverer now instead of at its next tick (after an event queued messages)."""
        if self.scheduler.running:
            self.delivery.poke()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stop(self) -> None:
        """Stop the jobs and cancel the runs in flight (their transactions roll back)."""
        self.shutdown()
        await self.sweeps.stop()
        await self.delivery.stop()
