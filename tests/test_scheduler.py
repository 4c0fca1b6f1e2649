"""APScheduler drives the sweeps and the deliverer: two jobs that never overlap and never replay a backlog."""

import asyncio
from datetime import UTC, datetime

from bot.clock import ManualClock
from bot.health import Health
from bot.scheduler import Heartbeat


class FakeBot:
    def __init__(self) -> None:
        self.swept = asyncio.Event()
        self.delivered = asyncio.Event()
        self.deliveries = 0
        # What the heartbeat records its runs in; only the outbox reads touch the database.
        self.health = Health(None, ManualClock(datetime(2026, 1, 5, tzinfo=UTC)), {})  # type: ignore[arg-type]

    async def run_sweeps(self) -> None:
        self.swept.set()

    async def deliver(self) -> int:
        self.deliveries += 1
        self.delivered.set()
        return 0


async def test_heartbeat_runs_sweeps_and_delivery_at_start_and_on_demand() -> None:
    bot = FakeBot()
    beat = Heartbeat(bot, sweep_seconds=3600, deliver_seconds=3600)  # type: ignore[arg-type]
    jobs = {job.id: job for job in beat.scheduler.get_jobs()}
    assert set(jobs) == {"sweeps", "deliver"}
    assert all(j.coalesce and j.max_instances == 1 for j in jobs.values())
    beat.start()
    try:
        await asyncio.wait_for(asyncio.gather(bot.swept.wait(), bot.delivered.wait()), timeout=10)
        bot.delivered.clear()
        beat.deliver_soon()  # an event queued messages: no need to wait an hour
        await asyncio.wait_for(bot.delivered.wait(), timeout=10)
        assert bot.deliveries == 2
    finally:
        beat.shutdown()


async def test_a_slow_delivery_is_never_doubled_and_nothing_warns(caplog) -> None:  # type: ignore[no-untyped-def]
    """Pokes while the deliverer runs ask for one more run after it, never a second copy or a skip warning."""
    release = asyncio.Event()
    running = 0
    overlaps = []
    runs = []

    class SlowBot(FakeBot):
        async def deliver(self) -> int:
            nonlocal running
            running += 1
            overlaps.append(running)
            runs.append(1)
            await release.wait()
            running -= 1
            self.delivered.set()
            return 0

    bot = SlowBot()
    beat = Heartbeat(bot, sweep_seconds=3600, deliver_seconds=3600)  # type: ignore[arg-type]
    beat.start()
    try:
        while not runs:
            await asyncio.sleep(0)
        for _ in range(20):
            beat.deliver_soon()
        await beat.delivery.job()  # the scheduler's own tick while the run is in progress
        release.set()
        while beat.delivery.task is not None and not beat.delivery.task.done():
            await asyncio.sleep(0)
        assert len(runs) == 2 and max(overlaps) == 1
        assert not [r for r in caplog.records if r.levelname == "WARNING"]
    finally:
        await beat.stop()
