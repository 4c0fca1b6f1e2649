"""The deliverer: claims due outbox rows, sends them through the platform's Messenger, records results."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.messages import Message
from bot.messenger import Delivered, DeliveryError, Destination, Messenger
from storage.db import Database
from storage.models import Member, Outbox, OutboxStatus, Pair, Program, Workspace

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BASE_BACKOFF = 30.0  # seconds; doubles per attempt
MAX_BACKOFF = 3600.0
EDIT_WAIT = timedelta(seconds=30)  # an edit waits for the message it edits to be sent
# A platform's pacing can stretch a weekly fan-out over many minutes. Direct messages (ratings,
# replies to a click) and edits (an answered nudge) go ahead of it, one batch at most behind.
_URGENT_FIRST = case((or_(col(Outbox.edits_key).is_not(None), col(Outbox.dest_kind) == "user"), 0), else_=1)


@dataclass
class _Job:
    row: Outbox
    dest: Destination
    messenger: Messenger
    edit_ref: str | None = None  # message to edit, when the row is an edit
    result: Delivered | None = None
    error: DeliveryError | None = None
    wait: bool = False  # not sent yet, not an attempt: try again shortly


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 1.0))
    return timedelta(seconds=min(BASE_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF))


class Deliverer:
    """Sends due outbox rows. Safe to run in several tasks or processes at once: rows are leased."""

    def __init__(
        self,
        db: Database,
        messengers: dict[str, Messenger],
        on_failure: Callable[[AsyncSession, Outbox, datetime], Awaitable[None]],
        concurrency: int = 16,
    ) -> None:
        self.db = db
        self.messengers = messengers
        self.on_failure = on_failure
        self.concurrency = concurrency

    async def deliver_due(self, now: datetime, batch: int = 100) -> int:
        """Send everything due at `now`; returns how many rows were sent."""
        sent = 0
        while True:
            jobs = await self._claim(now, batch)
            if not jobs:
                return sent
            await self._send_all(jobs)
            sent += await self._record(jobs, now)
            if len(jobs) < batch:
                return sent

    def _ours(self) -> list[ColumnElement[bool]]:
        # A process running only some adapters leaves the other platforms' rows to theirs.
        return [col(Outbox.workspace_id).in_(
            select(Workspace.id).where(col(Workspace.platform).in_(list(self.messengers)))
        )]

    async def next_due(self) -> datetime | None:
        """When the next pending row this process can send falls due."""
        async with self.db.transaction() as s:
            stmt = select(Outbox.next_attempt_at).where(Outbox.status == OutboxStatus.PENDING, *self._ours())
            return (await s.exec(stmt.order_by(col(Outbox.next_attempt_at)).limit(1))).first()

    async def _claim(self, now: datetime, batch: int) -> list[_Job]:
        if not self.messengers:
            return []
        async with self.db.transaction() as s:
            stmt = (
                select(Outbox)
                .where(
                    Outbox.status == OutboxStatus.PENDING,
                    Outbox.next_attempt_at <= now,
                    or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
                    *self._ours(),
                )
                .order_by(_URGENT_FIRST, col(Outbox.id))
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            rows = list((await s.exec(stmt)).all())
            if not rows:
                return []
            await s.exec(
                update(Outbox).where(col(Outbox.id).in_([r.id for r in rows])).values(claimed_until=now + LEASE)
            )
            return await self._jobs(s, rows)

    async def _jobs(self, s: AsyncSession, rows: list[Outbox]) -> list[_Job]:
        ws_ids = {r.workspace_id for r in rows}
        workspaces = {w.id: w for w in (await s.exec(select(Workspace).where(col(Workspace.id).in_(ws_ids)))).all()}
        pair_ids = {int(r.target) for r in rows if r.dest_kind == "pair"}
        pairs = {p.id: p for p in (await s.exec(select(Pair).where(col(Pair.id).in_(pair_ids)))).all()}
        program_ids = {p.program_id for p in pairs.values()}
        homes = dict((await s.exec(select(Program.id, Program.pairs_channel_ref)
                                   .where(col(Program.id).in_(program_ids)))).all())
        member_ids = {int(r.target) for r in rows if r.dest_kind == "user"}
        member_ids |= {p.member_a_id for p in pairs.values()} | {p.member_b_id for p in pairs.values()}
        members = {m.id: m for m in (await s.exec(select(Member).where(col(Member.id).in_(member_ids)))).all()}
        edited_keys = {r.edits_key for r in rows if r.edits_key}
        edited = {
            o.key: o for o in (await s.exec(select(Outbox).where(col(Outbox.key).in_(edited_keys)))).all()
        }
        jobs = []
        for row in rows:
            ws = workspaces[row.workspace_id]
            messenger = self.messengers[ws.platform]
            if row.dest_kind == "user":
                dest = Destination("user", ws.external_id, members[int(row.target)].external_id)
            elif row.dest_kind == "pair":
                pair = pairs[int(row.target)]
                ext = (members[pair.member_a_id].external_id, members[pair.member_b_id].external_id)
                dest = Destination("pair", ws.external_id, pair.conversation_ref, ext, homes.get(pair.program_id))
            else:
                dest = Destination("channel", ws.external_id, row.target)
            job = _Job(row, dest, messenger)  # type: ignore[arg-type]
            if row.edits_key:
                original = edited.get(row.edits_key)
                if original and original.status == OutboxStatus.SENT:
                    job.edit_ref = original.message_ref
                    job.dest = replace(dest, ref=original.conversation_ref or dest.ref)
                elif original and original.status == OutboxStatus.PENDING:
                    job.wait = True
                # the original failed for good: post the new text as a fresh message
            jobs.append(job)
        return jobs

    async def _send_all(self, jobs: list[_Job]) -> None:
        # Rows for one destination go in order (an intro opens the conversation the nudge uses);
        # different destinations go in parallel, bounded.
        groups: dict[tuple[str, str, str], list[_Job]] = defaultdict(list)
        for job in jobs:
            groups[(job.dest.kind, job.dest.workspace, job.row.target)].append(job)
        gate = asyncio.Semaphore(self.concurrency)

        async def run(group: list[_Job]) -> None:
            async with gate:
                conversation: str | None = None
                for job in group:
                    if job.wait:
                        continue
                    if conversation and job.dest.ref is None:
                        job.dest = replace(job.dest, ref=conversation)
                    await self._send_one(job)
                    if job.result and job.result.conversation_ref:
                        conversation = job.result.conversation_ref

        await asyncio.gather(*(run(g) for g in groups.values()))

    async def _send_one(self, job: _Job) -> None:
        message = Message.from_dict(job.row.payload)
        try:
            if job.edit_ref:
                await job.messenger.update(job.dest, job.edit_ref, message)
                job.result = Delivered(job.edit_ref, job.dest.ref)
            else:
                job.result = await job.messenger.send(job.dest, message, idempotency_key=job.row.key)
        except DeliveryError as exc:
            job.error = exc
        except Exception as exc:  # a messenger bug must not stop the other rows
            log.exception("messenger failed on outbox row %s", job.row.key)
            job.error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)

    async def _record(self, jobs: list[_Job], now: datetime) -> int:
        done: list[dict[str, object]] = []
        later: list[dict[str, object]] = []
        conversations: dict[int, str] = {}
        failed: list[_Job] = []
        for job in jobs:
            row = job.row
            if job.wait:
                later.append({"id": row.id, "claimed_until": None, "next_attempt_at": now + EDIT_WAIT})
            elif job.result is not None:
                conversation = job.result.conversation_ref or job.dest.ref
                done.append(
                    {
                        "id": row.id,
                        "claimed_until": None,
                        "status": OutboxStatus.SENT,
                        "sent_at": now,
                        "message_ref": job.result.message_ref,
                        "conversation_ref": conversation,
                        "last_error": None,
                    }
                )
                if row.dest_kind == "pair" and job.result.conversation_ref:
                    conversations[int(row.target)] = job.result.conversation_ref
            else:
                failed.append(job)
        async with self.db.transaction() as s:
            for updates in (done, later):
                if updates:
                    await s.exec(update(Outbox), params=updates)
            if conversations:
                await s.exec(
                    update(Pair), params=[{"id": pid, "conversation_ref": ref} for pid, ref in conversations.items()]
                )
            for job in failed:
                await self._record_failure(s, job, now)
        return len(done)

    async def _record_failure(self, s: AsyncSession, job: _Job, now: datetime) -> None:
        row = await s.get(Outbox, job.row.id)
        assert row is not None and job.error is not None
        row.claimed_until = None
        row.attempts += 1
        row.last_error = job.error.reason[:1000]
        if job.error.conversation_ref and row.dest_kind == "pair":
            pair = await s.get(Pair, int(row.target))
            if pair is not None:
                pair.conversation_ref = job.error.conversation_ref
        if job.error.retryable and row.attempts < MAX_ATTEMPTS:
            row.next_attempt_at = now + backoff(row.attempts, job.error.retry_after)
            log.warning("send %s failed (attempt %d): %s", row.key, row.attempts, job.error.reason)
            return
        row.status = OutboxStatus.FAILED
        log.error("send %s failed for good: %s", row.key, job.error.reason)
        await self.on_failure(s, row, now)
