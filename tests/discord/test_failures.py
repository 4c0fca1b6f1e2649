"""What goes wrong on Discord, and what people see then: missing channel or permission, deleted threads,
members who left, closed DMs, rate limits, outages, expired interactions, restarts."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from adapters.discord import interactions
from bot.clock import ManualClock
from bot.core import MentorBot
from storage.models import (
    Enrollment,
    Escalation,
    EscalationKind,
    Outbox,
    OutboxStatus,
    Pair,
    PairStatus,
)
from tests.discord.conftest import NUDGE_DUE, Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import LEADS, PAIRS, FakeDiscord


async def _row(bot: MentorBot, prefix: str) -> Outbox:
    async with bot.db.transaction() as s:
        return (await s.exec(select(Outbox).where(col(Outbox.key).startswith(prefix)))).one()


async def _delivery_escalation(bot: MentorBot) -> Escalation:
    async with bot.db.transaction() as s:
        return (await s.exec(select(Escalation).where(Escalation.kind == EscalationKind.DELIVERY))).first()  # type: ignore[return-value]


async def test_without_a_pairs_channel_the_coordinators_are_told_what_to_run(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await people.command(cast.carol, "program create", name="Spring")
    await people.command(cast.carol, "program channel", channel=LEADS)
    await people.command(cast.bob, "join", role="mentor")
    await people.command(cast.alice, "join", role="mentee")
    await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    await bot.deliver()
    intro = await _row(bot, "intro")
    assert intro.status == OutboxStatus.FAILED and "/mentor channel #channel pairs:True" in (intro.last_error or "")
    await bot.deliver()
    post = fake.posts(LEADS)[-1]
    assert "pairs:True" in str(post["embeds"])  # the coordinators read the reason in their channel
    assert fake.find("POST", r"/channels/\d+/threads") == []


async def test_a_missing_thread_permission_is_named(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    fake.forbidden_threads = True
    await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    await bot.deliver()
    intro = await _row(bot, "intro")
    assert intro.status == OutboxStatus.FAILED and intro.attempts == 1  # not retried: retrying cannot help
    assert "Create Private Threads" in (await _delivery_escalation(bot)).reason


async def test_a_deleted_thread_is_replaced_and_the_pair_remembers_the_new_one(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    old = await pair_them(people, cast, bot, fake)
    fake.delete_channel(old)
    assert "1" in (await people.command(cast.carol, "nudge", target="all")).text
    await bot.deliver()
    new = max(cid for cid, c in fake.channels.items() if c.get("parent_id") == str(PAIRS))
    assert new != old and "Check-in time" in fake.posts(new)[-1]["content"]
    async with bot.db.transaction() as s:
        assert (await s.exec(select(Pair.conversation_ref))).one() == str(new)


async def test_a_member_who_left_the_server_fails_clearly_once(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    del fake.users[cast.alice.id]  # Alice left between joining and being paired
    await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    await bot.deliver()
    intro = await _row(bot, "intro")
    assert intro.status == OutboxStatus.FAILED and intro.attempts == 1
    assert f"<@{cast.alice.id}> is no longer in this server" in (await _delivery_escalation(bot)).reason


async def test_closed_dms_fail_that_rating_only(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_program(people, cast)
    thread = await pair_them(people, cast, bot, fake)
    cast.bob.dms_closed = True
    clock.set(NUDGE_DUE)
    await bot.tick()
    await people.click(cast.alice, fake.posts(thread)[-1], "We met")
    await bot.deliver()
    async with bot.db.transaction() as s:
        rows = {r.key: r for r in (await s.exec(select(Outbox).where(col(Outbox.key).startswith("rate:")))).all()}
    assert sorted(r.status for r in rows.values()) == [OutboxStatus.FAILED, OutboxStatus.SENT]
    assert len(fake.posts(cast.alice.id + 1)) == 2  # the fit check and the rating
    assert "does not accept direct messages" in (await _delivery_escalation(bot)).reason


async def test_a_429_is_waited_out_and_the_message_posted_once(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    fake.fail("POST", r"/channels/\d+/messages", 429, retry_after=0.01)
    thread = await pair_them(people, cast, bot, fake)
    first, second = fake.find("POST", rf"/channels/{thread}/messages")
    assert first.body["nonce"] == second.body["nonce"]
    assert len(fake.posts(thread)) == 1 and (await _row(bot, "intro")).status == OutboxStatus.SENT


async def test_a_send_whose_answer_was_lost_is_retried_without_a_duplicate(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_program(people, cast)
    # Discord posts the message but the answer never arrives (a 503 on the way back).
    fake.fail("POST", r"/channels/\d+/messages", 503, after=True)
    thread = await pair_them(people, cast, bot, fake)
    intro = await _row(bot, "intro")
    assert intro.status == OutboxStatus.PENDING and intro.attempts == 1
    clock.set(intro.next_attempt_at)
    await bot.deliver()
    calls = fake.find("POST", rf"/channels/{thread}/messages")
    assert len(calls) == 2 and calls[0].body["nonce"] == calls[1].body["nonce"]
    assert len(fake.posts(thread)) == 1  # enforce_nonce: the retry got the first message back
    assert (await _row(bot, "intro")).status == OutboxStatus.SENT


async def test_an_expired_interaction_still_does_the_work(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await people.command(cast.carol, "program create", name="Spring")
    fake.fail("POST", r"/interactions/\d+/\w+/callback", 404, 10062)
    await people.command(cast.bob, "join", role="mentor")
    async with bot.db.transaction() as s:
        assert len((await s.exec(select(Enrollment))).all()) == 2  # carol coordinates, bob joined
    # The client is still fine afterwards.
    assert "Status for Bob" in (await people.command(cast.bob, "status")).text


async def test_slow_work_is_deferred_then_followed_up(
    running: Running, people: People, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interactions, "ACK_BUDGET", 0)
    reply = await people.command(cast.carol, "program create", name="Spring")
    assert reply.kind == 5 and "Program Spring created" in reply.text and reply.ephemeral


async def test_buttons_keep_working_after_a_restart(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_program(people, cast)
    thread = await pair_them(people, cast, bot, fake)
    clock.set(NUDGE_DUE)
    await bot.tick()
    nudge = fake.posts(thread)[-1]
    report = await people.click(cast.alice, nudge, "Report a problem")
    assert report.modal is not None
    await running.stop()
    await running.start()  # a new client: no view or modal of the old one exists any more
    reply = await people.click(cast.bob, nudge, "We couldn't meet")
    assert reply.text.startswith("Recorded that you couldn't meet")
    sent = await people.submit(cast.alice, report.modal, where=thread, text="He never shows up")
    assert "went privately to the coordinators" in sent.text
    await bot.deliver()
    assert "Bob answered" in fake.messages[int(nudge["id"])]["content"]
    assert "never shows up" not in " ".join(m["content"] for m in fake.posts(thread))


async def test_a_member_leaving_the_server_ends_their_pair(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    await running.stop()
    running.settings = running.settings.model_copy(update={"members_intent": True})
    await running.start()
    assert fake.identify is not None and fake.identify["intents"] == (1 << 0) | (1 << 1)  # guilds, members
    handled = asyncio.Event()
    bot.on_handled(handled.set)
    await fake.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": str(running.settings.guild_ids[0]),
                                                "user": cast.alice.user()})
    await asyncio.wait_for(handled.wait(), timeout=10)
    async with bot.db.transaction() as s:
        assert (await s.exec(select(Pair.status))).one() == PairStatus.ENDED
