"""`mentorbot import --platform discord`: rows name server members by user id (the guild member endpoint) or
@handle (the guild member search), looked up over REST with the bot token in the fake Discord."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.cli import main
from adapters.discord.people import open_people
from adapters.discord.settings import DiscordSettings
from bot.errors import UserError
from bot.signups import LookupUnavailable, Report, explain, import_people, render
from storage.db import Database
from testkit.console import START
from testkit.threaded import create_program, served
from testkit.fake_discord import GUILD_ID, TOKEN, FakeDiscord
from tests.discord.conftest import Cast, People, Running


async def run_import(db: Database, settings: DiscordSettings, text: str, workspace: str | None = None,
                     **flags: bool) -> Report:
    async with open_people(settings, workspace) as people:
        assert people.workspace == str(GUILD_ID)
        return await import_people(db, people, text, "Spring", source="discord.csv", now=START, **flags)


async def test_members_are_found_by_id_and_handle(db: Database, settings: DiscordSettings, fake: FakeDiscord,
                                                  cast: Cast, people: People, running: Running) -> None:
    assert "created" in (await people.command(cast.carol, "program create", name="Spring")).text
    nick = fake.add_user("eve", nick="Evie")
    text = (f"person,role,capacity,languages\n{cast.bob.id},mentor,2,\"en, fr\"\n@alice,mentee,,\n"
            f"@EVIE,mentee,,\n<@{cast.dave.id}>,mentee,,\n")
    report = await run_import(db, settings, text)
    assert report.applied, render(report)
    assert render(report).splitlines()[1:] == [
        f"line 2: Bob ({cast.bob.id}) (new to mentorbot) enrolled as mentor; sets languages, capacity",
        f"line 3: Alice ({cast.alice.id}) (new to mentorbot) enrolled as mentee",
        f"line 4: Evie ({nick.id}) (new to mentorbot) enrolled as mentee",
        f"line 5: Dave ({cast.dave.id}) (new to mentorbot) enrolled as mentee",
        "Done in Spring: 4 enrolled, 0 updated, 0 unchanged, 0 bad row(s) skipped.",
    ]
    searches = fake.find("GET", rf"/guilds/{GUILD_ID}/members/search")
    assert [c.query["query"] for c in searches] == ["alice", "EVIE"]
    assert fake.find("GET", rf"/guilds/{GUILD_ID}/members/{cast.bob.id}")
    # The coordinator sees them in Discord; Bob's own command finds the member row the import made.
    listed = (await people.command(cast.carol, "people")).text
    assert "Bob: mentor, 0/2 pairs" in listed and "Evie: mentee" in listed
    assert "• Spring: mentor" in (await people.command(cast.bob, "status")).text


async def test_unknown_and_ambiguous_members_and_emails_are_bad_rows(
    db: Database, settings: DiscordSettings, fake: FakeDiscord, cast: Cast, people: People, running: Running
) -> None:
    await people.command(cast.carol, "program create", name="Spring")
    fake.add_user("sam")
    fake.add_user("samuel", nick="sam")
    text = "person,role\n999999999999999999,mentee\n@zed,mentee\n@al,mentee\n@sam,mentee\nbob@example.com,mentee\n"
    report = await run_import(db, settings, text)
    assert not report.applied
    lines = [f"{p.line}: {explain(p.error)}" for p in report.problems]
    assert lines[:3] == [
        "2: no user with the id 999999999999999999 on Discord.",
        "3: no one called @zed on Discord. Check the spelling, or give their user id.",
        "4: no one called @al on Discord. Check the spelling, or give their user id.",  # search finds alice: no
    ]
    assert lines[3].startswith("5: @sam could be any of Sam (") and "sam (" in lines[3]
    assert lines[4] == ("6: e-mail addresses (bob@example.com) cannot be looked up on Discord. "
                        "Give their user id or @handle instead.")
    assert "Nobody has joined Spring yet" in (await people.command(cast.carol, "people")).text


async def test_a_search_discord_refuses_imports_nothing(db: Database, settings: DiscordSettings,
                                                        fake: FakeDiscord, cast: Cast, people: People,
                                                        running: Running) -> None:
    await people.command(cast.carol, "program create", name="Spring")
    fake.fail("GET", r"/guilds/\d+/members/search", 403, 50001)
    with pytest.raises(LookupUnavailable) as err:
        await run_import(db, settings, f"person,role\n{cast.bob.id},mentor\n@alice,mentee\n")
    assert str(err.value) == "Forbidden 403"
    assert "Nobody has joined Spring yet" in (await people.command(cast.carol, "people")).text


async def test_the_server_is_the_configured_one_or_named(db: Database, settings: DiscordSettings,
                                                         discord_globals: None) -> None:
    several = settings.model_copy(update={"guild_ids": (GUILD_ID, 123456789012345678)})
    with pytest.raises(UserError) as err:
        await run_import(db, several, "person,role\n")
    assert explain(err.value) == ("Say which Discord server to import into: --workspace <server id> "
                                  f"(configured: {GUILD_ID}, 123456789012345678).")
    with pytest.raises(UserError) as err:
        await run_import(db, several, "person,role\n", workspace="general")
    assert explain(err.value).startswith("--workspace general is not a Discord server id")
    with pytest.raises(UserError) as err:  # the right server, but no program there yet
        await run_import(db, several, "person,role\n", workspace=str(GUILD_ID))
    assert explain(err.value).startswith(f"There is no program \"Spring\" in workspace {GUILD_ID} on Discord.")


def test_mentorbot_import_platform_discord_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      discord_globals: None) -> None:
    """The real command line against the fake Discord (served from a thread: `main` runs its own event loop)."""
    fake = FakeDiscord()
    bob = fake.add_user("bob")
    with served(fake.start, fake.stop) as api:
        url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
        create_program(url, "discord", str(GUILD_ID), "1", "Spring")
        monkeypatch.chdir(tmp_path)  # no stray .env
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {"DATABASE_URL": url, "DISCORD_BOT_TOKEN": TOKEN, "DISCORD_API_URL": api,
                            "DISCORD_GUILD_IDS": str(GUILD_ID)}.items():
            monkeypatch.setenv(name, value)
        sheet = tmp_path / "cohort.csv"
        sheet.write_text("person,role,interests\n@Bob,mentor,\"chess, go\"\n")
        assert main(["import", str(sheet), "--program", "Spring", "--dry-run"]) == 0
        assert f"line 2: Bob ({bob.id}) (new to mentorbot) would be enrolled as mentor; sets interests" in \
            capsys.readouterr().out
        assert main(["import", str(sheet), "--program", "Spring", "--platform", "discord"]) == 0
        assert "Done in Spring: 1 enrolled, 0 updated, 0 unchanged" in capsys.readouterr().out
        assert main(["import", str(sheet), "--program", "Spring", "--workspace", "42"]) == 2
        assert capsys.readouterr().err.startswith("--workspace 42 is not a Discord server id")
