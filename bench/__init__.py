"""Benchmarks: speed is measured here, not asserted in timed tests (DESIGN.md, "Testing").

Run them from a checkout (`python bench/<name>.py`): each puts the checkout on sys.path first, so they
can import this package and the tests' fake Slack."""

from __future__ import annotations

from typing import Any


def fake_slack(team: str, **options: Any) -> Any:
    """The tests' fake Slack Web API for workspace `team` (not started); `options` go to FakeSlack,
    e.g. the rate limits it enforces. It lives with the tests, so it is imported from the checkout."""
    from tests.slack.fake_slack import FakeSlack

    return FakeSlack(team=team, **options)
