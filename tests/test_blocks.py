"""The private "don't pair me with" list (bot/flows/blocks.py), end to end in the console: the member manages
it; the blocked person never sees a thing (no reply, message, status or home-page line); coordinators only
learn that a member's private preference excludes a pair, and /mentor pair --force overrides it, audited
without saying whose preference it was."""

from __future__ import annotations

import pytest

from adapters.console import PLATFORM, WORKSPACE
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.flows import blocks
from bot.home import home_messages
from storage.models import AuditLog, Block, Outbox, Pair, PairStatus
from testkit.console import SETUP, Script
from tests.test_flow_checkin import PAIRED, member_id, rows, seen_by

PRIVATE = ("block", "preference", "your list", "not to be paired")


async def home_text(bot: MentorBot, clock: ManualClock, user: str) -> str:
    return "\n".join(m.text + str(m.fields) for m in await home_messages(bot.rt, clock.now(), PLATFORM, WORKSPACE,
                                                                         user))


def assert_sees_nothing_of_it(text: str) -> None:
    lowered = text.lower()
    assert not [word for word in PRIVATE if word in lowered], text


async def test_a_member_adds_lists_and_removes_people(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @dave /mentor join mentor
        @alice /mentor blocks
        @alice /mentor block @bob
        @alice /mentor blocks add @dave
        @alice /mentor blocks
        @alice /mentor unblock @bob
        @alice /mentor blocks list
        @alice /mentor blocks remove @dave
        @alice /mentor blocks
    """)
    assert ("(only alice sees) Your list is empty: you can be paired with anyone. /mentor block @person adds "
            "someone; they are never told.") in out
    assert ("(only alice sees) Done: I won't pair you with bob. They are not told, and only you see your list "
            "(/mentor blocks). Coordinators only learn that a member's private preference rules a pair out.") in out
    assert ("(only alice sees) People you asked not to be paired with (2), seen only by you: bob, dave. "
            "/mentor unblock @person removes one.") in out
    assert "(only alice sees) bob is off your list: you may be paired with them again." in out
    assert "(only alice sees) People you asked not to be paired with (1), seen only by you: dave." in out
    assert out.count("Your list is empty") == 2
    assert await rows(bot, Block) == []


async def test_the_blocked_person_never_sees_anything(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    await run(SETUP)
    outbox_before = len(await rows(bot, Outbox))
    home_before = await home_text(bot, clock, "bob")
    status_before = (await run("@bob /mentor status")).split("\n", 1)[1]
    out = await run("""
        @alice /mentor block @bob
        @bob /mentor status
        @bob /mentor profile
        @carol /mentor pair @bob @alice
        @carol /mentor people
    """)
    assert len(await rows(bot, Outbox)) == outbox_before  # nothing sent to anyone, bob least of all
    bob_sees = seen_by(out, "bob")
    assert "alice" not in bob_sees
    assert_sees_nothing_of_it(bob_sees)
    assert await home_text(bot, clock, "bob") == home_before  # bob's home page is just as it was
    assert status_before in bob_sees  # and so is his status
    assert "(only bob sees) Your list is empty" in await run("@bob /mentor blocks")  # only their own list
    # The coordinator learns a preference excludes the pair, not whose; nor does /mentor people say.
    assert ("(only carol sees) bob and alice can't be paired: a member's private preference excludes this pair. "
            "If it is right anyway: /mentor pair @bob @alice --force \"reason\" (audited).") in out
    people = out.split("carol: /mentor people")[1]
    assert "block" not in people.lower() and "preference" not in people.lower()
    assert [a.action for a in await rows(bot, AuditLog) if "block" in a.action or "block" in a.detail] == []


async def test_force_overrides_a_block_and_the_audit_names_only_the_rule(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @alice /mentor block @bob
        @carol /mentor pair @bob @alice --force they asked me to, in person
    """)
    assert ("(only carol sees) Paired #1: bob and alice. I'm introducing them in a shared conversation now.\n"
            "  Paired despite a member's private preference; your --force reason is in the audit log.") in out
    [forced] = [a.detail for a in await rows(bot, AuditLog) if a.action == "pair.force"]
    assert forced == "#1 bob & alice overriding forbidden: they asked me to, in person"
    assert_sees_nothing_of_it(seen_by(out, "bob").replace("introducing", ""))


async def test_a_block_does_not_end_a_current_pair_and_says_how_to(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@alice /mentor block @bob\n@bob /mentor status")
    assert ("(only alice sees) Done: I won't pair you with bob." in out
            and "  You are paired with bob right now (#1); a block doesn't end that. To end it: /mentor rematch "
                "<reason> or /mentor problem <what happened> (only coordinators see either; add --pair 1 if you "
                "have several pairs).") in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]
    bob_sees = seen_by(out.split("alice: /mentor block")[1], "bob")
    assert_sees_nothing_of_it(bob_sees)


async def test_blocks_are_workspace_wide_either_way(run: Script, bot: MentorBot) -> None:
    # bob blocks alice: pairing them is refused in any program, whoever is named first.
    out = await run(SETUP + """
        @bob /mentor block @alice
        @carol /mentor program create Autumn
        @bob /mentor join mentor Autumn
        @alice /mentor join mentee Autumn
        @carol /mentor pair @bob @alice --program Autumn
    """)
    assert "a member's private preference excludes this pair" in out.split("--program Autumn")[-1]
    [block] = await rows(bot, Block)
    assert (block.member_id, block.blocked_id) == (await member_id(bot, "bob"), await member_id(bot, "alice"))


async def test_a_list_has_a_limit(run: Script, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "MAX_BLOCKS", 1)
    out = await run(SETUP + "@alice /mentor block @bob\n@alice /mentor block @carol")
    assert ("(only alice sees) Your list already holds 1 people, the most it takes. Remove someone with "
            "/mentor unblock @person, or talk to a coordinator.") in out
