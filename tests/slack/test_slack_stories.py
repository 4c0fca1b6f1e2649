"""The core's end-to-end stories replayed through Slack: signed payloads into the real bolt app, the Web API
calls they cause recorded by the fake Slack, and the database checked where a user cannot see."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from bot.clock import ManualClock
from bot.core import MentorBot
from storage.models import Escalation, EscalationStatus, Feedback, Member, Pair
from testkit.console import START
from tests.slack.conftest import Slack, text_of

LEADS = "CLEADS"
PAIR_DM = "GALICEBOB"  # the fake names a group DM after its members
BOB_DM, ALICE_DM = "DBOB", "DALICE"


async def advance(bot: MentorBot, clock: ManualClock, target: datetime) -> None:
    """Move the clock to `target`, running due work at each moment it falls due."""
    while (nxt := await bot.next_wakeup()) is not None and nxt < target:
        # Something still due at this moment (a send waiting to retry) must not stop the clock.
        clock.set(max(nxt, clock.now() + timedelta(minutes=1)))
        await bot.tick()
    clock.set(target)
    await bot.tick()


async def setup_pair(slack: Slack) -> None:
    """Carol creates a program with a coordinators' channel; Bob and Alice join and are paired."""
    reply = await slack.command("UCAROL", "program create Spring --day mon --time 10:00")
    assert "Program Spring created" in reply["text"]
    assert "leads" in (await slack.command("UCAROL", f"channel <#{LEADS}|leads>"))["text"]
    await slack.command("UBOB", "join mentor")
    await slack.command("UALICE", "join mentee")
    reply = await slack.command("UCAROL", "pair <@UBOB|bob> <@UALICE|alice>")
    assert "Paired #1: Bob and Alice" in reply["text"]
    await slack.deliver()


async def test_intro_lands_in_a_group_dm_with_both(slack: Slack, db: object) -> None:
    await setup_pair(slack)
    opened = slack.fake.called("conversations.open")
    assert [sorted(c["users"].split(",")) for c in opened] == [["UALICE", "UBOB"]]
    intro = slack.last(PAIR_DM)
    assert "Bob" in intro.text and "Alice" in intro.text
    # Names and zones came from Slack profiles (users.info), not from anything typed.
    async with slack.bot.db.transaction() as s:
        bob = (await s.exec(select(Member).where(Member.external_id == "UBOB"))).one()
        pair = (await s.exec(select(Pair))).one()
    assert (bob.display_name, bob.tz_from_platform) == ("Bob", "Europe/Berlin")
    assert pair.conversation_ref == PAIR_DM


