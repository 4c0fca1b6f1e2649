"""The deliverer at size and under stress: leases that outlive a long paced run, each send recorded as it is
accepted (a crash repeats nothing already accepted), and a claim whose cost does not grow with the backlog."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, text
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.clock import ManualClock
from bot.delivery import LEASE, STALLED, Deliverer
from bot.messages import Message
from bot.messenger import Delivered, Destination
from bot.outbox import enqueue_rows, outbox_row
from storage.db import Database
from storage.models import Outbox, OutboxKind, OutboxStatus, Workspace
from testkit.messenger import RecordingMessenger


async def nothing_to_tell(session: AsyncSession, row: Outbox, now: datetime) -> None:
    """The coordinators' side of a failed send is tested elsewhere (tests/test_delivery.py)."""


def deliverer(db: Database, clock: ManualClock, messenger: Any, concurrency: int = 16) -> Deliverer:
    return Deliverer(db, {messenger.platform: messenger}, nothing_to_tell, clock.now, concurrency=concurrency)


async def queue_posts(db: Database, clock: ManualClock, n: int, *, start: int = 0, urgent_every: int = 0) -> None:
    """n channel posts (one channel each) in workspace 1; every `urgent_every`-th is a direct message instead."""
    async with db.transaction() as s:
        if (await s.get(Workspace, 1)) is None:
            s.add(Workspace(id=1, platform="console", external_id="local"))
            await s.flush()
        rows = []
        for i in range(start, start + n):
            dm = bool(urgent_every) and i % urgent_every == 0
            rows.append(outbox_row(kind=OutboxKind.DIGEST, subject_id=i, workspace_id=1,
                                   dest_kind="channel", target=f"#c{i}", message=Message(f"post {i}"),
                                   now=clock.now(), program_id=None, edits_key=f"urgent-{i}" if dm else None))
        for chunk in range(0, len(rows), 1000):
            await enqueue_rows(s, rows[chunk:chunk + 1000])


async def statuses(db: Database) -> Counter[str]:
    async with db.transaction() as s:
        return Counter(dict((await s.exec(select(Outbox.status, func.count()).group_by(Outbox.status))).all()))


class SlowPlatform(RecordingMessenger):
    """A paced platform on the manual clock: each send takes `seconds`; `during` runs inside the n-th send."""

    def __init__(self, clock: ManualClock, seconds: float, during: dict[int, Any] | None = None) -> None:
        super().__init__()
        self.clock, self.seconds, self.during = clock, seconds, during or {}
        self.calls = 0

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        self.calls += 1
        if (hook := self.during.get(self.calls)) is not None:
            await hook()
        self.clock.advance(timedelta(seconds=self.seconds))
        return await super().send(dest, message, idempotency_key=idempotency_key)


async def test_a_run_longer_than_the_lease_keeps_its_rows_from_a_second_replica(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 60)
    other_db = Database(db.url)
    twin_platform = RecordingMessenger()
    twin = deliverer(other_db, clock, twin_platform)
    twin_sent: list[int] = []

    async def a_replica_starts_a_run() -> None:
        twin_sent.append(await twin.deliver_due())

    # 60 sends of 10 s: 600 s of sending, many leases long; the twin tries at 300 s and at 500 s.
    platform = SlowPlatform(clock, 10.0, {30: a_replica_starts_a_run, 50: a_replica_starts_a_run})
    started = clock.now()
    try:
        sent = await deliverer(db, clock, platform).deliver_due()
    finally:
        await other_db.close()
    assert clock.now() - started > 5 * LEASE
    assert (sent, twin_sent, twin_platform.sent) == (60, [0, 0], [])
    assert sorted(Counter(platform.keys()).values()) == [1] * 60
    async with db.transaction() as s:
        sent_at = (await s.exec(select(Outbox.sent_at))).all()
    # Each row carries the moment it was sent, not the moment the run began.
    assert len(set(sent_at)) == 60 and max(sent_at) - min(sent_at) >= timedelta(seconds=590)


