"""What `mentorbot run`, `mentorbot doctor` and `mentorbot import` need from each chat platform adapter (types only).

The list of concrete adapters lives in adapters.registry, so that an adapter package can import these
types without this module importing it back.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from bot.core import MentorBot
from bot.signups import PeopleResolver


@dataclass(frozen=True)
class Check:
    """One line of `mentorbot doctor`: what was checked and whether it is fine."""

    ok: bool
    text: str


@dataclass(frozen=True)
class Platform:
    """An adapter as the process entry point sees it.

    `load` reads the adapter's settings: None when it is not configured at all, SettingsError when
    a setting is wrong. `serve` registers the adapter's messenger on the bot, then runs until
    cancelled. `doctor` checks the settings against the live platform. `people` opens the look-ups
    `mentorbot import` resolves sign-up rows with, for a workspace (None: the one the settings imply).
    """

    name: str
    load: Callable[[str | None], Any]
    serve: Callable[[MentorBot, Any], Coroutine[Any, Any, None]]
    doctor: Callable[[Any], Coroutine[Any, Any, list[Check]]]
    people: Callable[[Any, str | None], AbstractAsyncContextManager[PeopleResolver]]

