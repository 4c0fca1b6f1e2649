"""The failure reasons /metrics labels sends with: the platform's error code out of the adapters' own sentences,
and never anything that would make one label per message."""

from __future__ import annotations

import pytest

import prompts
from bot import metrics


@pytest.mark.parametrize(("key", "params", "reason"), [
    ("slack.error_ratelimited", {}, "ratelimited"),
    ("slack.error_temporary", {"code": "internal_error"}, "internal_error"),
    ("slack.error_permanent", {"code": "channel_not_found"}, "channel_not_found"),
    ("slack.reason_not_in_channel", {"code": "not_in_channel"}, "not_in_channel"),
    ("slack.error_connection", {"error": "ClientConnectorError"}, "ClientConnectorError"),
    ("discord.delivery.unavailable", {"error": "503"}, "503"),
    ("slack.error_bad_ref", {"ref": "1764576000.123456"}, "other"),  # a message reference is not a reason
    ("slack.error_no_destination", {"kind": "pair"}, "other"),
])
def test_a_failure_is_labelled_by_its_error_code(key: str, params: dict[str, str], reason: str) -> None:
    assert metrics.reason_of(prompts.say(key, **params)) == reason


def test_counting_a_retry_and_a_failure() -> None:
    def count(name: str, reason: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, {"platform": "slack", "reason": reason}) or 0.0

    retries, failures = count("mentorbot_send_retries_total", "ratelimited"), \
        count("mentorbot_send_failures_total", "is_archived")
    metrics.retried("slack", prompts.say("slack.error_ratelimited"))
    metrics.failed("slack", prompts.say("slack.reason_is_archived", code="is_archived"))
    assert count("mentorbot_send_retries_total", "ratelimited") == retries + 1
    assert count("mentorbot_send_failures_total", "is_archived") == failures + 1
    assert metrics.reason_of("") == "other" and metrics.reason_of("http_500: Internal Server Error") == "http_500"
