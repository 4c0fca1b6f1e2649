"""`/mentor match` and `/mentor suggest` end to end in the console: the proposal message, approving some,
skipping one, intros for the approved only, a stale approval skipped with its reason, rematch excluding the
old partner, a mentee's request approved or declined, the odd peer first in line, and who sees what."""

from __future__ import annotations

import asyncio
import re

from bot.core import MentorBot
from bot.events import ActionEvent, Actor
from sqlmodel import select

from storage.models import (
    AuditLog,
    Block,
    Member,
    Outbox,
    OutboxKind,
    Pair,
    PairStatus,
    Program,
    Proposal,
    ProposalStatus,
)
from testkit.console import Script
from tests.test_flow_checkin import blocks, rows, seen_by

PROGRAM = """
admin carol
@carol /mentor program create Spring --day mon --time 10:00
@bob /mentor join mentor
@bob /mentor profile --tz Europe/Berlin --interests python,music --capacity 2
@dan /mentor join mentor
@dan /mentor profile --tz Asia/Tokyo --interests cooking
@alice /mentor join mentee
@alice /mentor profile --tz America/New_York --interests python,career
@eva /mentor join mentee
@eva /mentor profile --tz Asia/Seoul --interests cooking
@zoe /mentor join mentee
@zoe /mentor profile --tz Europe/Paris
"""


def proposal_posts(out: str) -> list[str]:
    return [text for who, text in blocks(out) if who == {"carol"} and "Proposal #" in text and "pair(s)," in text
            and "waiting for you" in text]


async def pairs_by_status(bot: MentorBot) -> dict[str, list[tuple[str, str]]]:
    names = {m.id: m.external_id for m in await rows(bot, Member)}
    out: dict[str, list[tuple[str, str]]] = {}
    for p in await rows(bot, Pair):
        out.setdefault(p.status, []).append((names[p.member_a_id], names[p.member_b_id]))
    return out


async def test_match_proposes_the_optimum_with_reasons_and_nobody_is_told_before_approval(
        run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + "@carol /mentor match")
    assert ("(only carol sees) Proposal #1 for Spring: 3 pair(s), 0 left unmatched. I sent it to you as a "
            "message with buttons") in out
    [post] = proposal_posts(out)
    assert "• #1 bob (mentor) & alice (mentee), score 1.48: interests python; 8 h of waking overlap" in post
    assert "• #2 dan (mentor) & eva (mentee), score 3.00: interests cooking; 14 h of waking overlap" in post
    assert "• #3 bob (mentor) & zoe (mentee)" in post
    assert "[1] Approve all (3)  [2] Approve #1  [3] Skip #1" in post and "Discard" in post
    for member in ("alice", "bob", "dan", "eva", "zoe"):
        assert "Proposal" not in seen_by(out, member) and "matched" not in seen_by(out, member)
    assert (await pairs_by_status(bot)) == {PairStatus.PROPOSED: [("bob", "alice"), ("dan", "eva"), ("bob", "zoe")]}


async def test_approve_some_skip_one_and_only_the_approved_are_introduced(run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + """
        @carol /mentor match
        @carol click Approve #1
        @carol click Skip #2
        @carol click Approve #3
    """)
    assert "(only carol sees) Approved #1: their introduction is on its way." in out
    assert "(only carol sees) Skipped #2. Nobody is told." in out
    assert "You have been matched in Spring: bob is the mentor, alice the mentee." in seen_by(out, "alice")
    assert "You have been matched in Spring: bob is the mentor, zoe the mentee." in seen_by(out, "zoe")
    assert "matched" not in seen_by(out, "eva") and "matched" not in seen_by(out, "dan")
    last = proposal_posts(out)[-1]
    assert "— skipped: by carol" in last and "— approved, pair #1" in last and "This proposal is closed." in last
    assert (await pairs_by_status(bot)) == {PairStatus.ACTIVE: [("bob", "alice"), ("bob", "zoe")],
                                            PairStatus.SKIPPED: [("dan", "eva")]}
    [proposal] = await rows(bot, Proposal)
    assert proposal.status == ProposalStatus.CLOSED
    actions = [a.action for a in await rows(bot, AuditLog)]
    assert actions.count("match.approve") == 2 and "match.skip" in actions and "match" in actions


