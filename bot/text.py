"""Text from people, cleaned the same way for every platform and database before the core reads or stores it."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

# A command's text may be this long (Slack's own text inputs stop at 3,000 characters); longer gets a reply
# saying so, before any parsing, so no step of handling a command grows with a pasted essay.
MAX_COMMAND_CHARS = 4000
# C0 and C1 control characters and DEL, except tab and newline. NUL in particular: PostgreSQL refuses it in
# text ("invalid byte sequence for encoding UTF8: 0x00") where SQLite stores it, so it never gets that far.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

E = TypeVar("E")


def clean(text: str) -> str:
    """`text` without control characters; line breaks of any kind become newlines."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_event(event: E) -> E:
    """A copy of an inbound event (or actor) with every string in it cleaned: texts, values, names, ids."""
    if not is_dataclass(event) or isinstance(event, type):
        return event
    changes = {f.name: _clean_value(getattr(event, f.name)) for f in fields(event)}
    return replace(event, **changes)  # type: ignore[type-var]


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, tuple | frozenset):
        return type(value)(_clean_value(v) for v in value)
    if isinstance(value, dict):
        return {_clean_value(k): _clean_value(v) for k, v in value.items()}
    return clean_event(value)
