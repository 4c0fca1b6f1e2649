"""The shipped matching example: profiles to approved, explained, rule-abiding pairs, with every step shown."""

from pathlib import Path

from testkit.console import Script
from tests.test_flow_checkin import seen_by

EXAMPLE = Path(__file__).parent.parent / "examples" / "matching.txt"


async def test_matching_example_goes_from_profiles_to_introduced_pairs(run: Script) -> None:
    out = await run(EXAMPLE.read_text())
    assert "!!" not in out
    assert "topics: python, career change; interests: music, chess; languages: en" in out  # normalized tags
    assert "• #1 bob (mentor) & alice (mentee), score 5.64: topics career change, python; interests music" in out
    assert "• yan: every possible partner is excluded by a rule (time-zone gap, no shared language)" in out
    assert "erin (mentor) & alice" not in out  # alice's private block
    assert "alice" not in seen_by(out, "erin")  # the blocked person learns nothing
    assert "Hello bob and alice! You have been matched in Spring Cohort" in out
    assert "Hello erin and dave! You have been matched in Spring Cohort" in out
    assert "Mentor request #2 in Spring Cohort: zoe asks for this match." in out
    assert "Hello bob and zoe! You have been matched in Spring Cohort" in out
