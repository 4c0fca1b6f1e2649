"""Bulk sign-ups (`mentorbot import FILE.csv --program P`): a CSV of people read and checked into a plan,
then applied in one transaction. No platform here: each adapter hands in a `PeopleResolver` that says who a
person cell (a user id, an @handle or an e-mail address) names on its platform."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import prompts
from bot import audit, zones
from bot.args import as_int_in
from bot.context import Ctx, Runtime
from bot.directory import find_workspace
from bot.errors import UserError
from bot.flows.membership import JOIN_ROLES, MAX_CAPACITY
from bot.tags import MAX_TAG_CHARS, MAX_TAGS, normalize_tags, stored
from bot.text import clean
from storage.db import Database
from storage.models import Enrollment, Member, Program, Role, Workspace

MAX_GOALS = 500  # as /mentor profile --goals
MAX_ROWS = 5000  # a bigger file is most likely the wrong file; split it
# The member row the audit log names as the actor of an import: no platform id has this shape (Slack's are
# U..., Discord's digits, the console's word characters), so it can never be mistaken for a person.
SYSTEM_ID = "mentorbot:import"
TAG_COLUMNS = ("topics", "interests", "languages")
COLUMNS = ("person", "role", *TAG_COLUMNS, "tz", "capacity", "goals")
REQUIRED = ("person", "role")
# Header spellings people use, after lower-casing and turning _ and - into spaces.
_ALIASES = {
    "person": "person", "user": "person", "topics": "topics", "topic": "topics", "interests": "interests",
    "interest": "interests", "languages": "languages", "language": "languages", "role": "role",
    "tz": "tz", "time zone": "tz", "timezone": "tz", "zone": "tz", "capacity": "capacity",
    "goals": "goals", "goal": "goals",
}
RefKind = Literal["id", "handle", "email"]
ChangeKind = Literal["enrolled", "updated", "unchanged"]


@dataclass(frozen=True)
class PersonRef:
    """What a person cell asks for: a platform user id, an @handle (without the @) or an e-mail address."""

    kind: RefKind
    value: str


@dataclass(frozen=True)
class Person:
    """Someone the platform knows: their id, the name to show, and their time zone when it says."""

    user_id: str
    display_name: str
    tz: str | None = None


class LookupUnavailable(Exception):
    """The platform could not answer a look-up now (down, refused the token, missing a scope): nothing is
    imported, and the reason is shown."""


class PeopleResolver(Protocol):
    """Who a person cell names, on one platform and workspace; each adapter implements it."""

    platform: str
    workspace: str  # the workspace's external id (Slack team, Discord guild, the console's "local")
    emails: bool  # whether `find` can look people up by e-mail address

    async def find(self, ref: PersonRef) -> list[Person]:
        """Everyone `ref` matches (none, one, or several for an ambiguous @handle); raises
        LookupUnavailable when the platform cannot say."""
        ...


@dataclass(frozen=True)
class Problem:
    """What is wrong with one line of the file, as a prompt key and its placeholders."""

    line: int
    who: str
    error: UserError


@dataclass
class Row:
    """One person line of the file, its cells checked on their own."""

    line: int
    token: str
    ref: PersonRef | None = None
    role: str | None = None
    profile: dict[str, str] = field(default_factory=dict)  # Member column -> value to store, given cells only
    capacity: int | None = None
    person: Person | None = None
    problems: list[UserError] = field(default_factory=list)


@dataclass
class Sheet:
    """A whole file: its person rows and the header columns mentorbot does not know (ignored)."""

    rows: list[Row]
    unknown_columns: list[str]


@dataclass(frozen=True)
class Change:
    """What importing one good row does: a new enrollment (and maybe a new member), updated fields, or nothing."""

    line: int
    person: Person
    role: str
    new_member: bool
    enrollment: Literal["new", "again", "same"]
    fields: tuple[str, ...]

    @property
    def kind(self) -> ChangeKind:
        if self.enrollment != "same":
            return "enrolled"
        return "updated" if self.fields else "unchanged"


@dataclass
class Report:
    """The outcome of an import or a dry run, for the person at the command line."""

    program: str
    source: str
    dry_run: bool
    skip_bad: bool
    rows: int
    changes: list[Change]
    problems: list[Problem]
    unknown_columns: list[str]
    applied: bool = False

    @property
    def ok(self) -> bool:
        """Done (exit code 0): something was imported, or would be, or there was nothing to change."""
        return bool(self.changes) and (not self.problems or self.skip_bad)


# --- reading the file -------------------------------------------------------------------------------


def person_ref(token: str) -> PersonRef | None:
    """A person cell as a look-up: `@handle`, `<@ID>`, an e-mail address, or a bare platform user id."""
    token = token.strip()
    if token.startswith("<@") and token.endswith(">"):  # a mention pasted from chat
        token = token[2:-1].lstrip("!").split("|", 1)[0]
        return PersonRef("id", token) if token else None
    if token.startswith("@"):
        handle = token[1:].strip()
        return PersonRef("handle", handle) if handle else None
    if "@" in token:
        local, _, domain = token.partition("@")
        return PersonRef("email", token) if local and "." in domain and " " not in token else None
    return PersonRef("id", token) if token and " " not in token else None


def _column(header: str) -> str:
    return _ALIASES.get(" ".join(header.replace("_", " ").replace("-", " ").split()).casefold(), "")


def _tags(row: Row, column: str, cell: str) -> None:
    tags = normalize_tags(cell.split(","))
    too_long = next((t for t in tags if len(t) > MAX_TAG_CHARS), None)
    if len(tags) > MAX_TAGS:
        row.problems.append(UserError("import.too_many_tags", column=column, count=len(tags), max=MAX_TAGS))
    elif too_long is not None:
        row.problems.append(UserError("import.tag_too_long", column=column, tag=too_long[:60], max=MAX_TAG_CHARS))
    elif len(value := stored(tags)) > (width := Member.__table__.c[column].type.length):  # type: ignore[attr-defined]
        row.problems.append(UserError("import.tags_too_long", column=column, count=len(value), max=width))
    else:
        row.profile[column] = value


def _check(row: Row, cells: dict[str, str]) -> None:
    """Fill `row` from its cells, noting every cell that is wrong."""
    if not row.token:
        row.problems.append(UserError("import.no_person"))
    elif (ref := person_ref(row.token)) is None:
        row.problems.append(UserError("import.bad_person", token=row.token[:80]))
    else:
        row.ref = ref
    role = cells.get("role", "").casefold()
    if not role:
        row.problems.append(UserError("import.no_role"))
    elif role not in JOIN_ROLES:
        row.problems.append(UserError("import.bad_role", role=cells["role"][:40]))
    else:
        row.role = role
    for column in TAG_COLUMNS:
        if cells.get(column):
            _tags(row, column, cells[column])
    if tz := cells.get("tz"):
        try:
            row.profile["tz"] = zones.read(tz)
        except UserError as exc:
            row.problems.append(exc)
    if goals := cells.get("goals"):
        if len(goals) > MAX_GOALS:
            row.problems.append(UserError("import.goals_too_long", count=len(goals), max=MAX_GOALS))
        else:
            row.profile["goals"] = goals
    if capacity := cells.get("capacity"):
        number = as_int_in(capacity, 1, MAX_CAPACITY)
        if number is None:
            row.problems.append(UserError("import.bad_capacity", value=capacity[:20], max=MAX_CAPACITY))
        elif row.role is not None and row.role != Role.MENTOR:
            row.problems.append(UserError("import.capacity_not_mentor", role=row.role))
        else:
            row.capacity = number


def read_sheet(text: str) -> Sheet:
    """The rows of a CSV with a header row, each checked on its own. Raises UserError for a file that cannot
    be read as such at all (no header, no person or role column, a column twice, too many rows)."""
    reader = csv.reader(io.StringIO(clean(text.removeprefix("\ufeff"))), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise UserError("import.empty_file")
        columns = [_column(h) for h in header]
        unknown = [h.strip() for h, c in zip(header, columns, strict=True) if not c and h.strip()]
        seen: dict[str, str] = {}
        for h, c in zip(header, columns, strict=True):
            if c and c in seen:
                raise UserError("import.column_twice", first=seen[c], second=h.strip())
            seen[c] = h.strip()
        if missing := [c for c in REQUIRED if c not in seen]:
            raise UserError("import.missing_columns", columns=", ".join(missing), found=", ".join(
                h.strip() for h in header if h.strip()) or "-")
        rows: list[Row] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1  # a quoted cell may span lines: a row starts after the last
            if not any(c.strip() for c in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise UserError("import.too_many_rows", max=MAX_ROWS)
            values = {c: v.strip() for c, v in zip(columns, cells, strict=False) if c}
            row = Row(line, values.get("person", ""))
            _check(row, values)
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
                row.problems.append(UserError("import.too_many_cells", count=len(cells), columns=len(columns)))
            rows.append(row)
    except csv.Error as exc:
        raise UserError("import.not_csv", line=reader.line_num, error=str(exc)) from None
    return Sheet(rows, unknown)


# --- who is who -------------------------------------------------------------------------------------


async def resolve(sheet: Sheet, people: PeopleResolver) -> None:
    """Look up each row's person once per distinct cell; note who is unknown, ambiguous, or listed twice."""
    found: dict[PersonRef, list[Person]] = {}
    platform = prompts.say(f"import.platform_{people.platform}")
    for row in sheet.rows:
        if row.ref is None:
            continue
        if row.ref.kind == "email" and not people.emails:
            row.problems.append(UserError("import.no_emails", platform=platform, email=row.ref.value[:80]))
            continue
        if row.ref not in found:
            found[row.ref] = await people.find(row.ref)
        matches = found[row.ref]
        if not matches:
            row.problems.append(UserError(f"import.unknown_{row.ref.kind}", value=row.ref.value[:80],
                                          platform=platform))
        elif len(matches) > 1:
            names = ", ".join(f"{p.display_name} ({p.user_id})" for p in matches[:5])
            row.problems.append(UserError("import.ambiguous", value=row.ref.value[:80], names=names))
        else:
            row.person = matches[0]
    lines: dict[str, list[int]] = defaultdict(list)
    for row in sheet.rows:
        if row.person is not None:
            lines[row.person.user_id].append(row.line)
    for row in sheet.rows:
        if row.person is not None and len(same := lines[row.person.user_id]) > 1:
            others = ", ".join(str(n) for n in same if n != row.line)
            row.problems.append(UserError("import.duplicate", name=row.person.display_name, lines=others))


