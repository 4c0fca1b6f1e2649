"""The weekly fan-out: N active pairs come due at once; how long do planning and delivery take?

    python bench/fanout.py [--pairs 10000] [--db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_fanout]
    python bench/fanout.py --pairs 100000 --compare 10000   # both sizes in one run, and the per-pair ratio
    python bench/fanout.py --slack [--pairs 200]

SQLite (a fresh temporary file) by default. A PostgreSQL database named by --db is created when
missing and its public schema is dropped and recreated when present. The bot's own sweeps plan the
check-ins and its deliverer sends them to a messenger that only records; the run then checks that
every pair got exactly one nudge and that a second round sends nothing.

With --slack the nudges go through the Slack adapter's messenger (pacing, retry handlers) to the fake
Slack Web API from testkit, which enforces chat.postMessage's limits on real time (answering 429 with
Retry-After past them); each pair already has its group DM, as after its intro. It prints the messages
per second achieved against the limit's maximum.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import aliased
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

from adapters.heap import settle_heap
from adapters.slack.client import make_client, make_session
from adapters.slack.messenger import SlackMessenger
from adapters.slack.pacing import PER_CONVERSATION_SECONDS, PER_MINUTE, Pacer
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.flows.health import pulse_due
from bot.messages import Message
from bot.messenger import Delivered, Destination, Profile
from bot.periods import due_at, latest_period
from storage.db import Database, is_sqlite
from storage.migrate import upgrade
from storage.models import (
    Cadence,
    Checkin,
    Enrollment,
    Member,
    Outbox,
    OutboxStatus,
    Pair,
    PairStatus,
    Program,
    Role,
    Workspace,
)
from testkit.fake_slack import FakeSlack

PLATFORM = "bench"
WORKSPACE = "T-BENCH"
# Spread across the day on both sides of UTC, so pairs come due at many different UTC moments
# and some pairs straddle the date line (their Monday 10:00 is a Sunday in UTC).
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)
WEEK = date(2026, 12, 7)  # the Monday whose check-ins the run plans
PROGRAM_WEEKDAY = 0  # Monday
PROGRAM_TIME = "10:00"
SEED_CHUNK = 5000


@dataclass
class RecordingMessenger:
    """The Messenger port, doing nothing but remembering what it was asked to do."""

    platform: str = PLATFORM
    sent: list[tuple[str, Destination]] = field(default_factory=list)
    updated: list[tuple[str, Destination]] = field(default_factory=list)

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        self.sent.append((idempotency_key, dest))
        opened = "group:" + "+".join(dest.members) if dest.kind == "pair" and dest.ref is None else None
        return Delivered(f"m{len(self.sent)}", opened)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        self.updated.append((message_ref, dest))

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        return Profile(user_id, user_id)


class RecordingSlackMessenger(SlackMessenger):
    """The Slack messenger, remembering what it sent and edited for the exactly-once checks.
    Construct it inside the running loop and close() it: it owns its HTTP session."""

    def __init__(self, api_url: str) -> None:
        pacer = Pacer()
        self.session = make_session()
        super().__init__(make_client("xoxb-bench", api_url, pacer, self.session), pacer)
        self.sent: list[tuple[str, Destination]] = []
        self.updated: list[tuple[str, Destination]] = []

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        delivered = await super().send(dest, message, idempotency_key=idempotency_key)
        self.sent.append((idempotency_key, dest))
        return delivered

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        await super().update(dest, message_ref, message)
        self.updated.append((message_ref, dest))

    async def close(self) -> None:
        await self.session.close()


def async_url(url: str) -> str:
    """Accept plain driver-less URLs too: postgresql:// means asyncpg, sqlite:// means aiosqlite."""
    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


