"""The command line: settings are checked at start-up, the demo script runs, the database upgrades."""

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.cli import main
from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "LOG_LEVEL", "DEFAULT_TIMEZONE", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
                 "SLACK_APP_TOKEN", "SLACK_API_URL", "DISCORD_BOT_TOKEN", "DISCORD_GUILD_IDS", "DISCORD_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://x/y", "Bad setting DATABASE_URL: expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL"),
        ("DATABASE_URL", "not a url", "Bad setting DATABASE_URL: expected a URL like"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "Bad setting DEFAULT_TIMEZONE: expected an IANA time zone"),
        ("LOG_LEVEL", "LOUD", "Bad setting LOG_LEVEL: expected one of DEBUG"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err


def test_settings_come_from_a_dot_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Europe/Berlin\nDATABASE_URL=postgresql://u@h/db\n")
    settings = load_settings()
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


def test_two_bad_settings_give_two_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "x")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "y")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert len(str(err.value).splitlines()) == 2


def test_the_readme_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "--script", str(ROOT / "examples" / "first-week.txt")]) == 0
    out = capsys.readouterr().out
    assert "Report for Spring Cohort" in out and "!!" not in out


def test_a_missing_script_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "--script", "nope.txt"]) == 2
    assert "no such script: nope.txt" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/m.db")
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0  # a second run is a no-op
    assert (tmp_path / "m.db").exists()
    assert "database is up to date" in capsys.readouterr().out


def test_a_script_line_the_console_cannot_read_is_reported_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("admin carol\n@carol dance\nclock yesterday\n")
    assert main(["console", "--script", str(script)]) == 1
    out = capsys.readouterr().out
    assert "!! line 2: after @carol comes /mentor, click, submit or cancel" in out
    assert "!! line 3: clock: 'yesterday' is neither" in out


def _console_process(db: Path, script: Path, start: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "console", "--script", str(script), "--db",
         f"sqlite+aiosqlite:///{db}", "--start", start],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_restarted_process_on_the_same_database_sends_no_duplicate_nudge(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    setup = tmp_path / "setup.txt"
    setup.write_text(
        "admin carol\n@carol /mentor program create Spring\n@bob /mentor join mentor\n"
        "@alice /mentor join mentee\n@carol /mentor pair @bob @alice\nclock 2026-12-07T10:30Z\n"
    )
    first = _console_process(db, setup, "2026-11-30T08:00Z")
    assert first.count("Check-in time, bob and alice!") == 1
    again = tmp_path / "again.txt"
    again.write_text("clock +1m\n@alice /mentor status\n")
    second = _console_process(db, again, "2026-12-07T10:30Z")
    assert "Check-in time" not in second
    assert "Status for alice:" in second  # a new run's commands are not mistaken for old ones


@pytest.mark.parametrize("platform", ["slack", "discord"])
def test_running_a_platform_that_is_not_configured_says_so(
    platform: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", f"--{platform}"]) == 2
    assert f"{platform.capitalize()} is not configured" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "value"), [("SLACK_BOT_TOKEN", "not-a-token"), ("DISCORD_GUILD_IDS", "abc")])
def test_a_bad_platform_setting_stops_start_up_naming_it(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    assert name in capsys.readouterr().err


def test_doctor_with_no_platform_checks_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/m.db")
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok   database: reachable, schema up to date" in out
    assert "ok   slack: not configured" in out and "ok   discord: not configured" in out


def test_doctor_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert main(["doctor"]) == 1
    assert "FAIL database:" in capsys.readouterr().out


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize("moment", ["2019-03-04T08:00Z", "2041-07-01T08:00Z"])
def test_a_script_starts_at_its_first_absolute_clock_line_past_or_future(
    moment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script(tmp_path, f"admin carol\n@carol /mentor program list\nclock {moment}\nclock +1d\n"
                               "@carol /mentor program list\n")
    assert main(["console", "--script", str(script)]) == 0
    out = capsys.readouterr().out
    day = moment[:10]
    assert f"[{_weekday(day)} {day} 08:00 UTC] carol: /mentor program list" in out  # before the clock line too
    assert "!!" not in out


def _weekday(day: str) -> str:
    from datetime import date

    return date.fromisoformat(day).strftime("%a")


def test_start_sets_the_clock_of_a_script_at_any_moment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(tmp_path, "admin carol\n@carol /mentor program list\nclock +1d\n")
    assert main(["console", "--script", str(script), "--start", "2020-02-29T23:30Z"]) == 0
    out = capsys.readouterr().out
    assert "[Sat 2020-02-29 23:30 UTC] carol: /mentor program list" in out
    assert "--- clock moves to Sun 2020-03-01 23:30 UTC ---" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", "next tuesday"], "Bad option --start: expected a moment like 2026-11-30T08:00Z"),
        (["--start", "2026-13-45T99:00Z"], "Bad option --start: expected a moment like 2026-11-30T08:00Z"),
        (["--db", "mysql://x"], "Bad setting --db: expected a sqlite+aiosqlite:// or postgresql+asyncpg:// URL"),
        (["--db", "sqlite+aiosqlite:////no/such/folder/m.db"], "Bad setting --db: expected a SQLite file in a folder"),
        (["--db", "postgresql+asyncpg://nobody@127.0.0.1:1/none"], "Bad setting --db: cannot open or migrate"),
    ],
)
def test_console_arguments_it_cannot_use_get_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script(tmp_path, "admin carol\n")
    assert main(["console", "--script", str(script), *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith(expected) and "\n" not in err, err
    assert "Traceback" not in captured.out + captured.err


def test_a_file_that_is_not_a_database_is_named_with_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{junk}")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Bad setting DATABASE_URL: cannot open or migrate the database") and "\n" not in err


def test_database_url_in_a_missing_folder_stops_start_up(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////no/such/folder/m.db")
    assert main(["db", "upgrade"]) == 2
    assert capsys.readouterr().err.startswith("Bad setting DATABASE_URL: expected a SQLite file in a folder")


def test_an_unexpected_failure_is_one_line_and_the_log_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(settings: object) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr("adapters.cli._upgrade", broken)
    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err.strip()
    log = tmp_path / "mentorbot.log"
    assert err == f"mentorbot db: unexpected RuntimeError: the disk caught fire (details in {log})"
    assert "Traceback" in log.read_text() and "the disk caught fire" in log.read_text()


def test_the_interactive_console_greets_a_newcomer_and_keeps_logs_out_of_the_transcript(tmp_path: Path) -> None:
    """`mentorbot run` with no tokens: help answers, a line without @name acts as an admin, no log lines."""
    lines = "help\n/mentor help\n/mentor program create Spring\n@alice /mentor join mentee\nclock +1d\nquit\n"
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "run"], input=lines, capture_output=True, text=True, timeout=120,
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "DEBUG"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"Logs go to {tmp_path / 'mentorbot.log'}" in out and "You are @me, a workspace admin" in out
    assert "@alice click We met" in out  # the console's own help
    assert "mentorbot commands" in out  # the bot's help, as me
    assert "Program Spring created" in out  # me may create programs
    assert "Welcome to Spring as a mentee" in out
    assert "!!" not in out and "WARNING" not in out and "DEBUG" not in out
    assert done.stderr == ""
    assert "DEBUG" in (tmp_path / "mentorbot.log").read_text()  # the logs went to the file instead
