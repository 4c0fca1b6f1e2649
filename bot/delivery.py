"""The deliverer: claims due outbox rows, sends them through the platform's Messenger, records results."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, func, or_, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.messages import Message
from bot.messenger import Delivered, DeliveryError, Destination, Messenger
from storage.bulk import update_by_id
from storage.db import Database
from storage.models import (
    Member,
    Outbox,
    OutboxStatus,
    Pair,
    Program,
    UTCDateTime,
    Workspace,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=1)
# A batch still sending extends its lease once less than this is left: before each send (a paced run of any
# length keeps its rows) and every HEARTBEAT seconds while it runs (one send slower than the lease keeps them too).
# After a crash the rows the dead process held wait at most LEASE.
RENEW_BEFORE = LEASE * 3 / 4
HEARTBEAT = 5.0  # seconds of the process's own time (injected sleep) between lease checks of a running batch
# The heartbeat stops extending once no send of the batch has started or finished for this long (longer than any
# platform call with its retries takes): a hung send then loses its rows to another process after LEASE more.
STALLED = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BASE_BACKOFF = 30.0  # seconds; doubles per attempt
MAX_BACKOFF = 3600.0
EDIT_WAIT = timedelta(seconds=30)  # an edit waits for the message it edits to be sent
FLUSH_ATTEMPTS = 3  # a recorder flush that fails on the database is run again this many times in all
# Batches in flight at once on PostgreSQL: one claims or records while another's sends run (SQLite has one writer).
PIPELINE = 3


# Every statement the deliverer runs, Core on the tables and built once: building them per batch (the ORM's aliases
# and coercions) cost more than running them, and ORM objects more than the claim itself.
_OUTBOX, _PAIR, _PROGRAM, _WORKSPACE, _MEMBER = (
    m.__table__ for m in (Outbox, Pair, Program, Workspace, Member))  # type: ignore[attr-defined]
_OURS = _OUTBOX.c.workspace_id.in_(  # a process running only some adapters leaves the other platforms' rows to theirs
    select(_WORKSPACE.c.id).where(_WORKSPACE.c.platform.in_(bindparam("platforms", expanding=True))))
_NEXT_DUE = (select(_OUTBOX.c.next_attempt_at).where(_OUTBOX.c.status == OutboxStatus.PENDING, _OURS)
             .order_by(_OUTBOX.c.next_attempt_at).limit(1))
_LEASE = update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True))).values(claimed_until=bindparam("lease"))
# Every transaction that may wait for outbox rows another holds locks them in id order first, so two of them
# (a renewal and a flush of one batch, or two replicas') never wait for each other in a circle: PostgreSQL would
# abort one as a deadlock. (The claim never waits: it skips locked rows.)
_LOCK_IN_ORDER = (select(_OUTBOX.c.id).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(_OUTBOX.c.id).with_for_update())
# Only rows still under our lease: one that ran out may be another replica's now.
_RENEW = (update(_OUTBOX).where(_OUTBOX.c.id.in_(_LOCK_IN_ORDER),
                                _OUTBOX.c.claimed_until == bindparam("held"), _OUTBOX.c.status == OutboxStatus.PENDING)
          .values(claimed_until=bindparam("lease")).returning(_OUTBOX.c.id))
_WORKSPACES = select(_WORKSPACE.c.id, _WORKSPACE.c.platform, _WORKSPACE.c.external_id).where(
    _WORKSPACE.c.id.in_(bindparam("ids", expanding=True)))
_A, _B = _MEMBER.alias("a"), _MEMBER.alias("b")
# A pair's conversation, its program's home channel and both members' platform ids, in one joined read.
_PAIRS = (select(_PAIR.c.id, _PAIR.c.conversation_ref, _PROGRAM.c.pairs_channel_ref, _A.c.external_id, _B.c.external_id)
          .join(_PROGRAM, _PROGRAM.c.id == _PAIR.c.program_id)
          .join(_A, _A.c.id == _PAIR.c.member_a_id).join(_B, _B.c.id == _PAIR.c.member_b_id)
          .where(_PAIR.c.id.in_(bindparam("ids", expanding=True))))
_MEMBERS = select(_MEMBER.c.id, _MEMBER.c.external_id).where(_MEMBER.c.id.in_(bindparam("ids", expanding=True)))
_EDITED = select(_OUTBOX.c.key, _OUTBOX.c.status, _OUTBOX.c.message_ref, _OUTBOX.c.conversation_ref).where(
    _OUTBOX.c.key.in_(bindparam("ids", expanding=True)))
_CLAIMED = [_OUTBOX.c[name] for name in  # what sending a row needs
            ("id", "key", "kind", "workspace_id", "dest_kind", "target", "payload", "edits_key")]


@cache
def _claim_statement(dialect: str, batch: int) -> Any:
    """The next rows to send: due, not leased, urgent first, then oldest, read in ix_outbox_claim's order."""
    now = bindparam("now", type_=UTCDateTime)
    due: ColumnElement[bool] = _OUTBOX.c.next_attempt_at <= now
    if dialect == "sqlite":
        # Without statistics SQLite's planner would read (status, next_attempt_at) and sort every due row
        # for the LIMIT. likely() changes nothing in the result but keeps that term off the index, so the
        # planner reads ix_outbox_claim in order and stops at the batch. PostgreSQL chooses it by itself.
        due = func.likely(due)
    pending = _OUTBOX.c.status == OutboxStatus.PENDING
    unclaimed = or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < now)
    return (select(*_CLAIMED).where(pending, due, unclaimed, _OURS)
            .order_by(_OUTBOX.c.status, _OUTBOX.c.priority, _OUTBOX.c.id)
            .limit(batch).with_for_update(skip_locked=True))


