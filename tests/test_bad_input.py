"""Bad input: a table of wrong commands and stale clicks, each with the reply it gets and a check that
nothing changed in the database.

Every row is (setup script, bad line, reply fragments, outcome). The setup runs through the console;
then every table is snapshotted, the bad line runs (a console line, or a raw platform event for
buttons and forms the console can no longer show), and the tables are compared again.

What "nothing changed" means follows what MentorBot.handle really guarantees:
- REFUSED: the flow raised UserError inside the event's transaction, so the whole transaction rolls
  back. Not even the actor's `member` row or the `processedevent` id survive: the database is
  byte-for-byte what it was.
- ANSWERED: the flow answered a stale or repeated action with an ordinary reply ("already
  answered", "already rated", ...). That transaction commits, so `processedevent` gains the event id
  and `member` may gain the actor's row; no other table may change.

A reply must be short, must not be error.internal (a crash the bot hid), and nothing may be logged
at ERROR level (a crash, or a template missing a placeholder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

import prompts
from adapters.console import PLATFORM, WORKSPACE, Console
from bot.features import REGISTRY
from bot.core import MentorBot
from bot.events import ActionEvent, Actor, Event, FormSubmission
from bot.flows.escalation import REPORT_FORM, RESOLVE_FORM
from bot.flows.feedback import NOTE_FORM
from bot.messages import Response
from testkit.console import SETUP, Script

REFUSED = "refused"  # UserError: everything rolls back
ANSWERED = "answered"  # an ordinary reply: only member/processedevent may change
MAX_REPLY = 300
INTERNAL = prompts.say("error.internal")

# --- setups (ids are predictable: every test starts from an empty database) ---------------------

# carol (admin) runs Spring with channel #leads; bob is a mentor (Berlin), alice a mentee (New York).
PAIRED = SETUP + "@carol /mentor pair @bob @alice\n"  # pair #1
# erin (mentor) and dave (mentee) are pair #2; carol's nudge opens check-in 1 for #1 and 2 for #2
# (as the clock would a week later, without stepping through the week).
NUDGED = PAIRED + """
@erin /mentor join mentor
@dave /mentor join mentee
@carol /mentor pair @erin @dave
@carol /mentor nudge all
"""
MET = NUDGED + "@alice click We met\n"  # check-in 1 answered by alice
RATED = MET + "@alice click 5\n@alice cancel\n"  # feedback 1: alice rated check-in 1 5/5
ESCALATED = PAIRED + '@alice /mentor problem "he never shows up"\n'  # escalation #1, open
RESOLVED = ESCALATED + "@carol /mentor resolve 1 talked to both\n"
# bob is a coordinator too, and escalation #1 is about his own pair.
OWN_ESCALATED = PAIRED + '@carol /mentor coordinators add @bob\n@alice /mentor problem "he never shows up"\n'
REMATCH = PAIRED + "@alice /mentor rematch not a good fit\n"
PAUSED = PAIRED + "@bob /mentor pause\n"
ENDED = PAIRED + "@carol /mentor unpair 1 schedules never matched\n"
# carol also creates Autumn and hands it to erin, who is its only coordinator (and not an admin).
BLOCKED = SETUP + "@alice /mentor block @bob\n"  # alice's private list holds bob
AUTUMN = SETUP + """
@carol /mentor program create Autumn
@erin /mentor help
@carol /mentor coordinators add @erin --program Autumn
@carol /mentor coordinators remove @carol --program Autumn
"""


@dataclass(frozen=True)
class Click:
    """A button press sent straight to the core, as a platform sends an old or forged button."""

    user: str
    action_id: str
    value: str

    def event(self, console: Console) -> Event:
        return ActionEvent(actor(console, self.user), self.action_id, self.value, "raw-bad-click")


@dataclass(frozen=True)
class Submit:
    """A form submission sent straight to the core."""

    user: str
    form_id: str
    state: str
    values: dict[str, str] = field(default_factory=dict)

    def event(self, console: Console) -> Event:
        return FormSubmission(actor(console, self.user), self.form_id, self.state, dict(self.values),
                              "raw-bad-form")


def actor(console: Console, user: str) -> Actor:
    # The same Actor the console would build, so an admin stays an admin (ensure_member copies is_admin).
    return Actor(PLATFORM, WORKSPACE, user, display_name=user, is_admin=user in console.admins)


def case(setup: str, bad: str | Click | Submit, *expect: str, outcome: str = REFUSED, id: str) -> Any:
    return pytest.param(setup, bad, expect, outcome, id=id)


NOT_COORDINATOR_ANY = "is for program coordinators, and you are not one"
ASK_TO_BE_ADDED = "/mentor coordinators add @you"

# Every coordinator subcommand, run by bob (a mentor, not a coordinator) with otherwise good arguments.
NON_COORDINATOR_ARGS = {
    "program create": ("Autumn", ("Only workspace admins can create programs",)),
    "program set": ("--day tue", ("/mentor program set " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "coordinators": ("add @bob", ("/mentor coordinators " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "channel": ("#mine", ("/mentor channel " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "pair": ("@bob @alice", ("/mentor pair " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "unpair": ("1 bye", ("/mentor unpair " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "pairs": ("--all", ("/mentor pairs " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "people": ("", ("/mentor people " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "escalations": ("", ("/mentor escalations " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "ack": ("1", ("Only coordinators of Spring can use /mentor ack", ASK_TO_BE_ADDED)),
    "resolve": ("1 handled it myself", ("Only coordinators of Spring can use /mentor resolve", ASK_TO_BE_ADDED)),
    "nudge": ("all", ("/mentor nudge " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "report": ("", ("/mentor report " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "match": ("", ("/mentor match " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "capacity": ("@bob 2", ("/mentor capacity " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
    "forget": ("@alice she asked", ("Only coordinators can erase someone else's data", "/mentor forget-me")),
    "export": ("", ("/mentor export " + NOT_COORDINATOR_ANY, ASK_TO_BE_ADDED)),
}

CASES = [
    # --- matching -----------------------------------------------------------------------------
    case(SETUP, "@carol /mentor match everyone now", "/mentor match", id="match-words"),
    case(SETUP, "@bob /mentor suggest", "Suggestions are for mentees of Spring", "/mentor join mentee",
         id="suggest-not-a-mentee"),
    case(SETUP + "@carol /mentor pair @bob @alice\n", "@alice /mentor suggest", "You already have a mentor",
         "/mentor rematch", id="suggest-has-mentor"),
    # --- unknown subcommands ----------------------------------------------------------------
    case(SETUP, "@bob /mentor dance", 'I don\'t know "dance"', "/mentor help", id="unknown-subcommand"),
    case(SETUP, "@bob /mentor joni mentee", "Did you mean /mentor join?", id="near-miss-join"),
    case(SETUP, "@bob /mentor stats", "Did you mean /mentor status?", id="near-miss-status"),
    case(SETUP, "@carol /mentor program delete Spring", "/mentor program needs one of: create, set, list",
         id="unknown-in-group"),
    case(SETUP, "@carol /mentor program", "/mentor program needs one of: create, set, list", id="group-alone"),
    # --- missing arguments ------------------------------------------------------------------
    case(SETUP, "@dave /mentor join", "Say which role", "/mentor join mentee", id="join-no-role"),
    case(PAIRED, "@alice /mentor problem", "Tell me what happened: /mentor problem <what happened>",
         id="problem-no-text"),
    case(PAIRED, '@alice /mentor problem "  "', "Tell me what happened: /mentor problem <what happened>",
         id="problem-blank-text"),
    case(PAIRED, "@alice /mentor rematch", "Give a short reason: /mentor rematch <reason>", id="rematch-no-reason"),
    case(PAIRED, "@alice /mentor rematch \x00", "Give a short reason: /mentor rematch <reason>",
         id="rematch-only-nul"),
    case(PAIRED, "@alice /mentor problem " + "x" * 4000, "longer than 4000 characters", "shorten it",
         id="command-too-long"),
    case(SETUP, "@carol /mentor pair", "Name two people: /mentor pair @mentor @mentee", id="pair-no-args"),
    case(SETUP, "@carol /mentor pair @bob", "Name two people: /mentor pair @mentor @mentee", id="pair-one-arg"),
    case(PAIRED, "@carol /mentor unpair", "Usage: /mentor unpair <pair> <reason>", id="unpair-no-args"),
    case(PAIRED, "@carol /mentor unpair 1", "Usage: /mentor unpair <pair> <reason>", id="unpair-no-reason"),
    case(ESCALATED, "@carol /mentor ack", "Usage: /mentor ack <id>", id="ack-no-id"),
    case(ESCALATED, "@carol /mentor resolve", "Usage: /mentor resolve <id> <note>", id="resolve-no-args"),
    case(ESCALATED, "@carol /mentor resolve 1", "Usage: /mentor resolve <id> <note>", id="resolve-no-note"),
    case(PAIRED, "@carol /mentor nudge", "Usage: /mentor nudge <pair> or /mentor nudge all", id="nudge-no-target"),
    case(SETUP, "@carol /mentor channel", "Name one channel: /mentor channel #", id="channel-no-name"),
    case(SETUP, "@carol /mentor coordinators add", "Usage: /mentor coordinators add @person",
         id="coordinators-add-nobody"),
    case(SETUP, "@carol /mentor coordinators remove", "Usage: /mentor coordinators add @person",
         id="coordinators-remove-nobody"),
    case(SETUP, "@carol /mentor program create", "Give the program a name: /mentor program create",
         id="program-create-no-name"),
    case(SETUP, "@carol /mentor program set", "Say what to change, e.g. /mentor program set --day tue",
         id="program-set-nothing"),
    # --- wrong words ------------------------------------------------------------------------
    case(SETUP, "@dave /mentor join boss", '"boss" is not a role', "/mentor join mentee", id="bad-role"),
    case(SETUP, "@dave /mentor join mentee Autumn", 'There is no program called "Autumn". Programs here: Spring',
         id="join-unknown-program"),
    case(SETUP, "@carol /mentor pairs --program Autumn", 'There is no program called "Autumn"',
         id="coordinator-unknown-program"),
    case(SETUP, "@carol /mentor pairs --program Autumn Leaves", 'There is no program called "Autumn Leaves"',
         "Programs here: Spring", id="unknown-program-of-two-words"),
    case(SETUP, "@bob /mentor checkin --pair 7 yesterday", "/mentor checkin logs a meeting now and takes no extra words",
         id="checkin-pair-then-words"),
    case(SETUP, "@bob /mentor leave Autumn", 'There is no program called "Autumn"', id="leave-unknown-program"),
    case("admin carol", "@dave /mentor join mentee", "no program to join yet", id="join-no-programs"),
    case("admin carol", "@carol /mentor pairs", "Create one with /mentor program create", id="pairs-no-programs"),
    case(SETUP, "@bob /mentor join mentee", "already in Spring as a mentor", "/mentor leave Spring",
         id="join-other-role"),
    case(SETUP, "@bob /mentor join mentor", "You are already in Spring as a mentor.", outcome=ANSWERED,
         id="join-twice"),
    case(AUTUMN, "@dave /mentor join mentee", "There are several programs: Spring, Autumn",
         "/mentor join mentee <program>", id="join-which-program"),
    case(SETUP, "@dave /mentor leave", "You have not joined a program yet", "/mentor join mentee",
         id="leave-not-enrolled"),
    case(SETUP, "@dave /mentor problem it is all broken", "You have not joined a program yet",
         id="problem-not-enrolled"),
    case(SETUP, "@bob /mentor profile hello", 'did not understand "hello"', "/mentor profile --tz Europe/Berlin",
         id="profile-words"),
    case(SETUP, "@bob /mentor resume now", "/mentor resume takes no extra words", id="resume-words"),
    case(SETUP, "@bob /mentor resume", "You are not paused", outcome=ANSWERED, id="resume-not-paused"),
    case(SETUP, "@carol /mentor pairs everything", "/mentor pairs takes no extra words", "Usage: /mentor pairs",
         id="pairs-words"),
    case(SETUP, "@carol /mentor report now", "/mentor report takes no extra words", id="report-words"),
    # --- people in pair ---------------------------------------------------------------------
    case(SETUP, "@carol /mentor pair @bob @zed", "I don't know zed yet", "/mentor help",
         id="pair-unknown-person"),
    case(SETUP, "@carol /mentor pair bob alice", '"bob" is not a person. Mention them, like @alice',
         id="pair-not-a-mention"),
    case(SETUP, "@carol /mentor pair @bob @bob", "cannot be paired with themselves", id="pair-self"),
    case(SETUP, "@carol /mentor pair @alice @bob", "Put the mentor first: /mentor pair @bob @alice",
         id="pair-mentee-first"),
    case(SETUP + "@dave /mentor status\n", "@carol /mentor pair @bob @dave", "dave has not joined Spring",
         "/mentor join mentor", id="pair-not-enrolled"),
    case(SETUP + "@erin /mentor join mentor\n", "@carol /mentor pair @bob @erin",
         "bob is a mentor and erin is a mentor", id="pair-two-mentors"),
    case(PAIRED, "@carol /mentor pair @bob @alice", "already paired (#1)", id="pair-twice"),
    case(ENDED, "@carol /mentor pair @bob @alice", "were paired before (#1)", "after a coordinator's unpair",
         '/mentor pair @bob @alice --force "reason"', id="pair-never-again"),
    case(ENDED, '@carol /mentor pair @bob @alice --force ""', "--force needs a reason", id="pair-force-no-reason"),
    case(PAIRED + "@erin /mentor join mentee\n", "@carol /mentor pair @bob @erin",
         "bob already has 1 pair(s), their limit", "/mentor capacity @bob N", id="pair-over-capacity"),
    # --- options ----------------------------------------------------------------------------
    case(SETUP, "@bob /mentor profile --tz Mars/Olympus", '"Mars/Olympus" is not a time zone', "Europe/Berlin",
         id="bad-tz"),
    case(SETUP, "@bob /mentor profile --tz Europe", '"Europe" is not a time zone', "Europe/Berlin",
         id="bad-tz-region-only"),
    case(SETUP, "@bob /mentor profile --tz PST", '"PST" is an abbreviation', "America/Los_Angeles", id="tz-abbreviation"),
    case(SETUP, "@bob /mentor profile --tz Etc/GMT-1", '"Etc/GMT-1" means UTC+1', "Europe/Berlin", id="tz-etc-inverted"),
    case(SETUP, "@carol /mentor program set --tz GMT+9", '"GMT+9" is a fixed offset', "Asia/Tokyo",
         id="program-tz-offset"),
    case(SETUP, "@carol /mentor program create Autumn --tz Nowhere/City", '"Nowhere/City" is not a time zone',
         id="program-bad-tz"),
    case(SETUP, "@carol /mentor program set --time 25:00", '"25:00" is not a time', "HH:MM, e.g. 10:00",
         id="bad-time"),
    case(SETUP, "@carol /mentor program set --time 9.30", '"9.30" is not a time', id="bad-time-dot"),
    case(SETUP, "@carol /mentor program create Autumn --time noon", '"noon" is not a time', id="create-bad-time"),
    case(SETUP, "@carol /mentor program set --time 1²:00", '"1²:00" is not a time', id="bad-time-superscript"),
    case(SETUP, "@carol /mentor program set --day funday", '"funday" is not a weekday', "Use mon, tue",
         id="bad-day"),
    case(SETUP, "@carol /mentor program set --cadence daily", '"daily" is not a cadence',
         "Use weekly, biweekly or monthly", id="bad-cadence"),
    case(SETUP, "@carol /mentor program set --threshold 0", '"0" is not a threshold', "from 1 to 10",
         id="bad-threshold-zero"),
    case(SETUP, "@carol /mentor program set --threshold many", '"many" is not a threshold', id="bad-threshold-word"),
    case(SETUP, "@carol /mentor program set --threshold ²", '"²" is not a threshold', id="bad-threshold-superscript"),
    case(SETUP, "@bob /mentor profile --capacity lots", 'Capacity must be a number from 1 to 10, not "lots"',
         id="bad-capacity"),
    case(SETUP, "@bob /mentor profile --capacity ²", 'Capacity must be a number from 1 to 10, not "²"',
         id="bad-capacity-superscript"),
    case(SETUP, "@alice /mentor profile --capacity 2", "Capacity is for mentors", "/mentor join mentor",
         id="capacity-not-mentor"),
    case(SETUP, "@bob /mentor status --foo", "I don't know the option --foo. Usage: /mentor status",
         id="unknown-option"),
    case(SETUP, "@carol /mentor program create Autumn --colour red", "I don't know the option --colour",
         "Usage: /mentor program create <name>", id="unknown-option-program"),
    case(SETUP, "@carol /mentor pairs --all=yes", "I don't know the option --all=yes", id="flag-with-value"),
    case(SETUP, "@bob /mentor profile --tz", "--tz needs a value. Usage: /mentor profile", id="option-no-value"),
    case(SETUP, "@bob /mentor profile --tz --goals x", "--tz needs a value", id="option-then-option"),
    case(SETUP, '@bob /mentor profile --goals "learn SQL', "A quote is not closed", '--goals "learn SQL"',
         id="unbalanced-quotes"),
    case(SETUP, "@carol /mentor program create Spring", "There is already a program called Spring",
         id="program-exists"),
    case(SETUP, "@carol /mentor program create spring", "There is already a program called spring",
         id="program-exists-other-case"),
    case(SETUP, "@carol /mentor program create #general", "do not start with #", id="program-bad-name"),
    # --- pause dates ------------------------------------------------------------------------
    case(SETUP, "@bob /mentor pause until someday", '"someday" is not a date', "/mentor pause until 2027-01-10",
         id="pause-bad-date"),
    case(SETUP, "@bob /mentor pause until 2027-02-30", '"2027-02-30" is not a date', id="pause-impossible-date"),
    case(SETUP, "@bob /mentor pause until 2027-01-10 please", '"until 2027-01-10 please" is not a date',
         id="pause-extra-words"),
    case(SETUP, "@bob /mentor pause until 2026-01-01", "2026-01-01 has already started", "Pick a later date",
         id="pause-past-date"),
    case(SETUP, "@bob /mentor pause until 2026-11-30", "2026-11-30 has already started", id="pause-today"),
    case(SETUP, "@bob /mentor pause until 2028-06-01", "2028-06-01 is more than a year away",
         "pause without a date", id="pause-over-a-year"),
    case(SETUP, "@bob /mentor pause until 0001-01-01", "0001-01-01 has already started", id="pause-year-one"),
    # --- coordinators -----------------------------------------------------------------------
    *[
        case(ESCALATED, f"@bob /mentor {name} {arg}".rstrip(), *expect, id=f"not-coordinator-{name.replace(' ', '-')}")
        for name, (arg, expect) in NON_COORDINATOR_ARGS.items()
    ],
    case(SETUP, "@bob /mentor program set --day tue --program Spring",
         "Only coordinators of Spring can use /mentor program set", ASK_TO_BE_ADDED,
         id="not-coordinator-named-program"),
    case(AUTUMN, "@erin /mentor pairs --program Spring", "Only coordinators of Spring can use /mentor pairs",
         id="coordinator-of-other-program"),
    case(AUTUMN + '@alice /mentor problem "he never shows up"\n', "@erin /mentor ack 1",
         "Only coordinators of Spring can use /mentor ack", id="ack-other-programs-escalation"),
    case(AUTUMN, "@carol /mentor pairs", "You coordinate more than one program (Spring, Autumn)",
         "Add --program NAME", id="coordinator-which-program"),
    case(SETUP, "@carol /mentor coordinators remove @carol", "Spring needs at least one coordinator",
         "Add another before removing", id="remove-last-coordinator-admin"),
    case(AUTUMN, "@erin /mentor coordinators remove @erin", "Autumn needs at least one coordinator",
         id="remove-last-coordinator"),
    case(AUTUMN, "@erin /mentor leave Autumn", "You are not in Autumn", id="last-coordinator-leaves"),
    case(SETUP, "@carol /mentor coordinators remove @bob", "bob is not a coordinator of Spring",
         id="remove-non-coordinator"),
    case(SETUP, "@carol /mentor coordinators promote @bob", "Usage: /mentor coordinators add @person",
         id="coordinators-bad-verb"),
    case(SETUP, "@carol /mentor coordinators add bob", '"bob" is not a person', id="coordinators-not-a-mention"),
    case(SETUP, "@carol /mentor coordinators add @ghost", "I don't know ghost yet", "type /mentor help once",
         id="coordinators-add-unknown-person"),
    case(SETUP, "@carol /mentor coordinators add @carol", "carol is already a coordinator of Spring",
         outcome=ANSWERED, id="coordinators-add-twice"),
    case(SETUP, "@carol /mentor channel leads", "Name one channel: /mentor channel #", id="channel-no-hash"),
    case(SETUP, "@carol /mentor channel #a #b", "Name one channel: /mentor channel #", id="channel-two"),
    case(SETUP, "@carol /mentor channel #" + "x" * 200, "Name one channel: /mentor channel #", id="channel-huge"),
    # --- pair and escalation ids ------------------------------------------------------------
    case(PAIRED, "@carol /mentor unpair 99 no reason", "There is no pair #99 in Spring", "/mentor pairs lists them",
         id="unpair-unknown-pair"),
    case(PAIRED, "@carol /mentor unpair abc no reason", '"abc" is not a pair number', "like 3",
         id="unpair-not-a-number"),
    case(PAIRED, "@carol /mentor unpair ² no reason", '"²" is not a pair number', id="unpair-superscript"),
    case(PAIRED, "@carol /mentor unpair 99999999999999999999 x", "is not a pair number", id="unpair-huge-number"),
    case(ENDED, "@carol /mentor unpair 1 again", "Pair #1 has already ended", id="unpair-ended"),
    case(PAIRED, "@carol /mentor nudge 99", "There is no pair #99 in Spring", id="nudge-unknown-pair"),
    case(PAIRED, "@carol /mentor nudge abc", '"abc" is not a pair number', id="nudge-not-a-number"),
    case(PAUSED, "@carol /mentor nudge 1", "Pair #1 is paused, so it gets no nudges", id="nudge-paused-pair"),
    case(NUDGED, "@carol /mentor nudge 1", "Pair #1 was already nudged at", "less than 12 hours ago",
         "so I posted nothing", outcome=ANSWERED, id="nudge-twice"),
    case(ESCALATED, "@carol /mentor ack 99", "There is no escalation #99", "/mentor escalations lists them",
         id="ack-unknown-escalation"),
    case(ESCALATED, "@carol /mentor ack abc", '"abc" is not an escalation number', "like 2",
         id="ack-not-a-number"),
    case(ESCALATED, "@carol /mentor ack ²", '"²" is not an escalation number', id="ack-superscript"),
    case(ESCALATED, "@carol /mentor resolve 99 done", "There is no escalation #99", id="resolve-unknown-escalation"),
    case(RESOLVED, "@carol /mentor ack 1", "Escalation #1 is already resolved", outcome=ANSWERED,
         id="ack-resolved"),
    case(OWN_ESCALATED, "@bob /mentor ack 1", "Escalation #1 is about your own pair", "another coordinator",
         id="ack-own-pair"),
    case(OWN_ESCALATED, "@bob /mentor resolve 1 sorted", "about your own pair", id="resolve-own-pair"),
    case(RESOLVED, "@carol /mentor resolve 1 again", "Escalation #1 is already resolved", outcome=ANSWERED,
         id="resolve-twice"),
    # --- a member without a (suitable) pair -------------------------------------------------
    case(SETUP, "@bob /mentor checkin", "You don't have a pair right now", id="checkin-no-pair"),
    case(SETUP, "@bob /mentor rematch too busy", "You don't have a pair right now", id="rematch-no-pair"),
    case(PAIRED, "@bob /mentor checkin we met", "takes no extra words", "--pair N", id="checkin-words"),
    case(PAIRED, "@bob /mentor checkin --pair 7", "Pair 7 is not one of yours", "/mentor status",
         id="checkin-not-your-pair"),
    case(PAIRED, "@bob /mentor checkin --pair x", "Pair x is not one of yours", id="checkin-pair-not-a-number"),
    case(PAUSED, "@bob /mentor checkin", "Pair #1 is paused", "/mentor resume", id="checkin-paused"),
    case(PAIRED + "clock 2026-12-07T09:00Z\n@alice click We met\n", "@bob /mentor checkin",
         "alice already logged this meeting", "recorded as met", outcome=ANSWERED, id="checkin-after-partner-met"),
    case(PAIRED + "clock 2026-12-07T09:00Z\n@alice /mentor checkin\n", "@alice /mentor checkin",
         "You already logged this meeting", outcome=ANSWERED, id="checkin-twice"),
    case(REMATCH, "@alice /mentor rematch still not a fit", "You already asked for a rematch", outcome=ANSWERED,
         id="rematch-twice"),
    # --- stale and foreign clicks -----------------------------------------------------------
    case(MET, Click("alice", "checkin.met", "1"), 'already answered: alice said "met"', outcome=ANSWERED,
         id="we-met-twice"),
    case(MET, Click("bob", "checkin.could_not_meet", "1"), 'already answered: alice said "met"', outcome=ANSWERED,
         id="other-member-on-answered-checkin"),
    case(RATED, Click("alice", "feedback.rate", "1:3"), "You already rated this check-in (5/5)", outcome=ANSWERED,
         id="rate-twice"),
    case(NUDGED, Click("dave", "checkin.met", "1"), "That check-in belongs to another pair", id="foreign-checkin"),
    case(MET, Click("dave", "feedback.rate", "1:1"), "That check-in belongs to another pair", id="foreign-rating"),
    case(NUDGED, Click("alice", "feedback.rate", "1:5"), "That button or form is out of date", "/mentor status",
         id="rate-before-meeting"),
    case(MET, Click("alice", "feedback.rate", "1:9"), "out of date", id="rate-out-of-range"),
    case(MET, Click("alice", "feedback.rate", "garbage"), "out of date", id="rate-garbage"),
    case(NUDGED, Click("dave", "escalation.report", "1"), "out of date", id="foreign-report-button"),
    case(NUDGED + "@carol /mentor unpair 1 bye\n", Click("alice", "checkin.met", "1"), "out of date",
         id="click-checkin-of-ended-pair"),
    case(MET + "@carol /mentor unpair 1 bye\n", Click("bob", "checkin.met", "1"), "Pair #1 has ended",
         id="click-answered-checkin-of-ended-pair"),
    case(RESOLVED, Click("carol", "escalation.ack", "1"), "Escalation #1 is already resolved", outcome=ANSWERED,
         id="acknowledge-resolved"),
    case(RESOLVED, Click("carol", "escalation.resolve", "1"), "Escalation #1 is already resolved",
         outcome=ANSWERED, id="resolve-button-on-resolved"),
    case(ESCALATED + "@carol /mentor ack 1\n", Click("carol", "escalation.ack", "1"),
         "Escalation #1 is already acknowledged", outcome=ANSWERED, id="acknowledge-twice"),
    case(ESCALATED, Click("bob", "escalation.ack", "1"), "Only coordinators of Spring can use /mentor ack",
         id="acknowledge-by-member"),
    case(ESCALATED, Click("bob", "escalation.resolve", "1"), "Only coordinators of Spring can use /mentor resolve",
         id="resolve-button-by-member"),
    case(OWN_ESCALATED, Click("bob", "escalation.ack", "1"), "about your own pair", id="acknowledge-own-pair"),
    case(OWN_ESCALATED, Click("bob", "escalation.resolve", "1"), "about your own pair",
         id="resolve-button-own-pair"),
    case(SETUP, Click("bob", "checkin.bogus", "1"), "That button or form is out of date", "/mentor status",
         id="unknown-action-id"),
    case(NUDGED, Click("alice", "checkin.met", "abc"), "out of date", id="checkin-value-not-a-number"),
    case(NUDGED, Click("alice", "checkin.met", "99"), "out of date", id="checkin-value-unknown"),
    case(NUDGED, Click("alice", "checkin.met", "3000000000"), "out of date", id="checkin-value-huge"),
    case(NUDGED, Click("alice", "checkin.met", "²"), "out of date", id="checkin-value-superscript"),
    case(NUDGED, Click("alice", "feedback.rate", "3000000000:5"), "out of date", id="rate-value-huge"),
    case(NUDGED, Click("alice", "escalation.report", "3000000000"), "out of date", id="report-value-huge"),
    # --- forms ------------------------------------------------------------------------------
    case(RATED, Submit("alice", NOTE_FORM, "abc", {"note": "x"}), "out of date", id="note-state-not-a-number"),
    case(RATED, Submit("alice", NOTE_FORM, "99", {"note": "x"}), "out of date", id="note-state-unknown"),
    case(RATED, Submit("alice", NOTE_FORM, "3000000000", {"note": "x"}), "out of date", id="note-state-huge"),
    case(RATED, Submit("bob", NOTE_FORM, "1", {"note": "sneaky"}), "out of date", id="note-on-others-feedback"),
    case(NUDGED, Submit("alice", REPORT_FORM, "abc", {"text": "x"}), "out of date", id="report-state-bad"),
    case(NUDGED, Submit("alice", REPORT_FORM, "3000000000", {"text": "x"}), "out of date", id="report-state-huge"),
    case(NUDGED, Submit("dave", REPORT_FORM, "1", {"text": "x"}), "out of date", id="report-on-foreign-pair"),
    case(NUDGED, Submit("alice", REPORT_FORM, "1", {"text": "  "}), "Tell me what happened", id="report-blank"),
    case(ESCALATED, Submit("carol", RESOLVE_FORM, "abc", {"note": "x"}), '"abc" is not an escalation number',
         id="resolve-state-bad"),
    case(ESCALATED, Submit("carol", RESOLVE_FORM, "1", {"note": "   "}), "Say what was done: /mentor resolve 1",
         id="resolve-form-blank-note"),
    case(ESCALATED, Submit("bob", RESOLVE_FORM, "1", {"note": "done"}),
         "Only coordinators of Spring can use /mentor resolve", id="resolve-form-by-member"),
    case(OWN_ESCALATED, Submit("bob", RESOLVE_FORM, "1", {"note": "done"}), "about your own pair",
         id="resolve-form-own-pair"),
    case(SETUP, Submit("bob", "no.such.form", "1", {}), "out of date", id="unknown-form"),
    # --- profiles: tags, and someone else's profile ------------------------------------------
    case(SETUP, "@bob /mentor profile --topics " + ",".join(f"t{i}" for i in range(21)), "Give up to 20 topics",
         "each at most 40 characters", "--topics python,career", id="profile-too-many-topics"),
    case(SETUP, "@bob /mentor profile --languages en," + "x" * 41, "Give up to 20 languages", "--languages en,de",
         id="profile-language-too-long"),
    case(SETUP, "@bob /mentor profile --interests " + ",".join("abcdefghijklmnopqrstu"), "Give up to 20 interests",
         id="profile-too-many-interests"),
    case(SETUP, "@alice /mentor profile @bob", "You can see only your own profile", "/mentor profile",
         id="profile-member-sees-another"),
    case(SETUP, "@carol /mentor profile @bob --tz Europe/Paris", "You can look at bob's profile but not change it",
         "/mentor capacity @bob N", id="profile-coordinator-changes-another"),
    case(SETUP, "@carol /mentor profile @bob --capacity 3", "not change it", id="profile-coordinator-capacity"),
    case(AUTUMN, "@erin /mentor profile @bob", "bob is not in a program you coordinate", id="profile-other-program"),
    case(SETUP, "@carol /mentor profile @zed", "I don't know zed yet", id="profile-unknown-person"),
    case(SETUP, "@carol /mentor profile @bob @alice", "Name one person: /mentor profile @person", id="profile-two-people"),
    # --- the private block list --------------------------------------------------------------
    case(SETUP, "@alice /mentor block", "Name one person: /mentor block @person", id="block-nobody"),
    case(SETUP, "@alice /mentor block @bob @carol", "Name one person: /mentor block @person", id="block-two"),
    case(SETUP, "@alice /mentor block bob", '"bob" is not a person', id="block-not-a-mention"),
    case(SETUP, "@alice /mentor block @alice", "You can't block yourself", id="block-self"),
    case(SETUP, "@alice /mentor block @zed", "I don't know zed", "nobody can pair you with them",
         id="block-unknown-person"),
    case(BLOCKED, "@alice /mentor block @bob", "bob is already on your list", outcome=ANSWERED, id="block-twice"),
    case(BLOCKED, "@alice /mentor blocks add @bob", "bob is already on your list", outcome=ANSWERED,
         id="blocks-add-twice"),
    case(SETUP, "@alice /mentor unblock", "Name one person: /mentor unblock @person", id="unblock-nobody"),
    case(SETUP, "@alice /mentor unblock @bob", "bob is not on your list", outcome=ANSWERED, id="unblock-not-blocked"),
    case(SETUP, "@alice /mentor unblock @alice", "You can't block yourself", id="unblock-self"),
    case(SETUP, "@alice /mentor blocks everyone", "/mentor blocks takes no extra words", id="blocks-words"),
    # --- capacity ----------------------------------------------------------------------------
    case(SETUP, "@carol /mentor capacity", "Usage: /mentor capacity @mentor N, with N from 1 to 10",
         id="capacity-no-args"),
    case(SETUP, "@carol /mentor capacity @bob", "Usage: /mentor capacity @mentor N", id="capacity-no-number"),
    case(SETUP, "@carol /mentor capacity @bob 11", 'Capacity must be a number from 1 to 10, not "11"',
         id="capacity-too-high"),
    case(SETUP, "@carol /mentor capacity @bob many", 'not "many"', id="capacity-word"),
    case(SETUP, "@carol /mentor capacity @alice 2", "alice is not a mentor in Spring", id="capacity-of-a-mentee"),
    case(SETUP, "@carol /mentor capacity @zed 2", "I don't know zed yet", id="capacity-unknown-person"),
    case(SETUP, "@carol /mentor capacity @bob 1", "bob already takes up to 1 mentee(s)", outcome=ANSWERED,
         id="capacity-unchanged"),
    # --- hard rules in /mentor pair, and the program's matching settings ---------------------
    case(BLOCKED, "@carol /mentor pair @bob @alice", "a member's private preference excludes this pair",
         '/mentor pair @bob @alice --force "reason"', id="pair-blocked"),
    case(SETUP + "@carol /mentor program set --max-tz-gap 3\n", "@carol /mentor pair @bob @alice",
         "bob and alice are 6 hours apart, more than this program allows (3)", "--force", id="pair-tz-gap"),
    case(SETUP + "@carol /mentor program set --language-required yes\n@bob /mentor profile --languages de\n",
         "@carol /mentor pair @bob @alice", "bob (de) and alice (-) share no language", id="pair-no-language"),
    case(SETUP, "@carol /mentor program set --weights topics", '"topics" is not a list of weights',
         "--weights topics=3,interests=1,tz=2,languages=1", id="program-set-bad-weights"),
    case(SETUP, "@carol /mentor program set --weights colour=3", '"colour=3" is not a list of weights',
         id="program-set-unknown-weight"),
    case(SETUP, "@carol /mentor program set --weights topics=101", "from 0 to 100", id="program-set-weight-too-big"),
    case(SETUP, "@carol /mentor program set --max-tz-gap 13", '"13" is not a time-zone gap', "or off",
         id="program-set-tz-gap-too-big"),
    case(SETUP, "@carol /mentor program set --max-tz-gap never", '"never" is not a time-zone gap',
         id="program-set-tz-gap-word"),
    case(SETUP, "@carol /mentor program set --language-required maybe", '"maybe" is not yes or no',
         id="program-set-bad-language-required"),
]


def test_every_coordinator_subcommand_is_tried_by_a_non_coordinator() -> None:
    assert set(NON_COORDINATOR_ARGS) == {sub.name for sub in REGISTRY.subcommands if sub.coordinator}


# --- the harness ---------------------------------------------------------------------------------


async def snapshot(bot: MentorBot) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with bot.db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            result = await conn.execute(select(table).order_by(*table.primary_key.columns))
            tables[table.name] = [tuple(row) for row in result]
    return tables


class HandleSpy:
    """Wraps bot.handle: records each event with its Response, or with what it raised."""

    def __init__(self, bot: MentorBot) -> None:
        self.real = bot.handle
        self.calls: list[tuple[Event, Response | BaseException]] = []
        bot.handle = self  # type: ignore[method-assign]

    async def __call__(self, event: Event) -> Response:
        try:
            response = await self.real(event)
        except BaseException as exc:
            self.calls.append((event, exc))
            raise
        self.calls.append((event, response))
        return response


@pytest.mark.parametrize("setup, bad, expect, outcome", CASES)
async def test_bad_input_gets_a_short_answer_and_changes_nothing(
    run: Script, console: Console, bot: MentorBot, caplog: pytest.LogCaptureFixture,
    setup: str, bad: str | Click | Submit, expect: tuple[str, ...], outcome: str,
) -> None:
    assert INTERNAL not in await run(setup)
    await bot.tick()  # nothing may be left due, so only the bad line can change the tables
    before = await snapshot(bot)
    spy = HandleSpy(bot)
    caplog.clear()
    caplog.set_level(logging.INFO)

    if isinstance(bad, str):
        await run(bad)  # fails on a script error, e.g. a click the console cannot make
    else:
        await bot.handle(bad.event(console))

    assert len(spy.calls) == 1, spy.calls
    _, result = spy.calls[0]
    assert isinstance(result, Response), f"bot.handle raised {result!r}"
    reply = result.text
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert reply != INTERNAL and "something went wrong on my side" not in reply, f"a crash was hidden: {errors}"
    assert not errors
    for fragment in expect:
        assert fragment in reply
    assert 0 < len(reply) < MAX_REPLY, reply
    assert result.form is None and not any(m.buttons for m in result.messages)

    after = await snapshot(bot)
    changed = sorted(name for name in before if before[name] != after[name])
    if outcome == REFUSED:
        # UserError rolled the event's transaction back: not even the actor's row or the event id stayed.
        assert changed == [], {name: (before[name], after[name]) for name in changed}
    else:
        # An ordinary reply changes nothing but, when it had to write (an actor the bot had not met gets
        # their member row), the event id that makes a platform retry a no-op. A command that only read
        # by someone known records nothing at all.
        assert set(changed) <= {"member", "processedevent"}, changed
        assert len(after["processedevent"]) - len(before["processedevent"]) in (0, 1)
        assert after["member"][: len(before["member"])] == before["member"]
        assert len(after["member"]) - len(before["member"]) <= 1


async def test_a_pasted_essay_is_quoted_back_only_in_part(run: Script) -> None:
    essay = "x" * 5000
    reply = (await run(f"@zed /mentor {essay}")).split("(only zed sees)")[1]
    assert "x" * 80 + "…" in reply and "x" * 81 not in reply
