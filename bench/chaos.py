"""Chaos: a weekly fan-out through real `mentorbot run --slack` processes while they are killed, replicated
or answered with errors; did every pair get its nudge exactly once?

    python bench/chaos.py --kill 10            [--pairs 5000] [--db URL]
    python bench/chaos.py --replicas 3 [--db postgresql://postgres@127.0.0.1:5432/bench_chaos]
    python bench/chaos.py --faults

It seeds `--pairs` active pairs (each with its group DM already open, as after its intro) whose weekly
check-in fell due ten minutes ago, into a fresh SQLite file or the PostgreSQL database named by --db
(its public schema is dropped and recreated). The fake Slack Web API from testkit runs in this process
on 127.0.0.1 and records every chat.postMessage; the bots connect to it in Socket Mode, so nothing
listens on a port and nothing leaves the machine. The bot's own sweeps plan the nudges and its
deliverer sends them; the harness knows the fan-out is done when every nudge row in the outbox is out
of `pending`. Everything is bounded by --timeout.

Scenarios:
  --kill N      one process, killed with SIGKILL N times at random moments while it sends, restarted each time;
  --replicas N  N processes at once on one database (PostgreSQL, bench_chaos unless --db says otherwise);
  --faults      one process; the fake answers 20% of posts with 429 (Retry-After 1), 5% with 500 or an HTML 502.

Each prints pairs nudged zero times, pairs nudged more than once, and how many repeats fall inside the
documented crash window: the one message per destination in flight at a kill, i.e. at most one repeat per
pair per kill whose first copy the fake accepted at most --window seconds before that kill. Per kill it also
prints how many accepted posts the database had not yet recorded as sent when the process died.

Slack's pacing (adapters/slack/pacing.py) has no setting; the bot processes are started through this
script (`--bot`), which sets chat.postMessage's budget to --rate posts a minute and then runs
`mentorbot run --slack` exactly as the console script does. --rate 300 is Slack's real budget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

RATE_ENV = "CHAOS_POSTS_PER_MINUTE"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/bench_chaos"
DUE_AGO = timedelta(minutes=10)
POLL = 0.25  # seconds between looks at the outbox
STOP_WAIT = 10.0  # seconds a stopped process gets before SIGKILL


def bot_main() -> int:
    """The child: `mentorbot run --slack` with chat.postMessage paced at $CHAOS_POSTS_PER_MINUTE."""
    from adapters.cli import main
    from adapters.slack import pacing

    if rate := os.environ.get(RATE_ENV):
        pacing.PER_MINUTE["chat.postMessage"] = int(rate)
    return main(["run", "--slack"])


# --- the database ---------------------------------------------------------------------------------


def prepare(db_url: str | None, tmp: Path, pairs: int) -> str:
    """A fresh, migrated, seeded database; returns its async URL."""
    from bench.fanout import prepare_database

    url = prepare_database(db_url, tmp)
    asyncio.run(_seed(url, pairs))
    return url


async def _seed(url: str, pairs: int) -> None:
    """`pairs` active pairs in one program whose weekly check-in fell due DUE_AGO ago, all members in UTC."""
    from bench.fanout import seed
    from storage.db import Database

    now = datetime.now(UTC)
    due = (now - DUE_AGO).replace(second=0, microsecond=0)
    db = Database(url)
    try:
        await seed(db, pairs, now - timedelta(days=70), now - timedelta(days=14), "slack", conversations=True)
        async with db.transaction() as s:
            conn = await s.connection()
            await conn.execute(text("UPDATE member SET tz = 'UTC', tz_from_platform = NULL"))
            await conn.execute(text("UPDATE program SET weekday = :day, local_time = :at"),
                               {"day": due.weekday(), "at": due.strftime("%H:%M")})
    finally:
        await db.close()


@dataclass
class Outbox:
    """Reads the outbox without taking SQLite's writer lock (plain reads, no BEGIN IMMEDIATE)."""

    engine: AsyncEngine

    async def nudges(self) -> tuple[int, int, int]:
        """Nudge rows: (all, still pending, failed for good)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT count(*), "
                "coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), "
                "coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) "
                "FROM outbox WHERE key LIKE 'nudge:%'"))).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def sent_pairs(self) -> set[int]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT target FROM outbox WHERE key LIKE 'nudge:%' AND status = 'sent'"))).all()
        return {int(r[0]) for r in rows}

    async def done(self, pairs: int) -> bool:
        total, pending, _ = await self.nudges()
        return total >= pairs and pending == 0


# --- the bot processes ------------------------------------------------------------------------------


@dataclass
class Bots:
    """Starts and kills `mentorbot run --slack` children; only ever the processes it started, by their id."""

    url: str
    api: str
    rate: int
    logs: Path
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
        env.update(DATABASE_URL=self.url, SLACK_BOT_TOKEN="xoxb-chaos-bench", SLACK_APP_TOKEN="xapp-1-chaos",
                   SLACK_API_URL=self.api, LOG_LEVEL="WARNING", LOG_FILE=str(self.logs / "mentorbot.log"),
                   **{RATE_ENV: str(self.rate)})
        env.pop("DATABASE_URL_TEST", None)
        self.started += 1
        log = open(self.logs / f"bot-{self.started}.log", "wb")
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--bot"], env=env, cwd=self.logs,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.running.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()  # SIGKILL: no cleanup, no finally blocks
        proc.wait(STOP_WAIT)
        self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in self.running:
            proc.terminate()
        for proc in self.running:
            try:
                proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_WAIT)
        self.running.clear()


@dataclass
class Kill:
    at: float  # wall clock, as the fake stamps posts
    unrecorded: int  # posts the fake had accepted that the outbox did not yet show as sent


# --- the report ---------------------------------------------------------------------------------------


def nudge_posts(fake: object) -> dict[int, list[float]]:
    """Pair id -> the moments the fake accepted a post into that pair's group DM (G<pair id>)."""
    posts: dict[int, list[float]] = defaultdict(list)
    for posted in list(fake.messages.values()):  # type: ignore[attr-defined]
        if posted.channel.startswith("G") and posted.channel[1:].isdecimal():
            posts[int(posted.channel[1:])].append(posted.at)
    for times in posts.values():
        times.sort()
    return posts


