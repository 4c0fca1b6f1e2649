"""APScheduler drives the sweeps and the deliverer: two jobs that never overlap and never replay a backlog."""

import asyncio

from bot.scheduler import Heartbeat


class FakeBot:
    def __init__(self) -> None:
        self.swept = asyncio.Event()
        self.delivered = asyncio.Event()
        self.deliveries = 0

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