# --- the plan and applying it -----------------------------------------------------------------------


async def _program(session: AsyncSession, ws: Workspace | None, name: str, people: PeopleResolver) -> Program:
    programs = [] if ws is None else list((await session.exec(
        select(Program).where(Program.workspace_id == ws.id).order_by(col(Program.id)))).all())
    program = next((p for p in programs if p.name.casefold() == name.strip().casefold()), None)
    live = ", ".join(p.name for p in programs if not p.archived) or prompts.say("import.no_programs")
    if program is None:
        raise UserError("import.unknown_program", name=name, workspace=people.workspace, names=live,
                        platform=prompts.say(f"import.platform_{people.platform}"))
    if program.archived:
        raise UserError("import.archived_program", name=program.name, names=live)
    return program


def _changes(row: Row, member: Member | None, enrollments: Sequence[Enrollment]) -> Change | UserError:
    """What row does to the database, or why it cannot (already in the program with another role)."""
    assert row.person is not None and row.role is not None
    current = next((e for e in enrollments if e.active and e.role != Role.COORDINATOR), None)
    if current is not None and current.role != row.role:
        return UserError("import.other_role", role=current.role, wanted=row.role)
    # A new member gets every field given; a known one only those that differ.
    fields = [c for c, v in row.profile.items() if member is None or getattr(member, c) != v]
    if row.capacity is not None and (current is None or current.capacity != row.capacity):
        fields.append("capacity")
    again = any(e.role == row.role for e in enrollments)
    enrollment: Literal["new", "again", "same"] = "same" if current is not None else "again" if again else "new"
    return Change(row.line, row.person, row.role, member is None, enrollment, tuple(fields))


