"""Goals through Discord: the intro's button opens a modal of three inputs (within Discord's five), the
`/mentor goal ...` group adds and lists goals, and the mentee's progress buttons in her DM are edited to
show her answer."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.core import MentorBot
from storage.models import Goal, GoalLevel, GoalProgress
from testkit.fake_discord import GUILD_ID, FakeDiscord
from tests.discord.conftest import NUDGE_DUE, Cast, People, Running, pair_them, setup_program
from tests.test_flow_checkin import rows


async def test_goals_from_the_intro_modal_the_goal_group_and_progress_buttons(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_program(people, cast)
    thread = await pair_them(people, cast, bot, fake)
    (intro,) = fake.posts(thread)
    assert "Goals: Alice, write down one to 3 goals" in intro["content"]
    opened = await people.click(cast.alice, intro, "Set our goals")
    assert opened.modal is not None and opened.modal["custom_id"].startswith(f"mf|{GUILD_ID}|goals.form|")
    assert [c["label"] for c in opened.modal["components"] if c["type"] == 18] == [
        "The goal (specific, one sentence)", "What success looks like", "Target date (YYYY-MM-DD)"]
    saved = await people.submit(cast.alice, opened.modal, where=thread, goal="Land a first dev job",
                                success="An offer signed", by="2027-03-31")
    assert "Goal #1 saved: Land a first dev job" in saved.text and saved.ephemeral
    # The slash command group: /mentor goal add with its options, /mentor goal list.
    added = await people.command(cast.bob, "goal add", text="Learn SQL", success="Write 3 reports", by="2027-01-15")
    assert "Goal #2 saved: Learn SQL" in added.text
    bad = await people.command(cast.bob, "goal add", text="Learn Go", success="A CLI shipped", by="2026-01-01")
    assert "is not in the future" in bad.text
    listing = await people.command(cast.alice, "goal list")
    assert "#1 [open] Land a first dev job" in listing.text and "#2 [open] Learn SQL" in listing.text

    clock.set(NUDGE_DUE)
    await bot.tick()
    await people.click(cast.bob, fake.posts(thread)[-1], "We met")
    await bot.deliver()
    dm_alice = cast.alice.id + 1
    asks = [m for m in fake.posts(dm_alice) if "How did goal" in m["content"]]
    assert len(asks) == 2
    first = next(m for m in asks if "goal #1" in m["content"])
    assert [b["label"] for row in first["components"] for b in row["components"]] == \
        ["No progress", "Some", "A lot", "Done"]
    answered = await people.click(cast.alice, first, "Done")
    assert "Goal #1 is marked done" in answered.text
    await bot.deliver()
    edited = fake.messages[int(first["id"])]
    assert 'you answered "Done"' in edited["content"] and edited["components"] == []
    assert [(p.goal_id, p.level) for p in await rows(bot, GoalProgress)] == [(1, GoalLevel.DONE)]
    assert [g.status for g in await rows(bot, Goal)] == ["done", "open"]
