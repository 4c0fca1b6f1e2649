"""Profiles, the private block list (as /mentor blocks add|remove|list), capacity and the hard rules of
/mentor pair through Discord: interactions over the fake gateway into the real discord.py client; what each
person sees is the interaction's answer (content and embed) and the fake REST API's record."""

from __future__ import annotations

from sqlmodel import col, select

from bot.core import MentorBot
from storage.models import AuditLog, Pair, PairStatus
from tests.discord.conftest import Cast, People, Reply, Running, setup_program
from testkit.fake_discord import FakeDiscord


def seen(reply: Reply) -> str:
    """What the person reads: each message's text and its embed's fields (a profile's fields are an embed)."""
    parts = []
    for m in reply.messages:
        parts.append(m.get("content") or "")
        for embed in m.get("embeds") or []:
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


async def audit(bot: MentorBot, action: str) -> list[str]:
    async with bot.db.transaction() as s:
        return list((await s.exec(select(AuditLog.detail).where(AuditLog.action == action)
                                  .order_by(col(AuditLog.id)))).all())


def interaction_answers_only(fake: FakeDiscord, since: int) -> bool:
    """Every REST call since `since` answered an interaction: nothing was posted, opened or edited elsewhere."""
    return all(c.path.startswith(("/interactions/", "/webhooks/")) for c in fake.calls[since:])


async def test_profile_tags_and_a_coordinator_reading_them(
    running: Running, fake: FakeDiscord, people: People, cast: Cast
) -> None:
    await setup_program(people, cast)
    saved = await people.command(cast.bob, "profile", topics="Python, CAREER change,python", languages="EN,de")
    assert saved.ephemeral
    assert "Topics: python, career change" in seen(saved) and "Languages: en, de" in seen(saved)

    viewed = await people.command(cast.carol, "profile", person=cast.bob)
    assert viewed.ephemeral and "Profile of Bob" in seen(viewed) and "Topics: python, career change" in seen(viewed)
    refused = await people.command(cast.alice, "profile", person=cast.bob)
    assert "You can see only your own profile" in seen(refused) and "python" not in seen(refused)
    assert "not change it" in seen(await people.command(cast.carol, "profile", person=cast.bob, goals="x"))

    listing = seen(await people.command(cast.carol, "people"))
    assert "• Bob: mentor, 0/1 pairs, Europe/Berlin\n  topics: python, career change; interests: python, music; " \
           "languages: en, de" in listing


async def test_blocks_are_a_nested_family_and_the_blocked_person_sees_nothing(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    status_before = seen(await people.command(cast.bob, "status"))
    since = len(fake.calls)

    added = await people.command(cast.alice, "blocks add", person=cast.bob)
    assert added.ephemeral and "I won't pair you with Bob. They are not told" in seen(added)
    assert "seen only by you: Bob" in seen(await people.command(cast.alice, "blocks list"))
    assert "already on your list" in seen(await people.command(cast.alice, "blocks add", person=cast.bob))
    await bot.deliver()
    assert interaction_answers_only(fake, since)  # no DM opened, nothing posted: Bob is never told
    assert seen(await people.command(cast.bob, "status")) == status_before
    assert "Your list is empty" in seen(await people.command(cast.bob, "blocks list"))

    refused = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    assert "a member's private preference excludes this pair" in seen(refused) and "--force" in seen(refused)
    forced = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice, force="They made up")
    assert "Paired #1" in seen(forced) and "a member's private preference" in seen(forced)
    assert await audit(bot, "pair.force") == ["#1 Bob & Alice overriding forbidden: They made up"]

    removed = await people.command(cast.alice, "blocks remove", person=cast.bob)
    assert "Bob is off your list" in seen(removed)


async def test_pair_refuses_a_tz_gap_and_a_coordinator_sets_capacity(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    await people.command(cast.dave, "join", role="mentee")
    await people.command(cast.dave, "profile", tz="Asia/Tokyo")
    updated = await people.command(cast.carol, "program set", **{"max-tz-gap": "7", "language-required": "no"},
                                   weights="topics=4")
    assert "largest time-zone gap 7 hours; shared language not required" in seen(updated)
    assert "weights topics=4,interests=1,tz=2,languages=1" in seen(updated)

    refused = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.dave)
    assert "Bob and Dave are 8 hours apart, more than this program allows (7)" in seen(refused)
    assert "Paired #1" in seen(await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice))

    capacity = await people.command(cast.carol, "capacity", mentor=cast.bob, capacity=2)
    assert "Bob now takes up to 2 mentee(s) at once in Spring (was 1)." in seen(capacity)
    assert "/mentor capacity is for program coordinators" in seen(
        await people.command(cast.bob, "capacity", mentor=cast.bob, capacity=5))
    forced = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.dave, force="Night owl")
    assert "Paired #2" in seen(forced) and "time-zone gap rule" in seen(forced)
    assert await audit(bot, "capacity") == ["Bob: 1 -> 2"]
    assert await audit(bot, "pair.force") == ["#2 Bob & Dave overriding tz_gap: Night owl"]
    async with bot.db.transaction() as s:
        assert list((await s.exec(select(Pair.status).order_by(col(Pair.id)))).all()) == [PairStatus.ACTIVE] * 2