async def reset_postgres(url: str) -> None:
    """Create the database if it is missing; otherwise start from an empty public schema."""
    u = make_url(url)
    name = u.database
    if not name:
        raise SystemExit("--db needs a database name")
    admin = create_async_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                await conn.execute(text('CREATE DATABASE "{}"'.format(name.replace('"', '""'))))
                return
    finally:
        await admin.dispose()
    engine = create_async_engine(u)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def prepare_database(db_url: str | None, tmp: Path) -> str:
    """A fresh, migrated database; returns its async URL."""
    if db_url is None:
        url = f"sqlite+aiosqlite:///{tmp / 'fanout.db'}"
    else:
        url = async_url(db_url)
        if is_sqlite(url):
            path = make_url(url).database
            if not path or path == ":memory:" or Path(path).exists():
                raise SystemExit("a SQLite --db must name a file that does not exist yet")
        else:
            asyncio.run(reset_postgres(url))
    upgrade(url)  # runs its own event loop, so outside asyncio.run
    return url


def member_zone(member_id: int, name: str) -> tuple[str | None, str | None]:
    """(tz, tz_from_platform): most members set a zone, some only have the platform's, a few neither."""
    if member_id % 17 == 0:
        return None, None  # falls back to the bot's default zone
    if member_id % 5 == 0:
        return None, name
    return name, None


def program_model(program_id: int, workspace_id: int, created: datetime) -> Program:
    return Program(
        id=program_id,
        workspace_id=workspace_id,
        name="Fan-out",
        cadence=Cadence.WEEKLY,
        weekday=PROGRAM_WEEKDAY,
        local_time=PROGRAM_TIME,
        tz="UTC",
        created_at=created,
    )


