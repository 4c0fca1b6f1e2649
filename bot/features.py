"""The one list of features. Adding a feature is a new module in bot/flows/ and one line here; the core,
`/mentor help`, every adapter's commands and the home page follow from what the modules declare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from bot.feature import ActionHandler, Feature, FormHandler, MetHook, Subcommand, Sweep
from bot.flows import (
    blocks,
    checkin,
    coordinator,
    escalation,
    feedback,
    goals,
    health,
    housekeeping,
    impact,
    matching,
    membership,
    mydata,
    report,
)

# In this order: subcommands are listed (member ones, then coordinator ones) and sweeps run.
FEATURES: tuple[Feature, ...] = (
    membership.feature,
    blocks.feature,
    checkin.feature,
    # Before feedback: its fit check goes out before the rating, so the rating stays the newest question.
    health.feature,
    feedback.feature,
    goals.feature,
    escalation.feature,
    coordinator.feature,
    matching.feature,
    report.feature,
    mydata.feature,
    impact.feature,
    housekeeping.feature,
)


@dataclass(frozen=True)
class Registry:
    """Every feature's declarations, gathered; a name declared twice is a mistake found at start-up."""

    subcommands: tuple[Subcommand, ...]
    actions: dict[str, ActionHandler]
    forms: dict[str, FormHandler]
    sweeps: tuple[Sweep, ...]
    after_met: tuple[MetHook, ...] = ()

    @classmethod
    def of(cls, features: tuple[Feature, ...]) -> Registry:
        subcommands = tuple(sub for f in features for sub in f.subcommands)
        actions: dict[str, ActionHandler] = {}
        forms: dict[str, FormHandler] = {}
        for f in features:
            _merge(actions, f.actions, f.name)
            _merge(forms, f.forms, f.name)
        sweeps = tuple(sweep for f in features for sweep in f.sweeps)
        argument_names = [[f"{s.name} {a.name}" for a in s.arguments] for s in subcommands]
        nested_names = [" ".join(s.grouped or s.path) for s in subcommands]
        for names in ([s.name for s in subcommands], nested_names, [s.name for s in sweeps], *argument_names):
            if dupes := {n for n in names if names.count(n) > 1}:
                raise ValueError(f"declared twice: {sorted(dupes)}")
        return cls(subcommands, actions, forms, sweeps, tuple(h for f in features for h in f.after_met))

    def nested(self, sub: Subcommand) -> tuple[str, ...]:
        """Its path where a platform nests families of subcommands (see Subcommand.grouped)."""
        return sub.grouped or sub.path

    @property
    def groups(self) -> frozenset[str]:
        """First words that only start longer subcommands (`program` of `program create`)."""
        return frozenset(sub.path[0] for sub in self.subcommands if len(sub.path) > 1)

    def find(self, words: list[str]) -> tuple[Subcommand | None, int]:
        """The subcommand the first words name, and how many words that took."""
        lowered = [w.lower() for w in words]
        for sub in self.subcommands:
            if tuple(lowered[: len(sub.path)]) == sub.path:
                return sub, len(sub.path)
        return None, 0


V = TypeVar("V")


def _merge(into: dict[str, V], new: dict[str, V], feature: str) -> None:
    if clash := set(into) & set(new):
        raise ValueError(f"feature {feature} declares {sorted(clash)} again")
    into.update(new)


REGISTRY = Registry.of(FEATURES)
