"""Settings, `mentorbot doctor` and the plug-in point the CLI uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.registry import platforms
from adapters.slack import PLATFORM
from adapters.slack.doctor import doctor
from adapters.slack.settings import load
from bot.settings import SettingsError
from tests.slack.conftest import TOKEN, settings
from testkit.fake_slack import FakeSlack

SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "PORT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SLACK_VARS:
        monkeypatch.delenv(name, raising=False)


def test_not_configured_is_none(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("#SLACK_BOT_TOKEN=xoxb-commented-out\nDATABASE_URL=sqlite+aiosqlite:///x.db\n")
    assert load(str(env)) is None
    assert load(None) is None


def test_http_and_socket_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"SLACK_BOT_TOKEN={TOKEN}\nSLACK_SIGNING_SECRET=s3cret\nPORT=8080\n")
    loaded = load(str(env))
    assert loaded is not None and not loaded.socket_mode and loaded.port == 8080
    assert loaded.slack_api_url == "https://slack.com/api/"
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    loaded = load(str(env))
    assert loaded is not None and loaded.socket_mode and loaded.slack_api_url == "http://127.0.0.1:9999/api/"


def test_every_bad_setting_is_named_on_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "abc")
    monkeypatch.setenv("SLACK_API_URL", "slack.com")
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(SettingsError) as err:
        load(None)
    lines = str(err.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "Bad setting SLACK_BOT_TOKEN", "Bad setting SLACK_APP_TOKEN", "Bad setting SLACK_API_URL", "Bad setting PORT"]
    assert "xoxb-" in lines[0] and "xapp-" in lines[1]


def test_missing_token_or_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        load(None)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        load(None)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-abc")  # Socket Mode needs no signing secret
    assert load(None) is not None


def test_the_cli_finds_the_slack_platform() -> None:
    assert PLATFORM in platforms() and PLATFORM.name == "slack"


async def test_doctor_checks_the_tokens_against_the_api(fake_slack: FakeSlack) -> None:
    api = fake_slack.url + "/api/"
    checks = await doctor(settings(api, slack_app_token="xapp-1-abc"))
    assert all(c.ok for c in checks), checks
    assert "Socket Mode" in checks[0].text and "mentorbot in workspace Test Team" in checks[1].text
    assert [c.method for c in fake_slack.calls] == ["auth.test", "apps.connections.open"]
    fake_slack.fail("auth.test", error="invalid_auth")
    checks = await doctor(settings(api))
    assert [c.ok for c in checks] == [True, False] and "invalid_auth" in checks[1].text
    checks = await doctor(settings("http://127.0.0.1:1/api/"))
    assert not checks[-1].ok and "cannot reach" in checks[-1].text
