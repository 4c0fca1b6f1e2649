"""Nothing twice, nothing lost: the outbox under restarts, concurrent sweeps, downtime and failing sends."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import ManualClock
from bot.core import MentorBot
from bot.delivery import MAX_ATTEMPTS
from bot.flows import checkin
from bot.foreground import QUIET, Foreground
from bot.messages import Message
from bot.messenger import DeliveryError, Destination
from bot.outbox import enqueue
from storage.db import Database
from storage.models import Escalation, EscalationKind, Outbox, OutboxKind, OutboxStatus
from testkit.console import SETUP, Script
from testkit.messenger import RecordingMessenger, fail_times

PAIRS = """
@erin /mentor join mentor
@dave /mentor join mentee
@carol /mentor pair @bob @alice
@carol /mentor pair @erin @dave
"""
NUDGE_AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # after both pairs' Monday 10:00 local


async def setup_pairs(run: Script) -> None:
    await run(SETUP + PAIRS)


def replace_messenger(bot: MentorBot) -> RecordingMessenger:
    recorder = RecordingMessenger()
    bot.add_messenger(recorder)
    return recorder


async def outbox(db: Database, prefix: str) -> list[Outbox]:
    async with db.transaction() as s:
        return list((await s.exec(select(Outbox).where(Outbox.key.startswith(prefix)))).all())  # type: ignore[attr-defined]


async def test_a_second_process_on_the_same_database_sends_no_duplicate(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    first = replace_messenger(bot)
    clock.set(NUDGE_AT)
    await bot.run_sweeps()  # planned, then the process dies before delivering
    other_db = Database(db.url)
    restarted = MentorBot(other_db, clock)
    second = RecordingMessenger()
    restarted.add_messenger(second)
    try:
        await restarted.tick()
        await restarted.tick()
        await bot.tick()
    finally:
        await other_db.close()
    assert sorted(second.keys("nudge:")) == ["nudge:1:2026-12-07", "nudge:2:2026-12-07"]
    assert first.keys("nudge:") == []


async def test_two_sweeps_at_once_send_each_nudge_once(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    first = replace_messenger(bot)
    other_db = Database(db.url)
    twin = MentorBot(other_db, clock)
    second = RecordingMessenger()
    twin.add_messenger(second)
    clock.set(NUDGE_AT)
    try:
        await asyncio.gather(bot.tick(), twin.tick(), bot.tick(), twin.tick())
    finally:
        await other_db.close()
    keys = first.keys("nudge:") + second.keys("nudge:")
    assert sorted(keys) == ["nudge:1:2026-12-07", "nudge:2:2026-12-07"]
    assert len(await outbox(db, "nudge:")) == 2


async def test_a_long_downtime_yields_one_catch_up_nudge(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    clock.advance(timedelta(days=23))  # three Mondays pass while the bot is down
    await bot.tick()
    await bot.tick()
    assert sorted(recorder.keys("nudge:")) == ["nudge:1:2026-12-21", "nudge:2:2026-12-21"]


async def test_failed_sends_are_retried_with_back_off_and_sent_once(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(2, when=lambda d, k: k.startswith("nudge:1:"))
    clock.set(NUDGE_AT)
    await bot.tick()
    [row] = await outbox(db, "nudge:1:")
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 1, "simulated failure")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    await bot.tick()  # not due yet: nothing happens
    assert row.attempts == 1 and recorder.keys("nudge:1:") == []
    clock.advance(timedelta(seconds=30))
    await bot.deliver()
    clock.advance(timedelta(seconds=60))  # the second back-off doubles
    await bot.deliver()
    await bot.deliver()
    assert recorder.keys("nudge:1:") == ["nudge:1:2026-12-07"]
    [row] = await outbox(db, "nudge:1:")
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)


async def test_retry_after_from_the_platform_is_respected(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(1, retry_after=7, when=lambda d, k: k.startswith("nudge:2:"))
    clock.set(NUDGE_AT)
    await bot.tick()
    [row] = await outbox(db, "nudge:2:")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=7)


async def test_a_send_that_keeps_failing_is_kept_and_surfaced_to_coordinators(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(100, when=lambda d, k: k.startswith("nudge:1:"))
    clock.set(NUDGE_AT)
    for _ in range(MAX_ATTEMPTS + 1):
        await bot.tick()
        clock.advance(timedelta(hours=2))
    [row] = await outbox(db, "nudge:1:")
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    async with db.transaction() as s:
        [esc] = (await s.exec(select(Escalation).where(Escalation.kind == EscalationKind.DELIVERY))).all()
    assert esc.pair_id == 1 and "simulated failure" in esc.reason
    posts = [s for s in recorder.sent if s.dest.kind == "channel" and s.key.startswith(f"escalation:{esc.id}@")]
    assert len(posts) == 1 and "could not be delivered" in str(posts[0].message.fields)


async def test_a_permanent_error_is_not_retried(run: Script, bot: MentorBot, db: Database, clock: ManualClock) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(100, retryable=False, when=lambda d, k: k.startswith("nudge:2:"))
    clock.set(NUDGE_AT)
    await bot.tick()
    [row] = await outbox(db, "nudge:2:")
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)


async def test_a_crashing_messenger_does_not_stop_the_other_sends(
    run: Script, bot: MentorBot, clock: ManualClock
) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)

    def boom(dest, key):  # type: ignore[no-untyped-def]
        if key.startswith("nudge:1:"):
            raise RuntimeError("bug in an adapter")

    recorder.fail = boom
    clock.set(NUDGE_AT)
    await bot.tick()
    assert recorder.keys("nudge:") == ["nudge:2:2026-12-07"]


async def test_an_edit_waits_for_the_message_it_edits(run: Script, bot: MentorBot, db: Database, clock: ManualClock) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(1, when=lambda d, k: k.startswith("nudge:1:"))
    clock.set(NUDGE_AT)
    await bot.tick()  # the nudge failed once and waits 30 s
    async with db.transaction() as s:
        [checkin_id] = (await s.exec(select(Outbox.payload).where(Outbox.key == "nudge:1:2026-12-07"))).all()
    value = checkin_id["buttons"][0]["value"]
    from bot.events import ActionEvent, Actor

    reply = await bot.handle(ActionEvent(Actor("console", "local", "alice", "alice"), "checkin.met", value))
    assert "recorded that you met" in reply.text
    await bot.deliver()
    assert recorder.edits == []  # the answer edit waits for its nudge
    clock.advance(timedelta(seconds=30))
    await bot.deliver()
    clock.advance(timedelta(seconds=30))
    await bot.deliver()
    assert recorder.keys("nudge:1:") == ["nudge:1:2026-12-07"]
    assert len(recorder.edits) == 1 and 'alice answered "met"' in recorder.edits[0][1].text


async def test_a_redelivered_event_has_one_effect_and_old_event_ids_are_forgotten(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    from bot.events import Actor, CommandEvent
    from storage.models import Member, ProcessedEvent

    event = CommandEvent(Actor("console", "local", "zoe", "zoe"), "join mentee", event_id="Ev1")
    await run("admin carol\n@carol /mentor program create Spring")
    first = await bot.handle(event)
    again = await bot.handle(event)  # the platform retried: nothing happens, nothing is said
    assert "Welcome to Spring" in first.text and again.messages == []
    async with db.transaction() as s:
        assert len((await s.exec(select(ProcessedEvent).where(ProcessedEvent.event_key == "console:local:Ev1"))).all()) == 1
    clock.advance(timedelta(days=8))
    await bot.run_sweeps()
    async with db.transaction() as s:
        assert (await s.exec(select(ProcessedEvent).where(ProcessedEvent.event_key == "console:local:Ev1"))).first() is None
        assert (await s.exec(select(Member).where(Member.external_id == "zoe"))).one()


async def test_a_process_without_a_platforms_messenger_leaves_its_messages_alone(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    other_db = Database(db.url)
    discord_only = MentorBot(other_db, clock)
    discord_only.add_messenger(RecordingMessenger(platform="discord"))
    clock.set(NUDGE_AT)
    try:
        await discord_only.tick()  # plans the console pairs' nudges but cannot send them
    finally:
        await other_db.close()
    rows = await outbox(db, "nudge:")
    assert len(rows) == 2 and all(r.status == OutboxStatus.PENDING and r.attempts == 0 for r in rows)
    recorder = replace_messenger(bot)
    await bot.deliver()
    assert sorted(recorder.keys("nudge:")) == ["nudge:1:2026-12-07", "nudge:2:2026-12-07"]


async def test_a_pairs_conversation_opens_in_the_programs_pairs_channel(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + "@carol /mentor channel #mentoring --pairs\n@carol /mentor channel #x --pairz")
    assert "New pairs in Spring will get their private thread in #mentoring" in out
    assert "I don't know the option --pairz." in out
    recorder = replace_messenger(bot)
    await run("@carol /mentor pair @bob @alice")
    await bot.deliver()
    intro = next(s for s in recorder.sent if s.dest.kind == "pair")
    assert (intro.dest.members, intro.dest.home) == (("bob", "alice"), "#mentoring")


async def test_an_escalation_the_coordinators_channel_refuses_reaches_them_by_dm(run: Script, bot: MentorBot) -> None:
    await setup_pairs(run)
    recorder = replace_messenger(bot)
    recorder.fail = fail_times(99, retryable=False, when=lambda dest, key: dest.kind == "channel")
    await run("@alice /mentor problem my mentor keeps cancelling")
    await bot.deliver()
    await bot.deliver()
    direct = [s for s in recorder.sent if s.key.startswith("escalation:1@channel:#leads@direct:")]
    assert [s.dest.ref for s in direct] == ["carol"]
    assert direct[0].message.text.startswith("I could not post this in the coordinators' channel #leads")
    assert "keeps cancelling" in str(direct[0].message.fields)
    assert not [s for s in recorder.sent if s.dest.ref in ("bob", "alice") and "cancelling" in str(s.message)]


async def test_direct_messages_and_edits_go_ahead_of_a_queued_fan_out(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await setup_pairs(run)
    await bot.deliver()  # the intros
    recorder = replace_messenger(bot)
    clock.set(NUDGE_AT)
    await bot.run_sweeps()  # both nudges queued
    async with db.transaction() as s:
        await enqueue(s, kind=OutboxKind.RESUMED, subject_id=1, key="late-dm", workspace_id=1, dest_kind="user",
                      target=1, message=Message("hi"), now=clock.now())
    await bot.deliverer.deliver_due(batch=1)
    assert recorder.keys()[0] == "late-dm"
    assert sorted(recorder.keys("nudge:")) == ["nudge:1:2026-12-07", "nudge:2:2026-12-07"]


async def test_a_conversation_opened_by_a_failed_send_is_reused_by_the_retry(
    run: Script, bot: MentorBot, clock: ManualClock
) -> None:
    await run(SETUP)
    recorder = replace_messenger(bot)
    failed = []

    def opened_then_failed(dest: Destination, key: str) -> None:
        if not failed:
            failed.append(dest.ref)
            raise DeliveryError("posting failed", conversation_ref="thread-1")

    recorder.fail = opened_then_failed
    await run("@carol /mentor pair @bob @alice")
    await bot.deliver()
    clock.advance(timedelta(hours=1))
    await bot.deliver()
    assert failed == [None]
    intro = next(s for s in recorder.sent if s.key.startswith("intro:"))
    assert intro.dest.ref == "thread-1"


class _SlowFirst(RecordingMessenger):
    """Dawdles over the first message to each user, letting the process's other batches run ahead of it."""

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str):  # type: ignore[no-untyped-def]
        if not any(s.dest == dest for s in self.sent):
            for _ in range(200):
                await asyncio.sleep(0)
        return await super().send(dest, message, idempotency_key=idempotency_key)


