"""Is this process doing its work? The scheduler's last runs, the outbox's depth and lag, for /metrics and /healthz.

The outbox is read from the database at scrape time (one grouped query over pending rows), so every replica
reports the shared outbox alike; the scheduler's runs are this process's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import Select, case, func
from sqlmodel import col, select

import prompts
from bot import metrics
from bot.clock import Clock
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Workspace

SWEEPS, DELIVERY = "sweeps", "delivery"  # the scheduler's jobs, as RUN_SECONDS and LAST_RUN label them


@dataclass(frozen=True)
class Limits:
    """When /healthz answers 503: no sweep run finished for `sweeps` (3x the 30 s interval), or a due
    outbox row of this process's platforms has waited longer than `outbox_lag`."""

    sweeps: timedelta = timedelta(seconds=90)
    outbox_lag: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Backlog:
    """One platform's pending outbox rows: how many, and since when the oldest due one has waited."""

    platform: str
    pending: int
    oldest_due: datetime | None

    def lag(self, now: datetime) -> float:
        """Seconds the oldest due row has waited; 0 when none is due."""
        return max((now - self.oldest_due).total_seconds(), 0.0) if self.oldest_due else 0.0


@dataclass(frozen=True)
class Verdict:
    """What /healthz answers: healthy or not, why not, and the figures it decided on (JSON-ready)."""

    healthy: bool
    reasons: list[str]
    body: dict[str, Any]


@dataclass
class Health:
    """The scheduler's runs of this process and the outbox's state; `platforms` are the ones this process
    delivers (the bot's messengers), whose lag decides its health."""

    db: Database
    clock: Clock
    platforms: Mapping[str, object]
    limits: Limits = field(default_factory=Limits)
    started: datetime | None = None
    last_run: dict[str, datetime] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.started is None:
            self.started = self.clock.now()

    def ran(self, job: str, seconds: float) -> None:
        """A run of the scheduler's `job` finished now, after `seconds` of work."""
        now = self.clock.now()
        self.last_run[job] = now
        metrics.RUN_SECONDS.labels(job).observe(seconds)
        metrics.LAST_RUN.labels(job).set(now.timestamp())

    async def backlog(self, now: datetime) -> dict[str, Backlog]:
        """Pending rows per platform. With one platform in the database (the usual case), two reads of the
        (status, next_attempt_at) index alone; with several, one grouped query (see `backlog_query`)."""
        # Read-only (no SQLite writer lock): a scrape never queues behind or holds up the writers.
        async with self.db.read() as s:
            platforms = list((await s.exec(select(Workspace.platform).distinct())).all())
            if len(platforms) == 1:
                pending = Outbox.status == OutboxStatus.PENDING
                count = (await s.exec(select(func.count()).select_from(Outbox).where(pending))).one()
                first = (await s.exec(select(Outbox.next_attempt_at).where(pending)
                                      .order_by(col(Outbox.next_attempt_at)).limit(1))).first()
                rows = [(platforms[0], count, first if first is not None and first <= now else None)]
            else:
                rows = list((await s.exec(backlog_query(now))).all())
        found = {platform: Backlog(platform, int(count), _aware(oldest)) for platform, count, oldest in rows}
        for platform in {*self.platforms, *self._seen} - found.keys():  # an emptied outbox reads 0, not stale
            found[platform] = Backlog(platform, 0, None)
        return found

    async def scrape(self) -> bytes:
        """The Prometheus text exposition, with the outbox gauges read from the database now."""
        now = self.clock.now()
        for b in (await self.backlog(now)).values():
            self._seen.add(b.platform)
            metrics.OUTBOX_PENDING.labels(b.platform).set(b.pending)
            metrics.OUTBOX_OLDEST_DUE.labels(b.platform).set(b.lag(now))
        return generate_latest(metrics.REGISTRY)

    async def check(self) -> Verdict:
        """Healthy when a sweep run finished within the limit and no due row of ours waited past the lag limit."""
        now = self.clock.now()
        reasons: list[str] = []
        body: dict[str, Any] = {"now": now.isoformat()}
        last = self.last_run.get(SWEEPS)
        assert self.started is not None
        since = (now - (last or self.started)).total_seconds()
        limit = self.limits.sweeps.total_seconds()
        if since > limit:
            reasons.append(prompts.say("ops.health.no_sweep", seconds=round(since), limit=round(limit))
                           if last else prompts.say("ops.health.never_swept", seconds=round(since), limit=round(limit)))
        delivered = self.last_run.get(DELIVERY)
        body["scheduler"] = {
            "last_sweeps_at": last.isoformat() if last else None,
            "seconds_since_sweeps": round(since, 3),
            "max_seconds_since_sweeps": limit,
            "last_delivery_at": delivered.isoformat() if delivered else None,
        }
        lag_limit = self.limits.outbox_lag.total_seconds()
        try:
            backlog = await self.backlog(now)
        except Exception as exc:  # the database is part of the work: unreachable is unhealthy
            reasons.append(prompts.say("ops.health.no_database", error=type(exc).__name__))
            body["outbox"] = None
        else:
            ours = [b for b in backlog.values() if b.platform in self.platforms] or list(backlog.values())
            worst = max(ours, key=lambda b: b.lag(now), default=None)
            lag = worst.lag(now) if worst else 0.0
            if worst is not None and lag > lag_limit:
                reasons.append(prompts.say("ops.health.outbox_behind", platform=worst.platform,
                                           seconds=round(lag), limit=round(lag_limit)))
            body["outbox"] = {
                "pending": sum(b.pending for b in ours),
                "oldest_due_age_seconds": round(lag, 3),
                "max_oldest_due_age_seconds": lag_limit,
                "platforms": {b.platform: {"pending": b.pending, "oldest_due_age_seconds": round(b.lag(now), 3)}
                              for b in sorted(backlog.values(), key=lambda b: b.platform)},
            }
        body = {"status": "stuck" if reasons else "ok", "reasons": reasons, **body}
        return Verdict(not reasons, reasons, body)


def backlog_query(now: datetime) -> Select[tuple[str, int, datetime | None]]:
    """Per platform: pending rows, and the oldest next attempt among the due ones. The (status, next_attempt_at)
    index finds the pending rows among every sent one; they are grouped by workspace first, so the few groups,
    not every row, meet the workspace table (joined first, SQLite would scan the pending rows once per workspace)."""
    due = case((col(Outbox.next_attempt_at) <= now, col(Outbox.next_attempt_at)))
    per_workspace = (select(col(Outbox.workspace_id).label("ws"), func.count().label("n"), func.min(due).label("oldest"))
                     .where(Outbox.status == OutboxStatus.PENDING).group_by(col(Outbox.workspace_id)).subquery())
    return (select(Workspace.platform, func.sum(per_workspace.c.n), func.min(per_workspace.c.oldest))  # type: ignore[return-value]
            .join(per_workspace, per_workspace.c.ws == col(Workspace.id)).group_by(col(Workspace.platform)))


def _aware(value: datetime | None) -> datetime | None:
    """An aggregate loses the column's type on SQLite (a naive string-parsed datetime): make it UTC again."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
