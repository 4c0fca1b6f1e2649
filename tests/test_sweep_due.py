"""The sweeps other than check-ins keep their due moments in indexed columns: the stored moment always equals
the one computed from scratch, the digests that go out are exactly those the old every-tick scan sent, and
an idle tick runs the same statements whatever the number of pairs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, update
from sqlmodel import col, select

from bot import coordinators
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.features import REGISTRY
from bot.flows import mydata, report
from bot.outbox import outbox_key
from bot.periods import zone
from storage.db import Database
from storage.models import (
    Enrollment,
    Member,
    Outbox,
    OutboxKind,
    Pair,
    PairStatus,
    Program,
    Role,
    Workspace,
)

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Auckland")
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # spans the March (north) and April (south) clock changes


async def _program(db: Database, tz: str = "UTC", created: datetime = START) -> int:
    async with db.transaction() as s:
        ws = Workspace(platform="test", external_id="T1")
        s.add(ws)
        await s.flush()
        coord = Member(workspace_id=ws.id, external_id="UC", display_name="carol", created_at=created)  # type: ignore[arg-type]
        program = Program(workspace_id=ws.id, name="Spring", tz=tz, channel_ref="C-LEADS", created_at=created)  # type: ignore[arg-type]
        s.add_all([coord, program])
        await s.flush()
        s.add(Enrollment(program_id=program.id, member_id=coord.id, role=Role.COORDINATOR, joined_at=created))  # type: ignore[arg-type]
        return program.id  # type: ignore[return-value]


async def _digest_keys(db: Database) -> set[str]:
    async with db.transaction() as s:
        return set((await s.exec(select(Outbox.key).where(Outbox.kind == OutboxKind.DIGEST))).all())


def _old_sweep(sent: set[str], tz: str, channel: str, created: datetime, now: datetime) -> None:
    """The digest rule as main ran it on every tick, on plain values: the reference."""
    at = datetime.combine((today := now.astimezone(zone(tz)).date()) - timedelta(days=today.weekday()),
                          report.DIGEST_AT, tzinfo=zone(tz))
    key = coordinators.addressed(outbox_key(OutboxKind.DIGEST, 1, at.date().isoformat()), ("channel", channel))
    if now >= at and at >= created and key not in sent:
        sent.add(key)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_stored_digest_moment_equals_the_one_computed_from_scratch(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    pid = await _program(db)
    clock = ManualClock(START)
    rt = MentorBot(db, clock).rt
    tz, channel, expected = "UTC", "C-LEADS", set[str]()
    for _ in range(60):
        step = rng.random()
        if step < 0.15:
            tz = rng.choice(ZONES)
            async with db.transaction() as s:
                program = await s.get(Program, pid)
                assert program is not None
                program.tz = tz
                report.reschedule_digest(program)
        elif step < 0.22:
            channel = f"C-{rng.randrange(3)}"
            async with db.transaction() as s:
                program = await s.get(Program, pid)
                assert program is not None
                program.channel_ref = channel
                report.reschedule_digest(program)
        else:  # time passes: an hour to nine days, the bot sometimes down through a whole week
            clock.set(clock.now() + timedelta(hours=rng.choice([1, 5, 13, 26, 70, 170, 220])))
        now = clock.now()
        await report.send_digests(rt, now)
        _old_sweep(expected, tz, channel, START, now)
        assert await _digest_keys(db) == expected
        async with db.transaction() as s:
            program = await s.get(Program, pid)
            assert program is not None and program.next_digest_at is not None
            assert program.next_digest_at == await report.digest_due(s, program, now)
            local = program.next_digest_at.astimezone(zone(tz))
            assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert await report.next_digest(rt, now) == program.next_digest_at
    assert len(expected) >= 3  # the walk did send digests, some after changes of zone and channel


async def test_digest_moment_follows_daylight_saving_in_the_program_zone(db: Database) -> None:
    pid = await _program(db, "Europe/Berlin")
    clock = ManualClock(datetime(2026, 3, 23, 9, 0, tzinfo=UTC))  # Monday 10:00 in Berlin, winter time
    rt = MentorBot(db, clock).rt
    await report.send_digests(rt, clock.now())
    async with db.transaction() as s:
        program = await s.get(Program, pid)
        assert program is not None
        # Clocks went forward on Sunday 29 March: next Monday 09:00 in Berlin is 07:00 UTC, not 08:00.
        assert program.next_digest_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert len(await _digest_keys(db)) == 1
    clock.set(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))
    await report.send_digests(rt, clock.now())
    assert len(await _digest_keys(db)) == 1
    clock.set(datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    await report.send_digests(rt, clock.now())
    assert len(await _digest_keys(db)) == 2


async def test_retention_runs_once_an_hour_and_again_after_a_new_setting(db: Database) -> None:
    pid = await _program(db)
    clock = ManualClock(START)
    rt = MentorBot(db, clock).rt
    async with db.transaction() as s:
        program = await s.get(Program, pid)
        assert program is not None
        program.keep_notes_days = 30
    await mydata.enforce_retention(rt, clock.now())
    async with db.transaction() as s:
        program = await s.get(Program, pid)
        assert program is not None and program.retention_at == START + mydata.RETENTION_EVERY
    clock.set(START + timedelta(minutes=59))
    await mydata.enforce_retention(rt, clock.now())
    async with db.transaction() as s:
        program = await s.get(Program, pid)
        assert program is not None and program.retention_at == START + mydata.RETENTION_EVERY
        program.keep_notes_days = None
        program.retention_at = None  # as `program set --keep-notes-days off` leaves it
    clock.set(START + timedelta(hours=5))
    await mydata.enforce_retention(rt, clock.now())
    async with db.transaction() as s:
        program = await s.get(Program, pid)
        assert program is not None and program.retention_at is None


# --- an idle tick does the same work for 3 pairs as for 60 ----------------------------------------------

MINE = ("auto-resume", "pulse-surveys", "remind-escalations", "digests", "retention", "forget-old-events")


async def _add_pairs(db: Database, start: int, count: int, created: datetime) -> None:
    members = [{"id": 100 + n, "workspace_id": 1, "external_id": f"U{n}", "display_name": f"m{n}",
                "created_at": created} for n in range(2 * start, 2 * (start + count))]
    pairs = [{"id": 1 + n, "program_id": 1, "member_a_id": 100 + 2 * n, "member_b_id": 101 + 2 * n,
              "status": PairStatus.ACTIVE.value, "created_at": created, "active_since": created}
             for n in range(start, start + count)]
    async with db.transaction() as s:
        await s.exec(insert(Member), params=members)  # type: ignore[call-overload]
        await s.exec(insert(Pair), params=pairs)  # type: ignore[call-overload]


async def _statements(db: Database, rt: object, now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    current = [""]

    def count(*_: object) -> None:
        counts[current[0]] = counts.get(current[0], 0) + 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        for sweep in REGISTRY.sweeps:
            if sweep.name in MINE:
                current[0] = sweep.name
                await sweep.run(rt, now)  # type: ignore[arg-type]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return counts


async def test_an_idle_tick_runs_the_same_statements_for_few_and_many_pairs(db: Database) -> None:
    await _program(db)
    async with db.transaction() as s:
        await s.exec(update(Program).values(keep_notes_days=30))  # type: ignore[call-overload]
    clock = ManualClock(START + timedelta(days=3))
    rt = MentorBot(db, clock).rt
    await _add_pairs(db, 0, 3, START)
    for sweep in REGISTRY.sweeps:  # whatever was due: pulse schedules, the digest, retention
        if sweep.name in MINE:
            await sweep.run(rt, clock.now())
    few = await _statements(db, rt, clock.now() + timedelta(minutes=1))
    await _add_pairs(db, 3, 57, START)
    for sweep in REGISTRY.sweeps:
        if sweep.name in MINE:
            await sweep.run(rt, clock.now() + timedelta(minutes=2))
    many = await _statements(db, rt, clock.now() + timedelta(minutes=3))
    assert few == many
    async with db.transaction() as s:  # and the pairs were seen: each has its survey scheduled
        assert all((await s.exec(select(col(Pair.pulse_at)))).all())


async def test_an_idle_tick_only_reads(db: Database) -> None:
    """A tick with nothing due asks each sweep on the read path and runs none: no write, no writer lock."""
    await _program(db)
    async with db.transaction() as s:
        await s.exec(update(Program).values(keep_notes_days=30))  # type: ignore[call-overload]
    clock = ManualClock(START + timedelta(days=3))
    bot = MentorBot(db, clock)
    await _add_pairs(db, 0, 5, START)
    await bot.run_sweeps()  # whatever was due: check-ins, pulse schedules, the digest, retention
    clock.advance(timedelta(minutes=1))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.lstrip().split(None, 2)[0].upper() + (" IMMEDIATE" if "IMMEDIATE" in statement else ""))

    engines = {db.engine.sync_engine, db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        await bot.run_sweeps()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    assert statements and set(statements) <= {"SELECT", "BEGIN"}, statements
