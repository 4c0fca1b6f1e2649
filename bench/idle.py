"""The idle sweep: how long does a tick take when nothing new is due, at 1,000, 10,000 and 100,000 pairs?

    python bench/idle.py [--sizes 1000,10000,100000] [--runs 7]
                         [--db postgresql://postgres@127.0.0.1:5432/bench_sweeps]

Each size gets a fresh database (a temporary SQLite file by default; a PostgreSQL database named by --db is
emptied first) seeded in bulk with live pairs and a realistic past: three weeks of answered check-ins with
their nudges sent, ratings, some escalations (open and reminded, acknowledged, resolved), paused pairs, pulse
surveys scheduled, the week's digest sent, recent inbound event ids, a program with a retention setting.
One warm-up tick does whatever the seed left due; the clock then moves a minute per run and the real
registry's sweeps (`MentorBot.run_sweeps`) are timed, as a whole and one by one, with `next_wakeup()`.
Goal (issue 12): at most 50 ms at 100,000 pairs, flat in the number of pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, when it is not installed

from bench.fanout import WEEK, member_zone, peak_rss_mib, prepare_database, seed, ZONES
from bot import coordinators
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.features import REGISTRY
from bot.outbox import outbox_key
from bot.periods import due_at, period_end
from storage.db import Database, is_sqlite
from storage.models import (
    Checkin,
    CheckinStatus,
    Enrollment,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Feedback,
    Member,
    Outbox,
    OutboxKind,
    OutboxStatus,
    Pair,
    PairStatus,
    Program,
    ProcessedEvent,
    Role,
)

CHUNK = 5000
PAST_WEEKS = 3  # answered check-ins before this week's
COORDINATOR_CHANNEL = "C-COORD"


def _zones(member_id: int, zone_name: str) -> str:
    tz, platform = member_zone(member_id, zone_name)
    return tz or platform or "UTC"


async def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.transaction() as s:
            await s.exec(insert(table), params=rows[start:start + CHUNK])  # type: ignore[call-overload]


async def seed_history(db: Database, pairs: int, now: datetime, created: datetime) -> None:
    """Everything but the pairs themselves: check-ins, sent outbox rows, feedback, escalations, pauses."""
    async with db.transaction() as s:
        program = await s.get(Program, 1)
        assert program is not None
        program.keep_notes_days = 60
        program.channel_ref = COORDINATOR_CHANNEL
        coordinator_id = 2 * pairs + 1
        s.add(Member(id=coordinator_id, workspace_id=1, external_id="U-COORD", display_name="coordinator",
                     created_at=created))
        await s.flush()
        s.add(Enrollment(program_id=1, member_id=coordinator_id, role=Role.COORDINATOR, joined_at=created))
    days = [WEEK - timedelta(days=7 * w) for w in range(PAST_WEEKS, -1, -1)]
    checkins: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    checkin_id = 0
    times: dict[tuple[tuple[str, ...], Any], tuple[datetime, datetime]] = {}  # the same few zone sets recur
    for i in range(pairs):
        pair_id, mentor_id, mentee_id = i + 1, 2 * i + 1, 2 * i + 2
        zs = tuple(sorted({_zones(mentor_id, ZONES[i % len(ZONES)]),
                           _zones(mentee_id, ZONES[(i // len(ZONES)) % len(ZONES)])}))
        for day in days:
            checkin_id += 1
            if (zs, day) not in times:
                times[zs, day] = due_at(program, day, zs), period_end(program, day, zs)
            due, closes = times[zs, day]
            checkins.append({"id": checkin_id, "pair_id": pair_id, "period": day.isoformat(), "due_at": due,
                             "closes_at": closes, "status": CheckinStatus.MET.value,
                             "answered_by_id": mentee_id, "answered_at": due + timedelta(hours=2)})
            outbox.append({"key": outbox_key(OutboxKind.NUDGE, pair_id, day.isoformat()), "kind": OutboxKind.NUDGE.value,
                           "subject_id": pair_id, "workspace_id": 1, "program_id": 1, "dest_kind": "pair",
                           "target": str(pair_id), "payload": {"text": "How did it go?"},
                           "status": OutboxStatus.SENT.value, "attempts": 1, "next_attempt_at": due,
                           "message_ref": f"m{checkin_id}", "created_at": due, "sent_at": due})
            if checkin_id % 3 == 0:
                feedback.append({"checkin_id": checkin_id, "member_id": mentee_id, "rating": 4 + checkin_id % 2,
                                 "note": "useful", "created_at": due + timedelta(hours=3)})
    escalations: list[dict[str, Any]] = []
    for pair_id in range(1, pairs + 1, 100):  # one pair in a hundred has an escalation
        opened = now - timedelta(days=3 + pair_id % 10)
        state = (pair_id // 100) % 3
        escalations.append({"program_id": 1, "pair_id": pair_id, "kind": EscalationKind.PROBLEM.value,
                            "reason": "we never meet", "opened_at": opened, "reminded_at": opened + timedelta(days=2),
                            "status": (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED,
                                       EscalationStatus.RESOLVED)[state].value,
                            "acked_at": opened + timedelta(days=2, hours=1) if state else None,
                            "resolved_at": opened + timedelta(days=2, hours=2) if state == 2 else None,
                            "resolution": "talked to them" if state == 2 else ""})
    events = [{"event_key": f"bench:T:{n}", "processed_at": now - timedelta(minutes=n)} for n in range(min(pairs, 10000))]
    for table, rows in ((Checkin, checkins), (Outbox, outbox), (Feedback, feedback), (Escalation, escalations),
                        (ProcessedEvent, events)):
        await _insert(db, table, rows)
    paused = list(range(1, pairs + 1, 97))  # about one pair in a hundred paused by its mentee, until next month
    async with db.transaction() as s:
        for start in range(0, len(paused), CHUNK):
            chunk = paused[start:start + CHUNK]
            await s.exec(update(Pair).where(Pair.id.in_(chunk)).values(status=PairStatus.PAUSED))  # type: ignore[union-attr]
            await s.exec(update(Member).where(Member.id.in_([2 * p for p in chunk]))  # type: ignore[union-attr]
                         .values(paused=True, paused_until=now + timedelta(days=30)))
        # This week's digest went out on Monday.
        monday = datetime.combine(WEEK, datetime.min.time(), tzinfo=UTC).replace(hour=9)
        key = coordinators.addressed(outbox_key(OutboxKind.DIGEST, 1, WEEK.isoformat()), ("channel", COORDINATOR_CHANNEL))
        await s.exec(insert(Outbox), params=[{  # type: ignore[call-overload]
            "key": key, "kind": OutboxKind.DIGEST.value, "subject_id": 1, "workspace_id": 1, "program_id": 1,
            "dest_kind": "channel", "target": COORDINATOR_CHANNEL, "payload": {"text": "digest"},
            "status": OutboxStatus.SENT.value, "attempts": 1, "next_attempt_at": monday, "message_ref": "digest",
            "created_at": monday, "sent_at": monday}])
        if db.dialect == "postgresql":
            conn = await s.connection()
            for name in ("member", "checkin", "outbox", "escalation", "feedback", "processedevent", "enrollment"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                        f"(SELECT coalesce(max(id), 1) FROM {name}))"))
            await conn.execute(text("ANALYZE"))


async def measure(url: str, pairs: int, runs: int) -> dict[str, float]:
    """Seed `pairs`, warm up, and return the median seconds of each sweep, the whole tick and next_wakeup."""
    db = Database(url)
    try:
        created = datetime.combine(WEEK - timedelta(days=70), datetime.min.time(), tzinfo=UTC)
        active_since = datetime.combine(WEEK - timedelta(days=7 * (PAST_WEEKS + 1)), datetime.min.time(), tzinfo=UTC)
        now = datetime.combine(WEEK + timedelta(days=2), datetime.min.time(), tzinfo=UTC).replace(hour=12)
        t0 = time.perf_counter()
        await seed(db, pairs, created, active_since)
        await seed_history(db, pairs, now, created)
        seeded = time.perf_counter() - t0
        clock = ManualClock(now)
        bot = MentorBot(db, clock)
        t0 = time.perf_counter()
        await bot.run_sweeps()  # whatever the seed left due (first pulse schedules, retention, ...)
        await bot.run_sweeps()
        warm = time.perf_counter() - t0
        times: dict[str, list[float]] = {"tick (run_sweeps)": [], "next_wakeup": []}
        for n in range(runs):
            clock.set(now + timedelta(minutes=n + 1))
            t0 = time.perf_counter()
            await bot.run_sweeps()
            times["tick (run_sweeps)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await bot.next_wakeup()
            times["next_wakeup"].append(time.perf_counter() - t0)
            for sweep in REGISTRY.sweeps:
                t0 = time.perf_counter()
                await sweep.run(bot.rt, clock.now())
                times.setdefault(sweep.name, []).append(time.perf_counter() - t0)
            for sweep in REGISTRY.sweeps:
                if sweep.next_at is not None:
                    t0 = time.perf_counter()
                    await sweep.next_at(bot.rt, clock.now())
                    times.setdefault(f"  next_at {sweep.name}", []).append(time.perf_counter() - t0)
        print(f"  {pairs} pairs on {db.dialect}: seeded in {seeded:.1f} s, warm-up ticks {warm:.2f} s", flush=True)
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated pair counts")
    parser.add_argument("--runs", type=int, default=7, help="timed ticks per size (the median is shown)")
    parser.add_argument("--db", help="PostgreSQL URL (default: a fresh temporary SQLite file per size)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if args.db and is_sqlite(args.db):
        parser.error("--db is for PostgreSQL; SQLite is the default")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mentorbot-idle-") as tmp:
        for size in sizes:
            db_url = args.db
            if db_url is None:
                db_url = f"sqlite:///{Path(tmp) / f'idle-{size}.db'}"
            url = prepare_database(db_url, Path(tmp))
            results[size] = asyncio.run(measure(url, size, args.runs))
    names = list(results[sizes[0]])
    backend = "postgresql" if args.db else "sqlite"
    print(f"\nidle tick, median of {args.runs} runs, milliseconds ({backend})")
    print(f"{'':30}" + "".join(f"{size:>12,}" for size in sizes))
    for name in names:
        print(f"{name:30}" + "".join(f"{1000 * results[size][name]:12.2f}" for size in sizes))
    tick = [results[size]["tick (run_sweeps)"] for size in sizes]
    print(f"\ntick at {sizes[-1]:,}: {1000 * tick[-1]:.1f} ms (goal <= 50 ms): {'ok' if tick[-1] <= 0.05 else 'OVER'}; "
          f"ratio largest/smallest {tick[-1] / tick[0]:.2f}x")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
