"""`mentorbot`: the process entry point. Picks adapters from the settings and runs them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from adapters.console import Console, parse_when
from bot.clock import ManualClock, OffsetClock
from bot.core import MentorBot
from bot.scheduler import Heartbeat
from bot.settings import Settings, SettingsError, configure_logging, load_settings
from storage.db import Database


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mentorbot", description="Mentorship programs in chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    console = sub.add_parser("console", help="try the bot in this terminal, or replay a script")
    console.add_argument("--script", type=Path, help="replay this file and print the transcript")
    console.add_argument("--db", help="database URL (a script uses a fresh temporary SQLite file by default)")
    console.add_argument("--start", help="the console clock's start, e.g. 2026-11-30T08:00Z (default: now)")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    sub.add_parser("run", help="run the configured platform adapters (the console when none is configured)")
    return parser


async def _console(settings: Settings, script: Path | None, db_url: str | None, start: str | None) -> int:
    url = db_url
    tmp = None
    if url is None and script is not None:
        tmp = tempfile.TemporaryDirectory(prefix="mentorbot-")
        url = f"sqlite+aiosqlite:///{tmp.name}/script.db"
    db = Database(url or settings.database_url)
    try:
        await db.upgrade()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        # A script runs on a clock that moves only when told, so its transcript is the same every run.
        clock = OffsetClock() if script is None and start is None else ManualClock(parse_when(start, now) if start else now)
        bot = MentorBot(db, clock, default_tz=settings.default_timezone)
        console = Console(bot, clock, sys.stdout)
        if script is None:
            heartbeat = Heartbeat(bot)
            heartbeat.start()
            try:
                await console.interactive()
            finally:
                heartbeat.shutdown()
            return 0
        errors = await console.run_script(script.read_text(encoding="utf-8").splitlines())
        return 1 if errors else 0
    finally:
        await db.close()
        if tmp is not None:
            tmp.cleanup()


async def _upgrade(settings: Settings) -> int:
    db = Database(settings.database_url)
    await db.upgrade()
    await db.close()
    print(f"database is up to date: {db.engine.url.render_as_string(hide_password=True)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command == "console":
        if args.script is not None and not args.script.is_file():
            print(f"no such script: {args.script}", file=sys.stderr)
            return 2
        return asyncio.run(_console(settings, args.script, args.db, args.start))
    if args.command == "db":
        return asyncio.run(_upgrade(settings))
    # No platform adapter is configured yet: run the console on the configured database.
    return asyncio.run(_console(settings, None, None, None))


if __name__ == "__main__":
    sys.exit(main())