def most_within(times: list[float], seconds: float) -> int:
    """The most of the sorted `times` inside any span of `seconds`."""
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - seconds:
            j += 1
        most = max(most, i - j + 1)
    return most


def report(name: str, pairs: int, fake: object, kills: list[Kill], window: float, elapsed: float,
           outbox: tuple[int, int, int], finished: bool, rate: int) -> bool:
    posts = nudge_posts(fake)
    all_times = sorted(t for ts in posts.values() for t in ts)
    zero = [p for p in range(1, pairs + 1) if not posts.get(p)]
    more = {p: len(t) for p, t in posts.items() if len(t) > 1}
    repeats = sum(n - 1 for n in more.values())
    inside = 0
    per_kill: Counter[int] = Counter()
    outside: list[str] = []  # why each repeat outside the window is outside it
    for pair, times in posts.items():
        used: set[int] = set()
        for before, after in zip(times, times[1:]):
            # The kill that caused the repeat, if any: the first one after the first copy.
            between = [i for i, k in enumerate(kills) if before <= k.at <= after]
            if not between:
                outside.append(f"pair {pair}: no kill between copies {after - before:.1f} s apart")
                continue
            k = between[0]
            per_kill[k] += 1
            if k not in used and kills[k].at - before <= window:
                inside += 1
                used.add(k)
            else:
                outside.append(f"pair {pair}: first copy {kills[k].at - before:.2f} s before kill {k + 1}, "
                               f"again {after - kills[k].at:.1f} s after it")
    peak, minute = most_within(all_times, 10.0), most_within(all_times, 60.0)
    total, pending, failed = outbox
    print(f"== {name}")
    print(f"pairs:                       {pairs}")
    print(f"finished:                    {'yes' if finished else 'NO (timed out)'} in {elapsed:.0f} s"
          + (f" (last post {all_times[-1] - all_times[0]:.0f} s after the first)" if all_times else ""))
    print(f"outbox nudge rows:           {total} ({pending} pending, {failed} failed for good)")
    print(f"posts accepted by the fake:  {len(all_times)} into {len(posts)} pair conversations")
    if getattr(fake, "chaos", None) is not None:
        print(f"faults injected:             {fake.chaos.injected}")  # type: ignore[attr-defined]
    print(f"peak workspace post rate:    {peak * 6}/min over 10 s, {minute}/min over 60 s "
          f"(each process's budget: {rate}/min)")
    for i, k in enumerate(kills):
        print(f"kill {i + 1:2d}:                     {k.unrecorded} posted but not recorded as sent; "
              f"{per_kill[i]} of them posted again after a restart")
    print(f"pairs nudged zero times:     {len(zero)}" + (f" (e.g. {zero[:5]})" if zero else ""))
    print(f"pairs nudged more than once: {len(more)} ({repeats} repeats)"
          + (f" (e.g. pairs {sorted(more)[:3]}..{sorted(more)[-3:]})" if more else ""))
    print(f"repeats inside the window:   {inside} (one per pair per kill, first copy <= {window} s before it)")
    print(f"repeats outside the window:  {repeats - inside}")
    for line in outside[:10]:
        print(f"  {line}")
    return finished and not zero and repeats == inside


