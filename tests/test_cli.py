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
