"""Every `/mentor` subcommand: its words, options, who may run it, and the flow that handles it.
Usage and help texts live in prompts/ under usage.<name> and help.<name>."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.commands.parser import Args
from bot.context import Ctx
from bot.flows import checkin, coordinator, escalation, membership, report
from bot.messages import Response

Handler = Callable[[Ctx, Args], Awaitable[Response]]
SCHEDULE = frozenset({"cadence", "day", "time", "tz", "threshold"})


@dataclass(frozen=True)
class Subcommand:
    path: tuple[str, ...]
    handler: Handler
    coordinator: bool = False
    options: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def key(self) -> str:
        return "_".join(self.path)


P = frozenset({"program"})
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(("join",), membership.join, options=P),
    Subcommand(("profile",), membership.profile, options=frozenset({"tz", "interests", "goals", "capacity"})),
    Subcommand(("status",), membership.status),
    Subcommand(("pause",), membership.pause),
    Subcommand(("resume",), membership.resume),
    Subcommand(("leave",), membership.leave, options=P),
    Subcommand(("checkin",), checkin.log_meeting, options=frozenset({"pair"})),
    Subcommand(("problem",), escalation.problem_command, options=frozenset({"pair", "program"})),
    Subcommand(("rematch",), escalation.rematch_command, options=frozenset({"pair"})),
    Subcommand(("program", "create"), coordinator.program_create, True, SCHEDULE),
    Subcommand(("program", "set"), coordinator.program_set, True, SCHEDULE | P),
    Subcommand(("program", "list"), coordinator.program_list),
    Subcommand(("coordinators",), coordinator.coordinators, True, P),
    Subcommand(("channel",), coordinator.channel, True, P, frozenset({"pairs"})),
    Subcommand(("pair",), coordinator.pair, True, P | {"force"}),
    Subcommand(("unpair",), coordinator.unpair, True, P),
    Subcommand(("pairs",), coordinator.pairs, True, P, frozenset({"at-risk", "all"})),
    Subcommand(("people",), coordinator.people, True, P, frozenset({"unmatched"})),
    Subcommand(("escalations",), coordinator.escalations, True, P, frozenset({"all"})),
    Subcommand(("ack",), coordinator.ack, True),
    Subcommand(("resolve",), coordinator.resolve_command, True),
    Subcommand(("nudge",), coordinator.nudge, True, P),
    Subcommand(("report",), report.report, True, P),
)
GROUPS = {sub.path[0] for sub in SUBCOMMANDS if len(sub.path) > 1}
