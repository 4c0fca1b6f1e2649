"""`bench/slack_ack.py --during-fanout`: slash-command acks while a weekly fan-out is planned and delivered.

One bot serves Slack as `mentorbot run --slack` does (aiohttp on 127.0.0.1, the bolt app, the shared pacer,
the scheduler's sweeps and deliverer) on a database seeded by bench/fanout.py with N pairs whose first
check-in falls due at one moment. The fake Slack Web API runs in a child process, so its work for the posts
does not land on the bot's event loop. `/mentor status` is sent at a steady rate (open loop: a slow ack
does not delay the next send), each timed from the moment it was due to be sent to its ack: first with
nothing due (idle), then from the moment the clock reaches the due time until the last nudge is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession
from sqlalchemy import func
from sqlmodel import col, select

import prompts
from adapters.heap import settle_heap
from adapters.slack.app import SlackAdapter
from adapters.slack.pacing import PER_MINUTE, shared_pacer
from adapters.slack.server import web_app
from adapters.slack.settings import SlackSettings
from bench.fanout import WEEK, pair_zone_sets, prepare_database, seed
from bench.slack_ack import FORM, SECRET, TOKEN, start
from bot.clock import OffsetClock
from bot.core import MentorBot
from bot.periods import due_at, latest_period
from bot.scheduler import Heartbeat
from storage.db import Database
from storage.models import Checkin, Outbox, OutboxStatus, Program
from testkit.fake_slack import FakeSlack, signed_headers

TEAM = "T-BENCH"  # bench/fanout.py's workspace: the people sending commands are in the program's workspace
POLL_SECONDS = 0.5
DEFAULT_TZ = "UTC"  # the bot's zone for members with none; the due moments are computed with it before the bot exists


def _fake_slack(conn: Connection, users: int) -> None:
    """The child process: the fake Web API until told to stop, then how many posts each channel got."""
    asyncio.run(_serve_fake(conn, users))


async def _serve_fake(conn: Connection, users: int) -> None:
    fake = FakeSlack(team=TEAM)
    for i in range(users):
        fake.add_user(f"U{i:05d}", f"user{i}", "Europe/Berlin")
    api = await fake.start()
    conn.send((api, fake.hook_url("bench")))
    loop = asyncio.get_running_loop()
    # Asked "count", it answers (posts so far, wall time of the last); asked "stop", each channel's posts.
    while await loop.run_in_executor(None, conn.recv) == "count":
        conn.send((len(fake.messages), max((m.at for m in fake.messages.values()), default=None)))
    conn.send(dict(Counter(str(c.params.get("channel")) for c in fake.calls if c.method == "chat.postMessage")))
    await fake.stop()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name + ':':<22} no acks"
    return (f"{name + ':':<22} p50 {pct(values, 50):7.1f} ms   p99 {pct(values, 99):7.1f} ms   max {max(values):7.1f} ms"
            f"   ({len(values)})")


class Prober:
    """Sends `/mentor status` `rate` times a second from `users` people until stopped; latencies in ms."""

    def __init__(self, session: ClientSession, url: str, hook: str, users: int, rate: float) -> None:
        self.session, self.url, self.hook, self.users, self.rate = session, url, hook, users, rate
        self.failures = 0
        self._n = 0
        self._internal = prompts.say("error.internal")

    async def one(self, user: int, due: float) -> tuple[float, float]:
        body = urlencode({"team_id": TEAM, "user_id": f"U{user:05d}", "user_name": f"user{user}",
                          "command": "/mentor", "text": "status", "channel_id": "CBENCH",
                          "trigger_id": f"bench-{time.time_ns()}-{user}", "response_url": self.hook})
        async with self.session.post(self.url, data=body.encode(), headers=signed_headers(body, FORM, secret=SECRET)) as resp:
            text = await resp.text()
            self.failures += resp.status != 200 or self._internal in text
        # From when it was due to be sent: a blocked loop that sends it late is counted, not hidden.
        return due, (time.perf_counter() - due) * 1000

    async def run(self, stop: asyncio.Event) -> list[tuple[float, float]]:
        """(when it was due to be sent, its latency in ms) for each command sent until `stop` is set."""
        tasks: list[asyncio.Task[tuple[float, float]]] = []
        began = time.perf_counter()
        for n in itertools.count():
            due = began + n / self.rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                break
            self._n += 1
            tasks.append(asyncio.create_task(self.one(self._n % self.users, due)))
        return list(await asyncio.gather(*tasks))

    async def warm_up(self) -> None:
        """Every user once, so what is timed is people the bot already knows (the read-only path)."""
        now = time.perf_counter()
        await asyncio.gather(*(self.one(u, now) for u in range(self.users)))


async def _nudges(db: Database) -> tuple[int, int]:
    """Nudge rows in the outbox, and how many are sent."""
    nudge = col(Outbox.key).like("nudge:%")
    async with db.read() as s:
        rows = (await s.exec(select(func.count()).select_from(Outbox).where(nudge))).one()
        sent = (await s.exec(select(func.count()).select_from(Outbox).where(nudge, Outbox.status == OutboxStatus.SENT))).one()
    return int(rows), int(sent)


async def _moments(db: Database, program: Program) -> tuple[datetime, datetime]:
    """(idle, due): a moment before any seeded pair's first check-in is due, and one minute past the latest."""
    zone_sets = await pair_zone_sets(db, DEFAULT_TZ)
    dues = [due_at(program, WEEK, zs) for zs in zone_sets]
    due = max(dues) + timedelta(minutes=1)
    for zs in zone_sets:
        found = latest_period(program, zs, due)
        if found is None or found[0] != WEEK:
            raise SystemExit(f"clock {due} is not in the {WEEK} period for zones {zs}: {found}")
    return min(dues) - timedelta(minutes=10), due


