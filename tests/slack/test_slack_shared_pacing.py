"""Replicas share Slack's budget: pacers on one database book one sequence of slots, not one each."""

from __future__ import annotations

import asyncio

from adapters.slack.pacing import Pacer
from bot.send_slots import DatabaseSlots
from storage.db import Database
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
