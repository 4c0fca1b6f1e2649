"""Sending through the Web API: rate limits, server errors and refusals become the right outbox outcome,
and sends are paced to Slack's limits (on fake time: nothing here sleeps)."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import select

from adapters.slack.messenger import delivery_error
from adapters.slack.pacing import Pacer
from bot.messages import Message
from bot.messenger import DeliveryError, Destination
from storage.models import Escalation, EscalationKind, Outbox, OutboxStatus
from tests.slack.conftest import FakeTime, Slack, text_of
from tests.slack.test_slack_stories import PAIR_DM, setup_pair


async def outbox(slack: Slack, key: str) -> Outbox:
    async with slack.bot.db.transaction() as s:
        return (await s.exec(select(Outbox).where(Outbox.key == key))).one()


async def test_a_429_is_waited_out_through_the_pacer_and_retried(slack: Slack) -> None:
    slack.fake.fail("conversations.open", status=429, retry_after=7)
    await setup_pair(slack)
    assert len(slack.fake.called("conversations.open")) == 2
    assert any(s >= 7 for s in slack.time.sleeps)  # fake time moved; the test did not wait
    assert (await outbox(slack, "intro:1")).status == OutboxStatus.SENT


async def test_a_429_that_persists_is_rescheduled_after_retry_after(slack: Slack) -> None:
    slack.fake.fail("conversations.open", status=429, retry_after=30, times=2)
    await setup_pair(slack)
    row = await outbox(slack, "intro:1")
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert (row.next_attempt_at - slack.bot.clock.now()).total_seconds() == 30
    assert "rate limiting" in (row.last_error or "")


async def test_a_500_is_retried_later(slack: Slack) -> None:
    slack.fake.fail("chat.postMessage", status=500, error="internal_error")
    await setup_pair(slack)
    row = await outbox(slack, "intro:1")
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and "internal_error" in (row.last_error or "")
    # The conversation was opened; the retry posts into it.
    slack.bot.clock.set(row.next_attempt_at)  # type: ignore[attr-defined]
    await slack.deliver()
    assert (await outbox(slack, "intro:1")).status == OutboxStatus.SENT
    assert len(slack.posts(PAIR_DM)) == 1


async def test_refusals_fail_at_once_and_reach_the_coordinators(slack: Slack) -> None:
    slack.fake.fail("chat.postMessage", error="channel_not_found", when=lambda p: p.get("channel") == PAIR_DM)
    await setup_pair(slack)
    row = await outbox(slack, "intro:1")
    assert row.status == OutboxStatus.FAILED and row.attempts == 1
    assert "no longer exists" in (row.last_error or "")
    await slack.deliver()
    async with slack.bot.db.transaction() as s:
        esc = (await s.exec(select(Escalation))).one()
    assert esc.kind == EscalationKind.DELIVERY
    post = slack.find("CLEADS", "Escalation #1")
    assert "channel_not_found" in text_of(post.blocks)


async def test_a_deactivated_member_s_dm_fails_with_a_clear_reason(slack: Slack) -> None:
    messenger = slack.adapter.messenger
    slack.fake.users["UBOB"]["deleted"] = True
    with pytest.raises(DeliveryError) as err:
        await messenger.send(Destination("user", "T1", "UBOB"), Message("hi"), idempotency_key="k")
    assert err.value.retryable is False and "deactivated" in err.value.reason
    # The bot was removed from a channel: not_in_channel.
    slack.fake.fail("chat.postMessage", error="not_in_channel")
    with pytest.raises(DeliveryError) as err:
        await messenger.send(Destination("channel", "T1", "CLEADS"), Message("hi"), idempotency_key="k2")
    assert err.value.retryable is False and "invite" in err.value.reason


async def test_connection_errors_are_retryable() -> None:
    err = delivery_error(ConnectionResetError("reset"))
    assert err.retryable and "ConnectionResetError" in err.reason


async def test_edits_use_the_message_s_own_conversation(slack: Slack) -> None:
    sent = await slack.adapter.messenger.send(Destination("user", "T1", "UALICE"), Message("one"),
                                              idempotency_key="k")
    assert sent.conversation_ref == "DALICE"
    await slack.adapter.messenger.update(Destination("user", "T1", "UALICE"), sent.message_ref, Message("two"))
    assert slack.fake.called("chat.update")[-1]["channel"] == "DALICE"
    assert slack.last("DALICE").text == "two"


async def test_posts_to_one_conversation_are_a_second_apart() -> None:
    t = FakeTime()
    pacer = Pacer(monotonic=t.monotonic, sleep=t.sleep)
    starts = []
    for _ in range(4):
        await pacer.wait("chat.postMessage", "G1")
        starts.append(t.now)
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts)] == [1.0, 1.0, 1.0]


async def test_a_method_tier_allows_a_burst_then_its_rate() -> None:
    t = FakeTime()
    pacer = Pacer({"conversations.open": 60}, monotonic=t.monotonic, sleep=t.sleep)
    starts = []
    for _ in range(8):
        await pacer.wait("conversations.open")
        starts.append(t.now - 1000)
    assert starts == [0, 0, 0, 1, 2, 3, 4, 5]
    await pacer.back_off("conversations.open", 30)
    await pacer.wait("conversations.open")
    assert t.now - 1000 >= 5 + 30
