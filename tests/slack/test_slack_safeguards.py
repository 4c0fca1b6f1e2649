"""The never-again rule through Slack: the slash command's text reaches the core's parser, which refuses
two people whose pair went wrong and takes `--force "reason"` (audited) to pair them anyway."""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import AuditLog, Pair, PairStatus
from tests.slack.conftest import Slack
from tests.slack.test_slack_stories import setup_pair


async def test_pair_refuses_a_pairing_that_went_wrong_unless_forced(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UALICE", "rematch we never click")
    assert "ended" in (await slack.command("UCAROL", "unpair 1 rematch granted"))["text"]

    refused = await slack.command("UCAROL", "pair <@UBOB|bob> <@UALICE|alice>")
    assert refused["response_type"] == "ephemeral"
    assert "Bob and Alice were paired before (#1)" in refused["text"]
    assert "after a rematch request" in refused["text"] and '--force "reason"' in refused["text"]

    # Slack sends curly quotes from some clients; the reason survives either way.
    forced = await slack.command("UCAROL", "pair <@UBOB|bob> <@UALICE|alice> --force “they asked to retry”")
    assert "Paired #2: Bob and Alice" in forced["text"] and "audit log" in forced["text"]
    async with slack.bot.db.transaction() as s:
        statuses = (await s.exec(select(Pair.status).order_by(col(Pair.id)))).all()
        audit = (await s.exec(select(AuditLog.detail).where(AuditLog.action == "pair.force"))).one()
    assert list(statuses) == [PairStatus.ENDED, PairStatus.ACTIVE]
    assert audit == "#2 Bob & Alice overriding never_again after #1 (rematch): they asked to retry"
