"""`mentorbot`: the process entry point. Picks adapters from the settings and runs them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import traceback
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

import prompts
from adapters.console import ME, WORKSPACE, Console, ConsolePeople, parse_moment, script_start
from adapters.heap import settle_heap
from adapters.platform import Check, Platform
from adapters.registry import platforms
from bot.clock import ManualClock, OffsetClock, SystemClock
from bot.core import MentorBot
from bot.errors import UserError
from bot.flows.impact import export_program
from bot.signups import LookupUnavailable, PeopleResolver, explain, import_people, render
from bot.scheduler import Heartbeat
from bot.settings import Settings, SettingsError, configure_logging, database_url, health_limits, load_settings
from storage.db import Database

ENV_FILE = ".env"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mentorbot", description="Mentorship programs in chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    console = sub.add_parser("console", help="try the bot in this terminal, or replay a script")
    console.add_argument("--script", type=Path, help="replay this file and print the transcript")
    console.add_argument("--db", help="database URL (a script uses a fresh temporary SQLite file by default)")
    console.add_argument("--start", help="the clock's start, e.g. 2026-11-30T08:00Z (default: a script's first "
                                         "absolute clock line, else now)")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    run = sub.add_parser("run", help="run the configured platform adapters (the console when none is configured)")
    run.add_argument("--slack", action="store_true", help="run the Slack adapter (fails if Slack is not configured)")
    run.add_argument("--discord", action="store_true", help="run the Discord adapter (fails if Discord is not configured)")
    sub.add_parser("doctor", help="check the settings and each configured platform's credentials")
    signup = sub.add_parser("import", help=prompts.say("import.cli_help"), description=prompts.say("import.cli_about"))
    signup.add_argument("file", type=Path, metavar="FILE.csv", help=prompts.say("import.cli_file"))
    signup.add_argument("--program", required=True, help=prompts.say("import.cli_program"))
    signup.add_argument("--dry-run", action="store_true", help=prompts.say("import.cli_dry_run"))
    signup.add_argument("--skip-bad", action="store_true", help=prompts.say("import.cli_skip_bad"))
    signup.add_argument("--platform", choices=["console", "slack", "discord"], help=prompts.say("import.cli_platform"))
    signup.add_argument("--workspace", help=prompts.say("import.cli_workspace"))
    export = sub.add_parser("export", help=prompts.say("impact.cli_help"))
    export.add_argument("--program", required=True, help=prompts.say("impact.cli_program"))
    export.add_argument("--out", required=True, type=Path, metavar="FILE.zip", help=prompts.say("impact.cli_out"))
    export.add_argument("--workspace", help=prompts.say("impact.cli_workspace"))
    return parser


class CliError(Exception):
    """A setting or argument the command cannot work with: one line for the person, exit code 2."""


async def _open(url: str, setting: str) -> Database:
    """The database at `url`, migrated; CliError naming `setting` when it cannot be opened or migrated."""
    try:
        db = Database(database_url(url))
    except ValueError as exc:
        raise CliError(f"Bad setting {setting}: {exc}") from None
    try:
        await db.upgrade()
    except Exception as exc:
        await db.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"Bad setting {setting}: cannot open or migrate the database: {first[:300]}") from None
    return db


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    if (when := parse_moment(text)) is None:
        raise CliError(f"Bad option --start: expected a moment like 2026-11-30T08:00Z (ISO 8601; UTC unless it "
                       f"names an offset), got {text[:80]!r}")
    return when


async def _console(settings: Settings, script: Path | None, db_url: str | None, start_text: str | None) -> int:
    start = _start(start_text)
    lines = script.read_text(encoding="utf-8").splitlines() if script is not None else []
    tmp = None
    if db_url is None and script is not None:
        tmp = tempfile.TemporaryDirectory(prefix="mentorbot-")
        db_url = f"sqlite+aiosqlite:///{tmp.name}/script.db"
    try:
        db = await _open(db_url or settings.database_url, "--db" if db_url else "DATABASE_URL")
        try:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            if script is None:  # interactive: real time, from --start if given
                clock: ManualClock | OffsetClock = OffsetClock(start - datetime.now(UTC) if start else timedelta(0))
            else:  # a script's clock moves only when told, so its transcript is the same every run, any day
                clock = ManualClock(start or script_start(lines) or now)
            bot = MentorBot(db, clock, default_tz=settings.default_timezone)
            console = Console(bot, clock, sys.stdout)
            bot.add_messenger(console.messenger)
            if script is not None:
                return 1 if await console.run_script(lines) else 0
            heartbeat = Heartbeat(bot)
            bot.on_handled(heartbeat.deliver_soon)
            heartbeat.start()
            serving = _metrics_server(bot, settings)
            metrics = asyncio.create_task(serving, name="metrics") if serving is not None else None
            try:
                shown = make_url(db.url).render_as_string(hide_password=True)
                await console.interactive(prompts.say("console.banner", me=ME, db=shown,
                                                      log=Path(settings.log_file).resolve()))
            finally:
                if metrics is not None:
                    metrics.cancel()
                    await asyncio.gather(metrics, return_exceptions=True)
                await heartbeat.stop()
            return 0
        finally:
            await db.close()
    finally:
        if tmp is not None:
            tmp.cleanup()


async def _upgrade(settings: Settings) -> int:
    db = await _open(settings.database_url, "DATABASE_URL")
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


def _metrics_server(bot: MentorBot, settings: Settings) -> Coroutine[Any, Any, None] | None:
    """What serves /metrics and /healthz on METRICS_PORT when it is set; gives the bot's health the settings'
    limits either way (the Slack HTTP server serves both on its own port too)."""
    bot.health.limits = health_limits(settings)
    if settings.metrics_port is None:
        return None
    from adapters.metrics_server import serve_metrics  # aiohttp only for a process that serves metrics

    return serve_metrics(bot.health, settings.metrics_host, settings.metrics_port)


async def _run(settings: Settings, chosen: list[tuple[Platform, Any]]) -> int:
    db = await _open(settings.database_url, "DATABASE_URL")
    bot = MentorBot(db, SystemClock(), default_tz=settings.default_timezone)
    heartbeat = Heartbeat(bot)
    bot.on_handled(heartbeat.deliver_soon)  # what an event queued goes out now, not at the next tick
    settle_heap()  # keeps full collections from pausing acks during a fan-out (bench/slack_ack.py --during-fanout)
    try:
        async with asyncio.TaskGroup() as group:
            for platform, config in chosen:
                group.create_task(platform.serve(bot, config), name=platform.name)
            if (serving := _metrics_server(bot, settings)) is not None:
                group.create_task(serving, name="metrics")
            heartbeat.start()
    finally:
        await heartbeat.stop()
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


def _people(name: str | None, workspace: str | None) -> tuple[str, AbstractAsyncContextManager[PeopleResolver]]:
    """The platform to look sign-up rows up on, as `run` picks it: the one named, else the one configured,
    else the console."""
    chosen = [] if name == "console" else _configured({name} if name else set(), ENV_FILE)
    if len(chosen) > 1:
        raise CliError(prompts.say("import.which_platform"))
    if chosen:
        platform, config = chosen[0]
        return platform.name, platform.people(config, workspace)
    if workspace not in (None, WORKSPACE):
        raise CliError(prompts.say("import.console_workspace", workspace=WORKSPACE))
    return "console", nullcontext(ConsolePeople())


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    """`mentorbot import FILE.csv --program P`: exit code 0 when done, 2 when nothing was (or would be) imported."""
    path: Path = args.file
    if not path.is_file():
        raise CliError(prompts.say("import.no_file", file=path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(prompts.say("import.not_utf8", file=path)) from None
    name, opening = _people(args.platform, args.workspace)
    db = await _open(settings.database_url, "DATABASE_URL")
    try:
        async with opening as people:
            report = await import_people(db, people, text, args.program, source=path.name, now=SystemClock().now(),
                                         dry_run=args.dry_run, skip_bad=args.skip_bad)
    except UserError as exc:
        raise CliError(explain(exc)) from None
    except LookupUnavailable as exc:
        raise CliError(prompts.say("import.lookup_failed", platform=prompts.say(f"import.platform_{name}"),
                                   reason=str(exc)[:300])) from None
    finally:
        await db.close()
    print(render(report))
    return 0 if report.ok else 2


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    """`mentorbot export --program P --out FILE.zip`: the program's data as a ZIP of CSV files."""
    out: Path = args.out
    if not out.parent.is_dir():
        raise CliError(prompts.say("impact.cli_no_folder", folder=out.parent))
    db = await _open(settings.database_url, "DATABASE_URL")
    try:
        written = await export_program(db, args.program, args.workspace, out)
    except UserError as exc:
        raise CliError(explain(exc)) from None
    finally:
        await db.close()
    print(prompts.say("impact.cli_written", out=out, counts=", ".join(
        prompts.say("impact.export_count", file=name, rows=rows) for name, rows in written)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        return _command(args, settings)
    except (CliError, SettingsError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # never a bare traceback: one line here, the details in the log file
        path = Path(settings.log_file).resolve()
        with open(path, "a", encoding="utf-8") as log_file:
            log_file.write(f"{datetime.now(UTC).isoformat()} mentorbot {args.command} failed\n")
            traceback.print_exception(exc, file=log_file)
        print(f"mentorbot {args.command}: unexpected {type(exc).__name__}: {str(exc)[:200]} (details in {path})",
              file=sys.stderr)
        return 1


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "console":
        configure_logging(settings, to_file=True)
        if args.script is not None and not args.script.is_file():
            print(f"no such script: {args.script}", file=sys.stderr)
            return 2
        return asyncio.run(_console(settings, args.script, args.db, args.start))
    configure_logging(settings)
    if args.command == "db":
        return asyncio.run(_upgrade(settings))
    if args.command == "doctor":
        return asyncio.run(_doctor(settings, ENV_FILE))
    if args.command == "import":
        return asyncio.run(_import(settings, args))
    if args.command == "export":
        return asyncio.run(_export(settings, args))
    wanted = {name for name in ("slack", "discord") if getattr(args, name)}
    chosen = _configured(wanted, ENV_FILE)
    if not chosen:  # no platform configured: the console on the configured database
        configure_logging(settings, to_file=True)
        return asyncio.run(_console(settings, None, None, None))
    return asyncio.run(_run(settings, chosen))


if __name__ == "__main__":
    sys.exit(main())
