"""`/mentor match` on a large program through Slack, while `/mentor status` keeps arriving: are acks still fast?

    python bench/match_ack.py [--mentees 10000] [--mentors 2000] [--rate 10] [--seed 1]

The program of bench/matching.py (capacities 1-5, random topics, interests, languages, 11 time zones,
1% block-list entries and 5% never-again pairs, here all stored as block-list rows; rules: 6 hours,
shared language) is written to a fresh SQLite file. The bot serves Slack as `mentorbot run --slack` does
(aiohttp on 127.0.0.1, the real bolt app, the fake Slack Web API from testkit). A coordinator sends
`/mentor match`; meanwhile a member sends `/mentor status` `--rate` times a second, each timed from send
to its ack, until the proposal is stored. Prints the match's wall time (command to proposal stored),
the peak memory of the bot and of the matching worker process, and the acks' p50, p99 and maximum;
then the same while the coordinator's Approve all starts every proposed pair (intros queued).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import ClientSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

from adapters.slack.app import SlackAdapter
from adapters.slack.server import web_app
from adapters.slack.settings import SlackSettings
from bench.matching import program
from bench.slack_ack import FORM, SECRET, TEAM, TOKEN, pct, start
from bot.clock import SystemClock
from bot.core import MentorBot
from bot.events import ActionEvent, Actor
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Block, Enrollment, Member, Program, Proposal, Role, Workspace
from testkit.fake_slack import FakeSlack, signed_headers

# One IANA zone for each of bench/matching.py's UTC offsets (December: no daylight saving north).
ZONE_OF = {-8: "America/Los_Angeles", -6: "America/Chicago", -5: "America/New_York", -3: "America/Sao_Paulo",
           0: "Europe/London", 1: "Europe/Berlin", 2: "Europe/Athens", 3: "Europe/Moscow", 5.5: "Asia/Kolkata",
           8: "Asia/Singapore", 9: "Asia/Tokyo"}
COORDINATOR, MEMBER = "UCOORD", "UPROBE"


async def seed(db: Database, mentees: int, mentors: int, rng_seed: int) -> None:
    """The program, its people (Slack ids U<n>) and their block lists, in bulk."""
    ms, es, forbidden = program(mentees, mentors, rng_seed)
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    async with db.transaction() as s:
        await s.exec(sa.insert(Workspace).values(id=1, platform="slack", external_id=TEAM, name=""))  # type: ignore[call-overload]
        await s.exec(sa.insert(Program).values(id=1, workspace_id=1, name="Big", tz="UTC", created_at=now,  # type: ignore[call-overload]
                                               max_tz_gap=6, require_language=True, match_weights=""))
        people = [*ms, *es]
        await s.exec(sa.insert(Member), params=[  # type: ignore[call-overload]
            {"id": p.member_id + 1, "workspace_id": 1, "external_id": f"U{p.member_id:05d}",
             "display_name": f"person{p.member_id}", "tz": ZONE_OF[p.utc_offset],
             "topics": ",".join(sorted(p.topics)), "interests": ",".join(sorted(p.interests)),
             "languages": ",".join(sorted(p.languages)), "goals": "", "is_admin": False, "paused": False,
             "created_at": now} for p in people])
        await s.exec(sa.insert(Enrollment), params=[  # type: ignore[call-overload]
            {"program_id": 1, "member_id": p.member_id + 1, "role": p.role.value, "capacity": p.capacity,
             "active": True, "joined_at": now} for p in people])
        await s.exec(sa.insert(Block), params=[  # type: ignore[call-overload]
            {"member_id": min(f) + 1, "blocked_id": max(f) + 1, "created_at": now} for f in forbidden])
        # The coordinator and the member probing acks (enrolled as a mentee in another program).
        await s.exec(sa.insert(Member).values(id=10**6, workspace_id=1, external_id=COORDINATOR, display_name="coord",  # type: ignore[call-overload]
                                              is_admin=False, paused=False, created_at=now, topics="", interests="",
                                              languages="", goals=""))
        await s.exec(sa.insert(Enrollment).values(program_id=1, member_id=10**6, role=Role.COORDINATOR, capacity=1,  # type: ignore[call-overload]
                                                  active=True, joined_at=now))
    print(f"program: {mentees} mentees, {mentors} mentors ({sum(m.capacity for m in ms)} slots), "
          f"{len(forbidden)} block-list rows")


async def send(session: ClientSession, url: str, user: str, text: str, hook: str) -> tuple[float, str]:
    """One slash command; the ack's latency (ms) and body."""
    body = urlencode({"team_id": TEAM, "user_id": user, "user_name": user.lower(), "command": "/mentor",
                      "text": text, "channel_id": "CBENCH", "trigger_id": f"t-{time.time_ns()}",
                      "response_url": hook})
    t0 = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=signed_headers(body, FORM, secret=SECRET)) as resp:
        text = await resp.text()
        assert resp.status == 200, resp.status
    return (time.perf_counter() - t0) * 1000, text


