"""A recording Messenger for tests and benchmarks: remembers every send and edit, and can be told to fail."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.messages import Message
from bot.messenger import Delivered, DeliveryError, Destination, Profile


@dataclass
class Sent:
    key: str
    dest: Destination
    message: Message


@dataclass
class RecordingMessenger:
    platform: str = "console"
    sent: list[Sent] = field(default_factory=list)
    edits: list[tuple[str, Message]] = field(default_factory=list)
    # Called before each send; raise DeliveryError (or anything) to fail it.
    fail: Callable[[Destination, str], None] | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        if self.fail is not None:
            self.fail(dest, idempotency_key)
        self.sent.append(Sent(idempotency_key, dest, message))
        conversation = dest.ref or ("conv-" + "-".join(dest.members) if dest.kind == "pair" else None)
        return Delivered(f"msg-{next(self._ids)}", conversation if dest.kind == "pair" else None)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        self.edits.append((message_ref, message))

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        return Profile(user_id, user_id)

    def keys(self, prefix: str = "") -> list[str]:
        return [s.key for s in self.sent if s.key.startswith(prefix)]


def fail_times(n: int, *, retryable: bool = True, retry_after: float | None = None,
               when: Callable[[Destination, str], bool] = lambda d, k: True) -> Callable[[Destination, str], None]:
    """A `fail` hook that fails the first n matching sends."""
    left = [n]

    def hook(dest: Destination, key: str) -> None:
        if when(dest, key) and left[0] > 0:
            left[0] -= 1
            raise DeliveryError("simulated failure", retryable=retryable, retry_after=retry_after)

    return hook
