"""The shipped example script tells the whole story and every step of it shows up."""

from pathlib import Path

from testkit.console import Script

EXAMPLE = Path(__file__).parent.parent / "examples" / "first-week.txt"


async def test_example_script_tells_the_whole_story(run: Script) -> None:
    out = await run(EXAMPLE.read_text())
    assert "Program Spring Cohort created" in out
    assert "Hello bob and alice! You have been matched in Spring Cohort" in out
    # The Berlin/New York pair is nudged at 10:00 Berlin, the Honolulu/Auckland pair at 10:00 Auckland.
    assert "[Mon 2026-12-07 09:00 UTC | bob Mon 10:00 Europe/Berlin | alice Mon 04:00 America/New_York]" in out
    assert "[Sun 2026-12-06 21:00 UTC | erin Sun 11:00 Pacific/Honolulu | dave Mon 10:00 Pacific/Auckland]" in out
    assert 'alice answered "met"' in out
    assert "Escalation #1 in Spring Cohort: open" in out
    assert "acknowledged by carol" in out
    assert "resolved by carol" in out
    assert "Check-ins: 4 closed: 2 met, 0 rescheduled, 1 couldn't meet, 1 missed (50% met)" in out
    assert "!!" not in out
