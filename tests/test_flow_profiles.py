"""Profiles for matching, end to end in the console: topics, interests and languages normalized and shown
back, a coordinator reading the profile of someone in their program (and nobody else's), and /mentor people
listing what matching reads."""

from __future__ import annotations

from bot.core import MentorBot
from storage.models import Member
from testkit.console import SETUP, Script
from tests.test_flow_checkin import rows, seen_by

# carol also creates Autumn and hands it to erin (not an admin); dave joins Autumn as a mentee.
AUTUMN = SETUP + """
@carol /mentor program create Autumn
@erin /mentor help
@carol /mentor coordinators add @erin --program Autumn
@carol /mentor coordinators remove @carol --program Autumn
@dave /mentor join mentee Autumn
"""


async def test_topics_interests_and_languages_are_normalized_and_shown_back(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @bob /mentor profile --topics "Python,  Career Change , python,,CAREER change" --languages EN, de ,en
        @alice /mentor profile --interests " Rock Climbing,music , MUSIC"
    """)
    assert ("(only bob sees) Profile saved, bob:\n    Time zone: Europe/Berlin\n    Topics: python, career change\n"
            "    Interests: python, music\n    Languages: en, de\n    Goals: -\n    Mentees at once: 1") in out
    assert "    Interests: rock climbing, music\n" in out
    [bob] = await rows(bot, Member, Member.external_id == "bob")
    assert (bob.topics, bob.languages, bob.interests) == ("python,career change", "en,de", "python,music")
    # Showing it again changes nothing; an empty value clears a field.
    out = await run("@bob /mentor profile\n@bob /mentor profile --languages \"\"")
    assert "(only bob sees) Your profile, bob:" in out and "Topics: python, career change" in out
    assert "(only bob sees) Profile saved, bob:" in out and "    Languages: -\n" in out


async def test_too_many_or_too_long_tags_are_refused_and_nothing_is_saved(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + "@bob /mentor profile --topics " + ",".join(f"t{i}" for i in range(21)) + "\n"
                    + "@bob /mentor profile --languages " + "x" * 41)
    assert ("(only bob sees) Give up to 20 topics, comma separated, each at most 40 characters: "
            "--topics python,career.") in out
    assert "(only bob sees) Give up to 20 languages, comma separated, each at most 40 characters: " in out
    [bob] = await rows(bot, Member, Member.external_id == "bob")
    assert (bob.topics, bob.languages) == ("", "")


async def test_a_coordinator_reads_a_members_profile_and_nobody_is_told(run: Script) -> None:
    out = await run(SETUP + """
        @bob /mentor profile --topics python,career --languages en,de --goals "Share what I know"
        @carol /mentor profile @bob
    """)
    assert ("(only carol sees) Profile of bob:\n    Time zone: Europe/Berlin\n    Topics: python, career\n"
            "    Interests: python, music\n    Languages: en, de\n    Goals: Share what I know\n"
            "    Mentees at once: 1") in out
    assert "Profile of bob" not in seen_by(out, "bob")
    # Naming yourself is just your own profile.
    assert "(only bob sees) Your profile, bob:" in await run("@bob /mentor profile @bob")


async def test_members_and_other_programs_coordinators_cannot_read_a_profile(run: Script) -> None:
    out = await run(AUTUMN + """
        @alice /mentor profile @bob
        @erin /mentor profile @bob
        @erin /mentor profile @dave
        @carol /mentor profile @dave
        @carol /mentor profile @bob --goals "be nicer"
    """)
    assert ("(only alice sees) You can see only your own profile: /mentor profile. Coordinators see the profiles "
            "of the people in their programs.") in out
    assert "(only erin sees) bob is not in a program you coordinate, so I can't show their profile." in out
    assert "(only erin sees) Profile of dave:" in out
    assert "(only carol sees) Profile of dave:" in out  # an admin sees anyone's
    assert ("(only carol sees) You can look at bob's profile but not change it; they change it themselves. "
            "To set a mentor's capacity: /mentor capacity @bob N.") in out
    assert "Profile of bob" not in out


async def test_people_lists_topics_interests_languages_and_capacity(run: Script) -> None:
    out = await run(SETUP + """
        @bob /mentor profile --topics python,career --languages en,de --capacity 2
        @dave /mentor join mentee
        @carol /mentor people
    """)
    assert ("(only carol sees) People in Spring (3):\n"
            "  • alice: mentee, 0/1 pairs, America/New_York\n"
            "    interests: python, career\n"
            "  • dave: mentee, 0/1 pairs, UTC\n"
            "  • bob: mentor, 0/2 pairs, Europe/Berlin\n"
            "    topics: python, career; interests: python, music; languages: en, de") in out
