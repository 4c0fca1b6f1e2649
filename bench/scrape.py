"""What a /metrics scrape and a /healthz check cost on a large outbox.

    python bench/scrape.py [--pending 100000] [--sent 100000] [--db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_metrics]

Writes `--pending` pending rows (half of them due, spread over two platforms) and `--sent` sent ones in bulk,
then times `Health.scrape()` and `Health.check()` (the database reads and the Prometheus text): first with
workspaces on two platforms (the grouped read, whose query plan it prints), then with one platform (two reads of
the (status, next_attempt_at) index alone). SQLite (a fresh temporary file) by default; a PostgreSQL --db is reset
as bench/fanout.py resets it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import prepare_database
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.health import backlog_query
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Workspace

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CHUNK = 5000


async def seed(db: Database, pending: int, sent: int, index: bool) -> None:
    async with db.transaction() as s:
        await s.exec(insert(Workspace).values([{"id": 1, "platform": "slack", "external_id": "T1"},  # type: ignore[call-overload]
                                               {"id": 2, "platform": "discord", "external_id": "G1"}]))
    rows = []
    for i in range(pending + sent):
        done = i >= pending
        rows.append({"key": f"bench:{i}", "kind": "nudge", "subject_id": i, "workspace_id": 1 + i % 2,
                     "dest_kind": "pair", "target": str(i), "payload": {"text": "x"},
                     "status": OutboxStatus.SENT if done else OutboxStatus.PENDING,
                     # half the pending rows are due (up to an hour ago), half wait for a retry
                     "next_attempt_at": NOW + timedelta(seconds=(i % 3600) * (1 if i % 4 < 2 else -1)),
                     "created_at": NOW - timedelta(days=1), "sent_at": NOW if done else None})
        if len(rows) == CHUNK:
            async with db.transaction() as s:
                await (await s.connection()).execute(insert(Outbox), rows)
            rows = []
    if rows:
        async with db.transaction() as s:
            await (await s.connection()).execute(insert(Outbox), rows)
    if index:  # what a covering index would save (the lead's call: this branch adds no migration)
        async with db.transaction() as s:
            await s.exec(text("CREATE INDEX ix_bench_pending_ws ON outbox (status, workspace_id, next_attempt_at)"))  # type: ignore[call-overload]
    async with db.transaction() as s:
        await s.exec(text("ANALYZE"))  # type: ignore[call-overload]


async def plan(bot: MentorBot) -> list[str]:
    """The plan of the grouped outbox read, as the database explains it."""
    stmt = backlog_query(NOW)
    sql = str(stmt.compile(bot.db.engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if bot.db.dialect == "sqlite" else "EXPLAIN "
    async with bot.db.transaction() as s:
        rows = (await s.exec(text(explain + sql))).all()  # type: ignore[call-overload]
    return [" ".join(str(c) for c in r) for r in rows]


async def measure(url: str, pending: int, sent: int, rounds: int, index: bool) -> None:
    db = Database(url)
    try:
        t0 = time.perf_counter()
        await seed(db, pending, sent, index)
        print(f"{db.dialect}: {pending:,} pending + {sent:,} sent rows written in {time.perf_counter() - t0:.1f} s"
              + (" (with the covering index)" if index else ""))
        bot = MentorBot(db, ManualClock(NOW))
        for platforms in ("slack and discord", "slack only"):
            if platforms == "slack only":  # the usual deployment: every workspace on one platform
                async with db.transaction() as s:
                    await s.exec(text("UPDATE workspace SET platform = 'slack', external_id = 'T2' WHERE id = 2"))  # type: ignore[call-overload]
            print(f" {platforms}:")
            if platforms != "slack only":
                for line in await plan(bot):
                    print("  plan:", line)
            await bot.health.scrape()  # warm the connection pool and the caches
            for name, call in (("scrape (/metrics)", bot.health.scrape), ("check (/healthz)", bot.health.check)):
                times = []
                for _ in range(rounds):
                    t = time.perf_counter()
                    await call()
                    times.append((time.perf_counter() - t) * 1000)
                print(f"  {name}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {rounds}")
            verdict = await bot.health.check()
            print("  /healthz:", verdict.body["outbox"]["platforms"], verdict.reasons)
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--sent", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--index", action="store_true",
                        help="add an index on outbox (status, workspace_id, next_attempt_at) first, to compare")
    parser.add_argument("--db", help="a PostgreSQL URL (reset) or a SQLite file that does not exist yet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mentorbot-scrape-") as tmp:
        url = prepare_database(args.db, Path(tmp))
        asyncio.run(measure(url, args.pending, args.sent, args.rounds, args.index))


if __name__ == "__main__":
    main()
