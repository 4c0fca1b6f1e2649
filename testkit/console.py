"""The console script runner: feed console lines to a `Console` and get back what they printed.

Works without pytest (tests wrap it in the `run` fixture); `SETUP` is the usual opening scene."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.console import Console

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday: the manual clock's start in tests


class Script:
    """Runs console lines and hands back what they printed."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def __call__(self, text: str) -> str:
        """Run the lines of `text`; fails (AssertionError with the output) if any line was an error."""
        start = len(self.console.transcript.lines)
        lines = [line.strip() for line in text.strip().splitlines()]
        errors = await self.console.run_script(lines)
        out = "\n".join(self.console.transcript.lines[start:])
        if errors:  # an explicit raise, so it still fails under python -O
            raise AssertionError(out)
        return out

    @property
    def all(self) -> str:
        """Everything the console printed so far."""
        return self.console.transcript.text


SETUP = """
admin carol
@carol /mentor program create Spring --day mon --time 10:00
@carol /mentor channel #leads
@bob /mentor join mentor
@bob /mentor profile --tz Europe/Berlin --interests python,music
@alice /mentor join mentee
@alice /mentor profile --tz America/New_York --interests python,career --goals "First dev job"
"""
