"""Members' own data through Slack: forget-me confirmed with the button on its ephemeral reply, the partner
told neutrally by DM, and an account Slack reports deleted (user_change, deleted=true) forgotten the same way;
afterwards the database holds none of Alice's strings."""

from __future__ import annotations

from testkit.fake_slack import Posted
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import BOB_DM, LEADS, setup_pair
from tests.test_flow_mydata import strings_in_database

ALICE = ("UALICE", "Alice", "career")  # her zone is Carol's too in the fake


async def test_forget_me_on_slack_asks_then_erases_and_bob_hears_neutrally(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UALICE", "profile --interests python,career")
    reply = await slack.command("UALICE", "my-data")
    assert "everything mentorbot holds about you" in reply["text"]
    reply = await slack.command("UALICE", "forget-me")
    assert "This erases you from mentorbot for good" in reply["text"]
    ephemeral = Posted("C-GENERAL", "0", reply["text"], reply["blocks"])
    hook = await slack.click("UALICE", ephemeral, "Erase my data")
    assert "Done: you have left every program" in slack.fake.replies(hook)[0]["text"]
    await slack.deliver()
    notice = slack.last(BOB_DM)
    assert "Your pairing in Spring has ended." in notice.text and "Alice" not in notice.text
    post = slack.find(LEADS, "Escalation #1")
    assert "former member #" in text_of(post.blocks) and "Alice" not in text_of(post.blocks)
    assert await strings_in_database(slack.bot, ALICE) == []


async def test_keep_my_data_on_slack_changes_nothing(slack: Slack) -> None:
    await setup_pair(slack)
    reply = await slack.command("UALICE", "forget-me")
    hook = await slack.click("UALICE", Posted("C-GENERAL", "0", reply["text"], reply["blocks"]), "Keep my data")
    assert "Nothing changed" in slack.fake.replies(hook)[0]["text"]
    assert await strings_in_database(slack.bot, ("UALICE",)) != []


async def test_an_account_slack_deleted_is_forgotten(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UALICE", "profile --interests python,career")
    gone = {**slack.fake.users["UALICE"], "deleted": True}
    assert await slack.event({"type": "user_change", "user": gone}, "EvGone") == 200
    await slack.deliver()
    assert "Your pairing in Spring has ended." in slack.last(BOB_DM).text
    assert await strings_in_database(slack.bot, ALICE) == []
