"""`/mentor report --weeks N` and `/mentor export` on a program of 10,000 pairs with a year of weekly history,
while `/mentor status` keeps arriving through Slack: how long do they take, how much memory, are acks fast?

    python bench/report.py [--pairs 10000] [--weeks 52] [--rate 10] [--seed 1]

The program is written to a fresh SQLite file in bulk: `--pairs` pairs (started over the first 8 weeks,
5% ended later with a cause), a check-in per pair per week for `--weeks` weeks (70% met, 10% rescheduled,
10% couldn't meet, 10% missed), a rating with a note for half the met ones, and an escalation for 2% of the
pairs. The bot serves Slack as in bench/match_ack.py (aiohttp on 127.0.0.1, the real bolt app, the fake
Slack Web API). The coordinator's report and export are run as events; meanwhile a member sends
`/mentor status` `--rate` times a second, each timed from send to ack. Prints each one's wall time, the
export's rows and ZIP size, the bot's and the worker's peak memory, and the acks' p50, p99 and maximum.
Run it twice with different --weeks to see whether the export's memory grows with the history.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from aiohttp import ClientSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

from adapters.slack.app import SlackAdapter
from adapters.slack.server import web_app
from adapters.slack.settings import SlackSettings
from bench.match_ack import acks_line, on_fresh_sqlite, send, worker_peak_mib
from bench.slack_ack import SECRET, TEAM, TOKEN, start
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.events import Actor, CommandEvent
from storage.db import Database
from storage.models import Checkin, Enrollment, Escalation, Feedback, Member, Pair, Program, Role, Workspace
from testkit.fake_slack import FakeSlack

COORDINATOR, MEMBER = "UCOORD", "UPROBE"
START = datetime(2026, 1, 5, 8, tzinfo=UTC)  # a Monday
OUTCOMES = ["met"] * 7 + ["rescheduled", "could_not_meet", "missed"]
CAUSES = ["rematch", "left", "unpair", "problem", "low_rating"]
CHUNK = 20_000  # rows per bulk INSERT


async def _bulk(s, model, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), CHUNK):
        await s.exec(sa.insert(model), params=rows[i:i + CHUNK])


async def seed(db: Database, pairs: int, weeks: int, rng_seed: int) -> tuple[datetime, int]:
    """The program and its history, in bulk; returns the moment the bench runs at and the check-ins written."""
    rng = random.Random(rng_seed)
    end = START + timedelta(weeks=weeks)
    async with db.transaction() as s:
        await s.exec(sa.insert(Workspace).values(id=1, platform="slack", external_id=TEAM, name=""))  # type: ignore[call-overload]
        await s.exec(sa.insert(Program).values(id=1, workspace_id=1, name="Big", tz="UTC", created_at=START,  # type: ignore[call-overload]
                                               match_weights=""))
        people = [{"id": i + 1, "workspace_id": 1, "external_id": f"U{i:06d}", "display_name": f"person{i}",
                   "tz": "Europe/Berlin", "topics": "python,career", "interests": "music", "languages": "en",
                   "goals": "a first job in tech", "is_admin": False, "paused": False, "created_at": START}
                  for i in range(2 * pairs)]
        people.append({"id": 10**7, "workspace_id": 1, "external_id": COORDINATOR, "display_name": "coord",
                       "is_admin": False, "paused": False, "created_at": START, "topics": "", "interests": "",
                       "languages": "", "goals": ""})
        await _bulk(s, Member, people)
        await _bulk(s, Enrollment, [
            {"program_id": 1, "member_id": i + 1, "role": Role.MENTOR if i % 2 == 0 else Role.MENTEE, "capacity": 1,
             "active": True, "joined_at": START} for i in range(2 * pairs)]
            + [{"program_id": 1, "member_id": 10**7, "role": Role.COORDINATOR, "capacity": 1, "active": True,
                "joined_at": START}])
        pair_rows, checkins, ratings, escalations = [], [], [], []
        for p in range(pairs):
            started = START + timedelta(days=rng.randrange(56), hours=9)
            ended = started + timedelta(weeks=rng.randrange(4, weeks)) if rng.random() < 0.05 else None
            if ended is not None and ended >= end:
                ended = None
            pair_rows.append({"id": p + 1, "program_id": 1, "member_a_id": 2 * p + 1, "member_b_id": 2 * p + 2,
                              "kind": "mentorship", "status": "ended" if ended else "active",
                              "end_cause": rng.choice(CAUSES) if ended else None, "ended_at": ended,
                              "created_at": started, "active_since": end + timedelta(days=3650)})
            week = started - timedelta(days=started.weekday()) + timedelta(weeks=1)
            while week < end and (ended is None or week < ended):
                status = rng.choice(OUTCOMES)
                day = week.replace(hour=0)
                checkins.append({"id": len(checkins) + 1, "pair_id": p + 1, "period": day.date().isoformat(),
                                 "due_at": day + timedelta(hours=9), "closes_at": day + timedelta(days=7),
                                 "status": status})
                if status == "met" and rng.random() < 0.5:
                    ratings.append({"checkin_id": len(checkins), "member_id": 2 * p + 2, "rating": rng.randint(1, 5),
                                    "note": "useful session on interviews", "created_at": day + timedelta(hours=12)})
                week += timedelta(weeks=1)
            if rng.random() < 0.02:
                opened = started + timedelta(weeks=rng.randrange(1, 6))
                escalations.append({"program_id": 1, "pair_id": p + 1, "kind": "problem", "reason": "private text",
                                    "status": "resolved", "opened_at": opened,
                                    "acked_at": opened + timedelta(hours=rng.randrange(1, 48)),
                                    "resolved_at": opened + timedelta(hours=rng.randrange(48, 200))})
        await _bulk(s, Pair, pair_rows)
    for model, rows in ((Checkin, checkins), (Feedback, ratings), (Escalation, escalations)):
        for i in range(0, len(rows), CHUNK * 5):  # several transactions: no single huge one
            async with db.transaction() as s:
                await _bulk(s, model, rows[i:i + CHUNK * 5])
    print(f"program: {pairs} pairs, {weeks} weeks, {len(checkins)} check-ins, {len(ratings)} ratings, "
          f"{len(escalations)} escalations")
    return end - timedelta(days=1) + timedelta(hours=12), len(checkins)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def probed(session: ClientSession, url: str, hook: str, rate: float, work) -> tuple[float, object, list[float]]:  # type: ignore[no-untyped-def]
    """Run `work()` while /mentor status is sent `rate` times a second; its wall time, result and the acks."""
    acks: list[float] = []
    t0 = time.perf_counter()
    task = asyncio.create_task(work())
    while not task.done():
        tick = time.perf_counter()
        acks.append((await send(session, url, MEMBER, "status", hook))[0])
        await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - tick)))
    result = await task
    return time.perf_counter() - t0, result, acks


async def run(args: argparse.Namespace, db_url: str) -> int:
    fake = FakeSlack(team=TEAM)
    fake.add_user(COORDINATOR, "coord", "Europe/Berlin")
    fake.add_user(MEMBER, "probe", "Europe/Berlin")
    api = await fake.start()
    db = Database(db_url)
    now, _ = await seed(db, args.pairs, args.weeks, args.seed)
    # A manual clock at the end of the history; nothing is due (the pairs' active_since is far ahead).
    bot = MentorBot(db, ManualClock(now))
    settings = SlackSettings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                             slack_api_url=api)
    adapter = SlackAdapter(bot, settings)
    bot.add_messenger(adapter.messenger)
    runner, url = await start(web_app(adapter.app))
    hook = fake.hook_url("bench")
    coordinator = Actor("slack", TEAM, COORDINATOR, display_name="coord", is_admin=None)
    ok = True
    try:
        async with ClientSession() as session:
            await send(session, url, MEMBER, "status", hook)  # warm-up: the member exists
            await bot.handle(CommandEvent(coordinator, "report --weeks 1"))  # warm-up: the coordinator exists
            before = rss_mib()
            for text in (f"report --weeks {min(args.weeks, 104)}", "report --weeks 12 --chart", "export"):
                took, response, acks = await probed(session, url, hook, args.rate,
                                                    lambda text=text: bot.handle(CommandEvent(coordinator, text)))
                files = ", ".join(f"{f.filename} {len(f.data):,} bytes" for f in response.files)  # type: ignore[attr-defined]
                first = response.text.splitlines()[0][:120] if response.text else ""  # type: ignore[attr-defined]
                print(f"/mentor {text}: {took:.2f} s; {first}{'; ' + files if files else ''}")
                if "export" in text:
                    print(f"  {response.text.splitlines()[0][:200]}")  # type: ignore[attr-defined]
                if len(acks) >= 2:
                    print("  " + acks_line(f"/mentor {text}", acks, args.rate))
                elif acks:
                    print(f"  /mentor status ack meanwhile: {acks[0]:.0f} ms")
                ok = ok and "went wrong" not in response.text  # type: ignore[attr-defined]
            after = rss_mib()
            worker_peak = worker_peak_mib()
    finally:
        await runner.cleanup()
        await adapter.close()
        await db.close()
        await fake.stop()
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: bot process {before:.0f} MiB before the report and export, {after:.0f} MiB after, "
          f"peak {self_peak:.0f} MiB (max RSS, seeding included); worker peak {worker_peak:.0f} MiB")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--rate", type=float, default=10.0, help="status commands a second (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return on_fresh_sqlite("report.db", lambda url: run(args, url))


if __name__ == "__main__":
    sys.exit(main())