async def _apply(session: AsyncSession, ws: Workspace, program: Program, rows: list[Row],
                 members: dict[str, Member], enrollments: dict[str, list[Enrollment]], now: datetime) -> None:
    for row in rows:
        assert row.person is not None and row.role is not None
        member = members.get(row.person.user_id)
        if member is None:
            member = Member(workspace_id=ws.id, external_id=row.person.user_id,  # type: ignore[arg-type]
                            display_name=clean(row.person.display_name)[:200] or row.person.user_id, created_at=now,
                            tz_from_platform=zones.canonical(row.person.tz) if row.person.tz else None)
            session.add(member)
            await session.flush()
        for column, value in row.profile.items():
            setattr(member, column, value)
        mine = enrollments.get(row.person.user_id, [])
        current = next((e for e in mine if e.active and e.role == row.role), None)
        if current is None and (current := next((e for e in mine if e.role == row.role), None)) is not None:
            current.active, current.left_at, current.joined_at = True, None, now
        if current is None:
            current = Enrollment(program_id=program.id, member_id=member.id, role=row.role,  # type: ignore[arg-type]
                                 joined_at=now)
            session.add(current)
        if row.capacity is not None:
            current.capacity = row.capacity


async def _system_member(session: AsyncSession, ws: Workspace, now: datetime) -> Member:
    """The member the audit log names for imports (see SYSTEM_ID), created on first use."""
    stmt = select(Member).where(Member.workspace_id == ws.id, Member.external_id == SYSTEM_ID)
    if (member := (await session.exec(stmt)).first()) is None:
        member = Member(workspace_id=ws.id, external_id=SYSTEM_ID,  # type: ignore[arg-type]
                        display_name=prompts.say("import.system_name"), created_at=now)
        session.add(member)
        await session.flush()
    return member


