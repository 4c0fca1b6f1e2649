"""Normalized inbound events: what every adapter hands the core."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """Who did something, as the platform knows them."""

    platform: str
    workspace_id: str
    user_id: str
    display_name: str = ""
    tz: str | None = None  # IANA zone, when the platform knows it
    # Workspace admin/owner: may create programs. None when this event cannot tell (a Discord button
    # in a DM carries no server permissions): the last known answer stands.
    is_admin: bool | None = False


@dataclass(frozen=True)
class CommandEvent:
    """`/mentor <text>`; mentions arrive as <@USER_ID> or <@USER_ID|name>, channels as <#ID|name>."""

    actor: Actor
    text: str
    channel_ref: str | None = None
    event_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class Invocation:
    """`/mentor <path>` with its arguments already typed by the platform (Discord's options), so there is no
    text to parse: positional words in declared order, persons as <@ID|name>, channels as <#ID|name>."""

    actor: Actor
    path: tuple[str, ...]
    words: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    channel_ref: str | None = None
    event_id: str | None = None

    @property
    def size(self) -> int:
        """How many characters of values it carries (held to the same limit as a typed command)."""
        return sum(map(len, (*self.path, *self.words, *self.options.values())))


@dataclass(frozen=True)
class ActionEvent:
    """A button press: the action id and value the core put on the button."""

    actor: Actor
    action_id: str
    value: str
    event_id: str | None = None


@dataclass(frozen=True)
class FormSubmission:
    """A filled form; `form_id` and `state` are what the core put on the Form."""

    actor: Actor
    form_id: str
    state: str
    values: dict[str, str] = field(default_factory=dict)
    event_id: str | None = None


@dataclass(frozen=True)
class MemberLeft:
    """The platform says this person left the workspace, or (`deleted`) that their account is gone: then
    mentorbot forgets them as `/mentor forget-me` does (bot/flows/mydata.py)."""

    actor: Actor
    event_id: str | None = None
    deleted: bool = False


Event = CommandEvent | Invocation | ActionEvent | FormSubmission | MemberLeft
