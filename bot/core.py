"""MentorBot: the platform-agnostic core. Adapters hand it events and give it Messengers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

import prompts
from bot import metrics, suggest
from bot.clock import Clock
from bot.args import Args
from bot.commands.dispatch import run_command, run_invocation
from bot.context import Ctx, Runtime
from bot.delivery import Deliverer
from bot.directory import coordinated_programs, ensure_member, ensure_workspace, known_member, member_changes
from bot.errors import UserError
from bot.events import ActionEvent, CommandEvent, Event, FormSubmission, Invocation, MemberLeft
from bot.features import REGISTRY
from bot.flows import escalation, membership, mydata
from bot.health import SWEEPS, Health
from bot.home import home_messages
from bot.messages import Message, Response
from bot.messenger import Messenger
from bot.text import MAX_COMMAND_CHARS, clean_event
from storage.db import Database, WriteNeeded
from storage.models import Outbox, ProcessedEvent

log = logging.getLogger(__name__)
ECHO_LIMIT = 80
_SEEN = select(ProcessedEvent.id).where(ProcessedEvent.event_key == bindparam("key"))  # built once: every write runs it


class MentorBot:
    """Handles events, runs the sweeps, and delivers the outbox through the registered Messengers."""

    def __init__(self, db: Database, clock: Clock, *, default_tz: str = "UTC",
                 lang: str = prompts.DEFAULT_LANGUAGE) -> None:
        self.rt = Runtime(db, default_tz, lang, REGISTRY.after_met)
        self.clock = clock
        self.messengers: dict[str, Messenger] = {}
        self.deliverer = Deliverer(db, self.messengers, self._delivery_failed, clock.now)
        self._handled_listeners: list[Callable[[], None]] = []
        self.health = Health(db, clock, self.messengers)  # what /metrics and /healthz report

    @property
    def db(self) -> Database:
        return self.rt.db

    def add_messenger(self, messenger: Messenger) -> None:
        """Send this platform's outbox rows through `messenger`. Whoever starts an adapter calls this."""
        self.messengers[messenger.platform] = messenger

    def on_handled(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each event is handled and its transaction committed. The process entry
        point wires the heartbeat's deliver_soon here, so what an event queued goes out without a tick."""
        self._handled_listeners.append(listener)

    def _handled(self) -> None:
        for listener in self._handled_listeners:
            try:
                listener()
            except Exception:  # the event is committed: its reply stands whatever a listener does
                log.exception("on_handled listener failed")

    async def _delivery_failed(self, s: AsyncSession, row: Outbox, now: datetime) -> None:
        await escalation.delivery_failed(s, self.rt, row, now)

    # --- inbound ---------------------------------------------------------------------------

    @metrics.timed_handling
    async def handle(self, event: Event) -> Response:
        """Handle one event in one transaction. Never raises: mistakes and failures become replies."""
        self.rt.foreground.arrived()
        event = clean_event(event)  # control characters and NUL never reach a flow or the database
        if isinstance(event, CommandEvent | Invocation) and event.size > MAX_COMMAND_CHARS:
            start = _start(event)
            return Response([Message(self.rt.t("error.command_too_long", start=start, limit=MAX_COMMAND_CHARS))])
        for attempt in (1, 2):
            try:
                response = await self._handle_once(event)
                self._handled()
                if response.then is not None:
                    return await self._then(response)
                return response
            except UserError as err:
                return self.said(err)
            except (IntegrityError, DBAPIError) as exc:
                # A concurrent twin of this event won a race; the retry sees its result.
                if attempt == 2:
                    log.exception("event failed twice: %s", type(event).__name__)
                    break
                log.info("retrying event after %s", type(exc).__name__)
            except Exception:
                log.exception("event failed: %s", type(event).__name__)
                break
        return Response([Message(self.rt.t("error.internal"))])

    def said(self, err: UserError) -> Response:
        """What a person is told about their mistake."""
        return Response([Message(self.rt.t(err.key, **_clipped(err.params)))])

    async def _then(self, response: Response) -> Response:
        """Run what an event left for after its commit; the event itself stands whatever happens here."""
        assert response.then is not None
        try:
            more = await response.then()
        except UserError as err:
            more = self.said(err)
        except Exception:
            log.exception("work after an event failed")
            more = Response([Message(self.rt.t("error.internal"))])
        self._handled()
        return Response([*response.messages, *more.messages], response.form or more.form,
                        [*response.files, *more.files])

    async def _handle_once(self, event: Event) -> Response:
        if isinstance(event, CommandEvent | Invocation):
            try:
                return await self._handle_reading(event)
            except WriteNeeded:  # it changes something after all: do it again as a write, deduplicated
                pass
        return await self._handle_writing(event)

    async def _handle_reading(self, event: CommandEvent | Invocation) -> Response:
        """A typed command by someone the bot knows, tried in a read-only transaction (no writer lock, no
        dedupe row): most commands only look. WriteNeeded as soon as it would change anything, the actor's
        row included. A redelivery of an event that wrote finds its ProcessedEvent and is answered with
        nothing, as _handle_writing would."""
        now = self.clock.now()
        actor = event.actor
        async with self.db.read() as s:
            found = await known_member(s, actor.platform, actor.workspace_id, actor.user_id,
                                       _event_key(event) if event.event_id else "")
            if found is None or member_changes(found.member, actor):
                raise WriteNeeded("the actor's member row")
            if found.seen:
                return Response()
            response = await self._dispatch(Ctx(self.rt, s, now, found.workspace, found.member), event)
            if response.then is not None:
                # Its work after the commit changes things (a match, a file): the event must be recorded, so
                # that a redelivery does not do that work twice.
                raise WriteNeeded("work after the commit")
            return response

    @staticmethod
    async def _seen(s: AsyncSession, key: str) -> bool:
        return (await s.exec(_SEEN, params={"key": key})).first() is not None

    async def _handle_writing(self, event: Event) -> Response:
        """The event in a write transaction, recorded by its id so a redelivery has no second effect."""
        now = self.clock.now()
        actor = event.actor
        async with self.db.transaction() as s:
            ws = await ensure_workspace(s, actor.platform, actor.workspace_id)
            if event.event_id:
                key = _event_key(event)
                if await self._seen(s, key):
                    return Response()
                s.add(ProcessedEvent(event_key=key, processed_at=now))
            me = await ensure_member(s, ws, actor, now)
            ctx = Ctx(self.rt, s, now, ws, me)
            return await self._dispatch(ctx, event)

    async def _dispatch(self, ctx: Ctx, event: Event) -> Response:
        if isinstance(event, CommandEvent):
            return await run_command(ctx, event.text)
        if isinstance(event, Invocation):
            return await run_invocation(ctx, event.path, Args(list(event.words), dict(event.options), set(event.flags)))
        if isinstance(event, ActionEvent):
            action = REGISTRY.actions.get(event.action_id)
            if action is None:
                raise UserError("error.stale_button")
            return await action(ctx, event.value)
        if isinstance(event, FormSubmission):
            form = REGISTRY.forms.get(event.form_id)
            if form is None:
                raise UserError("error.stale_button")
            return await form(ctx, event.state, event.values)
        if isinstance(event, MemberLeft):
            return await (mydata.account_deleted if event.deleted else membership.left_workspace)(ctx)
        raise TypeError(f"unknown event {event!r}")

    # --- the clock and the outbox ----------------------------------------------------------

    async def run_sweeps(self) -> None:
        """Run every periodic sweep once at the clock's now; one failing does not stop the rest."""
        started = time.perf_counter()
        now = self.clock.now()
        for sweep in REGISTRY.sweeps:
            with metrics.SWEEP_SECONDS.labels(sweep.name).time():
                try:
                    # Asked right before it runs, after the sweeps declared earlier have run: one read on the
                    # read path (no writer lock) instead of a write transaction for a sweep with nothing due.
                    if sweep.next_at is not None and not _due(await sweep.next_at(self.rt, now), now):
                        continue
                    await sweep.run(self.rt, now)
                except Exception:
                    metrics.SWEEP_FAILURES.labels(sweep.name).inc()
                    log.exception("sweep %s failed", sweep.name)
        self.health.ran(SWEEPS, time.perf_counter() - started)

    async def deliver(self) -> int:
        """Send every outbox row that is due; returns how many went out."""
        return await self.deliverer.deliver_due()

    async def tick(self) -> None:
        await self.run_sweeps()
        await self.deliver()

    async def next_wakeup(self) -> datetime | None:
        """The next moment anything becomes due (for stepping a manual clock through time)."""
        now = self.clock.now()
        times = [t for sweep in REGISTRY.sweeps if sweep.next_at and (t := await sweep.next_at(self.rt, now))]
        if pending := await self.deliverer.next_due():
            times.append(pending)
        return min(times) if times else None

    async def suggest(self, platform: str, workspace: str, user_id: str, path: tuple[str, ...], arg_name: str,
                      typed: str) -> list[suggest.Choice]:
        """Choices for the argument `arg_name` of `/mentor <path>` as this person types it (autocomplete)."""
        sub, used = REGISTRY.find(list(path))
        arg = sub.argument(arg_name) if sub is not None and used == len(path) else None
        if sub is None or arg is None:
            return []
        return await suggest.for_argument(self.rt, platform, workspace, user_id, sub, arg, typed)

    async def viewer(self, platform: str, workspace: str, user_id: str) -> Viewer:
        """A person's time zone and whether they see coordinator posts (for text adapters)."""
        async with self.db.read() as s:
            if (found := await known_member(s, platform, workspace, user_id)) is None:
                return Viewer(self.rt.default_tz, False)
            ws, me = found.workspace, found.member
            return Viewer(self.rt.tz(me), bool(await coordinated_programs(s, me, ws)))

    async def home(self, platform: str, workspace: str, user_id: str) -> list[Message]:
        """A person's home page (Slack's App Home tab) as core messages: read only, nothing is changed."""
        return await home_messages(self.rt, self.clock.now(), platform, workspace, user_id)


def _due(at: datetime | None, now: datetime) -> bool:
    return at is not None and at <= now


def _event_key(event: Event) -> str:
    """The ProcessedEvent key that makes a redelivered event a no-op."""
    actor = event.actor
    return f"{actor.platform}:{actor.workspace_id}:{event.event_id}"[:200]


def _start(event: CommandEvent | Invocation) -> str:
    """The start of an over-long command, to quote back."""
    text = event.text if isinstance(event, CommandEvent) else " ".join((*event.path, *event.words))
    return text[:ECHO_LIMIT] + "…"


def _clipped(params: dict[str, object], limit: int = ECHO_LIMIT) -> dict[str, object]:
    """Replies quote what people typed; a pasted essay is quoted only in part."""
    return {k: v[:limit] + "…" if isinstance(v, str) and len(v) > limit and k != "usage" else v
            for k, v in params.items()}


@dataclass(frozen=True)
class Viewer:
    tz: str
    coordinator: bool