async def import_people(db: Database, people: PeopleResolver, text: str, program_name: str, *, source: str,
                        now: datetime, dry_run: bool = False, skip_bad: bool = False) -> Report:
    """Read, check and (unless `dry_run`, or a bad row without `skip_bad`) apply a sign-up file, in one
    transaction. Raises UserError for a file or program it cannot work with, LookupUnavailable when the
    platform cannot say who someone is."""
    sheet = read_sheet(text)
    async with db.transaction() as s:  # a program that does not exist is said before any look-up
        await _program(s, await find_workspace(s, people.platform, people.workspace), program_name, people)
    await resolve(sheet, people)  # outside the transaction: no lock is held while the platform answers
    async with db.transaction() as s:
        ws = await find_workspace(s, people.platform, people.workspace)
        program = await _program(s, ws, program_name, people)
        assert ws is not None
        ids = [r.person.user_id for r in sheet.rows if r.person is not None]
        members = {m.external_id: m for m in (await s.exec(
            select(Member).where(Member.workspace_id == ws.id, col(Member.external_id).in_(ids)))).all()} if ids else {}
        by_member: dict[int, list[Enrollment]] = defaultdict(list)
        if members:
            stmt = select(Enrollment).where(Enrollment.program_id == program.id,
                                            col(Enrollment.member_id).in_([m.id for m in members.values()]))
            for e in (await s.exec(stmt.order_by(col(Enrollment.id)))).all():
                by_member[e.member_id].append(e)
        enrollments = {uid: by_member[m.id] for uid, m in members.items() if m.id is not None}
        changes: list[Change] = []
        good: list[Row] = []
        for row in sheet.rows:
            if not row.problems:
                assert row.person is not None
                outcome = _changes(row, members.get(row.person.user_id), enrollments.get(row.person.user_id, []))
                if isinstance(outcome, UserError):
                    row.problems.append(outcome)
                else:
                    changes.append(outcome)
                    good.append(row)
        problems = [Problem(r.line, r.person.display_name if r.person else r.token[:80], e)
                    for r in sheet.rows for e in r.problems]
        report = Report(program.name, source, dry_run, skip_bad, len(sheet.rows), changes, problems,
                        sheet.unknown_columns)
        if dry_run or not report.ok or all(c.kind == "unchanged" for c in changes):
            return report  # (an import that changes nothing leaves the audit log alone too)
        await _apply(s, ws, program, good, members, enrollments, now)
        actor = await _system_member(s, ws, now)
        counts = _counts(changes)
        skipped = sorted({p.line for p in problems})
        detail = f"{source}: " + ", ".join(f"{k} {n}" for k, n in counts.items()) + (
            f", skipped lines {','.join(map(str, skipped))}" if skipped else "")
        await audit.record(Ctx(Runtime(db), s, now, ws, actor), "import", detail, program.id)
        report.applied = True
        return report


def _counts(changes: list[Change]) -> dict[str, int]:
    kinds = [c.kind for c in changes]
    return {"enrolled": kinds.count("enrolled"), "updated": kinds.count("updated"),
            "unchanged": kinds.count("unchanged")}


# --- telling the person -----------------------------------------------------------------------------


def _fields(change: Change) -> str:
    return ", ".join(prompts.say(f"import.field_{f}") for f in change.fields)


def explain(error: UserError) -> str:
    """One problem's sentence."""
    return prompts.say(error.key, **error.params)


def render(report: Report) -> str:
    """The report as lines for the terminal: the problems, then what was (or would be) done."""
    say = prompts.say
    would = "_would" if report.dry_run else ""
    lines = [say(f"import.head{would}", source=report.source, program=report.program, rows=report.rows)]
    if report.unknown_columns:
        lines.append(say("import.unknown_columns", columns=", ".join(report.unknown_columns),
                         known=", ".join(COLUMNS)))
    for p in report.problems:
        lines.append(say("import.problem", line=p.line, who=p.who, what=explain(p.error)))
    bad = len({p.line for p in report.problems})
    if report.problems and not report.skip_bad:
        lines.append(say(f"import.nothing_bad{would}", bad=bad, good=len(report.changes)))
        return "\n".join(lines)
    if not report.changes:
        lines.append(say("import.no_rows") if not report.rows else say(f"import.nothing_good{would}"))
        return "\n".join(lines)
    for c in report.changes:
        name, uid = c.person.display_name, c.person.user_id
        who = name if name == uid else say("import.who", name=name, id=uid)
        if c.kind == "enrolled":
            again = "_again" if c.enrollment == "again" else ""
            lines.append(say(f"import.enrolled{again}{would}", line=c.line, who=who, role=c.role,
                             new=say("import.new_member") if c.new_member else "",
                             fields=say("import.also", fields=_fields(c)) if c.fields else ""))
        elif c.kind == "updated":
            lines.append(say(f"import.updated{would}", line=c.line, who=who, fields=_fields(c)))
        else:
            lines.append(say("import.unchanged", line=c.line, who=who, role=c.role))
    lines.append(say(f"import.summary{would}", program=report.program, skipped=bad, **_counts(report.changes)))
    return "\n".join(lines)
