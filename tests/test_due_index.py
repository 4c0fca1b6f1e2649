"""Pair.next_due_at stays right under every change: after each random change and a planning sweep, the stored
moment of every active pair equals the one computed from scratch from its schedule and check-ins."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.context import Runtime
from bot.due import scratch_due
from bot.flows.checkin import next_plan_time, plan_due
from bot.pairs import zones
from storage.db import Database
from storage.models import Cadence, Checkin, Member, Pair, PairStatus, Program, Workspace

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Auckland")
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # spans the March (north) and April (south) clock changes
PAIRS = 4


async def _seed(db: Database) -> None:
    async with db.transaction() as s:
        ws = Workspace(platform="test", external_id="T1")
        s.add(ws)
        await s.flush()
        program = Program(workspace_id=ws.id, name="Spring", created_at=START)  # type: ignore[arg-type]
        people = [Member(workspace_id=ws.id, external_id=f"U{i}", display_name=f"p{i}", tz=ZONES[i % len(ZONES)],  # type: ignore[arg-type]
                         created_at=START) for i in range(PAIRS * 2)]
        s.add(program)
        s.add_all(people)
        await s.flush()
        s.add_all(Pair(program_id=program.id, member_a_id=people[2 * i].id, member_b_id=people[2 * i + 1].id,  # type: ignore[arg-type]
                       created_at=START, active_since=START) for i in range(PAIRS))


async def _change(db: Database, rng: random.Random, now: datetime) -> None:
    """One change a person or coordinator could make."""
    async with db.transaction() as s:
        what = rng.choice(("pause", "resume", "zone", "cadence", "weekday", "time", "program_tz"))
        if what in ("pause", "resume"):
            pair = (await s.exec(select(Pair).where(Pair.id == rng.randint(1, PAIRS)))).one()
            if what == "pause" and pair.status == PairStatus.ACTIVE:
                pair.status = PairStatus.PAUSED
            elif what == "resume" and pair.status == PairStatus.PAUSED:
                pair.status, pair.resumed_at, pair.active_since = PairStatus.ACTIVE, now, now
        elif what == "zone":
            member = (await s.exec(select(Member).where(Member.external_id == f"U{rng.randrange(PAIRS * 2)}"))).one()
            member.tz = rng.choice(ZONES)
        else:
            program = (await s.exec(select(Program))).one()
            if what == "cadence":
                program.cadence = rng.choice(list(Cadence))
            elif what == "weekday":
                program.weekday = rng.randrange(7)
            elif what == "time":
                program.local_time = f"{rng.randrange(24):02d}:{rng.choice((0, 30)):02d}"
            else:
                program.tz = rng.choice(ZONES)


async def _stored_and_scratch(db: Database, rt: Runtime, now: datetime) -> list[tuple[int, datetime, datetime]]:
    async with db.transaction() as s:
        program = (await s.exec(select(Program))).one()
        out = []
        for pair in (await s.exec(select(Pair).where(Pair.status == PairStatus.ACTIVE).order_by(col(Pair.id)))).all():
            a, b = await s.get(Member, pair.member_a_id), await s.get(Member, pair.member_b_id)
            planned = set((await s.exec(select(Checkin.period).where(Checkin.pair_id == pair.id))).all())
            expected = scratch_due(program, zones(rt, a, b), pair.active_since, planned, now)  # type: ignore[arg-type]
            out.append((pair.id, pair.next_due_at, expected))  # type: ignore[arg-type]
        return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_stored_due_moment_equals_the_one_computed_from_scratch(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock(START)
    rt = Runtime(db)
    await _seed(db)
    for _ in range(40):
        if rng.random() < 0.5:
            clock.advance(timedelta(hours=rng.choice((1, 5, 13, 30, 80, 200))))
        else:
            await _change(db, rng, clock.now())
        await plan_due(rt, clock.now())
        rows = await _stored_and_scratch(db, rt, clock.now())
        assert [(pid, stored) for pid, stored, _ in rows] == [(pid, expected) for pid, _, expected in rows]
        assert all(stored > clock.now() for _, stored, _ in rows)  # nothing owed is left unplanned
        if rows:
            assert await next_plan_time(rt, clock.now()) == min(stored for _, stored, _ in rows)
