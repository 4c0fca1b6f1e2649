"""Profiles, the private block list, capacity and the hard rules of /mentor pair through Slack: signed slash
commands into the real bolt app; what each person sees is the ephemeral ack, the fake Web API's record (DMs,
posts, the App Home) and, where nobody sees it, the database."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from storage.models import AuditLog, Outbox, Pair, PairStatus
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_home import open_home
from tests.slack.test_slack_stories import LEADS

BOB, ALICE, DAN = "<@UBOB|bob>", "<@UALICE|alice>", "<@UDAN|dan>"


def seen(reply: dict[str, Any]) -> str:
    """An ephemeral reply as the person reads it: its text and its blocks (a profile's fields are blocks)."""
    return reply.get("text", "") + "\n" + text_of(reply.get("blocks", []))


async def setup_program(slack: Slack) -> None:
    """Carol (admin) runs Spring with #leads; Bob (Berlin) mentors, Alice (New York) and Dan (Tokyo) are mentees."""
    assert "created" in (await slack.command("UCAROL", "program create Spring --day mon --time 10:00"))["text"]
    await slack.command("UCAROL", f"channel <#{LEADS}|leads>")
    await slack.command("UBOB", "join mentor")
    await slack.command("UALICE", "join mentee")
    await slack.command("UDAN", "join mentee")


async def audit(slack: Slack, action: str) -> list[str]:
    async with slack.bot.db.transaction() as s:
        return list((await s.exec(select(AuditLog.detail).where(AuditLog.action == action)
                                  .order_by(col(AuditLog.id)))).all())


async def test_profile_tags_are_normalized_and_a_coordinator_reads_them(slack: Slack) -> None:
    await setup_program(slack)
    saved = seen(await slack.command("UBOB", "profile --topics Python,  CAREER change,python --languages EN, de"))
    assert "Profile saved, Bob" in saved
    assert "python, career change" in saved and "en, de" in saved and "Europe/Berlin" in saved

    viewed = await slack.command("UCAROL", f"profile {BOB}")
    assert viewed["response_type"] == "ephemeral"
    assert "Profile of Bob" in seen(viewed) and "python, career change" in seen(viewed)
    refused = seen(await slack.command("UALICE", f"profile {BOB}"))
    assert "You can see only your own profile" in refused and "python" not in refused
    assert "not change it" in seen(await slack.command("UCAROL", f"profile {BOB} --goals x"))

    people = seen(await slack.command("UCAROL", "people"))
    assert "• Bob: mentor, 0/1 pairs, Europe/Berlin\n  topics: python, career change; languages: en, de" in people
    assert slack.fake.called("chat.postMessage") == []  # nobody was messaged about any of it


async def test_the_blocked_person_sees_nothing_and_pair_refuses_unless_forced(slack: Slack) -> None:
    await setup_program(slack)
    status_before = seen(await slack.command("UBOB", "status"))
    home_before = await open_home(slack, "UBOB", "Ev-b1")
    calls_before = len(slack.fake.calls)

    added = seen(await slack.command("UALICE", f"block {BOB}"))
    assert "I won't pair you with Bob. They are not told" in added
    assert "seen only by you: Bob" in seen(await slack.command("UALICE", "blocks"))
    await slack.deliver()
    # Nothing reached Slack but Alice's own replies (through their response_urls): no DM, no post, no lookup.
    assert [c.method for c in slack.fake.calls[calls_before:] if not c.method.startswith("hook:")] == []
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Outbox))).all() == []
    assert seen(await slack.command("UBOB", "status")) == status_before
    assert await open_home(slack, "UBOB", "Ev-b2") == home_before
    assert "Your list is empty" in seen(await slack.command("UBOB", "blocks"))

    refused = seen(await slack.command("UCAROL", f"pair {BOB} {ALICE}"))
    assert "a member's private preference excludes this pair" in refused and "--force" in refused
    assert "Alice asked" not in refused
    forced = seen(await slack.command("UCAROL", f"pair {BOB} {ALICE} --force “they made up”"))
    assert "Paired #1: Bob and Alice" in forced and "a member's private preference" in forced
    assert await audit(slack, "pair.force") == ["#1 Bob & Alice overriding forbidden: they made up"]
    await slack.deliver()
    intro = slack.fake.called("chat.postMessage")
    assert intro and all("preference" not in m.get("text", "") and "block" not in m.get("text", "") for m in intro)


async def test_pair_refuses_a_tz_gap_and_capacity_is_set_by_a_coordinator(slack: Slack) -> None:
    await setup_program(slack)
    set_reply = seen(await slack.command("UCAROL", "program set --max-tz-gap 7 --weights tz=4"))
    assert "largest time-zone gap 7 hours" in set_reply and "tz=4" in set_reply
    # Berlin and Tokyo are 8 hours apart in December; Berlin and New York 6.
    refused = seen(await slack.command("UCAROL", f"pair {BOB} {DAN}"))
    assert "Bob and Dan are 8 hours apart, more than this program allows (7)" in refused
    assert "Paired #1: Bob and Alice" in seen(await slack.command("UCAROL", f"pair {BOB} {ALICE}"))

    capacity = seen(await slack.command("UCAROL", f"capacity {BOB} 3"))
    assert "Bob now takes up to 3 mentee(s) at once in Spring (was 1)." in capacity
    assert "Paired #2: Bob and Dan" in seen(await slack.command("UCAROL", f"pair {BOB} {DAN} --force time-shifted"))
    assert await audit(slack, "capacity") == ["Bob: 1 -> 3"]
    assert await audit(slack, "pair.force") == ["#2 Bob & Dan overriding tz_gap: time-shifted"]
    refused = seen(await slack.command("UBOB", f"capacity {BOB} 5"))
    assert "/mentor capacity is for program coordinators" in refused
    async with slack.bot.db.transaction() as s:
        assert list((await s.exec(select(Pair.status).order_by(col(Pair.id)))).all()) == [PairStatus.ACTIVE] * 2