def acks_line(what: str, values: list[float], rate: float) -> str:
    """`/mentor status acks during <what>: N at R/s: p50, p99, max, over 1 s` (needs two acks or more)."""
    return (f"/mentor status acks during {what}: {len(values)} at {rate:g}/s: p50 {pct(values, 50):.0f} ms, "
            f"p99 {pct(values, 99):.0f} ms, max {max(values):.0f} ms, over 1 s: {sum(a > 1000 for a in values)}")


def on_fresh_sqlite(name: str, run: Callable[[str], Awaitable[int]]) -> int:
    """`run(url)` on a migrated SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / name}"
        upgrade(url)
        return asyncio.run(run(url))


def worker_peak_mib() -> float:
    """The matching worker's peak resident memory (it is still running, so getrusage cannot see it)."""
    from bot import offload
    peak = 0.0
    for pid in (offload._workers._processes if offload._workers else {}):  # type: ignore[attr-defined]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


async def proposal_stored(db: Database) -> bool:
    async with db.transaction() as s:
        return (await s.exec(sa.select(Proposal.id).limit(1))).first() is not None  # type: ignore[call-overload]


async def run(args: argparse.Namespace, db_url: str) -> int:
    fake = FakeSlack(team=TEAM)
    fake.add_user(COORDINATOR, "coord", "Europe/Berlin")
    fake.add_user(MEMBER, "probe", "Europe/Berlin")
    api = await fake.start()
    db = Database(db_url)
    await seed(db, args.mentees, args.mentors, args.seed)
    bot = MentorBot(db, SystemClock())
    settings = SlackSettings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                             slack_api_url=api)
    adapter = SlackAdapter(bot, settings)
    bot.add_messenger(adapter.messenger)
    runner, url = await start(web_app(adapter.app))
    hook = fake.hook_url("bench")
    acks: list[float] = []
    approve_acks: list[float] = []
    try:
        async with ClientSession() as session:
            await send(session, url, MEMBER, "status", hook)  # warm-up: the member exists, the first query is done
            t0 = time.perf_counter()
            matching = asyncio.create_task(send(session, url, COORDINATOR, "match", hook))
            while not await proposal_stored(db):
                tick = time.perf_counter()
                acks.append((await send(session, url, MEMBER, "status", hook))[0])
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - tick)))
            matched = time.perf_counter() - t0
            match_ack, match_body = await matching
            await adapter.drain()
            total = time.perf_counter() - t0
            worker_peak = worker_peak_mib()
            # The coordinator clicks Approve all (the click's ack is bolt's; this is the work behind it).
            coordinator = Actor("slack", TEAM, COORDINATOR, display_name="coord", is_admin=None)
            t1 = time.perf_counter()
            approving = asyncio.create_task(bot.handle(ActionEvent(coordinator, "match.approve_all", "1")))
            while not approving.done():
                tick = time.perf_counter()
                approve_acks.append((await send(session, url, MEMBER, "status", hook))[0])
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - tick)))
            approved = (await approving).text
            approve_s = time.perf_counter() - t1
    finally:
        await runner.cleanup()
        await adapter.close()
        await db.close()
        await fake.stop()
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    proposal = [r["text"] for r in fake.replies("bench") if "Proposal #" in r.get("text", "")]
    proposal += [match_body] if "Proposal #" in match_body else []
    print(f"match: proposal stored {matched:.1f} s after the command, reply sent at {total:.1f} s; "
          f"the match command's own ack {match_ack:.0f} ms")
    print(f"  {proposal[0][:160] if proposal else 'NO PROPOSAL REPLY'}")
    print(f"peak memory: bot process {self_peak:.0f} MiB, matching worker {worker_peak:.0f} MiB (max RSS)")
    for what, values in (("the match", acks), ("Approve all", approve_acks)):
        if len(values) >= 2:
            print(acks_line(what, values, args.rate))
    print(f"Approve all: {approve_s:.1f} s: {approved[:160]}")
    return 0 if proposal else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mentees", type=int, default=10_000)
    parser.add_argument("--mentors", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=10.0, help="status commands a second (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return on_fresh_sqlite("match.db", lambda url: run(args, url))


if __name__ == "__main__":
    sys.exit(main())
