"""What chat platforms allow, shared by the Slack and Discord adapters: text clipped or split to a length
limit, and how long the core may take before an interaction has to be acknowledged."""

from __future__ import annotations

# Slack and Discord both want an interaction answered within 3 s; the core gets this much of it, then the
# adapter acknowledges ("working on it", a deferred reply) and answers when the core is done.
ACK_BUDGET = 2.0


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at line ends where it can be (a long report stays
    readable); parts that are only whitespace are left out, so empty text gives no parts."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one enormous line: cut it anywhere
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    return [p for p in [*parts, current] if p.strip()]


def file_size(size: int) -> str:
    """A file's size as people read it: 850 bytes, 12.3 KB, 10.5 MB (decimal units, as the platforms state
    their limits)."""
    if size < 1000:
        return f"{size:,} bytes"
    if size < 1_000_000:
        return f"{size / 1000:,.1f} KB"
    return f"{size / 1_000_000:,.1f} MB"