async def seed(db: Database, pairs: int, created: datetime, active_since: datetime, platform: str = PLATFORM,
               conversations: bool = False) -> Program:
    """One workspace, one program, `pairs` active mentor/mentee pairs, inserted in bulk; with
    `conversations`, each pair already has its shared conversation (G<pair id>)."""
    program = program_model(1, 1, created)
    async with db.transaction() as s:
        await s.exec(insert(Workspace), params=[{"id": 1, "platform": platform, "external_id": WORKSPACE, "name": "Bench"}])
        await s.exec(insert(Program), params=[program.model_dump()])
        # A chunk of pairs at a time: the rows of all of them at once would be the run's peak memory.
        for first in range(0, pairs, SEED_CHUNK):
            members, enrollments, pair_rows = _seed_rows(range(first, min(pairs, first + SEED_CHUNK)), created,
                                                         active_since, conversations)
            for table, rows in ((Member, members), (Enrollment, enrollments), (Pair, pair_rows)):
                await s.exec(insert(table), params=rows)
        if db.dialect == "postgresql":
            # Explicit ids leave the sequences behind; anything the bot inserts later must not collide.
            conn = await s.connection()
            for name in ("workspace", "program", "member", "pair"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
            # A program of this size has existed for weeks before a fan-out, and autovacuum has analyzed its tables
            # since; a bulk seed a second old has no statistics at all, and the planner would scan every member for
            # each batch's 100 pairs (20 ms a read instead of 0.4). The outbox is left as it is: the fan-out fills it.
            for name in ("workspace", "program", "member", "enrollment", "pair"):
                await conn.execute(text(f"ANALYZE {name}"))
    return program


def _seed_rows(indices: range, created: datetime, active_since: datetime, conversations: bool
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The member, enrollment and pair rows of the pairs numbered `indices` (from 0)."""
    members: list[dict[str, Any]] = []
    enrollments: list[dict[str, Any]] = []
    pair_rows: list[dict[str, Any]] = []
    for i in indices:
        mentor_id, mentee_id = 2 * i + 1, 2 * i + 2
        # Every combination of mentor zone and mentee zone occurs.
        mentor_zone, mentee_zone = ZONES[i % len(ZONES)], ZONES[(i // len(ZONES)) % len(ZONES)]
        for member_id, role, zone_name in ((mentor_id, Role.MENTOR, mentor_zone), (mentee_id, Role.MENTEE, mentee_zone)):
            tz, tz_platform = member_zone(member_id, zone_name)
            members.append(
                {
                    "id": member_id,
                    "workspace_id": 1,
                    "external_id": f"U{member_id:07d}",
                    "display_name": f"{role.value}-{i}",
                    "tz": tz,
                    "tz_from_platform": tz_platform,
                    "interests": "python",
                    "goals": "",
                    "is_admin": False,
                    "paused": False,
                    "created_at": created,
                }
            )
            enrollments.append(
                {"program_id": 1, "member_id": member_id, "role": role.value, "capacity": 1, "active": True,
                 "joined_at": created}
            )
        pair_rows.append(
            {
                "id": i + 1,
                "program_id": 1,
                "member_a_id": mentor_id,
                "member_b_id": mentee_id,
                "kind": "mentorship",
                "status": PairStatus.ACTIVE.value,
                "created_at": active_since,
                "active_since": active_since,
                "conversation_ref": f"G{i + 1}" if conversations else None,
                # As the pulse sweep leaves a pair the first time it sees it (once in a pair's life, not weekly).
                "pulse_at": pulse_due(active_since, 0),
            }
        )
    return members, enrollments, pair_rows


async def pair_zone_sets(db: Database, default_tz: str) -> set[tuple[str, ...]]:
    """The distinct (sorted) zone sets of the seeded pairs, as the check-in planner computes them."""
    a, b = aliased(Member), aliased(Member)
    stmt = (
        select(a.tz, a.tz_from_platform, b.tz, b.tz_from_platform)
        .join(Pair, col(Pair.member_a_id) == col(a.id))
        .join(b, col(b.id) == col(Pair.member_b_id))
        .distinct()
    )
    async with db.transaction() as s:
        rows = (await s.exec(stmt)).all()
    return {tuple(sorted({ta or pa or default_tz, tb or pb or default_tz})) for ta, pa, tb, pb in rows}


async def count(db: Database, stmt: Any) -> int:
    async with db.transaction() as s:
        return int((await s.exec(stmt)).one())


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


@dataclass
class Result:
    planning: float  # seconds
    delivery: float
    ok: bool


async def run(url: str, pairs: int, slack: bool = False) -> Result:
    db = Database(url)
    # The fake Slack enforces chat.postMessage's limits, as Slack does.
    fake = FakeSlack(team=WORKSPACE, limits={"chat.postMessage": PER_MINUTE["chat.postMessage"]},
                      channel_interval=PER_CONVERSATION_SECONDS) if slack else None
    messenger: RecordingMessenger | RecordingSlackMessenger | None = None
    api = await fake.start() if fake else ""
    try:
        created = datetime.combine(WEEK - timedelta(days=70), datetime.min.time(), tzinfo=UTC)
        active_since = datetime.combine(WEEK - timedelta(days=14), datetime.min.time(), tzinfo=UTC)
        t0 = time.perf_counter()
        program = await seed(db, pairs, created, active_since, "slack" if slack else PLATFORM, conversations=slack)
        seeded = time.perf_counter() - t0

        # Every pair is due at the earliest of its two members' local Monday 10:00; stand one
        # minute past the latest of those, and make sure that is still this week's period for all.
        clock = ManualClock(created)
        bot = MentorBot(db, clock)
        messenger = RecordingSlackMessenger(api) if slack else RecordingMessenger()
        bot.add_messenger(messenger)
        settle_heap()  # as `mentorbot run` does once it has started (the seeding's garbage is collected, not kept)
        zone_sets = await pair_zone_sets(db, bot.rt.default_tz)
        now = max(due_at(program, WEEK, zs) for zs in zone_sets) + timedelta(minutes=1)
        for zs in zone_sets:
            found = latest_period(program, zs, now)
            if found is None or found[0] != WEEK:
                raise SystemExit(f"clock {now} is not in the {WEEK} period for zones {zs}: {found}")
        clock.set(now)

        t0 = time.perf_counter()
        await bot.run_sweeps()
        t1 = time.perf_counter()
        delivered = await bot.deliver()
        t2 = time.perf_counter()
        planning, delivery, total = t1 - t0, t2 - t1, t2 - t0

        nudge_rows = select(func.count()).select_from(Outbox).where(col(Outbox.key).like("nudge:%"))
        outbox_nudges = await count(db, nudge_rows)
        outbox_sent = await count(db, nudge_rows.where(Outbox.status == OutboxStatus.SENT))
        outbox_pairs = await count(
            db, select(func.count(func.distinct(Outbox.target))).where(col(Outbox.key).like("nudge:%"))
        )
        checkins = await count(db, select(func.count()).select_from(Checkin))
        per_pair = Counter(int(key.split(":")[1]) for key, _ in messenger.sent if key.startswith("nudge:"))
        seen_nudges = sum(per_pair.values())
        exactly_once = set(per_pair.values()) == {1} and set(per_pair) == set(range(1, pairs + 1))

        sent_before, updated_before = len(messenger.sent), len(messenger.updated)
        outbox_before = await count(db, select(func.count()).select_from(Outbox))
        await bot.run_sweeps()
        again = await bot.deliver()
        second_sent = len(messenger.sent) - sent_before + len(messenger.updated) - updated_before
        second_rows = await count(db, select(func.count()).select_from(Outbox)) - outbox_before

        backend = db.dialect
        print(f"backend:               {backend}")
        print(f"zones:                 {len(ZONES)} named + default, {len(zone_sets)} distinct pair zone sets")
        print(f"clock:                 {now.isoformat()}")
        print(f"seeding:               {seeded:.2f} s (not counted)")
        print(f"pairs:                 {pairs}")
        print(f"planning (sweeps):     {planning:.2f} s")
        print(f"delivery:              {delivery:.2f} s")
        print(f"total:                 {total:.2f} s")
        print(f"pairs/s:               {pairs / total:.0f}")
        print(f"messages sent:         {delivered} (messenger saw {sent_before})")
        print(f"peak RSS:              {peak_rss_mib():.1f} MiB")
        if fake is not None:
            per_second = PER_MINUTE["chat.postMessage"] / 60
            ceiling = per_second + fake.burst / delivery  # the burst Slack allows on top of the rate
            print(f"slack messages/s:      {delivered / delivery:.2f} against a limit of {per_second:.2f}/s "
                  f"({PER_MINUTE['chat.postMessage']}/min, at most {ceiling:.2f}/s over {delivery:.0f} s with "
                  f"its burst of {fake.burst}): {100 * delivered / delivery / ceiling:.0f}% of the maximum")
            print(f"slack 429s:            {fake.rejected} (each waited out and retried, none dropped)")
        checks = {
            "check-ins planned = pairs": checkins == pairs,
            "outbox nudge rows = pairs": outbox_nudges == pairs and outbox_pairs == pairs,
            "outbox nudge rows sent = pairs": outbox_sent == pairs,
            "messenger nudges = pairs, one per pair": seen_nudges == pairs and exactly_once,
            "messages sent = messenger sends": delivered == sent_before,
            "second round sends nothing": again == 0 and second_sent == 0 and second_rows == 0,
        }
        print(f"outbox nudge rows:     {outbox_nudges} ({outbox_sent} sent, {outbox_pairs} pairs)")
        print(f"messenger nudges:      {seen_nudges} to {len(per_pair)} pairs")
        print(f"second round:          {again} sent, {second_sent} messenger calls, {second_rows} new outbox rows")
        for name, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'}  {name}")
        return Result(planning, delivery, all(checks.values()))
    finally:
        if isinstance(messenger, RecordingSlackMessenger):
            await messenger.close()
        await db.close()
        if fake is not None:
            await fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, help="active mentor/mentee pairs (default 10000; 200 with --slack)")
    parser.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    parser.add_argument("--slack", action="store_true",
                        help="deliver through the Slack messenger to a fake Slack enforcing its rate limits")
    parser.add_argument("--compare", type=int, metavar="M",
                        help="first run M pairs in the same process, then print both per-pair costs and their ratio")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = 200 if args.slack else 10000
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sizes = [args.compare, args.pairs] if args.compare else [args.pairs]
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
            url = prepare_database(args.db, Path(tmp))
            results.append(asyncio.run(run(url, n, args.slack)))
        print()
    if args.compare:
        (small, big), (m, n) = results, sizes
        for phase in ("planning", "delivery"):
            per_small, per_big = (1e6 * getattr(r, phase) / k for r, k in ((small, m), (big, n)))
            print(f"{phase} per pair:     {per_small:.1f} us at {m}, {per_big:.1f} us at {n}: "
                  f"{per_big / per_small:.2f}x")
    return 0 if all(r.ok for r in results) else 1

if __name__ == "__main__":
    sys.exit(main())
