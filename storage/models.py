"""SQLModel tables: the whole state of mentorbot lives here (DESIGN.md, "Data")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


_KEPT_TEXTS = 4096


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # One step where SQLAlchemy takes two (this class, then SQLite's DATETIME formatting): a fan-out binds five
        # datetimes per pair. The text is the one SQLite's DATETIME writes, so stored values compare the same.
        # Most of a fan-out's five share a handful of moments (now, each zone's due time), so each moment's text
        # is kept: equal moments give equal text whatever their zone, and the cache is emptied when it fills.
        texts: dict[datetime, str] = {}

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if (text := texts.get(value)) is None:
                if len(texts) >= _KEPT_TEXTS:
                    texts.clear()
                text = texts[value] = self.process_bind_param(value, dialect).isoformat(" ", "microseconds")  # type: ignore[union-attr]
            return text

        return to_text

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Pair.next_due_at's "due now, recompute" mark: earlier than any real moment, so the planner's index
# probe (next_due_at <= now) always finds it.
RECOMPUTE = datetime(1970, 1, 1, tzinfo=UTC)


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    PEER = "peer"
    COORDINATOR = "coordinator"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class PairStatus(StrEnum):
    PROPOSED = "proposed"  # put forward by /mentor match or a mentee's request, awaiting a coordinator
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"
    SKIPPED = "skipped"  # a proposal a coordinator skipped or discarded, or that no longer held: never started


class PairEndCause(StrEnum):
    """Why a pair ended; the never-again rule (bot/safeguards.py) reads it."""

    PROBLEM = "problem"  # a member reported a problem about the pair
    LOW_RATING = "low_rating"  # a check-in was rated 2 or less
    REMATCH = "rematch"  # a member asked for a new match
    UNPAIR = "unpair"  # a coordinator ended it, with nothing above on record
    LEFT = "left"  # a member left the program or the workspace


class CheckinStatus(StrEnum):
    DUE = "due"  # planned, nudge queued
    MET = "met"
    RESCHEDULED = "rescheduled"
    COULD_NOT_MEET = "could_not_meet"
    MISSED = "missed"  # no answer by the end of the period


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EscalationKind(StrEnum):
    PROBLEM = "problem"
    REMATCH = "rematch"
    LOW_RATING = "low_rating"
    NOT_MEETING = "not_meeting"
    DELIVERY = "delivery"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxKind(StrEnum):
    """What an outbox row is; its subject_id names the row it is about (in brackets)."""

    INTRO = "intro"  # (pair)
    NUDGE = "nudge"  # (pair)
    NUDGE_AGAIN = "nudge-again"  # a coordinator's nudge (checkin)
    ANSWER = "answer"  # an answer, editing the nudge (checkin)
    REMIND = "remind"  # (checkin)
    CLOSED = "closed"  # a period closed unanswered, editing the nudge (checkin)
    RATE = "rate"  # a rating request (checkin)
    RATED = "rated"  # the rating request answered (checkin)
    PAUSED = "paused"  # told to the partner (pair)
    RESUMED = "resumed"  # (member)
    RESUMED_PARTNER = "resumed-partner"  # (pair)
    ENDED = "ended"  # (pair)
    ENDED_CHECKIN = "ended-checkin"  # the open check-in of an ended pair (checkin)
    ESCALATION = "escalation"  # a coordinators' post and its edits (escalation)
    ESCALATION_REMINDER = "escalation-reminder"  # (escalation)
    ESCALATION_NOTE = "escalation-note"  # a note added to an escalation (escalation)
    DIGEST = "digest"  # (program)
    PROPOSAL = "proposal"  # a match proposal to the coordinator who asked for it, and its edits (proposal)
    REQUEST = "request"  # a mentee's request for a mentor, to the coordinators, and its edits (proposal)
    REQUEST_ANSWER = "request-answer"  # the coordinators' answer, to the mentee (proposal)
    FIRST_IN_LINE = "first-in-line"  # a peer a match left over is told they go first next time (proposal)
    GOAL_PROGRESS = "goal-progress"  # after a met check-in, the mentee is asked how a goal went (goal)
    GOAL_PROGRESSED = "goal-progressed"  # that question answered, editing it (goal)
    FIT_CHECK = "fit-check"  # "is this a good match?" after the first meeting, to one member (fit check)
    FIT_ANSWERED = "fit-answered"  # the fit check answered, editing it (fit check)
    PULSE = "pulse"  # the 30/90/150... day survey, to one member (pulse)
    PULSE_ANSWERED = "pulse-answered"  # the survey answered, editing it (pulse)

    @property
    def for_coordinators(self) -> bool:
        """Sent to a program's coordinators (their channel or their DMs), not to members."""
        return self in COORDINATOR_KINDS


