"""The console adapter: try mentorbot with no platform account, interactively or from a script.

Script format, one action a line (`#` starts a comment):
    admin carol                          carol is a workspace admin
    @carol /mentor program create Spring
    /mentor help                         a line without @name acts as the console's own person, an admin
    @alice click We met                  a button, by label or number, on alice's latest message with buttons
    @alice submit note="Great first chat"
    @alice cancel                        close alice's open form
    clock +7d | clock +36h | clock 2026-12-07T09:00Z     move time; due work runs at its moment

A script's clock starts at its first absolute `clock` line (or `--start`), so it replays the same on any date.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shlex
import sys
import tempfile
import uuid
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

import prompts
from bot.clock import ManualClock, OffsetClock
from bot.core import MentorBot
from bot.events import ActionEvent, Actor, CommandEvent, FormSubmission
from bot.messages import Form, Message, Response
from bot.messenger import Delivered, Destination, Profile
from bot.periods import local
from bot.signups import Person, PersonRef

PLATFORM = "console"
WORKSPACE = "local"
ME = "me"  # who a line without @name acts as: the person at the keyboard, a workspace admin
_NAME = re.compile(r"[\w.\-]{1,128}")  # who a console person can be: what @name mentions (Console._mentions)
_DELTA = re.compile(r"^\+(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class ScriptError(Exception):
    """A script line the console cannot understand (the line number is added by the runner)."""

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__(prompts.say(key, **params))


@dataclass
class _Posted:
    """One message as the console shows it, kept so its buttons can be clicked."""

    ref: str
    audience: tuple[str, ...]  # user ids; empty for a channel
    channel: str | None
    message: Message


@dataclass
class Transcript:
    """Everything printed, in order; tests read `lines`."""

    out: TextIO | None = None
    lines: list[str] = field(default_factory=list)

    def write(self, text: str) -> None:
        for line in text.split("\n"):
            self.lines.append(line)
            if self.out is not None:
                print(line, file=self.out)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def render(message: Message, indent: str = "  ") -> str:
    """A message as plain text: body, fields, then numbered buttons."""
    lines = [indent + line for line in message.text.split("\n")]
    for label, value in message.fields:
        value_lines = value.split("\n")
        lines.append(f"{indent}  {label}: {value_lines[0]}")
        lines += [f"{indent}    {v}" for v in value_lines[1:]]
    if message.buttons:
        lines.append(indent + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(message.buttons, 1)))
    return "\n".join(lines)


def parse_moment(text: str) -> datetime | None:
    """An ISO time (`2026-12-07T09:00Z`, `2026-12-07 09:00+01:00`; UTC when it names no zone), or None."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def parse_when(text: str, now: datetime) -> datetime:
    """`+7d`, `+1d12h`, `+30m`, or an ISO time (`2026-12-07T09:00Z`) not before `now`."""
    if m := _DELTA.match(text):
        if not any(m.groups()):
            raise ScriptError("console.clock_moves_nothing", text=text)
        w, d, h, mins = (int(g or 0) for g in m.groups())
        return now + timedelta(weeks=w, days=d, hours=h, minutes=mins)
    when = parse_moment(text)
    if when is None:
        raise ScriptError("console.clock_bad", text=text)
    if when < now:
        raise ScriptError("console.clock_past", text=text)
    return when


def _uncommented(line: str) -> str:
    line = line.strip()
    if line.startswith("#"):
        return ""
    # A comment after a line; not after a person's line, where # may be part of a command (#channel).
    return line.split(" #", 1)[0].strip() if " #" in line and not line.startswith(("@", "/")) else line


def script_start(lines: list[str]) -> datetime | None:
    """The moment a script's first absolute `clock` line names: where its clock starts."""
    for line in lines:
        word, _, rest = _uncommented(line).partition(" ")
        if word == "clock" and (when := parse_moment(rest)) is not None:
            return when
    return None


class ConsoleMessenger:
    """The Messenger port for the console: every send and edit becomes transcript lines."""

    platform = PLATFORM

    def __init__(self, console: Console) -> None:
        self.console = console
        self._ids = itertools.count(1)

    async def send(self, dest: Destination, message: Message, *, idempotency_key: str) -> Delivered:
        ref = f"m{next(self._ids)}"
        if dest.kind == "pair":
            conversation = dest.ref or "group:" + "+".join(sorted(dest.members))
            audience, channel = dest.members, None
        elif dest.kind == "user":
            conversation, audience, channel = f"dm:{dest.ref}", (dest.ref or "",), None
        else:
            conversation, audience, channel = dest.ref or "#?", (), dest.ref
        posted = _Posted(ref, tuple(audience), channel, message)
        self.console.posted.append(posted)
        await self.console.show(posted, edited=False)
        return Delivered(ref, conversation if dest.kind == "pair" else None)

    async def update(self, dest: Destination, message_ref: str, message: Message) -> None:
        for posted in self.console.posted:
            if posted.ref == message_ref:
                posted.message = message
                await self.console.show(posted, edited=True)
                return

    async def lookup_profile(self, workspace: str, user_id: str) -> Profile | None:
        return Profile(user_id, user_id)