async def test_a_lease_that_ran_out_is_not_renewed_over_another_replicas_claim(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 3)
    other_db = Database(db.url)
    twin_platform = RecordingMessenger()
    twin = deliverer(other_db, clock, twin_platform)

    async def stalled_past_the_lease() -> None:  # the process hung; meanwhile another one took the rest over
        clock.advance(LEASE + timedelta(seconds=1))
        await twin.deliver_due()

    platform = SlowPlatform(clock, 1.0, {1: stalled_past_the_lease})
    one = deliverer(db, clock, platform, concurrency=1)
    try:
        await one.deliver_due()
    finally:
        await other_db.close()
    # The stalled send went out (it was in flight: the one repeat allowed); the other two only once.
    assert Counter(platform.keys() + twin_platform.keys()) == Counter(
        {"digest:0": 2, "digest:1": 1, "digest:2": 1})
    assert await statuses(db) == Counter({OutboxStatus.SENT: 3})


class Beats:
    """The deliverer's injected sleep for its lease heartbeat: each sleep ends when the test lets one beat through."""

    def __init__(self) -> None:
        self.through: asyncio.Queue[None] = asyncio.Queue()
        self.asleep = 0

    async def sleep(self, seconds: float) -> None:
        self.asleep += 1
        await self.through.get()

    async def beat(self) -> None:
        """Let one heartbeat through and return once it sleeps again, its lease check done."""
        before = self.asleep
        self.through.put_nowait(None)

        async def done() -> bool:
            return self.asleep > before

        await until(done, tries=1_000_000)


async def beat_through(clock: ManualClock, beats: Beats, span: timedelta) -> None:
    """Move the clock on by `span` in 20 s steps, a heartbeat after each."""
    for _ in range(int(span / timedelta(seconds=20))):
        clock.advance(timedelta(seconds=20))
        await beats.beat()


async def test_one_send_slower_than_the_lease_keeps_its_rows_from_a_second_replica(
        db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 3)
    other_db = Database(db.url)
    twin_platform = RecordingMessenger()
    twin = deliverer(other_db, clock, twin_platform)
    beats = Beats()

    async def hangs_past_the_lease() -> None:  # e.g. Retry-After waits and timeouts inside one platform call
        await beat_through(clock, beats, 2 * LEASE)
        await twin.deliver_due()

    platform = SlowPlatform(clock, 1.0, {1: hangs_past_the_lease})
    one = Deliverer(db, {platform.platform: platform}, nothing_to_tell, clock.now, concurrency=1, sleep=beats.sleep)
    try:
        sent = await one.deliver_due()
    finally:
        await other_db.close()
    assert (twin_platform.keys(), platform.keys(), sent) == ([], ["digest:0", "digest:1", "digest:2"], 3)
    assert await statuses(db) == Counter({OutboxStatus.SENT: 3})


async def test_a_send_that_never_returns_lets_its_lease_run_out(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 3)
    hung, beats = Freezes(accepted=0), Beats()
    one = Deliverer(db, {hung.platform: hung}, nothing_to_tell, clock.now, concurrency=1, sleep=beats.sleep)
    run = asyncio.create_task(one.deliver_due())
    other_db = Database(db.url)
    twin_platform = RecordingMessenger()
    twin = deliverer(other_db, clock, twin_platform)

    async def hanging() -> bool:
        return hung.hung == 1

    try:
        await until(hanging)
        await beat_through(clock, beats, 2 * LEASE)
        assert await twin.deliver_due() == 0, "past one lease the heartbeat still holds the rows"
        await beat_through(clock, beats, STALLED + LEASE)
        assert await twin.deliver_due() == 3, "a send stalled this long gives the rows up"
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await other_db.close()
    assert twin_platform.keys() == ["digest:0", "digest:1", "digest:2"]


