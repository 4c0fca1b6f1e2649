"""Two replicas on one PostgreSQL database: two OS processes, each a MentorBot with its own engine, run the
sweeps and the deliverer over the same backlog; every check-in is planned once and every nudge sent once.

Time is injected and shared: one logical clock in shared memory that every send moves forward, as a
paced fan-out does. The first replica plans and starts sending alone; the second starts delivering once the
first's run has outlasted the outbox lease, while the first is in the middle of a batch (it holds still until
the second has sent something), so a lease taken from the start of a run, not the claim, shows as a double."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, text
from sqlmodel import SQLModel, col, select

from bot.clock import ManualClock
from bot.core import MentorBot
from bot.delivery import LEASE
from bot.messages import Message
from bot.messenger import Delivered, Destination, Profile
from storage.db import Database
from storage.models import (
    Cadence, Checkin, Enrollment, Member, Outbox, OutboxStatus, Pair, PairStatus, Program, Role, Workspace,
)

pytestmark = pytest.mark.skipif(not os.environ.get("MENTORBOT_TEST_POSTGRES_URL"),
                                reason="a two-process test needs PostgreSQL (MENTORBOT_TEST_POSTGRES_URL)")

PLATFORM = "replica"
PAIRS = 650
REPLICAS = 2
LATE_AFTER = 420  # the first replica's sends before the second delivers: in its fifth batch, past the lease
# Logical seconds each send takes. A delivery batch (100 rows) stays well inside the lease even while the
# other replica sends too, but the whole backlog takes longer than the lease.
STEP = 0.75
START = datetime(2026, 12, 7, 10, 5, tzinfo=UTC)  # a Monday, five minutes after the program's 10:00
WAIT_SECONDS = 120  # bound on one replica waiting for the other (a guard: the other's progress ends the wait)
ROUNDS = 20_000  # bound on a replica's sweep-and-deliver rounds; it stops as soon as everything is sent
JOIN_SECONDS = 300  # only a guard against a hung child; the test waits on the outcome, never on time


class SharedClock(ManualClock):
    """One logical time for every process: START plus seconds kept in shared memory."""

    def __init__(self, seconds: Any) -> None:
        super().__init__(START)
        self.seconds = seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds.value)

    def tick(self, seconds: float) -> None:
        with self.seconds.get_lock():
            self.seconds.value += seconds


class FileMessenger:
    """Records each send's idempotency key, one line each, in this replica's own file; each send moves time."""

    platform = PLATFORM

    def __init__(self, out: Path, clock: SharedClock, go: Any, joined: Any, first: bool) -> None:
        self.out = out.open("a", encoding="utf-8")
        self.clock = clock
        self.go, self.joined, self.first = go, joined, first
        self.sends = 0

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        self.clock.tick(STEP)
        self.out.write(idempotency_key + "\n")
        self.out.flush()
        self.sends += 1
        if self.first and self.sends == LATE_AFTER:
            self.go.set()  # the second replica may deliver now; this send holds still until it has sent
            assert self.joined.wait(WAIT_SECONDS), "the second replica never sent anything"
        elif not self.first:
            self.joined.set()
        return Delivered(f"m-{idempotency_key}", None)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        self.clock.tick(STEP)

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        return Profile(user_id, user_id, "UTC")


async def _all_sent(db: Database) -> bool:
    async with db.transaction() as s:
        nudges = select(func.count()).select_from(Outbox).where(col(Outbox.key).like("nudge:%"))
        total = (await s.exec(nudges)).one()
        pending = (await s.exec(nudges.where(Outbox.status == OutboxStatus.PENDING))).one()
    return total == PAIRS and pending == 0


async def _replica(url: str, seconds: Any, out: Path, barrier: Any, go: Any, joined: Any, first: bool) -> int:
    db = Database(url)
    clock = SharedClock(seconds)
    bot = MentorBot(db, clock)
    bot.add_messenger(FileMessenger(out, clock, go, joined, first))
    barrier.wait()  # both replicas start their sweeps together
    try:
        if not first:
            await bot.run_sweeps()
            assert go.wait(WAIT_SECONDS), "the first replica never got far"
        for rounds in range(1, ROUNDS + 1):
            await bot.run_sweeps()
            await bot.deliver()
            if await _all_sent(db):
                return rounds
        raise AssertionError(f"the backlog was not sent after {ROUNDS} rounds")
    finally:
        await db.close()


def replica(url: str, seconds: Any, out: str, barrier: Any, go: Any, joined: Any, first: bool) -> None:
    """One replica process: sweeps and delivery in rounds until the whole backlog is sent."""
    asyncio.run(_replica(url, seconds, Path(out), barrier, go, joined, first))


async def _seed(db: Database) -> None:
    """One weekly program due Mondays 10:00 UTC and PAIRS active pairs, each with its conversation open."""
    created, since = START - timedelta(days=70), START - timedelta(days=14)
    members, enrollments, pairs = [], [], []
    for i in range(PAIRS):
        for member_id, role in ((2 * i + 1, Role.MENTOR), (2 * i + 2, Role.MENTEE)):
            members.append({"id": member_id, "workspace_id": 1, "external_id": f"U{member_id}",
                            "display_name": f"{role.value}-{i}", "tz": "UTC", "interests": "", "goals": "",
                            "is_admin": False, "paused": False, "created_at": created})
            enrollments.append({"program_id": 1, "member_id": member_id, "role": role.value, "capacity": 1,
                                "active": True, "joined_at": created})
        pairs.append({"id": i + 1, "program_id": 1, "member_a_id": 2 * i + 1, "member_b_id": 2 * i + 2,
                      "kind": "mentorship", "status": PairStatus.ACTIVE.value, "created_at": since,
                      "active_since": since, "conversation_ref": f"G{i + 1}"})
    program = Program(id=1, workspace_id=1, name="Replicas", cadence=Cadence.WEEKLY, weekday=0, local_time="10:00",
                      tz="UTC", created_at=created)
    async with db.transaction() as s:
        await s.exec(insert(Workspace), params=[{"id": 1, "platform": PLATFORM, "external_id": "T-R", "name": "R"}])
        await s.exec(insert(Program), params=[program.model_dump()])
        for table, rows in ((Member, members), (Enrollment, enrollments), (Pair, pairs)):
            await s.exec(insert(table), params=rows)
        conn = await s.connection()
        for name in ("workspace", "program", "member", "pair"):  # explicit ids leave the sequences behind
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))


async def test_two_processes_plan_and_send_each_nudge_once(pg_ready: str, tmp_path: Path) -> None:
    db = Database(pg_ready)
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await _seed(db)

    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: no engine or loop inherited
    seconds = spawn.Value("d", 0.0)
    barrier, go, joined = spawn.Barrier(REPLICAS), spawn.Event(), spawn.Event()
    outs = [tmp_path / f"replica-{n}.txt" for n in range(REPLICAS)]
    procs = [spawn.Process(target=replica, args=(pg_ready, seconds, str(out), barrier, go, joined, n == 0))
             for n, out in enumerate(outs)]
    for proc in procs:
        proc.start()
    for proc in procs:
        await asyncio.to_thread(proc.join, JOIN_SECONDS)
    assert [p.exitcode for p in procs] == [0] * REPLICAS

    sent = [out.read_text().split() if out.exists() else [] for out in outs]
    per_key = Counter(key for keys in sent for key in keys)
    nudges = {key: n for key, n in per_key.items() if key.startswith("nudge:")}
    assert len(nudges) == PAIRS, "every pair got its nudge"
    assert {k: n for k, n in per_key.items() if n > 1} == {}, "nothing was sent twice"
    assert all(keys for keys in sent), "both replicas took part in delivery"
    assert seconds.value > LEASE.total_seconds(), "the fan-out outlasted a lease"
    async with db.transaction() as s:
        checkins = (await s.exec(select(func.count()).select_from(Checkin))).one()
        rows = (await s.exec(select(func.count()).select_from(Outbox).where(col(Outbox.key).like("nudge:%")))).one()
    await db.close()
    assert checkins == PAIRS and rows == PAIRS, "each check-in was planned once, with one nudge"
