"""The concrete chat platform adapters that `mentorbot run` and `mentorbot doctor` know about."""

from __future__ import annotations

from adapters.platform import Platform


def platforms() -> list[Platform]:
    """Every adapter, imported only when asked for so the console starts without the SDKs."""
    from adapters.discord import PLATFORM as DISCORD
    from adapters.slack import PLATFORM as SLACK

    return [SLACK, DISCORD]