@dataclass
class _Job:
    row: Row[Any]  # the _CLAIMED columns of its outbox row
    dest: Destination
    messenger: Messenger
    edit_ref: str | None = None  # message to edit, when the row is an edit
    result: Delivered | None = None
    error: DeliveryError | None = None
    wait: bool = False  # not sent yet, not an attempt: try again shortly
    finished_at: datetime | None = None  # the clock when the platform answered
    recorded: bool = False
    lost: bool = False  # our lease ran out and another replica holds the row now: not ours to send


@dataclass
class _Group:
    """A batch's jobs for one destination, sent once the group before them (`after`) is done."""

    key: tuple[str, str, str]
    jobs: list[_Job]
    after: asyncio.Future[None] | None
    done: asyncio.Future[None]


@dataclass
class _Batch:
    """One claim: its jobs and the lease they hold (its value tells our claim from a later one)."""

    jobs: list[_Job]
    lease_until: datetime
    moved_at: datetime  # when a send of the batch last started or finished
    renewing: asyncio.Lock = field(default_factory=asyncio.Lock)


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 1.0))
    return timedelta(seconds=min(BASE_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF))


class _Recorder:
    """Write-behind recording: whatever sends finished since the last flush go in one transaction, and the
    next flush starts as soon as one ends, so an accepted send is on disk a few milliseconds after it returns."""

    def __init__(self, flush: Callable[[list[_Job]], Awaitable[None]]) -> None:
        self._flush = flush
        self._waiting: list[tuple[_Job, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, job: _Job) -> None:
        """Queue a finished job; returns once it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((job, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await done

    async def _run(self) -> None:
        while self._waiting:
            flushing, self._waiting = self._waiting, []
            try:
                await self._flush_retrying([job for job, _ in flushing])
            except BaseException as exc:
                # Those sends were accepted but are not on disk: they go again once their lease runs out.
                for _, done in flushing + self._waiting:
                    if done.done():
                        continue
                    if isinstance(exc, Exception):
                        done.set_exception(exc)
                    else:
                        done.cancel()
                self._waiting = []
                if not isinstance(exc, Exception):
                    raise
                return
            for _, done in flushing:
                if not done.done():
                    done.set_result(None)

    async def _flush_retrying(self, jobs: list[_Job]) -> None:
        # Its rows are locked in id order, so it no longer loses deadlocks to a renewal; any other failure on the
        # database rolled its transaction back whole, so running it again is safe, and giving up would send those
        # accepted messages a second time once their lease ran out.
        for attempt in range(1, FLUSH_ATTEMPTS + 1):
            try:
                return await self._flush(jobs)
            except DBAPIError:
                if attempt == FLUSH_ATTEMPTS:
                    raise
                log.warning("recording sends failed (attempt %d), trying again", attempt, exc_info=True)

    async def drain(self) -> None:
        """Wait for the flush in progress (a cancelled run still records what was sent)."""
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


class Deliverer:
    """Sends due outbox rows. Safe to run in several tasks or processes at once: rows are leased.
    Every time it stores (a lease, a send, a back-off) is read from `clock` at that moment."""

    def __init__(
        self,
        db: Database,
        messengers: dict[str, Messenger],
        on_failure: Callable[[AsyncSession, Outbox, datetime], Awaitable[None]],
        clock: Callable[[], datetime],
        concurrency: int = 16,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.messengers = messengers
        self.on_failure = on_failure
        self.clock = clock
        self.sleep = sleep
        self._claiming = asyncio.Lock()
        # Bounds the platform calls in flight across the batches in flight, not per batch: pipelining overlaps the
        # database work, and must not triple the sends (and their slot bookings) competing with commands.
        self._gate = asyncio.Semaphore(concurrency)
        # Per destination, the group of a batch in flight that sent to it last: a later batch's rows for that
        # destination wait for it, so they still go in claim order when several batches are in flight.
        self._last_group: dict[tuple[str, str, str], asyncio.Future[None]] = {}

    async def deliver_due(self, batch: int = 100) -> int:
        """Send everything due; returns how many rows were sent."""
        workers = 1 if self.db.dialect == "sqlite" else PIPELINE
        async with asyncio.TaskGroup() as group:
            loops = [group.create_task(self._deliver_until_done(batch)) for _ in range(workers)]
        return sum(loop.result() for loop in loops)

    async def _deliver_until_done(self, batch: int) -> int:
        sent = 0
        while True:
            claimed, done = await self.deliver_batch(batch)
            sent += done
            if claimed < batch:
                return sent

    async def deliver_batch(self, batch: int = 100) -> tuple[int, int]:
        """Claim up to `batch` due rows and send them; returns (rows claimed, rows sent)."""
        async with self._claiming:  # claim and queue behind earlier batches as one step, so claim order holds
            claimed = await self._claim(batch)
            if claimed is None:
                return 0, 0
            groups = self._queue(claimed)
        recorder = _Recorder(self._record)
        heartbeat = asyncio.create_task(self._heartbeat(claimed))
        try:
            await self._send_all(claimed, groups, recorder)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await recorder.drain()
        return len(claimed.jobs), sum(1 for job in claimed.jobs if job.result is not None and job.recorded)

    async def next_due(self) -> datetime | None:
        """When the next pending row this process can send falls due (never, with no messenger)."""
        if not self.messengers:
            return None
        async with self.db.read() as s:
            return (await s.exec(_NEXT_DUE, params={"platforms": list(self.messengers)})).first()  # type: ignore[call-overload]

    async def _claim(self, batch: int) -> _Batch | None:
        if not self.messengers:
            return None
        async with self.db.transaction() as s:
            if self.db.dialect == "postgresql":
                # Right after a fan-out is queued the table's statistics still say "few pending rows", and the
                # planner would sort every due row instead of reading ix_outbox_claim in order. This transaction
                # only: with no sort-free plan the planner still sorts.
                await s.exec(text("SET LOCAL enable_sort = off"))  # type: ignore[call-overload]
            now = self.clock()
            stmt = _claim_statement(self.db.dialect, batch)
            rows = list((await s.exec(stmt, params={"now": now, "platforms": list(self.messengers)})).all())  # type: ignore[call-overload]
            if not rows:
                return None
            lease = now + LEASE
            await s.exec(_LEASE, params={"lease": lease, "ids": [r.id for r in rows]})  # type: ignore[call-overload]
            return _Batch(await self._jobs(s, rows), lease, now)

    async def _jobs(self, s: AsyncSession, rows: list[Row[Any]]) -> list[_Job]:
        async def read(stmt: Any, ids: set[Any]) -> dict[Any, Row[Any]]:
            return {r[0]: r for r in (await s.exec(stmt, params={"ids": list(ids)})).all()} if ids else {}  # type: ignore[call-overload]

        workspaces = await read(_WORKSPACES, {r.workspace_id for r in rows})
        pairs = await read(_PAIRS, {int(r.target) for r in rows if r.dest_kind == "pair"})
        members = await read(_MEMBERS, {int(r.target) for r in rows if r.dest_kind == "user"})
        edited = await read(_EDITED, {r.edits_key for r in rows if r.edits_key})
        jobs = []
        for row in rows:
            _, platform, workspace = workspaces[row.workspace_id]
            messenger = self.messengers[platform]
            if row.dest_kind == "user":
                dest = Destination("user", workspace, members[int(row.target)][1])
            elif row.dest_kind == "pair":
                _, conversation, home, a_ext, b_ext = pairs[int(row.target)]
                dest = Destination("pair", workspace, conversation, (a_ext, b_ext), home)
            else:
                dest = Destination("channel", workspace, row.target)
            job = _Job(row, dest, messenger)
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

    def _queue(self, batch: _Batch) -> list[_Group]:
        """The batch's jobs by destination, each group behind the one in flight for the same destination."""
        jobs: dict[tuple[str, str, str], list[_Job]] = defaultdict(list)
        for job in batch.jobs:
            jobs[(job.dest.kind, job.dest.workspace, job.row.target)].append(job)
        loop = asyncio.get_running_loop()
        groups = []
        for key, group in jobs.items():
            done = loop.create_future()
            groups.append(_Group(key, group, self._last_group.get(key), done))
            self._last_group[key] = done
        return groups

    async def _send_all(self, batch: _Batch, groups: list[_Group], recorder: _Recorder) -> None:
        # Rows for one destination go in order (an intro opens the conversation the nudge uses), each recorded
        # before the next is sent, so a crash repeats at most the one message per destination in flight;
        # different destinations go in parallel, bounded.
        async def run(group: _Group) -> None:  # a failing record stops the others (TaskGroup): rows stay leased
            try:
                if group.after is not None:
                    await asyncio.shield(group.after)
                await send(group.jobs)
            finally:
                group.done.set_result(None)
                if self._last_group.get(group.key) is group.done:
                    del self._last_group[group.key]

        async def send(group: list[_Job]) -> None:
            conversation: str | None = None
            for job in group:
                if job.lost:
                    continue
                if not job.wait:
                    if conversation and job.dest.ref is None:
                        job.dest = replace(job.dest, ref=conversation)
                    async with self._gate:  # bounds the calls in flight; waiting for the record leaves room for others
                        await self._keep_lease(batch)
                        if job.lost:
                            continue
                        batch.moved_at = self.clock()
                        await self._send_one(job)
                        batch.moved_at = job.finished_at or batch.moved_at
                    if job.result and job.result.conversation_ref:
                        conversation = job.result.conversation_ref
                await recorder.record(job)

        async with asyncio.TaskGroup() as tasks:
            for group in groups:
                tasks.create_task(run(group))

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
            job.error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True, code=type(exc).__name__)
        job.finished_at = self.clock()

    async def _keep_lease(self, batch: _Batch) -> None:
        """Before a send: a lease with less than RENEW_BEFORE left is extended first (one renewal at a time per batch)."""
        if batch.lease_until - self.clock() >= RENEW_BEFORE:
            return
        async with batch.renewing:
            if batch.lease_until - self.clock() < RENEW_BEFORE:
                try:
                    await self._renew(batch)
                except DBAPIError:
                    # Lost a deadlock to another replica's transaction on some of these rows: the lease stands as
                    # it was while it lasts (nobody else may claim them before), and the next send or beat tries
                    # again; once it has run out they may be another's, so they are not ours to send.
                    log.warning("extending the outbox lease failed", exc_info=True)
                    if batch.lease_until <= self.clock():
                        for job in batch.jobs:
                            job.lost = job.lost or not job.recorded

    async def _heartbeat(self, batch: _Batch) -> None:
        """Keep the batch's lease while its sends run, however long one of them takes (cancelled when it ends)."""
        while True:
            await self.sleep(HEARTBEAT)
            if self.clock() - batch.moved_at > STALLED:
                continue  # stuck: let the lease run out so another process sends the rest
            try:
                await self._keep_lease(batch)
            except Exception:  # the next beat or send tries again; until then the lease still runs
                log.warning("extending the outbox lease failed", exc_info=True)

    async def _renew(self, batch: _Batch) -> None:
        """Extend the lease of the batch's rows not yet recorded; rows another replica took meanwhile are dropped."""
        now = self.clock()
        unsent = [j.row.id for j in batch.jobs if not j.recorded and not j.lost]
        lease = now + LEASE
        async with self.db.transaction() as s:
            kept = set((await s.exec(_RENEW, params={  # type: ignore[call-overload]
                "ids": unsent, "held": batch.lease_until, "lease": lease})).scalars())
        batch.lease_until = lease
        for job in batch.jobs:
            if job.row.id in unsent and job.row.id not in kept:
                job.lost = True

    async def _record(self, jobs: list[_Job]) -> None:
        """One transaction for the jobs finished since the last flush."""
        done: list[dict[str, object]] = []
        later: list[dict[str, object]] = []
        conversations: dict[int, str] = {}
        failed: list[_Job] = []
        now = self.clock()
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
                        "sent_at": job.finished_at or now,
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
            if self.db.dialect == "postgresql":  # the sent, the waiting and the failed together; SQLite has one writer
                await s.exec(_LOCK_IN_ORDER, params={"ids": [job.row.id for job in jobs]})  # type: ignore[call-overload]
            for updates in (done, later):
                await update_by_id(s, Outbox, updates)
            await update_by_id(s, Pair, [{"id": pid, "conversation_ref": ref} for pid, ref in conversations.items()])
            for job in failed:
                await self._record_failure(s, job, now)
        for job in jobs:
            job.recorded = True
            if job.result is not None and not job.wait:
                metrics.sent(job.messenger.platform, job.row.kind)

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
            metrics.retried(job.messenger.platform, job.error.code or job.error.reason)
            return
        row.status = OutboxStatus.FAILED
        metrics.failed(job.messenger.platform, job.error.code or job.error.reason)
        log.error("send %s failed for good: %s", row.key, job.error.reason)
        await self.on_failure(s, row, now)