async def test_nudge_answer_rating_escalation_resolve_report(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    # The nudge lands at 10:00 Berlin on the first Monday at least two days after pairing.
    await advance(slack.bot, clock, datetime(2026, 12, 7, 9, 5, tzinfo=START.tzinfo))
    await slack.deliver()
    nudge = slack.last(PAIR_DM)
    assert "Check-in time, Bob and Alice" in nudge.text
    labels = [e["text"]["text"] for b in nudge.blocks if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["We met", "We rescheduled", "We couldn't meet", "Report a problem"]

    # Alice answers: her reply is ephemeral; the nudge is edited in place, naming her, with no buttons.
    hook = await slack.click("UALICE", nudge, "We met")
    assert "recorded that you met" in slack.fake.replies(hook)[0]["text"]
    assert slack.fake.replies(hook)[0]["response_type"] == "ephemeral"
    await slack.deliver()
    assert nudge.edits == 1 and 'Alice answered "met"' in text_of(nudge.blocks)
    assert not [b for b in nudge.blocks if b["type"] == "actions"]

    # Each gets a private 1-5 rating in their own DM with the app.
    bob_ask = slack.last(BOB_DM)
    assert "How was your check-in with Alice" in bob_ask.text
    assert "How was your check-in with Bob" in slack.last(ALICE_DM).text
    assert [e["text"]["text"] for b in bob_ask.blocks if b["type"] == "actions" for e in b["elements"]] == \
        ["1", "2", "3", "4", "5"]

    # Bob rates 2: a note modal opens with the click's trigger_id, and the coordinators are told.
    hook = await slack.click("UBOB", bob_ask, "2")
    opened = slack.fake.called("views.open")[-1]
    assert opened["trigger_id"].startswith("trigger-click-")
    assert opened["view"]["type"] == "modal" and opened["view"]["blocks"][0]["optional"] is True
    assert slack.fake.replies(hook)[0]["text"].startswith("Thanks, recorded 2/5")
    await slack.submit("UBOB", {"note": "We talked past each other"})
    await slack.deliver()
    assert "You rated the check-in of 2026-12-07: 2/5" in text_of(bob_ask.blocks)
    post = slack.find(LEADS, "Escalation #1 in Spring: open")
    assert [e["text"]["text"] for b in post.blocks if b["type"] == "actions" for e in b["elements"]] == \
        ["Acknowledge", "Resolve"]
    note = slack.last(LEADS)
    assert "We talked past each other" in note.text
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Feedback.note).where(Feedback.rating == 2))).one() == "We talked past each other"

    # Carol acknowledges, then resolves with a note from a modal; the post shows who and when.
    await slack.click("UCAROL", post, "Acknowledge")
    await slack.deliver()
    assert "acknowledged by Carol at 2026-12-07" in post.text
    await slack.click("UCAROL", post, "Resolve")
    assert slack.fake.called("views.open")[-1]["view"]["title"]["text"].startswith("Resolve")
    await slack.submit("UCAROL", {"note": "Talked to both; trying again"})
    await slack.deliver()
    assert "resolved by Carol at 2026-12-07" in post.text and "Talked to both" in post.text
    assert not [b for b in post.blocks if b["type"] == "actions"]
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Escalation.status))).one() == EscalationStatus.RESOLVED

    # Alice reports a problem privately; it reaches the coordinators' channel only.
    reply = await slack.command("UALICE", "problem Bob keeps cancelling")
    assert "went privately to the coordinators" in reply["text"]
    await slack.deliver()
    assert "Bob keeps cancelling" in text_of(slack.last(LEADS).blocks)
    for channel in (PAIR_DM, BOB_DM, ALICE_DM):
        everything = " ".join(text_of(m.blocks) for m in slack.posts(channel))
        assert "Bob keeps cancelling" not in everything and "talked past" not in everything
        assert "2/5" not in everything or channel == BOB_DM

    # Carol's report shows it all.
    report = await slack.command("UCAROL", "report")
    assert "Report for Spring" in report["text"] and "1 met" in text_of(report["blocks"])


async def test_report_a_problem_button_opens_a_private_form(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    await advance(slack.bot, clock, datetime(2026, 12, 7, 9, 5, tzinfo=START.tzinfo))
    await slack.deliver()
    nudge = slack.last(PAIR_DM)
    await slack.click("UBOB", nudge, "Report a problem")
    view = slack.fake.called("views.open")[-1]["view"]
    assert view["blocks"][0]["optional"] is False
    await slack.submit("UBOB", {"text": "Alice never shows up"})
    await slack.deliver()
    assert "Alice never shows up" in text_of(slack.last(LEADS).blocks)
    assert "Alice never shows up" not in " ".join(text_of(m.blocks) for m in slack.posts(PAIR_DM) + slack.posts(ALICE_DM))
    # The reply to the report went to Bob alone (the click's response_url), not to the pair.
    async with slack.bot.db.transaction() as s:
        esc = (await s.exec(select(Escalation))).one()
    assert esc.reason == "Alice never shows up"


async def test_an_escalation_reminder_is_edited_as_the_escalation_moves_on(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    await slack.command("UALICE", "problem Bob never shows up")
    await advance(slack.bot, clock, START + timedelta(hours=49))
    await slack.deliver()
    reminder = slack.find(LEADS, "Reminder: escalation #1")

    def labels() -> list[str]:
        return [e["text"]["text"] for b in reminder.blocks if b["type"] == "actions" for e in b["elements"]]

    assert labels() == ["Acknowledge", "Resolve"]
    await slack.click("UCAROL", reminder, "Acknowledge")
    await slack.deliver()
    assert "Now acknowledged by Carol" in text_of(reminder.blocks) and labels() == ["Resolve"]
    await slack.command("UCAROL", "resolve 1 talked to both")
    await slack.deliver()
    assert "Now resolved by Carol" in text_of(reminder.blocks) and labels() == []
