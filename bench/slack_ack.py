"""Slash-command ack latency through the real HTTP stack: signed POSTs into the bolt app backed by SQLite.

    python bench/slack_ack.py [--total 2000] [--concurrency 50] [--users 100] [--command status]
    python bench/slack_ack.py --during-fanout [--pairs 10000] [--db URL] [--rate 20] [--post-rate 6000]

The bot runs exactly as `mentorbot run --slack` serves it (aiohttp on 127.0.0.1, bolt AsyncApp, the
core on a fresh SQLite file), its Web API pointed at the fake Slack from testkit. Each request is
timed from send to the ack arriving (the ack carries the core's reply). A bare bolt app with a no-op
handler is measured the same way in the same run, the two taking turns in rounds, and the ratio printed.

With --during-fanout (bench/ack_fanout.py), acks are measured idle and then while the bot's own scheduler
plans and delivers a fan-out of --pairs nudges, on SQLite or the PostgreSQL database --db names.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import ClientSession, web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: bench, and testkit when it is not installed

from adapters.heap import settle_heap
from adapters.slack.app import SlackAdapter
from adapters.slack.server import EVENTS_PATH, web_app
from adapters.slack.settings import SlackSettings
from bot.clock import SystemClock
from bot.core import MentorBot
from storage.db import Database
from storage.migrate import upgrade
from testkit.fake_slack import FakeSlack, signed_headers

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM = "TBENCH"
FORM = "application/x-www-form-urlencoded"


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}{EVENTS_PATH}"


async def hammer(session: ClientSession, url: str, total: int, concurrency: int, users: int, command: str,
                 hook: str) -> tuple[list[float], int]:
    """Send `total` slash commands, `concurrency` at a time; returns the latencies (ms) and the failures."""
    numbers = itertools.count()
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while (n := next(numbers)) < total:
            body = urlencode({"team_id": TEAM, "user_id": f"U{n % users:05d}", "user_name": f"user{n % users}",
                              "command": "/mentor", "text": command, "channel_id": "CBENCH",
                              "trigger_id": f"bench-{time.time_ns()}-{n}", "response_url": hook})
            t0 = time.perf_counter()
            async with session.post(url, data=body.encode(), headers=signed_headers(body, FORM, secret=SECRET)) as resp:
                await resp.read()
                ok = resp.status == 200
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def line(name: str, values: list[float], seconds: float) -> str:
    return (f"{name:<22} p50 {pct(values, 50):7.2f} ms   p95 {pct(values, 95):7.2f} ms   p99 {pct(values, 99):7.2f} ms"
            f"   {len(values) / seconds:6.0f} req/s")


async def measure(apps: dict[str, web.Application], args: argparse.Namespace, hook: str,
                  settle: dict[str, Callable[[], Awaitable[None]]]) -> dict[str, tuple[list[float], float]]:
    """Each app's latencies (ms) and seconds of sending, in alternating rounds (failures raise).

    The apps take turns, a tenth of --total at a time, the first to go changing each round: this machine's
    speed drifts by a third over seconds, and one app measured after the other would carry the drift
    into the ratio."""
    served = [await start(app) for app in apps.values()]
    urls = dict(zip(apps, (url for _, url in served), strict=True))
    # One client per app for the whole run: its connections stay open between rounds, as a real client's do.
    clients = {name: ClientSession() for name in apps}
    figures: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in apps}
    try:
        for name, url in urls.items():
            # Warm-up: every user once, so what is timed is the steady state (people the bot already knows).
            await hammer(clients[name], url, max(args.concurrency, args.users), args.concurrency, args.users,
                         args.command, hook)
            await settle[name]()
        settle_heap()  # as `mentorbot run` does once it has started: full collections skip what start-up left alive
        rounds = 10
        for r in range(rounds):
            for name in list(urls)[:: 1 if r % 2 == 0 else -1]:
                t0 = time.perf_counter()
                latencies, failures = await hammer(clients[name], urls[name], args.total // rounds,
                                                   args.concurrency, args.users, args.command, hook)
                elapsed = time.perf_counter() - t0
                await settle[name]()
                if failures:
                    raise SystemExit(f"{name}: {failures} requests failed")
                so_far, seconds = figures[name]
                figures[name] = (so_far + latencies, seconds + elapsed)
        return figures
    finally:
        for client in clients.values():
            await client.close()
        for runner, _ in served:
            await runner.cleanup()


async def run(args: argparse.Namespace, db_url: str) -> int:
    fake = FakeSlack(team=TEAM)
    for i in range(args.users):
        fake.add_user(f"U{i:05d}", f"user{i}", "Europe/Berlin")
    api = await fake.start()
    db = Database(db_url)
    try:
        bot = MentorBot(db, SystemClock())
        settings = SlackSettings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                                 slack_api_url=api)
        adapter = SlackAdapter(bot, settings)
        bot.add_messenger(adapter.messenger)  # as the Slack adapter's serve() does
        bare = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api), signing_secret=SECRET,
                        process_before_response=True)

        async def noop(ack: AsyncAck) -> None:
            await ack()

        bare.command("/mentor")(noop)

        async def nothing() -> None:
            return None

        try:
            figures = await measure({"mentorbot": web_app(adapter.app), "bare": web_app(bare)}, args,
                                    fake.hook_url("bench"), {"mentorbot": adapter.drain, "bare": nothing})
        finally:
            await adapter.close()
    finally:
        await db.close()
        await fake.stop()
    (bot_lat, bot_s), (bare_lat, bare_s) = figures["mentorbot"], figures["bare"]
    print(f"requests:              {args.total} slash commands (`/mentor {args.command}`), {args.concurrency} at a "
          f"time, {args.users} users, SQLite")
    print(line("mentorbot (SQLite)", bot_lat, bot_s))
    print(line("bare bolt, no-op ack", bare_lat, bare_s))
    print("ratio mentorbot/bare   " + "   ".join(
        f"p{q} {pct(bot_lat, q) / pct(bare_lat, q):5.1f}x" for q in (50, 95, 99)))
    print(f"over 3 s:              {sum(v > 3000 for v in bot_lat)}")
    return 0 if max(bot_lat) < 3000 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--total", type=int, default=2000, help="slash commands per app (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument("--users", type=int, default=100, help="distinct Slack users sending them (default 100)")
    parser.add_argument("--command", default="status", help="the /mentor subcommand sent (default: status)")
    fanout = parser.add_argument_group("--during-fanout", "acks while a weekly fan-out is planned and delivered")
    fanout.add_argument("--during-fanout", action="store_true", help="measure acks idle, then during a fan-out")
    fanout.add_argument("--pairs", type=int, default=10_000, help="pairs in the fan-out (default 10000)")
    fanout.add_argument("--db", help="database URL (default: a fresh SQLite file; PostgreSQL: use bench_ack)")
    fanout.add_argument("--rate", type=float, default=20.0, help="status commands a second (default 20)")
    fanout.add_argument("--idle", type=float, default=20.0, help="seconds of idle acks (default 20)")
    fanout.add_argument("--post-rate", type=int, default=6000,
                        help="chat.postMessage budget a minute during the bench (default 6000; Slack's is 300)")
    fanout.add_argument("--timeout", type=float, default=900.0, help="seconds the fan-out may take (default 900)")
    args = parser.parse_args(argv)
    if args.during_fanout:
        if args.pairs < 1 or args.rate <= 0 or args.idle <= 0 or args.post_rate < 1:
            parser.error("--pairs, --rate, --idle and --post-rate must be positive")
        from bench import ack_fanout

        return ack_fanout.main(args)
    if args.total < 100 or args.concurrency < 1 or args.users < 1:
        parser.error("--total must be at least 100, --concurrency and --users at least 1")
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'ack.db'}"
        upgrade(url)  # runs its own event loop, so outside asyncio.run
        return asyncio.run(run(args, url))


if __name__ == "__main__":
    sys.exit(main())
