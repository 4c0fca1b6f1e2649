"""What mentorbot counts for Prometheus: sends, retries and failures, sweep durations, handling latency.

The counters and histograms live in one process-wide registry; the outbox gauges (depth, age of the oldest due
row) are read from the database when /metrics is scraped (`bot.health`), so every replica reports the shared
outbox the same way."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import prompts
from bot.events import ActionEvent, CommandEvent, FormSubmission, Invocation

S = TypeVar("S")
E = TypeVar("E")
R = TypeVar("R")

REGISTRY = CollectorRegistry(auto_describe=True)


def _help(name: str) -> str:
    """A metric's HELP line, from prompts/ (ops.metrics.<name>)."""
    return prompts.say(f"ops.metrics.{name}")


SENDS = Counter("mentorbot_sends", _help("sends"), ["platform", "kind"], registry=REGISTRY)
RETRIES = Counter("mentorbot_send_retries", _help("send_retries"),
                  ["platform", "reason"], registry=REGISTRY)
FAILURES = Counter("mentorbot_send_failures", _help("send_failures"), ["platform", "reason"], registry=REGISTRY)
SWEEP_SECONDS = Histogram("mentorbot_sweep_seconds", _help("sweep_seconds"), ["sweep"],
                          registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
SWEEP_FAILURES = Counter("mentorbot_sweep_failures", _help("sweep_failures"),
                         ["sweep"], registry=REGISTRY)
HANDLE_SECONDS = Histogram("mentorbot_handle_seconds", _help("handle_seconds"),
                           ["event"], registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
# The scheduler's two jobs: "sweeps" (every sweep once) and "delivery" (the deliverer until nothing is due).
RUN_SECONDS = Histogram("mentorbot_scheduler_run_seconds", _help("scheduler_run_seconds"), ["job"],
                        registry=REGISTRY,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900))
LAST_RUN = Gauge("mentorbot_scheduler_last_run_timestamp_seconds",
                 _help("scheduler_last_run_timestamp_seconds"), ["job"],
                 registry=REGISTRY)
OUTBOX_PENDING = Gauge("mentorbot_outbox_pending", _help("outbox_pending"),
                       ["platform"], registry=REGISTRY)
OUTBOX_OLDEST_DUE = Gauge("mentorbot_outbox_oldest_due_age_seconds",
                          _help("outbox_oldest_due_age_seconds"),
                          ["platform"], registry=REGISTRY)


# What an error code looks like: Slack's snake_case codes, an HTTP status, an exception's class name. Anything
# else in brackets (a message reference, a channel name) would make a label per message: never taken.
_CODE = r"[a-z][a-z0-9_]{0,39}|[1-5][0-9][0-9]|[A-Z][A-Za-z]{1,39}"
_IN_BRACKETS = re.compile(rf"\(({_CODE})\)")
_LEADING = re.compile(rf"^({_CODE})(?::|$)")  # "http_500: ..." or a bare code


def reason_of(error: str) -> str:
    """A failure reason short enough to be a label: the platform's error code, never free text. The adapters'
    sentences name it in brackets ("Slack refused the message (channel_not_found)", "Discord did not answer
    (503)") or lead with it ("http_500: ..."); a rate limit says so in words; anything else is "other"."""
    if found := _IN_BRACKETS.search(error) or _LEADING.match(error.strip()):
        return found.group(1)
    if "rate limit" in error.lower():
        return "ratelimited"
    return "other"


def sent(platform: str, kind: str) -> None:
    SENDS.labels(platform, kind).inc()


def retried(platform: str, error: str) -> None:
    RETRIES.labels(platform, reason_of(error)).inc()


def failed(platform: str, error: str) -> None:
    FAILURES.labels(platform, reason_of(error)).inc()


def event_label(event: object) -> str:
    """The `event` label of HANDLE_SECONDS: command, action, form or other (few values, so few series)."""
    if isinstance(event, CommandEvent | Invocation):
        return "command"
    if isinstance(event, ActionEvent):
        return "action"
    if isinstance(event, FormSubmission):
        return "form"
    return "other"


def timed_handling(handle: Callable[[S, E], Awaitable[R]]) -> Callable[[S, E], Awaitable[R]]:
    """Wraps MentorBot.handle: observes HANDLE_SECONDS for each event, labelled by its kind."""

    @functools.wraps(handle)
    async def timed(self: S, event: E) -> R:
        with HANDLE_SECONDS.labels(event_label(event)).time():
            return await handle(self, event)

    return timed
