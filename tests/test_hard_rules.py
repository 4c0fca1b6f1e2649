"""The hard rules in /mentor pair (bot/pair_rules.refusals), /mentor capacity, and the matching settings of
/mentor program set, end to end in the console. (Never-again and blocks have their own files too:
tests/test_safeguards.py, tests/test_blocks.py.)"""

from __future__ import annotations

from bot.core import MentorBot
from storage.models import AuditLog, Enrollment, Pair, PairStatus, Program, Role
from testkit.console import SETUP, Script
from tests.test_flow_checkin import PAIRED, rows, seen_by

# bob is in Berlin, alice in New York: six hours apart in winter.
TZ_RULE = SETUP + "@carol /mentor program set --max-tz-gap 4\n"


async def audit(bot: MentorBot, action: str) -> list[str]:
    return [a.detail for a in await rows(bot, AuditLog) if a.action == action]


async def test_program_set_takes_weights_a_tz_gap_and_a_language_rule(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @carol /mentor program set --weights topics=5,tz=0.5 --max-tz-gap 4 --language-required yes
        @carol /mentor program set --weights Interests=2
        @carol /mentor program set --max-tz-gap off --language-required no
    """)
    assert ("(only carol sees) Program Spring updated: Every week on Monday at 10:00 local time (digest in UTC); "
            "escalate after 2 missed check-ins in a row.\n"
            "  Matching: weights topics=5,interests=1,tz=0.5,languages=1; largest time-zone gap 4 hours; "
            "shared language required.") in out
    # Weights not named keep what they were.
    assert "Matching: weights topics=5,interests=2,tz=0.5,languages=1; largest time-zone gap 4 hours" in out
    assert "largest time-zone gap no limit; shared language not required." in out
    [program] = await rows(bot, Program)
    assert (program.match_weights, program.max_tz_gap, program.require_language) == (
        "topics=5,interests=2,tz=0.5", None, False)
    assert await audit(bot, "program.set") == [
        "weights=topics=5,tz=0.5 max-tz-gap=4 language-required=yes", "weights=Interests=2",
        "max-tz-gap=off language-required=no"]


async def test_pair_refuses_a_tz_gap_and_no_shared_language_unless_forced(run: Script, bot: MentorBot) -> None:
    out = await run(TZ_RULE + "@carol /mentor pair @bob @alice")
    assert ("(only carol sees) bob and alice are 6 hours apart, more than this program allows (4). If it is right "
            "anyway: /mentor pair @bob @alice --force \"reason\" (audited), or change the rule with /mentor program "
            "set --max-tz-gap N.") in out
    out = await run("""
        @carol /mentor program set --max-tz-gap off --language-required yes
        @bob /mentor profile --languages de,en
        @alice /mentor profile --languages es
        @carol /mentor pair @bob @alice
    """)
    assert ("(only carol sees) bob (de, en) and alice (es) share no language, which this program requires. If it "
            "is right anyway: /mentor pair @bob @alice --force \"reason\" (audited).") in out
    assert await rows(bot, Pair) == []
    out = await run("@alice /mentor profile --languages es,EN\n@carol /mentor pair @bob @alice")
    assert "(only carol sees) Paired #1: bob and alice." in out


async def test_force_names_every_rule_it_overrides(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @carol /mentor unpair 1 never clicked
        @carol /mentor program set --max-tz-gap 2 --language-required yes
        @alice /mentor block @bob
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @alice --force "both asked, in person"
    """)
    # Without --force the first rule answers; with it, every rule is named, in the reply and the audit log.
    assert "(only carol sees) bob and alice were paired before (#1)" in out
    assert ("  Paired despite their earlier pair #1, a member's private preference, the program's time-zone gap "
            "rule, the program's shared-language rule; your --force reason is in the audit log.") in out
    assert await audit(bot, "pair.force") == [
        "#2 bob & alice overriding never_again after #1 (unpair), forbidden, tz_gap, no_shared_language: "
        "both asked, in person"]
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ENDED, PairStatus.ACTIVE]
    # Neither member is told a rule was overridden.
    for who in ("bob", "alice"):
        assert "force" not in seen_by(out.split("--force")[-1], who).lower()


async def test_force_does_not_override_roles_or_capacity(run: Script) -> None:
    out = await run(PAIRED + """
        @erin /mentor join mentee
        @dave /mentor join mentor
        @carol /mentor pair @bob @erin --force I know
        @carol /mentor pair @dave @bob --force I know
    """)
    assert "(only carol sees) bob already has 1 pair(s), their limit. A coordinator can raise it with " \
           "/mentor capacity @bob N, or unpair first." in out
    assert "(only carol sees) dave is a mentor and bob is a mentor." in out


async def test_a_paused_person_is_still_paired_paused_when_rules_are_forced(run: Script, bot: MentorBot) -> None:
    out = await run(TZ_RULE + "@alice /mentor pause\n@carol /mentor pair @bob @alice --force fine by both")
    assert "Paired despite the program's time-zone gap rule" in out
    assert "Warning: alice has paused check-ins until they resume, so pair #1 starts paused" in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.PAUSED]


async def test_capacity_is_set_by_a_coordinator_and_audited(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @erin /mentor join mentee
        @carol /mentor capacity @bob 2
        @carol /mentor pair @bob @erin
        @carol /mentor capacity @bob 1
        @carol /mentor people
    """)
    assert "(only carol sees) bob now takes up to 2 mentee(s) at once in Spring (was 1)." in out
    assert "(only carol sees) Paired #2: bob and erin." in out
    assert ("(only carol sees) bob now takes up to 1 mentee(s) at once in Spring (was 2).\n"
            "  bob has 2 pairs now, more than that: those go on, and bob gets no new pair until they have fewer "
            "than 1.") in out
    assert "  • bob: mentor, 2/1 pairs, Europe/Berlin" in out
    assert await audit(bot, "capacity") == ["bob: 1 -> 2", "bob: 2 -> 1"]
    [enrollment] = await rows(bot, Enrollment, Enrollment.role == Role.MENTOR)
    assert enrollment.capacity == 1
    # Both pairs go on; the mentor is not told anything.
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE, PairStatus.ACTIVE]
    assert "capacity" not in seen_by(out.split("@erin /mentor join")[-1], "bob").replace("/mentor capacity", "")
