"""The core's first-week story, told through Discord: typed /mentor commands, a private thread per pair,
buttons in the thread and in DMs, modals for notes, and escalations in the coordinators' channel."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import ManualClock
from bot.core import MentorBot
from storage.models import Escalation, EscalationStatus, Feedback, Pair
from tests.discord.conftest import NUDGE_DUE, Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import GUILD_ID, LEADS, PAIRS, FakeDiscord


async def test_a_program_runs_end_to_end_in_discord(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_program(people, cast)
    thread = await pair_them(people, cast, bot, fake)

    # A private, invite-only thread in the pairs channel, both members added, the intro inside.
    (create,) = fake.find("POST", f"/channels/{PAIRS}/threads")
    assert create.body["type"] == 12 and create.body["invitable"] is False
    assert create.body["name"] == "Bob & Alice"
    added = {c.path.rsplit("/", 1)[1] for c in fake.find("PUT", rf"/channels/{thread}/thread-members/\d+")}
    assert added == {str(cast.bob.id), str(cast.alice.id)}
    (intro,) = fake.posts(thread)
    assert "Hello Bob and Alice" in intro["content"]
    (intro_call,) = fake.find("POST", f"/channels/{thread}/messages")
    assert intro_call.body["enforce_nonce"] is True and len(intro_call.body["nonce"]) <= 25
    async with bot.db.transaction() as s:
        assert (await s.exec(select(Pair.conversation_ref))).one() == str(thread)

    # The check-in nudge lands in the thread with four buttons.
    clock.set(NUDGE_DUE)
    await bot.tick()
    nudge = fake.posts(thread)[-1]
    labels = [b["label"] for row in nudge["components"] for b in row["components"]]
    assert labels == ["We met", "We rescheduled", "We couldn't meet", "Report a problem"]

    # Alice answers; the nudge is edited to show who answered what, and loses its buttons.
    reply = await people.click(cast.alice, nudge, "We met")
    assert "recorded that you met" in reply.text and reply.ephemeral
    # Bob clicks a moment later (a double answer): he is told it was already answered.
    again = await people.click(cast.bob, nudge, "We rescheduled")
    assert "already answered" in again.text and "Alice" in again.text
    await bot.deliver()
    edited = fake.messages[int(nudge["id"])]
    assert "Alice answered \"met\"" in edited["content"] and edited["components"] == []

    # Each gets the 1-5 rating privately in a DM.
    dm_bob, dm_alice = cast.bob.id + 1, cast.alice.id + 1
    ask_bob = fake.posts(dm_bob)[-1]  # after the fit check (bot/flows/health.py)
    assert [b["label"] for row in ask_bob["components"] for b in row["components"]] == ["1", "2", "3", "4", "5"]
    # Bob rates 2 from the DM (no server in a DM interaction): a modal asks for the optional note.
    rated = await people.click(cast.bob, ask_bob, "2")
    assert rated.modal is not None and rated.modal["custom_id"].startswith(f"mf|{GUILD_ID}|feedback.note|")
    assert "A coordinator will reach out" in str(rated.modal["components"])
    noted = await people.submit(cast.bob, rated.modal, where=dm_bob, note="Our schedules clash")
    assert "Note saved" in noted.text
    await bot.deliver()
    assert "You rated" in fake.messages[int(ask_bob["id"])]["content"]

    # The low rating reaches the coordinators' channel with Acknowledge / Resolve; never Alice.
    post = next(m for m in fake.posts(LEADS) if m["components"])
    assert "Low rating" in str(post["embeds"])
    seen_by_alice = " ".join(m["content"] + str(m["embeds"]) for m in fake.posts(dm_alice) + fake.posts(thread))
    assert "2/5" not in seen_by_alice and "schedules clash" not in seen_by_alice.lower()

    acked = await people.click(cast.carol, post, "Acknowledge")
    assert "acknowledged" in acked.text
    await bot.deliver()
    post = fake.messages[int(post["id"])]
    assert [b["label"] for row in post["components"] for b in row["components"]] == ["Resolve"]
    form = await people.click(cast.carol, post, "Resolve")
    assert form.modal is not None
    done = await people.submit(cast.carol, form.modal, where=LEADS, note="Talked to both, new time found")
    assert "resolved" in done.text
    async with bot.db.transaction() as s:
        escalation = (await s.exec(select(Escalation))).one()
        assert escalation.status == EscalationStatus.RESOLVED
        assert escalation.resolution == "Talked to both, new time found"
        assert (await s.exec(select(Feedback.note))).one() == "Our schedules clash"


async def test_an_ordinary_member_is_refused_coordinator_commands(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    # The server could have made /mentor pair visible to everyone; the core still refuses Dave.
    reply = await people.command(cast.dave, "pair", mentor=cast.bob, mentee=cast.alice)
    assert "coordinators" in reply.text and reply.ephemeral
    assert "Only workspace admins" in (await people.command(cast.dave, "program create", name="Dave's")).text
    async with bot.db.transaction() as s:
        assert (await s.exec(select(Pair))).all() == []
    # Nor may he use a coordinator's button, should he see the post (say, the channel is open to all).
    await people.command(cast.bob, "problem", what="Nobody matched me yet")
    await bot.deliver()
    post = next(m for m in fake.posts(LEADS) if m["components"])
    assert await people.autocomplete(cast.carol, "escalations ack", "escalation", escalation="") == [
        "Escalation #1 in Spring: Problem report"]
    refused = await people.click(cast.dave, post, "Acknowledge")
    assert "coordinators" in refused.text and refused.ephemeral
    async with bot.db.transaction() as s:
        assert (await s.exec(select(Escalation.status))).one() == EscalationStatus.OPEN


async def test_the_coordinator_role_may_create_programs(
    running: Running, people: People, cast: Cast
) -> None:
    reply = await people.command(cast.rita, "program create", name="Autumn")
    assert "Program Autumn created" in reply.text