async def test_a_stale_approval_is_skipped_with_its_reason(run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + """
        @carol /mentor match
        @eva /mentor pause
        @zoe /mentor leave
        @carol click Approve all (3)
    """)
    assert ("(only carol sees) Proposal #1: approved 1 pair(s), introductions on their way; 2 no longer held "
            "and were skipped") in out
    last = proposal_posts(out)[-1]
    assert "dan (mentor) & eva (mentee)" in last and "— skipped: eva has paused" in last
    assert "— skipped: zoe is no longer enrolled in that role" in last
    assert "matched" not in seen_by(out, "eva")
    assert (await pairs_by_status(bot))[PairStatus.ACTIVE] == [("bob", "alice")]


async def test_a_block_added_after_the_proposal_stops_its_approval_without_telling_anyone(
        run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + "@carol /mentor match\n")
    ids = {m.external_id: m.id for m in await rows(bot, Member)}
    async with bot.db.transaction() as s:  # eva privately blocks dan (the block command is tested on its own)
        s.add(Block(member_id=ids["eva"], blocked_id=ids["dan"], created_at=bot.clock.now()))
    out = await run("@carol click Approve #2")
    assert ("(only carol sees) #2 was not started: a member's private preference now excludes this pair. "
            "It is marked skipped.") in out
    assert "eva" not in seen_by(out, "dan").replace("carol", "")


async def test_rematch_is_proposed_a_new_partner_never_the_old_one(run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + """
        @carol /mentor pair @dan @eva
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @zoe
        @eva /mentor rematch we never find a time
        @bob /mentor profile --capacity 3
        @carol /mentor match
    """)
    [post] = proposal_posts(out)
    assert re.search(r"• #\d+ bob \(mentor\) & eva \(mentee\)", post)
    assert "dan (mentor) & eva" not in post
    out = await run("@carol click Approve all (1)")
    assert "You have been matched in Spring: bob is the mentor, eva the mentee." in seen_by(out, "eva")
    # The pair eva asked to leave ends, both told neutrally, and the rematch escalation is resolved.
    assert "Your pair in Spring has ended" in seen_by(out, "dan") or "ended" in seen_by(out, "dan")
    [old] = [p for p in await rows(bot, Pair) if p.id == 1]
    assert old.status == PairStatus.ENDED and old.end_cause == "rematch"
    # And the two are never proposed again.
    out = await run("@eva /mentor leave\n@eva /mentor join mentee\n@bob /mentor profile --capacity 1\n"
                    "@carol /mentor match")
    assert "dan (mentor) & eva" not in "\n".join(proposal_posts(out))


async def test_the_odd_peer_is_told_they_are_first_in_line_and_is_matched_first_next_time(
        run: Script, bot: MentorBot) -> None:
    out = await run("""
        admin carol
        @carol /mentor program create Circle --day mon --time 10:00
        @p1 /mentor join peer
        @p2 /mentor join peer
        @p3 /mentor join peer
        @carol /mentor match
    """)
    [post] = proposal_posts(out)
    assert "(peers)" in post and "left over (odd count or no allowed partner free); first in line next round" in post
    left = re.search(r"Unmatched \(1\):\s*• (p\d)", post)
    assert left
    out = await run("@carol click Approve all (1)")
    assert "You are first in line for the next one." in seen_by(out, left.group(1))
    out = await run("@p4 /mentor join peer\n@carol /mentor match")
    assert re.search(rf"#\d+ (p4 & {left.group(1)}|{left.group(1)} & p4) \(peers\)", proposal_posts(out)[-1])


async def test_discard_and_a_new_match_replaces_the_open_proposal(run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + "@carol /mentor match\n@carol /mentor match\n@carol click Discard")
    assert "— skipped: replaced by a newer match" in out
    assert "(only carol sees) Discarded proposal #2. Nobody is told." in out
    assert PairStatus.PROPOSED not in await pairs_by_status(bot)
    # A button still showing somewhere for the closed proposal does nothing.
    carol = Actor("console", "local", "carol", display_name="carol", is_admin=True)
    reply = await bot.handle(ActionEvent(carol, "match.approve_all", "2"))
    assert reply.text == "Proposal #2 is already closed."
    assert PairStatus.ACTIVE not in await pairs_by_status(bot)


