"""What a flow gets to work with: the runtime (database, defaults), the open transaction, now, who acted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

import prompts
from bot.directory import member_tz
from bot.foreground import Foreground
from bot.messages import Message, Response
from bot.periods import local
from storage.db import Database
from storage.models import Member, Workspace


@dataclass(frozen=True)
class Runtime:
    """Process-wide things flows and sweeps need; no platform in sight."""

    db: Database
    default_tz: str = "UTC"
    lang: str = prompts.DEFAULT_LANGUAGE
    # Every feature's on_met hooks (bot/feature.py MetHook), handed in by the core so flows need not import
    # the feature registry (which imports them).
    after_met: tuple[Callable[..., Awaitable[None]], ...] = ()
    foreground: Foreground = field(default_factory=Foreground)  # sweeps' extra workers yield to people

    def t(self, key: str, /, **params: Any) -> str:
        return prompts.say(key, self.lang, **params)

    def tz(self, member: Member) -> str:
        return member_tz(member, self.default_tz)

    def when(self, dt: datetime, member: Member) -> str:
        """A moment as the member reads it: weekday, date and time in their zone."""
        tz = self.tz(member)
        return self.t("time.local", when=local(dt, tz).strftime("%a %d %b %Y, %H:%M"), tz=tz)


@dataclass
class Ctx:
    """One inbound event being handled, inside its transaction."""

    rt: Runtime
    session: AsyncSession
    now: datetime
    ws: Workspace
    me: Member

    def t(self, key: str, /, **params: Any) -> str:
        return self.rt.t(key, **params)

    def reply(self, key: str, /, **params: Any) -> Response:
        """A one-message ephemeral answer."""
        return Response([Message(self.t(key, **params))])