COORDINATOR_KINDS = frozenset({OutboxKind.ESCALATION, OutboxKind.ESCALATION_REMINDER, OutboxKind.ESCALATION_NOTE,
                               OutboxKind.DIGEST, OutboxKind.PROPOSAL, OutboxKind.REQUEST})


class Workspace(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    external_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=200)


class Member(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    external_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=200)
    tz: str | None = Field(default=None, max_length=64)
    tz_from_platform: str | None = Field(default=None, max_length=64)
    interests: str = Field(default="", max_length=1000)  # comma separated, normalized (bot/tags.py)
    topics: str = Field(default="", max_length=1000)  # mentors: what they help with; mentees: what they want
    languages: str = Field(default="", max_length=200)
    goals: str = Field(default="", max_length=2000)
    is_admin: bool = False
    paused: bool = False
    paused_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Program(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),
                      sa.Index("ix_program_archived_digest", "archived", "next_digest_at"),
                      sa.Index("ix_program_retention", "retention_at", "keep_notes_days"))
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    name: str = Field(max_length=100)
    cadence: str = Field(default=Cadence.WEEKLY, max_length=16)
    weekday: int = 0  # Monday = 0
    local_time: str = Field(default="10:00", max_length=5)
    tz: str = Field(default="UTC", max_length=64)  # for the digest and the biweekly anchor
    channel_ref: str | None = Field(default=None, max_length=128)
    # Where a platform that cannot open group DMs (Discord) opens each pair's private thread.
    pairs_channel_ref: str | None = Field(default=None, max_length=128)
    missed_threshold: int = 2
    # Matching (bot/matching.py): the score's weights as "topics=3,interests=1,..." ("" = the defaults),
    # and two optional hard rules.
    match_weights: str = Field(default="", max_length=200)
    max_tz_gap: int | None = None  # hours
    require_language: bool = False
    # Days free-text notes and reports are kept (bot/flows/mydata.py retention sweep); None keeps them.
    keep_notes_days: int | None = None
    archived: bool = False
    # When the next weekly digest is due (bot/flows/report.py); None: not scheduled yet, the sweep does it.
    next_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the retention sweep next runs for this program (bot/flows/mydata.py); None with no retention.
    retention_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Enrollment(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("program_id", "member_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(max_length=16)
    capacity: int = 1  # pairs a mentor takes at once
    active: bool = True
    joined_at: datetime = Field(sa_type=UTCDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Pair(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_pair_program_status", "program_id", "status"),
                      sa.Index("ix_pair_status_pulse", "status", "pulse_at"),
                      sa.Index("ix_pair_status_next_due", "status", "next_due_at"))
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id")
    # For mentor/mentee pairs a is the mentor and b the mentee; for peers the order is arbitrary.
    member_a_id: int = Field(foreign_key="member.id", index=True)
    member_b_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(default="mentorship", max_length=16)  # mentorship | peer
    status: str = Field(default=PairStatus.ACTIVE, max_length=16)  # indexed by the (status, ...) indexes above
    end_reason: str | None = Field(default=None, max_length=1000)
    end_cause: PairEndCause | None = Field(default=None, sa_type=sa.Enum(
        PairEndCause, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    conversation_ref: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Check-ins are planned only for periods due after this moment (start or resume).
    active_since: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When a pause last ended: periods due before it never count as missed (bot/flows/checkin.py).
    resumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last `/mentor nudge` by hand: a coordinator's nudge within 12 hours of it posts nothing.
    nudged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A proposed pair: the proposal it belongs to, its score and why (bot/flows/matching.py).
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    score: float | None = None
    reasons: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # When the pair's next pulse survey is due (bot/flows/health.py); None until the sweep first sees it.
    pulse_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the check-in planner next has work for this pair (bot/due.py); RECOMPUTE (the epoch) means
    # "due now: recompute", the value every new pair and every changed pair gets.
    next_due_at: datetime | None = Field(default=RECOMPUTE, sa_type=UTCDateTime)


class ProposalKind(StrEnum):
    MATCH = "match"  # /mentor match: many pairs, to the coordinator who ran it
    REQUEST = "request"  # /mentor suggest: a mentee chose a mentor, to the coordinators


class ProposalStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # every pair approved or skipped, discarded, or replaced by a newer match


class Proposal(SQLModel, table=True):
    """A set of proposed pairs awaiting a coordinator; the pairs are Pair rows with status proposed."""

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    kind: str = Field(default=ProposalKind.MATCH, max_length=16)
    requested_by_id: int = Field(foreign_key="member.id")
    status: str = Field(default=ProposalStatus.OPEN, max_length=16)
    # Who was left out and why: [{"member_id": 3, "reason": "excluded", "rules": ["tz_gap"]}, ...]
    unmatched: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Block(SQLModel, table=True):
    """A member's private "don't pair me with": never shown to the blocked person."""

    __table_args__ = (sa.UniqueConstraint("member_id", "blocked_id"),)
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    blocked_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Checkin(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("pair_id", "period"),
        sa.Index("ix_checkin_status_due", "status", "due_at"),
        sa.Index("ix_checkin_status_closes", "status", "closes_at"),
        # The reminder sweep: open, not yet reminded, oldest first (reminded rows are never walked again).
        sa.Index("ix_checkin_status_reminded_due", "status", "reminded_at", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id")  # indexed by the unique (pair_id, period)
    period: str = Field(max_length=10)  # calendar date of the program's weekday, YYYY-MM-DD
    due_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=CheckinStatus.DUE, max_length=16)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by_id: int | None = Field(default=None, foreign_key="member.id")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GoalStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class GoalLevel(StrEnum):
    """How much a goal moved since the last meeting, as the mentee clicks it (bot/flows/goals.py)."""

    NONE = "none"
    SOME = "some"
    LOT = "lot"
    DONE = "done"


class Goal(SQLModel, table=True):
    """A pair's written goal: what, what success looks like, by when (SMART); at most 3 open a pair."""

    __table_args__ = (sa.Index("ix_goal_pair_status", "pair_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id")
    created_by_id: int = Field(foreign_key="member.id")
    text: str = Field(max_length=200)
    success: str = Field(max_length=400)
    target_date: date  # a calendar day in the mentee's zone: overdue once that day is over there
    status: str = Field(default=GoalStatus.OPEN, max_length=16)
    progress: str = Field(default=GoalLevel.NONE, max_length=16)  # the latest answer
    # The last answer that showed movement (some, a lot, done), else when it was set: "stalled" reads it.
    moved_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GoalProgress(SQLModel, table=True):
    """One progress answer on a goal after one met check-in."""

    __table_args__ = (sa.UniqueConstraint("goal_id", "checkin_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    goal_id: int = Field(foreign_key="goal.id", index=True)
    checkin_id: int = Field(foreign_key="checkin.id")
    member_id: int = Field(foreign_key="member.id")
    level: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Feedback(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("checkin_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(foreign_key="checkin.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    rating: int
    note: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)


class FitAnswer(StrEnum):
    YES = "yes"
    NOT_SURE = "not_sure"
    NO = "no"


class FitCheck(SQLModel, table=True):
    """A member's private answer, after the pair's first meeting, to "Is this a good match for you?"."""

    __table_args__ = (sa.UniqueConstraint("pair_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    checkin_id: int = Field(foreign_key="checkin.id")  # the first meeting
    answer: str | None = Field(default=None, max_length=16)  # a FitAnswer; None until answered
    asked_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Pulse(SQLModel, table=True):
    """One member's private pulse survey (how useful is the mentorship, 1-5, and a note); round 0 is day 30."""

    __table_args__ = (sa.UniqueConstraint("pair_id", "member_id", "round"),)
    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    round: int
    asked_at: datetime = Field(sa_type=UTCDateTime)
    rating: int | None = None
    note: str = Field(default="", max_length=2000)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HealthSnapshot(SQLModel, table=True):
    """Every live pair's health state as the weekly digest saw it: "what changed" and the chart read these."""

    __table_args__ = (sa.UniqueConstraint("program_id", "week"),)
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    week: str = Field(max_length=10)  # the digest's Monday, YYYY-MM-DD
    states: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)  # pair id -> state
    taken_at: datetime = Field(sa_type=UTCDateTime)


class Escalation(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_escalation_program_status", "program_id", "status"),
        sa.Index("ix_escalation_status_opened", "status", "opened_at"),
        sa.Index("ix_escalation_status_reminded_opened", "status", "reminded_at", "opened_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id")
    pair_id: int | None = Field(default=None, foreign_key="pair.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="member.id")
    kind: str = Field(max_length=16)
    reason: str = Field(default="", max_length=2000)
    status: str = Field(default=EscalationStatus.OPEN, max_length=16)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acked_by_id: int | None = Field(default=None, foreign_key="member.id")
    acked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by_id: int | None = Field(default=None, foreign_key="member.id")
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str = Field(default="", max_length=2000)


class Outbox(SQLModel, table=True):
    # ix_outbox_claim serves the deliverer's claim (pending rows, urgent first, then in order) straight from
    # the index, so claiming costs the same however many rows wait; ix_outbox_status_next serves next_due.
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      sa.Index("ix_outbox_kind_subject", "kind", "subject_id"),
                      sa.Index("ix_outbox_claim", "status", "priority", "id"))
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # idempotency only: what a row is, is kind + subject_id
    kind: str = Field(max_length=32)  # an OutboxKind
    subject_id: int | None = None  # the pair, check-in, escalation, member or program it is about
    workspace_id: int = Field(foreign_key="workspace.id")
    program_id: int | None = Field(default=None, foreign_key="program.id")
    # user | pair | channel; target is a member id, a pair id or a channel reference
    dest_kind: str = Field(max_length=16)
    target: str = Field(max_length=128)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    # When set, this row edits the message another row (by key) sent instead of posting anew.
    edits_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    # 0 goes first (edits and direct messages, bot.outbox.priority_of), 1 is the rest (a fan-out).
    priority: int = Field(default=1, sa_type=sa.SmallInteger, sa_column_kwargs={"server_default": "1"})
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    message_ref: str | None = Field(default=None, max_length=200)
    conversation_ref: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProcessedEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=200, unique=True)  # platform:workspace:event id
    processed_at: datetime = Field(sa_type=UTCDateTime, index=True)


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    program_id: int | None = Field(default=None, foreign_key="program.id")
    actor_id: int = Field(foreign_key="member.id")
    action: str = Field(max_length=64)
    detail: str = Field(default="", max_length=2000)
    at: datetime = Field(sa_type=UTCDateTime)


class SendSlot(SQLModel, table=True):
    """A platform budget's next free moment (seconds on the pacer's clock), shared by every replica."""

    __tablename__ = "send_slot"
    key: str = Field(primary_key=True, max_length=200)
    next_at: float
