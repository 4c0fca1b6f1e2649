"""Replicas share Slack's budget: pacers on one database book one sequence of slots, not one each."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from adapters.slack.pacing import Pacer
from bot.send_slots import DatabaseSlots
from storage.db import Database
from storage.models import SendSlot
from tests.slack.conftest import FakeTime

ONE_A_SECOND = {"chat.postMessage": 60}  # a burst of 3, then one a second


async def test_two_replicas_reserve_interleaved_slots_not_the_same_ones(db: Database) -> None:
    t = FakeTime()
    other_db = Database(db.url)  # the second replica's own engine
    try:
        one, two = (Pacer(ONE_A_SECOND, monotonic=t.monotonic, sleep=t.sleep, slots=DatabaseSlots(d, "slack:T1"))
                    for d in (db, other_db))
        # Eight posts to eight conversations at the same moment, four from each replica, all at once.
        waits = await asyncio.gather(*((one if i % 2 else two).reserve("chat.postMessage", f"G{i}") for i in range(8)))
        assert sorted(waits) == [0, 0, 0, 1, 2, 3, 4, 5]
        # Taking turns through time: the two together keep to the rate one alone would.
        starts = []
        t.now += 100
        for i in range(6):
            await (one if i % 2 else two).wait("chat.postMessage", f"H{i}")
            starts.append(t.now - 1100)
        assert starts == [0, 0, 0, 1, 2, 3]
        # One conversation: a second apart whichever replica posts.
        await one.wait("chat.postMessage", "G9")
        posted = t.now
        await two.wait("chat.postMessage", "G9")
        assert t.now - posted >= 1.0
        # A Retry-After one replica was told holds the other back too.
        await one.back_off("chat.postMessage", 30)
        before = t.now
        await two.wait("chat.postMessage", "G10")
        assert t.now - before >= 30
    finally:
        await other_db.close()


async def test_a_workspaces_budget_is_its_own(db: Database) -> None:
    t = FakeTime()
    first, second = (Pacer(ONE_A_SECOND, monotonic=t.monotonic, sleep=t.sleep, slots=DatabaseSlots(db, scope))
                     for scope in ("slack:T1", "slack:T2"))
    waits = [await p.reserve("chat.postMessage", f"G{i}") for i in range(3) for p in (first, second)]
    assert waits == [0] * 6


async def test_keys_whose_time_has_passed_are_pruned_within_their_scope(db: Database) -> None:
    ours, theirs = DatabaseSlots(db, "slack:T1"), DatabaseSlots(db, "slack:T2")
    post = ("chat.postMessage", 1.0, 3.0)
    assert await ours.reserve([post, ("G1", 1.0, 0.0)], 0.0) == 0.0
    assert await theirs.reserve([post, ("G1", 1.0, 0.0)], 0.0) == 0.0
    assert await ours.reserve([post, ("G1", 1.0, 0.0)], 0.0) == 1.0  # the conversation's second post waits
    # A minute on, the old keys book like missing ones: T1's are deleted as it books, T2's are not T1's to touch.
    assert await ours.reserve([post, ("G2", 1.0, 0.0)], 100.0) == 100.0
    async with db.read() as s:
        keys = sorted((await s.exec(select(SendSlot.key))).all())
    assert keys == ["slack:T1:G2", "slack:T1:chat.postMessage", "slack:T2:G1", "slack:T2:chat.postMessage"]