class ConsolePeople:
    """The PeopleResolver of `mentorbot import --platform console`: console people are their names, so a
    person cell `alice` or `@alice` is alice, known yet or not. The console has no e-mail addresses."""

    platform = PLATFORM
    workspace = WORKSPACE
    emails = False

    async def find(self, ref: PersonRef) -> list[Person]:
        """The person named, or nobody when the name could not be typed as @name on the console."""
        return [Person(ref.value, ref.value)] if _NAME.fullmatch(ref.value) else []


class Console:
    """Reads console lines, turns them into core events, prints what everyone receives."""

    def __init__(self, bot: MentorBot, clock: ManualClock | OffsetClock, out: TextIO | None = None,
                 files_dir: Path | None = None) -> None:
        self.bot = bot
        self.clock = clock
        self._files_dir = files_dir
        self.files: list[Path] = []
        self.transcript = Transcript(out)
        self.posted: list[_Posted] = []
        self.replies: dict[str, _Posted] = {}  # each user's latest ephemeral reply with buttons
        self.forms: dict[str, Form] = {}
        self.admins: set[str] = {ME}
        self._events = itertools.count(1)
        # Event ids must not repeat across runs on the same database, or the dedup table swallows them.
        self._run_id = uuid.uuid4().hex[:12]
        # What the bot sends on its own is printed here once the starter registers it (bot.add_messenger).
        self.messenger = ConsoleMessenger(self)

    @property
    def files_dir(self) -> Path:
        """Where files the bot hands someone (charts, exports, their data) are written, one folder a person;
        made when the first file is, so a session that gets none leaves no empty folder behind."""
        if self._files_dir is None:
            self._files_dir = Path(tempfile.mkdtemp(prefix="mentorbot-files-"))
        return self._files_dir

    # --- output ------------------------------------------------------------------------------

    def _stamp(self) -> str:
        return self.clock.now().strftime("%a %Y-%m-%d %H:%M UTC")

    async def _local(self, user: str) -> str:
        viewer = await self.bot.viewer(PLATFORM, WORKSPACE, user)
        return f"{user} {local(self.clock.now(), viewer.tz).strftime('%a %H:%M')} {viewer.tz}"

    async def show(self, posted: _Posted, *, edited: bool) -> None:
        verb = "edited" if edited else "to"
        if posted.channel:
            where = f"{verb} {posted.channel}"
        elif len(posted.audience) > 1:
            where = f"{verb} {' & '.join(posted.audience)} (shared conversation)"
        else:
            where = f"{verb} {posted.audience[0]} (direct message)"
        locals_ = " | ".join([await self._local(u) for u in posted.audience])
        head = f"[{self._stamp()}{' | ' + locals_ if locals_ else ''}] {where} ({posted.ref})"
        self.transcript.write(head + "\n" + render(posted.message))

    def _reply(self, user: str, response: Response) -> None:
        for message in response.messages:
            self.transcript.write(f"  (only {user} sees) " + render(message, "  ").lstrip())
            if message.buttons:
                self.replies[user] = _Posted(f"reply:{user}", (user,), None, message)
        for attachment in response.files:
            path = self.files_dir / user / attachment.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(attachment.data)
            self.files.append(path)
            self.transcript.write(f"  (file for {user}) {attachment.title or attachment.filename} "
                                  f"({len(attachment.data):,} bytes): {path}")
        if response.form:
            self.forms[user] = response.form
            fields = ", ".join(f"{f.name}{'' if f.required else ' (optional)'}" for f in response.form.fields)
            self.transcript.write(
                f"  (form for {user}) {response.form.title}: {fields}  -> answer with: @{user} submit "
                + " ".join(f'{f.name}="..."' for f in response.form.fields)
            )

    # --- input -------------------------------------------------------------------------------

    def _actor(self, user: str) -> Actor:
        return Actor(PLATFORM, WORKSPACE, user, display_name=user, is_admin=user in self.admins)

    def _event_id(self) -> str:
        return f"console-{self._run_id}-{next(self._events)}"

    @staticmethod
    def _mentions(text: str) -> str:
        """Console users are their names: @bob becomes the mention <@bob|bob>."""
        return re.sub(r"(?<![\w<])@([\w.\-]+)", r"<@\1|\1>", text)

    async def _visible(self, user: str) -> list[_Posted]:
        coordinator = (await self.bot.viewer(PLATFORM, WORKSPACE, user)).coordinator
        seen = [p for p in self.posted if user in p.audience or (p.channel and coordinator)]
        if user in self.replies:
            seen.append(self.replies[user])
        return seen

    async def _click(self, user: str, choice: str) -> None:
        for posted in reversed(await self._visible(user)):
            if posted.message.buttons:
                break
        else:
            raise ScriptError("console.no_buttons", user=user)
        buttons = posted.message.buttons
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            button = buttons[int(choice) - 1]
        else:
            matches = [b for b in buttons if b.label.lower() == choice.lower()]
            if not matches:
                labels = ", ".join(b.label for b in buttons)
                raise ScriptError("console.no_such_button", user=user, choice=choice, labels=labels)
            button = matches[0]
        self.transcript.write(f"[{self._stamp()}] {user} clicks [{button.label}] on {posted.ref}")
        if posted.ref.startswith("reply:"):
            del self.replies[user]
        response = await self.bot.handle(ActionEvent(self._actor(user), button.action_id, button.value,
                                                     self._event_id()))
        self._reply(user, response)

    async def _submit(self, user: str, rest: str) -> None:
        form = self.forms.pop(user, None)
        if form is None:
            raise ScriptError("console.no_form", user=user)
        values: dict[str, str] = {}
        try:
            tokens = shlex.split(rest)
        except ValueError:
            self.forms[user] = form
            raise ScriptError("console.unbalanced_quotes", line=rest) from None
        for token in tokens:
            name, eq, value = token.partition("=")
            if not eq:
                self.forms[user] = form
                raise ScriptError("console.submit_pairs", token=token)
            values[name] = value
        for f in form.fields:
            if f.required and not values.get(f.name, "").strip():
                self.forms[user] = form
                self.transcript.write(f"  (form for {user}) {f.name} is required")
                return
        self.transcript.write(f"[{self._stamp()}] {user} submits {form.title}: {values}")
        response = await self.bot.handle(FormSubmission(self._actor(user), form.form_id, form.state, values,
                                                        self._event_id()))
        self._reply(user, response)

    async def advance(self, target: datetime) -> None:
        """Move the clock to `target`, stopping at every moment work falls due so it runs on time."""
        while True:
            nxt = await self.bot.next_wakeup()
            if nxt is None or nxt > target:
                break
            if nxt > self.clock.now():
                self.clock.set(nxt)
            await self.bot.tick()
            again = await self.bot.next_wakeup()
            if again is not None and again <= self.clock.now():
                if self.clock.now() >= target:
                    break
                self.clock.set(min(target, self.clock.now() + timedelta(minutes=1)))
        self.clock.set(target)
        await self.bot.tick()

    async def run_line(self, line: str) -> None:
        """Run one console line."""
        line = _uncommented(line)
        if not line:
            return
        word, _, rest = line.partition(" ")
        if word in ("/mentor", "/mentorbot", "click", "submit", "cancel"):
            line = f"@{ME} {line}"
            word, _, rest = line.partition(" ")
        if word in ("help", "?"):
            self.transcript.write(prompts.say("console.help", me=ME))
            return
        if word == "admin":
            names = rest.split()
            if not names:
                raise ScriptError("console.admin_needs_name")
            self.admins.update(n.lstrip("@") for n in names)
            return
        if word == "clock":
            target = parse_when(rest.strip(), self.clock.now())
            self.transcript.write(f"--- clock moves to {target.strftime('%a %Y-%m-%d %H:%M UTC')} ---")
            await self.advance(target)
            return
        if not word.startswith("@") or len(word) < 2:
            raise ScriptError("console.bad_line", line=line)
        user = word[1:]
        verb, _, arg = rest.strip().partition(" ")
        if verb in ("/mentor", "/mentorbot"):
            self.transcript.write(f"[{self._stamp()}] {user}: /mentor {arg}")
            response = await self.bot.handle(CommandEvent(self._actor(user), self._mentions(arg), None,
                                                          self._event_id()))
            self._reply(user, response)
        elif verb == "click":
            if not arg:
                raise ScriptError("console.click_needs_label")
            await self._click(user, arg.strip().strip('"'))
        elif verb == "submit":
            await self._submit(user, arg)
        elif verb == "cancel":
            self.forms.pop(user, None)
        else:
            raise ScriptError("console.bad_verb", user=user, verb=verb)
        await self.bot.tick()

    async def run_script(self, lines: list[str]) -> int:
        """Replay a script; a bad line is reported with its number and the replay goes on."""
        errors = 0
        for number, line in enumerate(lines, 1):
            try:
                await self.run_line(line)
            except ScriptError as exc:
                errors += 1
                self.transcript.write(f"!! line {number}: {exc}")
        return errors

    async def interactive(self, banner: str, stdin: TextIO = sys.stdin) -> None:
        """Read lines until end of input; `quit` stops. Due work also arrives on its own meanwhile.
        At a terminal, lines can be edited and earlier ones recalled (readline)."""
        self.transcript.write(banner)
        read = _terminal_reader() if stdin.isatty() else stdin.readline
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, read)
            if not line or line.strip() in ("quit", "exit"):
                return
            try:
                await self.run_line(line)
            except ScriptError as exc:
                self.transcript.write(f"!! {exc}")


def _terminal_reader() -> Callable[[], str]:
    """input() with line editing and history; end of input (Ctrl-D) reads as ''."""
    import readline  # noqa: F401  (importing it gives input() editing and history)

    def read() -> str:
        try:
            return input("> ") + "\n"
        except EOFError:
            return ""

    return read
