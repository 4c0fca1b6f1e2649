"""Goals through Slack: the intro's button opens a modal of three inputs, a goal is saved from it, and after
"We met" the mentee's progress buttons arrive in her DM and are edited to show her answer."""

from __future__ import annotations

import json
from datetime import datetime

from bot.clock import ManualClock
from storage.models import Goal, GoalLevel, GoalProgress
from testkit.console import START
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import ALICE_DM, PAIR_DM, advance, setup_pair
from tests.test_flow_checkin import rows


async def test_goal_from_the_intro_modal_and_progress_after_we_met(slack: Slack, clock: ManualClock) -> None:
    await setup_pair(slack)
    intro = slack.last(PAIR_DM)
    assert "Goals: Alice, write down one to 3 goals" in intro.text
    await slack.click("UALICE", intro, "Set our goals")
    view = slack.fake.called("views.open")[-1]["view"]
    assert view["type"] == "modal" and [b["block_id"] for b in view["blocks"]] == ["goal", "success", "by"]
    await slack.submit("UALICE", {"goal": "Land a first dev job", "success": "An offer signed", "by": "2027-03-31"})
    await slack.deliver()
    said = json.dumps([c.params for c in slack.fake.calls if c.method.startswith("hook:")
                       or c.method in ("chat.postEphemeral", "chat.postMessage")])
    assert "Goal #1 saved: Land a first dev job" in said
    [goal] = await rows(slack.bot, Goal)
    assert (goal.text, goal.success, goal.target_date.isoformat()) == ("Land a first dev job", "An offer signed",
                                                                       "2027-03-31")

    await advance(slack.bot, clock, datetime(2026, 12, 7, 9, 5, tzinfo=START.tzinfo))
    await slack.deliver()
    await slack.click("UBOB", slack.last(PAIR_DM), "We met")
    await slack.deliver()
    ask = slack.find(ALICE_DM, "How did goal #1 move")
    assert [e["text"]["text"] for b in ask.blocks if b["type"] == "actions" for e in b["elements"]] == \
        ["No progress", "Some", "A lot", "Done"]
    hook = await slack.click("UALICE", ask, "A lot")
    assert "Noted: A lot on goal #1." in slack.fake.replies(hook)[0]["text"]
    await slack.deliver()
    assert ask.edits == 1 and 'you answered "A lot"' in text_of(ask.blocks)
    assert not [b for b in ask.blocks if b["type"] == "actions"]
    assert [(p.goal_id, p.level) for p in await rows(slack.bot, GoalProgress)] == [(1, GoalLevel.LOT)]
