"""A subcommand's arguments as the core's flows read them, and the checks for ids and numbers they share."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Args:
    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    def rest(self, start: int = 0) -> str:
        return " ".join(self.words[start:]).strip()


def as_id(text: str) -> int | None:
    """A row id as typed (`3`, `#3`) or carried by a button; None for anything else, however odd."""
    text = text.removeprefix("#")
    # isdecimal, not isdigit: "²" is a digit int() refuses; nine digits fit any integer column.
    return int(text) if text.isdecimal() and len(text) < 10 else None


def as_int_in(text: str, low: int, high: int) -> int | None:
    """A whole number from low to high, or None."""
    value = as_id(text) if not text.startswith("#") else None
    return value if value is not None and low <= value <= high else None