async def run(args: argparse.Namespace, url: str) -> int:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    fake = ctx.Process(target=_fake_slack, args=(child, args.users), daemon=True)
    fake.start()
    api, hook = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    db = Database(url)
    heartbeat: Heartbeat | None = None
    adapter: SlackAdapter | None = None
    runner = None
    try:
        # The pairs start the day before the week, so the only period they owe is this week's.
        active_since = datetime.combine(WEEK - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        t0 = time.perf_counter()
        program = await seed(db, args.pairs, active_since - timedelta(days=70), active_since, "slack", conversations=True)
        seeded = time.perf_counter() - t0
        idle_at, due = await _moments(db, program)
        # Real time from idle_at on, whatever today's date: OffsetClock.set only moves forward, so a clock
        # started at today's time and set to a past week would stay on today's, where everything is due at once.
        clock = OffsetClock(idle_at - datetime.now(UTC))
        bot = MentorBot(db, clock, default_tz=DEFAULT_TZ)
        t0 = time.perf_counter()
        await bot.run_sweeps()  # the first tick stores every pair's next due moment
        first_tick = time.perf_counter() - t0

        settings = SlackSettings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                                 slack_api_url=api)
        pacer = shared_pacer(db, TOKEN)  # as `mentorbot run --slack`: the budget booked in the database
        pacer.per_minute = {**PER_MINUTE, "chat.postMessage": args.post_rate}
        adapter = SlackAdapter(bot, settings, pacer=pacer)
        bot.add_messenger(adapter.messenger)
        heartbeat = Heartbeat(bot)
        bot.on_handled(heartbeat.deliver_soon)
        runner, events_url = await start(web_app(adapter.app, bot.health))
        settle_heap()  # as `mentorbot run` does before it starts the heartbeat
        heartbeat.start()
        async with ClientSession() as session:
            prober = Prober(session, events_url, hook, args.users, args.rate)
            await prober.warm_up()
            prober.failures = 0

            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(args.idle, stop.set)
            idle_began = time.perf_counter()
            idle_timed = await prober.run(stop)
            idle = [ms for _, ms in idle_timed]

            stop = asyncio.Event()
            probing = asyncio.create_task(prober.run(stop))
            clock.set(due)
            assert clock.now() >= due, "the clock reached the due moment"
            started_wall, t0 = time.time(), time.perf_counter()
            heartbeat.sweeps.poke()  # the tick at the due moment (a 30 s interval would start it up to 30 s later)
            assert heartbeat.sweeps.task is not None
            await asyncio.shield(heartbeat.sweeps.task)
            planned_at = time.perf_counter()
            # Progress is asked of the fake, not the database: a poll on the bot's loop would add to what is timed.
            deadline, loop = t0 + args.timeout, asyncio.get_running_loop()
            while True:
                parent.send("count")
                posted, last_post = await loop.run_in_executor(None, parent.recv)
                if posted >= args.pairs or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(POLL_SECONDS)
            stop.set()
            timed = await probing
            for _ in range(50):  # the last sends are recorded a few milliseconds after the fake accepted them
                if (counts := await _nudges(db))[1] >= args.pairs:
                    break
                await asyncio.sleep(0.1)
        rows, sent = counts
        delivered = last_post - started_wall if last_post else float("nan")
        async with db.read() as s:
            checkins = int((await s.exec(select(func.count()).select_from(Checkin))).one())
    finally:
        if heartbeat is not None:
            await heartbeat.stop()
        if runner is not None:
            await runner.cleanup()
        if adapter is not None:
            await adapter.close()
        await db.close()
        parent.send("stop")
        posts: dict[str, int] = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        fake.join(10)

    nudged = Counter(posts.get(f"G{i}", 0) for i in range(1, args.pairs + 1))
    during = [ms for _, ms in timed]
    ratio = pct(during, 99) / pct(idle, 99)
    print(f"backend:               {db.dialect}")
    print(f"pairs:                 {args.pairs} (seeded in {seeded:.1f} s; first tick storing their due moments "
          f"{first_tick:.1f} s, not counted)")
    print(f"acks:                  `/mentor status` at {args.rate:g}/s from {args.users} users, each timed from when it "
          f"was due to be sent; idle {len(idle)}, during the fan-out {len(during)}; failed: {prober.failures}")
    print(f"pacing:                chat.postMessage raised to {args.post_rate}/min (Slack's is "
          f"{PER_MINUTE['chat.postMessage']}/min), booked in the database as `run --slack` does")
    print(line("idle", idle))
    print(line("during fan-out", during))
    print(line("  while planning", [ms for at, ms in timed if at < planned_at]))
    print(line("  after planning", [ms for at, ms in timed if at >= planned_at]))
    print(f"p99 during / idle:     {ratio:.2f}x (goal at most 2x): {'ok' if ratio <= 2 else 'FAIL'}")
    print(f"max under 1 s:         {'ok' if max(during) < 1000 else 'FAIL'} ({sum(v >= 1000 for v in during)} at 1 s or more)")
    print(f"fan-out:               planning (sweeps) {planned_at - t0:.1f} s; last nudge sent {delivered:.1f} s after the "
          f"due moment ({args.pairs / delivered:.0f} nudges/s)")
    for name, acks, since in (("idle", idle_timed, idle_began), ("during", timed, t0)):
        slowest = sorted(acks, key=lambda t: -t[1])[:5]
        print(f"{'slowest ' + name + ':':<22} " + ", ".join(f"{ms:.0f} ms at {at - since:.1f} s" for at, ms in slowest))
    checks = {
        "check-ins planned = pairs": checkins == args.pairs,
        "outbox nudge rows = pairs, all sent": rows == sent == args.pairs,
        "fake Slack: every pair's conversation got one post": nudged == Counter({1: args.pairs}),
        "fake Slack: no other posts": sum(posts.values()) == args.pairs,
        "no failed acks": prober.failures == 0,
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'}  {name}")
    goals = ratio <= 2 and max(during) < 1000
    return 0 if all(checks.values()) and goals else 1


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = prepare_database(args.db, Path(tmp))
        return asyncio.run(run(args, url))
