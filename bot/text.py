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
    """An inbound event (or actor) with every string in it cleaned: texts, values, names, ids (itself if all were clean)."""
    if not is_dataclass(event) or isinstance(event, type):
        return event
    changes = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if (cleaned := _clean_value(value)) is not value:
            changes[f.name] = cleaned
    # Almost every event is clean already: it is passed on as it is, not copied.
    return replace(event, **changes) if changes else event  # type: ignore[type-var]


def _clean_value(value: Any) -> Any:
    """`value` cleaned; the very same object when there was nothing to clean."""
    if isinstance(value, str):
        return clean(value) if _CONTROL.search(value) else value  # \r is a control character too
    if isinstance(value, tuple | frozenset):
        cleaned: Any = type(value)(_clean_value(v) for v in value)
    elif isinstance(value, dict):
        cleaned = {_clean_value(k): _clean_value(v) for k, v in value.items()}
    else:
        return clean_event(value)
    return value if cleaned == value else cleaned