# --- the scenarios ------------------------------------------------------------------------------------


async def _wait(outbox: Outbox, pairs: int, deadline: float, until: object = None) -> bool:
    """Poll until the fan-out is done (True) or `until()` holds or the deadline passes (False)."""
    while time.monotonic() < deadline:
        if await outbox.done(pairs):
            return True
        if until is not None and until():  # type: ignore[operator]
            return False
        await asyncio.sleep(POLL)
    return False


async def run(args: argparse.Namespace, url: str, tmp: Path) -> bool:
    from bench.fanout import WORKSPACE
    from testkit.fake_slack import FakeSlack, RandomFaults

    fake = FakeSlack(team=WORKSPACE)
    if args.faults:
        fake.chaos = RandomFaults(rate_limited=0.20, server_error=0.05, retry_after=1.0, seed=args.seed)
    api = await fake.start()
    engine = create_async_engine(url)
    outbox = Outbox(engine)
    bots = Bots(url, api, args.rate, tmp)
    rng = random.Random(args.seed)
    kills: list[Kill] = []
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    finished = False
    try:
        if args.kill:
            name = f"(a) {args.kill} x kill -9 with restarts"
            # Spread the kills over the fan-out's expected length at this pace.
            spread = max(1.0, 2 * 60 * args.pairs / args.rate / (args.kill + 1))
            stranded: set[int] = set()
            proc = bots.start()
            while len(kills) < args.kill:
                before = len(fake.messages)
                if await _wait(outbox, args.pairs, deadline, lambda: len(fake.messages) > before):
                    finished = True
                    break
                await asyncio.sleep(rng.uniform(0.2, spread))  # a random moment while it sends
                if await outbox.done(args.pairs) or time.monotonic() > deadline:
                    break
                bots.kill(proc)
                at = time.time()
                posted = {p for p, ts in nudge_posts(fake).items() if ts[0] <= at}
                unrecorded = posted - await outbox.sent_pairs() - stranded
                stranded |= unrecorded  # still leased to the dead process: counted at the kill that left them
                kills.append(Kill(at, len(unrecorded)))
                proc = bots.start()
        elif args.replicas:
            name = f"(b) {args.replicas} replicas on {make_url(url).get_backend_name()}"
            for _ in range(args.replicas):
                bots.start()
        else:
            name = "(c) 20% 429, 5% 500 / HTML 502" if args.faults else "one process, no faults"
            bots.start()
        finished = finished or await _wait(outbox, args.pairs, deadline)
        # Let the bots run a moment longer: a repeat sent just after the last row was recorded counts too.
        await asyncio.sleep(2 * POLL)
    finally:
        bots.stop_all()
        counts = await outbox.nudges()
        await engine.dispose()
        await fake.stop()
    name += f", {args.rate} posts/min per process"
    return report(name, args.pairs, fake, kills, args.window, time.monotonic() - t0, counts, finished, args.rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " ") if __doc__ else None)
    parser.add_argument("--bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--db", help=f"database URL (default: a fresh temporary SQLite file; with --replicas {DEFAULT_PG})")
    which = parser.add_mutually_exclusive_group(required=False)
    which.add_argument("--kill", type=int, default=0, metavar="N", help="kill -9 the bot N times, restarting it")
    which.add_argument("--replicas", type=int, default=0, metavar="N", help="run N bot processes at once")
    parser.add_argument("--faults", action="store_true", help="the fake fails 20%% of posts with 429, 5%% with 5xx")
    parser.add_argument("--rate", type=int, default=3000, help="each bot's chat.postMessage budget per minute")
    parser.add_argument("--window", type=float, default=0.5,
                        help="seconds before a kill in which an accepted post may be repeated (in flight)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before the run gives up")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    if args.bot:
        return bot_main()
    if args.pairs < 1 or args.rate < 1:
        parser.error("--pairs and --rate must be at least 1")
    if args.replicas and args.db is None:
        args.db = DEFAULT_PG  # replicas share a server database; SQLite has one writer on one machine
    with tempfile.TemporaryDirectory(prefix="mentorbot-chaos-") as tmp:
        url = prepare(args.db, Path(tmp), args.pairs)
        ok = asyncio.run(run(args, url, Path(tmp)))
        if not ok:
            logs = sorted(Path(tmp).glob("bot-*.log"), key=lambda p: int(p.stem.removeprefix("bot-")))
            tail = logs[-1].read_text(errors="replace")[-2000:] if logs else ""
            if tail.strip():
                print(f"-- last bot log ({logs[-1].name}):\n{tail}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
