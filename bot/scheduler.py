"""APScheduler drives the periodic work; the database decides what is due, so there are no per-pair jobs."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import MentorBot

SWEEP_SECONDS = 30
DELIVER_SECONDS = 2


class Heartbeat:
    """Two interval jobs: the sweeps and the deliverer. A slow run is never doubled, a missed one is not replayed."""

    def __init__(self, bot: MentorBot, sweep_seconds: float = SWEEP_SECONDS,
                 deliver_seconds: float = DELIVER_SECONDS) -> None:
        self.bot = bot
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None, "replace_existing": True}
        self.scheduler.add_job(bot.run_sweeps, "interval", seconds=sweep_seconds, id="sweeps",
                               next_run_time=datetime.now(UTC), **common)
        self.scheduler.add_job(bot.deliver, "interval", seconds=deliver_seconds, id="deliver",
                               next_run_time=datetime.now(UTC), **common)
        bot.after_event = self.deliver_soon

    def start(self) -> None:
        self.scheduler.start()

    def deliver_soon(self) -> None:
        """Run the deliverer now instead of at its next tick (after an event queued messages)."""
        job = self.scheduler.get_job("deliver")
        if job is not None and self.scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