async def test_only_coordinators_match_and_nobody_waiting_is_said(run: Script) -> None:
    out = await run(PROGRAM + "@alice /mentor match")
    assert "/mentor match is for program coordinators, and you are not one" in out
    out = await run("""
        admin carol
        @carol /mentor program create Empty --day mon --time 10:00
        @carol /mentor match --program Empty
    """)
    assert "Nobody in Empty is waiting for a partner" in out


async def test_a_mentee_asks_for_a_suggested_mentor_and_the_coordinators_decide(run: Script, bot: MentorBot) -> None:
    out = await run(PROGRAM + "@carol /mentor channel #leads\n@eva /mentor suggest")
    assert "(only eva sees) Your best mentors with room in Spring:\n  • dan (score 3.00): interests cooking" in out
    out = await run("@eva click Ask for dan")
    assert "(only eva sees) I asked the coordinators to pair you with dan." in out
    request = [text for who, text in blocks(out) if who == {"#leads"} and "Mentor request #" in text]
    assert request and "eva asks for this match" in request[0] and "[1] Approve  [2] Decline" in request[0]
    assert "eva" not in seen_by(out, "dan")  # the mentor hears nothing before approval
    out = await run("@eva /mentor suggest")
    assert "You already asked for a mentor" in out
    out = await run("@carol click Approve")
    assert "You have been matched in Spring: dan is the mentor, eva the mentee." in seen_by(out, "dan")
    out = await run("@alice /mentor suggest\n@alice click Ask for bob\n@carol click Decline")
    assert "(only carol sees) Declined" in out
    assert "couldn't arrange the mentor you asked for" in seen_by(out, "alice")
    assert "alice" not in seen_by(out, "bob")
    out = await run("@dan /mentor suggest")
    assert "Suggestions are for mentees of Spring" in out


async def test_match_never_proposes_a_pair_a_rule_forbids_and_says_why_someone_is_left_out(
        run: Script, bot: MentorBot) -> None:
    await run(PROGRAM + "@carol /mentor pair @dan @zoe\n@carol /mentor unpair 1 they argued")
    ids = {m.external_id: m.id for m in await rows(bot, Member)}
    async with bot.db.transaction() as s:
        program = (await s.exec(select(Program))).one()
        program.max_tz_gap = 6  # Tokyo and Seoul are far from New York, Berlin and Paris
        s.add(Block(member_id=ids["alice"], blocked_id=ids["bob"], created_at=bot.clock.now()))
    out = await run("@carol /mentor match")
    [post] = proposal_posts(out)
    assert "dan (mentor) & eva (mentee)" in post
    assert "bob (mentor) & zoe (mentee)" in post
    assert "bob (mentor) & alice" not in post and "dan (mentor) & zoe" not in post
    # alice: bob is blocked (privately), dan is 14 hours away: every candidate is excluded, and the rules named.
    assert ("• alice: every possible partner is excluded by a rule (an earlier pair that went wrong, or a "
            "member's private preference, time-zone gap)") in post
    assert "alice" not in seen_by(out, "bob")


async def test_the_report_lists_started_pairs_only(run: Script) -> None:
    out = await run(PROGRAM + "@carol /mentor match\n@carol click Approve #1\n@carol /mentor report")
    report = out[out.index("carol: /mentor report"):]
    assert "Pairs: 1 active, 0 paused, 0 ended" in report
    assert "Pairs: #1 bob (mentor) & alice (mentee): active" in report
    assert "#2" not in report and "#3" not in report  # still proposed: not pairs yet


async def test_two_coordinators_approving_at_once_start_the_pair_once(run: Script, bot: MentorBot) -> None:
    await run(PROGRAM + "@rita /mentor help\n@carol /mentor coordinators add @rita\n@carol /mentor match")
    carol = Actor("console", "local", "carol", display_name="carol", is_admin=True)
    rita = Actor("console", "local", "rita", display_name="rita")
    replies = await asyncio.gather(bot.handle(ActionEvent(carol, "match.approve", "1")),
                                   bot.handle(ActionEvent(rita, "match.approve", "1")))
    assert sorted(r.text for r in replies) == ["#1 was already decided.",
                                               "Approved #1: their introduction is on its way."]
    intros = [o for o in await rows(bot, Outbox) if o.kind == OutboxKind.INTRO]
    assert len(intros) == 1
