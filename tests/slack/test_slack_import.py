"""`mentorbot import --platform slack`: rows name people by e-mail (users.lookupByEmail), user id (users.info)
or @handle (users.list), looked up in the fake Slack; the workspace is the bot token's team."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from adapters.slack import people as slack_people
from adapters.slack.pacing import Pacer
from adapters.slack.people import PER_MINUTE, open_people
from bot.errors import UserError
from bot.signups import LookupUnavailable, Report, explain, import_people, render
from storage.db import Database
from testkit.console import START
from testkit.threaded import create_program, served
from testkit.fake_slack import FakeSlack

from tests.slack.conftest import TEAM, FakeTime, Slack, settings

SHEET = """person,role,capacity,topics
erin@example.com,mentor,2,"python, sql"
UALICE,mentee,,python
@dan,mentee,,
<@UBOB>,mentor,,
"""


async def run_import(db: Database, fake: FakeSlack, text: str, workspace: str | None = None,
                     **flags: bool) -> Report:
    clock = FakeTime()
    async with open_people(settings(fake.url + "/api/"), workspace,
                           Pacer(PER_MINUTE, monotonic=clock.monotonic, sleep=clock.sleep)) as people:
        assert people.workspace == TEAM
        return await import_people(db, people, text, "Spring", source="slack.csv", now=START, **flags)


async def test_people_are_found_by_email_id_and_handle(db: Database, slack: Slack, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("UERIN", "Erin", "Europe/Paris", email="Erin@Example.com")
    assert "Program Spring created" in (await slack.command("UCAROL", "program create Spring"))["text"]
    report = await run_import(db, fake_slack, SHEET)
    assert report.applied, render(report)
    assert render(report).splitlines()[1:] == [
        "line 2: Erin (UERIN) (new to mentorbot) enrolled as mentor; sets topics, capacity",
        "line 3: Alice (UALICE) (new to mentorbot) enrolled as mentee; sets topics",
        "line 4: Dan (UDAN) (new to mentorbot) enrolled as mentee",
        "line 5: Bob (UBOB) (new to mentorbot) enrolled as mentor",
        "Done in Spring: 4 enrolled, 0 updated, 0 unchanged, 0 bad row(s) skipped.",
    ]
    assert fake_slack.called("users.lookupByEmail") == [{"email": "erin@example.com"}]
    assert [p["user"] for p in fake_slack.called("users.info")][-2:] == ["UALICE", "UBOB"]  # after UCAROL's command
    assert len(fake_slack.called("users.list")) == 1
    # The coordinator sees them, with the time zone Slack knows for each.
    people = (await slack.command("UCAROL", "people"))["text"]
    assert "Erin: mentor, 0/2 pairs, Europe/Paris" in people and "Dan: mentee, 0/1 pairs, Asia/Tokyo" in people
    # Alice's first command finds the member row the import made, not a second one.
    assert "• Spring: mentee" in (await slack.command("UALICE", "status"))["text"]


async def test_unknown_ambiguous_and_gone_people_are_bad_rows(db: Database, slack: Slack,
                                                              fake_slack: FakeSlack) -> None:
    fake_slack.add_user("USAM1", "Sam Lee", display_name="Sam")
    fake_slack.add_user("USAM2", "sam", display_name="")
    fake_slack.add_user("UGONE", "Gone", deleted=True, email="gone@example.com")
    fake_slack.add_user("UROBOT", "Robot", bot=True)
    await slack.command("UCAROL", "program create Spring")
    text = ("person,role\nnobody@example.com,mentee\nUNOPE,mentee\n@zed,mentee\n@sam,mentee\n"
            "gone@example.com,mentee\nUROBOT,mentee\n")
    report = await run_import(db, fake_slack, text)
    assert not report.applied
    assert [f"{p.line}: {explain(p.error)}" for p in report.problems] == [
        "2: no one with the e-mail address nobody@example.com on Slack.",
        "3: no user with the id UNOPE on Slack.",
        "4: no one called @zed on Slack. Check the spelling, or give their user id.",
        "5: @sam could be any of Sam (USAM1), sam (USAM2). Give the user id of the one you mean.",
        "6: no one with the e-mail address gone@example.com on Slack.",
        "7: no user with the id UROBOT on Slack.",
    ]
    assert "Nobody has joined Spring yet" in (await slack.command("UCAROL", "people"))["text"]


async def test_users_list_is_read_page_by_page_once(db: Database, slack: Slack, fake_slack: FakeSlack,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_people, "PAGE", 2)
    await slack.command("UCAROL", "program create Spring")
    report = await run_import(db, fake_slack, "person,role\n@bob,mentor\n@dan,mentee\n@Alice,mentee\n")
    assert report.applied and [c.person.user_id for c in report.changes] == ["UBOB", "UDAN", "UALICE"]
    pages = fake_slack.called("users.list")
    assert [p.get("cursor") for p in pages] == [None, "2"] and all(p["limit"] == "2" for p in pages)


async def test_a_lookup_slack_refuses_imports_nothing(db: Database, slack: Slack, fake_slack: FakeSlack) -> None:
    await slack.command("UCAROL", "program create Spring")
    fake_slack.fail("users.lookupByEmail", error="missing_scope")
    with pytest.raises(LookupUnavailable) as err:
        await run_import(db, fake_slack, "person,role\nUBOB,mentor\nerin@example.com,mentee\n")
    assert str(err.value) == "users.lookupByEmail: missing_scope"
    assert "Nobody has joined Spring yet" in (await slack.command("UCAROL", "people"))["text"]


async def test_the_workspace_is_the_bot_tokens_team(db: Database, fake_slack: FakeSlack) -> None:
    with pytest.raises(UserError) as err:
        await run_import(db, fake_slack, "person,role\n", workspace="T999")
    assert explain(err.value) == f"--workspace T999 is not this bot token's Slack workspace ({TEAM})."
    with pytest.raises(UserError) as err:  # a team the bot has never been used in has no programs
        await run_import(db, fake_slack, "person,role\nUBOB,mentor\n", workspace=TEAM)
    assert explain(err.value).startswith(f"There is no program \"Spring\" in workspace {TEAM} on Slack.")


def test_mentorbot_import_platform_slack_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The real command line against the fake Slack (served from a thread: `main` runs its own event loop)."""
    fake = FakeSlack(team=TEAM)
    fake.add_user("UCAROL", "Carol", admin=True)
    fake.add_user("UERIN", "Erin", "Europe/Paris", email="erin@example.com")
    with served(fake.start, fake.stop) as api:
        url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
        create_program(url, "slack", TEAM, "UCAROL", "Spring")
        monkeypatch.chdir(tmp_path)  # no stray .env
        for name in ("DISCORD_BOT_TOKEN", "DISCORD_GUILD_IDS", "DISCORD_API_URL", "SLACK_APP_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "s",
                            "SLACK_API_URL": api}.items():
            monkeypatch.setenv(name, value)
        sheet = tmp_path / "cohort.csv"
        sheet.write_text("person,role\nerin@example.com,mentor\n")
        assert main(["import", str(sheet), "--program", "Spring"]) == 0  # Slack is the one platform configured
        out = capsys.readouterr().out
        assert "line 2: Erin (UERIN) (new to mentorbot) enrolled as mentor" in out
        fake.fail("users.lookupByEmail", error="missing_scope")
        sheet.write_text("person,role\nnew@example.com,mentor\n")
        assert main(["import", str(sheet), "--program", "Spring", "--platform", "slack"]) == 2
        assert capsys.readouterr().err.strip() == ("Nothing imported: Slack could not answer a look-up "
                                                   "(users.lookupByEmail: missing_scope). Try again later.")
