"""`/mentor match` through Slack: the proposal lands in the coordinator's DM with Block Kit buttons, clicks
approve and skip, the approved pair's intro opens a group DM, and members see nothing before approval."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Pair, PairStatus
from tests.slack.conftest import Slack, text_of

CAROL_DM = "DCAROL"


async def test_match_proposal_approve_skip_and_intro_on_slack(slack: Slack) -> None:
    slack.adapter.ack_budget = 60.0  # the first match starts the worker process: answer in the ack regardless
    slack.fake.add_user("UEVA", "Eva", "Asia/Seoul")
    await slack.command("UCAROL", "program create Spring --day mon --time 10:00")
    for user, role in (("UBOB", "mentor"), ("UDAN", "mentor"), ("UALICE", "mentee"), ("UEVA", "mentee")):
        await slack.command(user, f"join {role}")
    await slack.command("UBOB", "profile --interests python,music")
    await slack.command("UALICE", "profile --interests python,career")
    await slack.command("UDAN", "profile --interests cooking")
    await slack.command("UEVA", "profile --interests cooking")
    reply = await slack.command("UCAROL", "match")
    assert "Proposal #1 for Spring: 2 pair(s), 0 left unmatched" in reply["text"]
    await slack.deliver()
    post = slack.last(CAROL_DM)
    shown = text_of(post.blocks)
    assert "#1 Bob (mentor) &amp; Alice (mentee)" in shown and "interests python" in shown
    assert "#2 Dan (mentor) &amp; Eva (mentee)" in shown and "interests cooking" in shown
    assert not slack.fake.called("conversations.open")  # nobody is introduced before approval

    hook = await slack.click("UCAROL", post, "Approve #1")
    assert "Approved #1" in slack.fake.replies(hook)[0]["text"]
    await slack.deliver()
    assert "You have been matched in Spring" in slack.last("GALICEBOB").text
    post = slack.last(CAROL_DM)
    hook = await slack.click("UCAROL", post, "Skip #2")
    assert "Skipped #2" in slack.fake.replies(hook)[0]["text"]
    await slack.deliver()
    assert post.edits >= 2 and "This proposal is closed." in text_of(post.blocks)
    assert not [b for b in post.blocks if b["type"] == "actions"]
    assert not [p for p in slack.fake.messages if p[0] in ("DEVA", "DDAN", "GDANEVA")]
    async with slack.bot.db.transaction() as s:
        statuses = [p.status for p in (await s.exec(select(Pair).order_by(Pair.id))).all()]  # type: ignore[arg-type]
    assert statuses == [PairStatus.ACTIVE, PairStatus.SKIPPED]