async def test_messages_to_one_person_go_in_queue_order_across_batches_in_flight(
    run: Script, bot: MentorBot, db: Database, clock: ManualClock
) -> None:
    await run(SETUP)
    await bot.deliver()
    recorder = _SlowFirst()
    bot.add_messenger(recorder)
    async with db.transaction() as s:  # three people, their messages spread over many batches of 5
        for i in range(60):
            await enqueue(s, kind=OutboxKind.RESUMED, subject_id=i, key=f"m:{i % 3 + 1}:{i:02}", workspace_id=1,
                          dest_kind="user", target=i % 3 + 1, message=Message(f"message {i}"), now=clock.now())
    assert await bot.deliverer.deliver_due(batch=5) == 60
    for member in (1, 2, 3):
        keys = recorder.keys(f"m:{member}:")
        assert len(keys) == 20 and keys == sorted(keys)


@pytest.mark.parametrize("people_waiting", [False, True])
async def test_planners_in_parallel_nudge_every_pair_once_whether_or_not_people_are_waiting(
    run: Script, bot: MentorBot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, people_waiting: bool
) -> None:
    await setup_pairs(run)
    await run("@fay /mentor join mentor\n@gus /mentor join mentee\n@hal /mentor join mentor\n@ivy /mentor join mentee\n"
              "@carol /mentor pair @fay @gus\n@carol /mentor pair @hal @ivy")
    await bot.deliver()
    recorder = replace_messenger(bot)
    monkeypatch.setattr(checkin, "PLAN_BATCH", 1)  # a batch per pair, shared among the planners
    bot.rt = replace(bot.rt, foreground=Foreground(lambda: 0.0))  # its own clock: busy or quiet for good
    if people_waiting:
        bot.rt.foreground.arrived()  # the extra planners stop before their first batch
    clock.set(NUDGE_AT)
    await bot.tick()
    await bot.tick()
    assert sorted(recorder.keys("nudge:")) == [f"nudge:{p}:2026-12-07" for p in (1, 2, 3, 4)]


def test_the_foreground_is_busy_until_quiet_for_a_while() -> None:
    now = [100.0]
    foreground = Foreground(lambda: now[0])
    assert not foreground.busy()
    foreground.arrived()
    now[0] += QUIET - 0.1
    assert foreground.busy()
    now[0] += 0.2
    assert not foreground.busy()
