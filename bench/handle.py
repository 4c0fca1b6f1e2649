"""The core's own time for one read-only command: `/mentor status` by known members, straight into MentorBot.handle.

    python bench/handle.py [--commands 2000] [--rounds 7] [--db URL]

No HTTP and no platform: what bench/slack_ack.py's figures hold of the core. 100 members are met first (their
rows written); then --rounds rounds of --commands commands, each with its own event id, and the best and
median round printed as time per command. A fresh SQLite file by default; --db names a PostgreSQL database
(created if missing, emptied if present; use bench_handle).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, when it is not installed

from bench.fanout import prepare_database
from bot.clock import SystemClock
from bot.core import MentorBot
from bot.events import Actor, CommandEvent
from storage.db import Database

USERS = 100


async def run(url: str, commands: int, rounds: int) -> list[float]:
    """Seconds per command, one figure per round."""
    db = Database(url)
    try:
        bot = MentorBot(db, SystemClock())
        actors = [Actor("slack", "T-HANDLE", f"U{i:05d}", f"user{i}", "Europe/Berlin") for i in range(USERS)]
        for i, actor in enumerate(actors):  # first meetings write the member rows
            await bot.handle(CommandEvent(actor, "status", "C1", f"command:meet-{i}"))

        async def round_of(n: int, tag: str) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                response = await bot.handle(CommandEvent(actors[i % USERS], "status", "C1", f"command:{tag}-{i}"))
                assert response.messages, "every status command is answered"
            return (time.perf_counter() - t0) / n

        await round_of(min(commands, 500), "warm")
        return [await round_of(commands, f"r{r}") for r in range(rounds)]
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=2000, help="commands a round (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    if args.commands < 1 or args.rounds < 1:
        parser.error("--commands and --rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = prepare_database(args.db, Path(tmp))
        per = asyncio.run(run(url, args.commands, args.rounds))
    backend = "PostgreSQL" if args.db else "SQLite"
    print(f"`/mentor status` by {USERS} known members, {args.rounds} rounds of {args.commands}, {backend}")
    print(f"per command:           best {min(per) * 1e6:6.0f} us   median {statistics.median(per) * 1e6:6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
