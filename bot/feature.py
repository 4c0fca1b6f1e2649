"""What a feature module declares: its `/mentor` subcommands (with typed arguments), its button actions, its
forms and its sweeps. The core, `/mentor help`, the text parser, Discord's application commands and the home
page are all built from these declarations; nothing else lists them.

Help and usage texts live in prompts/ under usage.<key> and help.<key>; an argument's description under
arg.<help>."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.args import Args
from bot.context import Ctx, Runtime
from bot.messages import Response

if TYPE_CHECKING:
    from storage.models import Checkin, Pair, Program


class Kind(StrEnum):
    """What an argument holds; each platform offers the matching input (a member picker, a list, a number)."""

    PERSON = "person"
    CHANNEL = "channel"
    PROGRAM = "program"
    PAIR = "pair"
    ESCALATION = "escalation"
    TEXT = "text"
    INT = "int"
    CHOICE = "choice"
    DATE = "date"
    TIME = "time"  # a time of day, HH:MM
    TZ = "tz"
    FLAG = "flag"


# Values of these kinds never hold a space, so `--pair 2 he never shows up` still leaves the words as words.
ONE_WORD = frozenset({Kind.PAIR, Kind.ESCALATION, Kind.INT, Kind.CHOICE, Kind.TIME, Kind.DATE})


class Access(StrEnum):
    """Who may run a subcommand. The flow checks it against the program; this drives help and listings."""

    MEMBER = "member"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Arg:
    """One argument: positional (in `Subcommand.args`, in order) or an option/flag (in `Subcommand.options`)."""

    name: str
    kind: Kind
    required: bool = False
    help: str = ""  # prompts key under arg.; the name when empty
    choices: tuple[str, ...] = ()  # CHOICE: the accepted values; their labels are prompts choice_prompts.<value>
    choice_prompts: str = ""  # prompts table naming the choices (cadence, weekday), or "" to show the values
    low: int | None = None  # INT: the accepted range
    high: int | None = None
    also: str = ""  # PAIR: one more word accepted instead of a pair (nudge's "all")

    @property
    def described_as(self) -> str:
        """Its description's key under arg. in prompts/."""
        return self.help or self.name


Handler = Callable[[Ctx, Args], Awaitable[Response]]
ActionHandler = Callable[[Ctx, str], Awaitable[Response]]  # (ctx, the value on the button)
FormHandler = Callable[[Ctx, str, dict[str, str]], Awaitable[Response]]  # (ctx, state, values)
SweepFn = Callable[[Runtime, datetime], Awaitable[object]]
# (session, runtime, now, program, pair, check-in): what follows a check-in answered "met", in its transaction.
MetHook = Callable[[AsyncSession, Runtime, datetime, "Program", "Pair", "Checkin"], Awaitable[None]]
NextFn = Callable[[Runtime, datetime], Awaitable[datetime | None]]


@dataclass(frozen=True)
class Subcommand:
    path: tuple[str, ...]
    handler: Handler
    access: Access = Access.MEMBER
    args: tuple[Arg, ...] = ()
    options: tuple[Arg, ...] = ()
    # Where a platform caps how many subcommands one command lists (Discord: 25), this one is offered
    # nested as (group, name), with its family: `escalations`, `ack`, `resolve` as `escalations list|ack|resolve`.
    grouped: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def key(self) -> str:
        return "_".join(self.path)

    @property
    def coordinator(self) -> bool:
        return self.access is Access.COORDINATOR

    @property
    def arguments(self) -> tuple[Arg, ...]:
        """Its positional arguments, then its options and flags."""
        return (*self.args, *self.options)

    def argument(self, name: str) -> Arg | None:
        """The argument, option or flag called `name`, if this subcommand takes it."""
        return next((a for a in self.arguments if a.name == name), None)


@dataclass(frozen=True)
class Sweep:
    name: str
    run: SweepFn
    next_at: NextFn | None  # None: another sweep's next_at covers it


F = TypeVar("F")


@dataclass
class Feature:
    """One feature's declarations, filled by the decorators in its module (in the spirit of a discord.py Cog)."""

    name: str
    subcommands: list[Subcommand] = field(default_factory=list)
    actions: dict[str, ActionHandler] = field(default_factory=dict)
    forms: dict[str, FormHandler] = field(default_factory=dict)
    sweeps: list[Sweep] = field(default_factory=list)
    after_met: list[MetHook] = field(default_factory=list)

    def command(self, *path: str, access: Access = Access.MEMBER, args: tuple[Arg, ...] = (),
                options: tuple[Arg, ...] = (), grouped: tuple[str, str] | None = None) -> Callable[[Handler], Handler]:
        """Declare the decorated flow as `/mentor <path>`, with its typed arguments and options."""
        def register(handler: Handler) -> Handler:
            self.subcommands.append(Subcommand(path, handler, access, args, options, grouped))
            return handler
        return register

    def action(self, *action_ids: str) -> Callable[[ActionHandler], ActionHandler]:
        """Declare the decorated flow as what the buttons carrying these action ids do."""
        def register(handler: ActionHandler) -> ActionHandler:
            for action_id in action_ids:
                self.actions[action_id] = handler
            return handler
        return register

    def form(self, form_id: str) -> Callable[[FormHandler], FormHandler]:
        """Declare the decorated flow as what a submitted form `form_id` does."""
        def register(handler: FormHandler) -> FormHandler:
            self.forms[form_id] = handler
            return handler
        return register

    def on_met(self, hook: MetHook) -> MetHook:
        """Declare what follows a check-in answered "met" (a rating request, ...), in the answer's transaction;
        the features' hooks run in the order features are listed."""
        self.after_met.append(hook)
        return hook

    def sweep(self, name: str, run: SweepFn, next_at: NextFn | None = None) -> None:
        """Declare periodic work; a feature's sweeps run in the order they are declared."""
        self.sweeps.append(Sweep(name, run, next_at))


# Options many subcommands share.
PROGRAM = Arg("program", Kind.PROGRAM)
PAIR = Arg("pair", Kind.PAIR)