class Freezes(RecordingMessenger):
    """The process dies after `accepted` sends: every later send hangs, never reaching the platform."""

    def __init__(self, accepted: int) -> None:
        super().__init__()
        self.accepted = accepted
        self.hung = 0
        self.forever = asyncio.Event()

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        if len(self.sent) >= self.accepted:
            self.hung += 1
            await self.forever.wait()
        return await super().send(dest, message, idempotency_key=idempotency_key)


async def until(condition: Any, tries: int = 10_000) -> None:
    """Let the event loop run (no wall-clock sleep) until the async condition holds."""
    for _ in range(tries):
        if await condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_a_crash_mid_batch_loses_no_accepted_send_and_repeats_none(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 50)
    crashed = Freezes(accepted=20)
    before = metrics.REGISTRY.get_sample_value("mentorbot_sends_total", {"platform": "console", "kind": "digest"}) or 0
    run = asyncio.create_task(deliverer(db, clock, crashed).deliver_due())

    async def accepted_ones_recorded() -> bool:
        return crashed.hung == 16 and (await statuses(db))[OutboxStatus.SENT] == 20

    try:
        # The batch of 50 is not finished (16 sends hang), yet the 20 the platform accepted are on disk.
        await until(accepted_ones_recorded)
        after = metrics.REGISTRY.get_sample_value("mentorbot_sends_total", {"platform": "console", "kind": "digest"})
        assert after == before + 20
        # kill -9: nothing more from that process; its leases run out and a fresh process takes over.
        clock.advance(LEASE + timedelta(seconds=1))
        other_db = Database(db.url)
        restarted = RecordingMessenger()
        try:
            assert await deliverer(other_db, clock, restarted).deliver_due() == 30
        finally:
            await other_db.close()
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    assert Counter(crashed.keys() + restarted.keys()) == Counter({f"digest:{i}": 1 for i in range(50)})
    assert await statuses(db) == Counter({OutboxStatus.SENT: 50})


