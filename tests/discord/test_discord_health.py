"""The fit check through Discord: after the first meeting each member privately gets "Is this a good match?"
in a DM; "No" reaches the coordinators' channel as a rematch escalation, and the partner sees nothing of it."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.core import MentorBot
from tests.discord.conftest import NUDGE_DUE, Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import LEADS, FakeDiscord


async def test_fit_check_no_escalates_privately_on_discord(running: Running, people: People, cast: Cast,
                                                           bot: MentorBot, fake: FakeDiscord, clock: ManualClock) -> None:
    await setup_program(people, cast)
    thread = await pair_them(people, cast, bot, fake)
    clock.set(NUDGE_DUE)
    await bot.tick()
    await people.click(cast.alice, fake.posts(thread)[-1], "We met")
    await bot.deliver()
    dm_alice, dm_bob = cast.alice.id + 1, cast.bob.id + 1
    (ask,) = [m for m in fake.posts(dm_alice) if "Is this a good match for you?" in m["content"]]
    assert "never told" in ask["content"]
    assert [m for m in fake.posts(dm_bob) if "Is this a good match for you?" in m["content"]]
    reply = await people.click(cast.alice, ask, "No")
    assert reply.ephemeral
    await bot.deliver()
    assert "You answered: No" in fake.messages[int(ask["id"])]["content"]
    assert any("rematch" in (m["content"] + str(m["embeds"])).lower() for m in fake.posts(LEADS))
    bob_sees = " ".join(m["content"] + str(m["embeds"]) for m in fake.posts(dm_bob) + fake.posts(thread))
    assert "You answered" not in bob_sees and "rematch" not in bob_sees.lower()
