"""The deliverer alone: how long a claim takes with few or many rows waiting, and how fast a large backlog drains.

    python bench/outbox_claim.py [--rows 100000] [--db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_delivery]

Queues --rows channel posts (one channel each, every 50th an urgent direct-message-like edit) straight into the
outbox, times one claimed batch of 100 at 100 rows waiting and at --rows waiting, then delivers everything to a
messenger that only records, and checks each row went out once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import peak_rss_mib, prepare_database
from bot.clock import ManualClock
from bot.delivery import Deliverer
from bot.messages import Message
from bot.outbox import enqueue_rows, outbox_row
from storage.db import Database
from storage.models import Outbox, OutboxKind, OutboxStatus, Workspace
from testkit.messenger import RecordingMessenger

CHUNK = 5000


async def queue(db: Database, now: datetime, start: int, n: int) -> None:
    async with db.transaction() as s:
        if (await s.get(Workspace, 1)) is None:
            s.add(Workspace(id=1, platform="console", external_id="local"))
            await s.flush()
        for lo in range(start, start + n, CHUNK):
            await enqueue_rows(s, [
                outbox_row(kind=OutboxKind.DIGEST, subject_id=i, workspace_id=1, dest_kind="channel",
                           target=f"#c{i}", message=Message(f"post {i}"), now=now,
                           edits_key=f"urgent-{i}" if i % 50 == 0 else None)
                for i in range(lo, min(lo + CHUNK, start + n))])


async def nothing(*_: object) -> None:
    """No coordinators to tell in a bench."""


async def timed_batch(deliverer: Deliverer) -> float:
    t0 = time.perf_counter()
    await deliverer.deliver_batch(100)
    return time.perf_counter() - t0


async def run(url: str, rows: int) -> bool:
    db = Database(url)
    clock = ManualClock(datetime(2026, 12, 7, 12, tzinfo=UTC))
    platform = RecordingMessenger()
    deliverer = Deliverer(db, {"console": platform}, nothing, clock.now)
    try:
        await queue(db, clock.now(), 0, 100)
        small = await timed_batch(deliverer)
        await queue(db, clock.now(), 100, rows)
        large = await timed_batch(deliverer)
        t0 = time.perf_counter()
        sent = await deliverer.deliver_due()
        drain = time.perf_counter() - t0
        async with db.transaction() as s:
            done = (await s.exec(select(func.count()).select_from(Outbox)
                                 .where(Outbox.status == OutboxStatus.SENT))).one()
        once = set(Counter(platform.keys()).values()) == {1} and len(platform.keys()) == rows + 100
        print(f"backend:                   {db.dialect}")
        print(f"claim+send+record of 100:  {1000 * small:.1f} ms with 100 waiting, "
              f"{1000 * large:.1f} ms with {rows:,} waiting")
        print(f"drain {sent:,} rows:         {drain:.2f} s ({1e6 * drain / max(sent, 1):.0f} us per row)")
        print(f"peak RSS:                  {peak_rss_mib():.1f} MiB")
        print(f"{'ok  ' if once and done == rows + 100 else 'FAIL'}  every row sent once and marked sent")
        return once and done == rows + 100
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = prepare_database(args.db, Path(tmp))
        return 0 if asyncio.run(run(url, args.rows)) else 1


if __name__ == "__main__":
    sys.exit(main())