async def test_a_flush_that_loses_a_deadlock_is_recorded_all_the_same(db: Database, clock: ManualClock) -> None:
    # PostgreSQL aborts one of two transactions that lock the same rows in opposite orders; when that is the
    # recorder's, its sends are still recorded (the flush runs again), so none goes out twice.
    await queue_posts(db, clock, 5)
    failed: list[str] = []

    def deadlock_once(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("UPDATE outbox SET status") and not failed:
            failed.append(statement)
            raise OperationalError(statement, parameters, Exception("deadlock detected"))

    platform = RecordingMessenger()
    event.listen(db.engine.sync_engine, "before_cursor_execute", deadlock_once)
    try:
        assert await deliverer(db, clock, platform).deliver_due() == 5
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", deadlock_once)
    clock.advance(LEASE * 2)
    assert await deliverer(db, clock, platform).deliver_due() == 0
    assert failed and Counter(platform.keys()) == Counter({f"digest:{i}": 1 for i in range(5)})
    assert await statuses(db) == Counter({OutboxStatus.SENT: 5})


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the engine runs inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def one_batch(db: Database, clock: ManualClock) -> tuple[int, str, Any]:
    """Statements that claiming, sending and recording one batch of 10 took, and the claim query as run."""
    with statements(db) as seen:
        assert await deliverer(db, clock, RecordingMessenger()).deliver_batch(10) == (10, 10)
    claim = next((sql, params) for sql, params in seen if "FROM outbox" in sql and "ORDER BY" in sql)
    return len(seen), *claim


async def plan(db: Database, sql: str, params: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":  # as the claim's transaction does; the statistics are left stale on purpose
            await conn.execute(text("SET LOCAL enable_sort = off"))
        rows = (await conn.exec_driver_sql(explain + sql, params)).all()
    return "\n".join(" ".join(map(str, row)) for row in rows)


async def test_claiming_costs_the_same_with_a_small_or_a_large_backlog(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 100, urgent_every=7)
    small, _, _ = await one_batch(db, clock)
    await queue_posts(db, clock, 5000, start=100, urgent_every=7)
    large, sql, params = await one_batch(db, clock)
    assert small == large
    how = await plan(db, sql, params)
    assert "ix_outbox_claim" in how, how
    assert "TEMP B-TREE" not in how and "Sort" not in how, how


async def test_urgent_rows_go_first_however_long_the_queue(db: Database, clock: ManualClock) -> None:
    await queue_posts(db, clock, 300, urgent_every=50)
    platform = RecordingMessenger()
    await deliverer(db, clock, platform).deliver_due(batch=10)
    assert platform.keys()[:6] == [f"digest:{i}" for i in range(0, 300, 50)]
    assert len(platform.keys()) == 300


async def test_retries_and_failures_are_counted_by_the_platforms_error_code(db: Database, clock: ManualClock) -> None:
    from bot.messenger import DeliveryError

    def sample(name: str, reason: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {"platform": "console", "reason": reason}) or 0

    await queue_posts(db, clock, 2)
    platform = RecordingMessenger()

    def refuse(dest: Destination, key: str) -> None:
        if key == "digest:0":
            raise DeliveryError("Slack is busy", retryable=True, retry_after=5, code="ratelimited")
        raise DeliveryError("The channel is gone", retryable=False, code="channel_not_found")

    platform.fail = refuse
    before = sample("mentorbot_send_retries_total", "ratelimited"), sample("mentorbot_send_failures_total",
                                                                            "channel_not_found")
    await deliverer(db, clock, platform).deliver_due()
    assert (sample("mentorbot_send_retries_total", "ratelimited"),
            sample("mentorbot_send_failures_total", "channel_not_found")) == (before[0] + 1, before[1] + 1)
    async with db.transaction() as s:
        row = (await s.exec(select(Outbox).where(Outbox.key == "digest:0"))).one()
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5) and row.status == OutboxStatus.PENDING


async def blocked(db: Database, n: int) -> bool:
    """Whether n transactions on the test's database wait for a lock."""
    async with db.read() as s:
        return (await s.exec(text(  # type: ignore[call-overload]
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ))).scalar_one() == n


async def test_a_lease_renewal_and_a_flush_of_the_same_rows_never_deadlock(db: Database, clock: ManualClock) -> None:
    # A renewal used to lock its rows in the order it read them from the table, a flush in id order; with the
    # first row stored last (it was updated since), the renewal could hold the last row and wait for the first
    # while the flush held the first and waited for the last: PostgreSQL aborted one, and an aborted renewal
    # lets the lease run out. Both lock in id order now. Here both wait behind a third transaction on the last row.
    if db.dialect != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: nothing waits in a circle")
    await queue_posts(db, clock, 3)
    # On a table this small PostgreSQL reads the rows by the primary key, in id order; on a large one (three
    # replicas' fan-out) it may read them in the order they are stored, as it must here.
    stored_order = Database(db.url)

    @event.listens_for(stored_order.engine.sync_engine, "connect")
    def no_index_scans(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("SET enable_indexscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        cursor.close()

    one = deliverer(stored_order, clock, RecordingMessenger())
    batch = await one._claim(3)
    assert batch is not None
    first, _, last = batch.jobs
    for job in (first, last):  # sent, waiting to be recorded
        job.result, job.finished_at = Delivered("m1", None), clock.now()
    async with db.transaction() as s:  # the first row's newest version now lies after the others
        await s.exec(text("UPDATE outbox SET last_error = NULL WHERE id = :id"), params={"id": first.row.id})  # type: ignore[call-overload]
    async with db.engine.connect() as holder:
        held = await holder.begin()
        await holder.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": last.row.id})
        renewal = asyncio.create_task(one._renew(batch))
        await until(lambda: blocked(db, 1))
        flush = asyncio.create_task(one._record([last, first]))
        await until(lambda: blocked(db, 2))
        await held.commit()
    try:
        await asyncio.gather(renewal, flush)  # neither aborted as a deadlock
    finally:
        await stored_order.close()
    assert await statuses(db) == Counter({OutboxStatus.SENT: 2, OutboxStatus.PENDING: 1})
    assert not any(job.lost for job in batch.jobs)
