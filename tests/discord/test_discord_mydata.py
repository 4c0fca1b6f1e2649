"""Members' own data through Discord: `/mentor data mine` and `data forget-me` (the one `data` group keeps
/mentor within Discord's 25 entries), the confirmation button on the ephemeral reply, the partner told
neutrally in a DM, and a coordinator's `data forget` audited without the name. (Leaving the server is not an
account deletion and keeps the data: tests/test_flow_mydata.py, on the core's MemberLeft.)"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.core import MentorBot
from storage.models import AuditLog
from tests.discord.conftest import Cast, People, Running, pair_them, setup_program
from tests.test_flow_mydata import strings_in_database
from testkit.fake_discord import GENERAL, FakeDiscord

ALICE_STRINGS = ("alice", "career", "First dev job", "America/New_York")


def _with_channel(fake: FakeDiscord, reply: dict[str, Any]) -> dict[str, Any]:
    """The ephemeral reply as Discord hands it back on a click: a whole message in the channel."""
    return fake._message(GENERAL, reply, keep=False)


async def _nothing_of_alice(bot: MentorBot, cast: Cast) -> None:
    """None of her strings anywhere; her Discord id nowhere but where the fake's ids collide (its DM channel
    ids are a user's id + 1, and Bob's DM is Alice's id)."""
    assert await strings_in_database(bot, ALICE_STRINGS) == []
    dm_bob = str(cast.bob.id + 1)
    found = await strings_in_database(bot, (str(cast.alice.id),))
    assert [f for f in found if not f.endswith(f"{dm_bob} in {dm_bob}")] == []


async def test_forget_me_in_discord_asks_then_erases(running: Running, fake: FakeDiscord, people: People,
                                                     cast: Cast, bot: MentorBot) -> None:
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    mine = await people.command(cast.alice, "data mine")
    assert "everything mentorbot holds about you" in mine.text and mine.ephemeral
    asked = await people.command(cast.alice, "data forget-me")
    assert "This erases you from mentorbot for good" in asked.text and asked.ephemeral
    kept = await people.click(cast.alice, _with_channel(fake, asked.messages[0]), "Keep my data")
    assert "Nothing changed" in kept.text
    asked = await people.command(cast.alice, "data forget-me")
    done = await people.click(cast.alice, _with_channel(fake, asked.messages[0]), "Erase my data")
    assert "Done: you have left every program" in done.text
    await bot.deliver()
    notice = fake.posts(cast.bob.id + 1)[-1]
    assert "Your pairing in Spring has ended." in notice["content"] and "alice" not in notice["content"].lower()
    await _nothing_of_alice(bot, cast)


async def test_a_coordinator_forgets_in_discord_audited_without_the_name(
        running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot) -> None:
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    refused = await people.command(cast.dave, "data forget", person=cast.bob, reason="he asked")
    assert "Only coordinators can erase someone else's data" in refused.text
    done = await people.command(cast.carol, "data forget", person=cast.alice, reason="asked by email")
    assert "is now former member #" in done.text
    async with bot.db.transaction() as s:
        [entry] = (await s.exec(select(AuditLog).where(AuditLog.action == "forget"))).all()
        assert entry.detail.startswith("former member #") and "alice" not in entry.detail.lower()
    await _nothing_of_alice(bot, cast)
