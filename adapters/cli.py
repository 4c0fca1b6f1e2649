"""`mentorbot`: the process entry point. Picks adapters from the settings and runs them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from adapters.console import Console, parse_when
from adapters.platform import Check, Platform, platforms
from bot.clock import ManualClock, OffsetClock, SystemClock
from bot.core import MentorBot
from bot.scheduler import Heartbeat
from bot.settings import Settings, SettingsError, configure_logging, load_settings
from storage.db import Database

ENV_FILE = ".env"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mentorbot", description="Mentorship programs in chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    console = sub.add_parser("console", help="try the bot in this terminal, or replay a script")
    console.add_argument("--script", type=Path, help="replay this file and print the transcript")
    console.add_argument("--db", help="database URL (a script uses a fresh temporary SQLite file by default)")
    console.add_argument("--start", help="the console clock's start, e.g. 2026-11-30T08:00Z (default: now)")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    run = sub.add_parser("run", help="run the configured platform adapters (the console when none is configured)")
    run.add_argument("--slack", action="store_true", help="run the Slack adapter (fails if Slack is not configured)")
    run.add_argument("--discord", action="store_true", help="run the Discord adapter (fails if Discord is not configured)")
    sub.add_parser("doctor", help="check the settings and each configured platform's credentials")
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


def _configured(wanted: set[str], env_file: str | None) -> list[tuple[Platform, Any]]:
    """The platforms to run, with their settings. Raises SettingsError naming what is wrong or missing."""
    chosen = []
    errors = []
    for platform in platforms():
        try:
            config = platform.load(env_file)
        except SettingsError as exc:
            errors.append(str(exc))
            continue
        if config is None and platform.name in wanted:
            errors.append(f"{platform.name.capitalize()} is not configured: see `mentorbot run --help` and the README.")
        elif config is not None and (not wanted or platform.name in wanted):
            chosen.append((platform, config))
    if errors:
        raise SettingsError("\n".join(errors))
    return chosen


async def _run(settings: Settings, chosen: list[tuple[Platform, Any]]) -> int:
    db = Database(settings.database_url)
    await db.upgrade()
    bot = MentorBot(db, SystemClock(), default_tz=settings.default_timezone)
    heartbeat = Heartbeat(bot)
    try:
        async with asyncio.TaskGroup() as group:
            for platform, config in chosen:
                group.create_task(platform.serve(bot, config), name=platform.name)
            heartbeat.start()
    finally:
        heartbeat.shutdown()
        await db.close()
    return 0


async def _doctor(settings: Settings, env_file: str | None) -> int:
    checks = [Check(True, f"database: {make_url(settings.database_url).render_as_string(hide_password=True)}")]
    try:
        db = Database(settings.database_url)
        await db.upgrade()
        await db.close()
        checks.append(Check(True, "database: reachable, schema up to date"))
    except Exception as exc:  # doctor reports; it never stops at the first problem
        checks.append(Check(False, f"database: {type(exc).__name__}: {exc}"))
    for platform in platforms():
        try:
            config = platform.load(env_file)
        except SettingsError as exc:
            checks += [Check(False, line) for line in str(exc).splitlines()]
            continue
        if config is None:
            checks.append(Check(True, f"{platform.name}: not configured"))
        else:
            checks += await platform.doctor(config)
    for check in checks:
        print(("ok   " if check.ok else "FAIL ") + check.text)
    return 0 if all(c.ok for c in checks) else 1


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
    if args.command == "doctor":
        return asyncio.run(_doctor(settings, ENV_FILE))
    wanted = {name for name in ("slack", "discord") if getattr(args, name)}
    try:
        chosen = _configured(wanted, ENV_FILE)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not chosen:  # no platform configured: the console on the configured database
        return asyncio.run(_console(settings, None, None, None))
    try:
        return asyncio.run(_run(settings, chosen))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
