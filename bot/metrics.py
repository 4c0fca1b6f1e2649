"""What mentorbot counts for Prometheus: sends, retries and failures, sweep durations, handling latency.

The counters and histograms live in one process-wide registry; the outbox gauges (depth, age of the oldest due
row) are read from the database when /metrics is scraped (`bot.health`), so every replica reports the shared
outbox the same way."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SENDS = Counter("mentorbot_sends", "Outbox rows accepted by a platform", ["platform", "kind"], registry=REGISTRY)
RETRIES = Counter("mentorbot_send_retries", "Sends that failed and will be tried again",
                  ["platform", "reason"], registry=REGISTRY)
FAILURES = Counter("mentorbot_send_failures", "Sends given up for good", ["platform", "reason"], registry=REGISTRY)
SWEEP_SECONDS = Histogram("mentorbot_sweep_seconds", "How long one run of a sweep took", ["sweep"],
                          registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
HANDLE_SECONDS = Histogram("mentorbot_handle_seconds", "From an event reaching the core to its reply",
                           ["event"], registry=REGISTRY,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def reason_of(error: str) -> str:
    """A failure reason short enough to be a label: the platform's error code, never free text."""
    word = error.split(":", 1)[0].split()[0] if error.strip() else "unknown"
    return word[:40]


def sent(platform: str, kind: str) -> None:
    SENDS.labels(platform, kind).inc()


def retried(platform: str, error: str) -> None:
    RETRIES.labels(platform, reason_of(error)).inc()


def failed(platform: str, error: str) -> None:
    FAILURES.labels(platform, reason_of(error)).inc()
