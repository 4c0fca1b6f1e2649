"""Profile tags (topics, interests, languages): normalized once, stored comma separated, compared as sets."""

from __future__ import annotations

from collections.abc import Iterable

MAX_TAGS = 20
MAX_TAG_CHARS = 40


def normalize_tags(words: Iterable[str]) -> tuple[str, ...]:
    """Tags as matching compares them: lower case, inner spaces collapsed, empty ones and repeats dropped,
    in the order first given."""
    return tuple(dict.fromkeys(t for t in (" ".join(w.split()).casefold() for w in words) if t))


def parse_tags(text: str) -> tuple[str, ...] | None:
    """Comma-separated tags as typed, normalized; None when there are too many or one is too long."""
    tags = normalize_tags(text.split(","))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in tags):
        return None
    return tags


def stored(tags: Iterable[str]) -> str:
    """Tags as a profile column holds them."""
    return ",".join(tags)


def tags_of(column: str) -> tuple[str, ...]:
    """A profile column's tags, in order."""
    return tuple(t for t in column.split(",") if t)
