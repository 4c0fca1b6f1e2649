"""Pacing for the bot's own sends: Slack's per-method tiers and about one message a second per conversation.

Each method (and each conversation, for posts) has a next-free moment; a caller reserves the next slot
without awaiting in between, so concurrent senders queue up instead of bursting into 429s."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from bot.send_slots import DatabaseSlots, MemorySlots, Slots
from storage.db import Database

# Calls per minute per workspace (Slack's "Web API Tier 3/4"; chat.postMessage is a special tier:
# about one a second per conversation and "several hundred a minute" per workspace, of which we use 300).
TIER_3, TIER_4 = 50, 100
PER_MINUTE: dict[str, int] = {
    "chat.postMessage": 300,
    "chat.update": TIER_3,
    "conversations.open": TIER_3,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,  # a file for the person who asked (adapters/slack/files.py)
    "files.completeUploadExternal": TIER_4,
}
PER_CONVERSATION_SECONDS = 1.0
# Tier limits are averages with bursts allowed: the first calls of a quiet minute go out at once. Slack
# tolerates more; a smaller burst here leaves slack for network jitter bunching requests on arrival.
BURST = 3


def shared_pacer(db: Database, bot_token: str) -> Pacer:
    """The pacer `mentorbot run` uses: reservations in the database on wall time, so every replica with this
    token draws on one budget. The scope is a digest of the token (never the token): one budget per app install."""
    scope = "slack:" + hashlib.sha256(bot_token.encode()).hexdigest()[:16]
    return Pacer(monotonic=time.time, slots=DatabaseSlots(db, scope))


class Pacer:
    """Waits before a call until Slack's limits allow it. Time functions are injected for tests and benches; the
    reservations too: in memory by default, shared through the database (bot.send_slots) when replicas run."""

    def __init__(
        self,
        per_minute: dict[str, int] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        slots: Slots | None = None,
    ) -> None:
        self.per_minute = PER_MINUTE if per_minute is None else per_minute
        self.monotonic = monotonic
        self.sleep = sleep
        self.slots: Slots = slots or MemorySlots()

    async def reserve(self, method: str, conversation: str | None) -> float:
        """Book the next slot for this call (a GCRA per key); returns how long to wait for it."""
        now = self.monotonic()
        interval, tolerance = self._method_spacing(method)
        keys = [(method, interval, tolerance)]  # key, interval, burst tolerance
        if conversation and method == "chat.postMessage":
            keys.append((f"conversation:{conversation}", PER_CONVERSATION_SECONDS, 0.0))
        return await self.slots.reserve(keys, now) - now

    def _method_spacing(self, method: str) -> tuple[float, float]:
        rate = self.per_minute.get(method)
        interval = 60.0 / rate if rate else 0.0  # unpaced methods still honour a Retry-After
        return interval, (BURST - 1) * interval

    async def wait(self, method: str, conversation: str | None = None) -> None:
        """Return when a call to `method` (posting into `conversation`) is within the limits."""
        delay = await self.reserve(method, conversation)
        if delay > 0:
            await self.sleep(delay)

    async def back_off(self, method: str, seconds: float) -> None:
        """Slack said Retry-After: no call to this method before then (on every replica sharing the slots)."""
        await self.slots.defer(method, self.monotonic() + seconds + self._method_spacing(method)[1])
