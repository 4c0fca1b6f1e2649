"""The Messenger port: how the core reaches people outside a direct reply. One per platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.messages import Message


@dataclass(frozen=True)
class Destination:
    """Where a message goes. `kind` is user, pair or channel.

    user: `ref` is the user's platform id. pair: `members` are both platform ids and `ref`
    the shared conversation once one exists; `home` is the program's pairs channel, where a
    platform without group DMs opens that conversation. channel: `ref` is the channel reference.
    """

    kind: str
    workspace: str
    ref: str | None
    members: tuple[str, ...] = ()
    home: str | None = None


@dataclass(frozen=True)
class Delivered:
    message_ref: str
    conversation_ref: str | None = None  # set when the messenger opened a conversation


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    tz: str | None = None
    is_admin: bool = False


class DeliveryError(Exception):
    """A send failed. `retryable` says whether trying again later can help; `conversation_ref` names a
    pair's conversation the messenger opened before failing, so the retry posts there instead of
    opening another. `code` is the platform's short error code, for metrics labels (the reason is a sentence)."""

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None,
                 conversation_ref: str | None = None, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.conversation_ref = conversation_ref


class ProfileUnavailable(Exception):
    """The platform could not say who a user is right now (down, slow, or an answer it could not read)."""


class Messenger(Protocol):
    platform: str

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        """Post a message; open the pair's shared conversation first when it has none."""
        ...

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        """Replace a message the bot posted earlier."""
        ...

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        """The platform's profile of a user, or None if there is no such user; ProfileUnavailable when the
        platform cannot answer now."""
        ...
