"""Members' own data end to end on the console: my-data holds the person's own data and nobody else's,
forget-me after a confirmation (and its cancel), the database holding none of the forgotten person's strings
afterwards (every text and JSON column of every table, on SQLite and PostgreSQL), partners told neutrally,
counts unchanged, a coordinator's forget audited without the name, an account deleted on the platform, the
retention sweep on the injected clock, and who may do what."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import SQLModel, select

from bot.core import MentorBot
from bot.events import ActionEvent, Actor, MemberLeft
from storage.models import AuditLog, Block, Checkin, Enrollment, Escalation, Feedback, Member, Outbox, Pair, Program
from testkit.console import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, member_id, posted_to, rows, seen_by

ALICE_NOTE = "she explained decorators with a kettle"
ALICE_REPORT = "the calls keep slipping past midnight"
BOB_NOTE = "alice came well prepared"
# Alice's story: paired with bob, a met check-in both rated with notes, a report of hers, a block each way.
STORY = SETUP + f"""
@dan /mentor join mentor
@dan /mentor profile --tz Asia/Tokyo --interests cooking
@carol /mentor pair @bob @alice
clock {FIRST_NUDGE}
@bob click We met
@alice click 4
@alice submit note="{ALICE_NOTE}"
@bob click 5
@bob submit note="{BOB_NOTE}"
@alice /mentor problem {ALICE_REPORT}
@alice /mentor block @dan
@dan /mentor block @alice
clock +1h
"""
# What must not survive alice's erasure anywhere: her name and platform id (both "alice" on the console),
# her own interest, goals and zone, her note and her report.
ALICE_STRINGS = ("alice", "career", "First dev job", "America/New_York", ALICE_NOTE, ALICE_REPORT)


def my_file(run: Script, user: str) -> dict[str, Any]:
    [path] = [p for p in run.console.files if p.parent.name == user][-1:]
    return json.loads(path.read_text())


async def strings_in_database(bot: MentorBot, needles: tuple[str, ...]) -> list[str]:
    """Every (table.column: needle) where a text or JSON value of any row of any table holds a needle."""
    found: list[str] = []
    async with bot.db.transaction() as s:
        for table in SQLModel.metadata.sorted_tables:
            connection = await s.connection()
            for row in (await connection.execute(select(table))).mappings().all():
                for column, value in row.items():
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) \
                        if isinstance(value, dict | list) else None
                    if text is None:
                        continue
                    found += [f"{table.name}.{column}: {n} in {text[:300]}" for n in needles
                              if n.lower() in text.lower()]
    return found


async def counts(bot: MentorBot) -> dict[str, int]:
    return {m.__name__: len(await rows(bot, m)) for m in (Pair, Checkin, Feedback, Escalation, Enrollment, AuditLog)}


async def test_my_data_holds_my_own_data_and_nothing_anyone_said_about_me(run: Script, bot: MentorBot) -> None:
    out = await run(STORY + "@alice /mentor my-data")
    assert "(only alice sees) Here is everything mentorbot holds about you, as a JSON file only you receive" in out
    assert "(file for alice) Your mentorbot data" in out
    data = my_file(run, "alice")
    assert data["member"]["display_name"] == "alice" and data["member"]["platform_id"] == "alice"
    assert data["member"]["interests"] == "python,career" and data["member"]["goals"] == "First dev job"
    assert data["member"]["tz"] == "America/New_York"
    assert [(e["program"], e["role"], e["active"]) for e in data["enrollments"]] == [("Spring", "mentee", True)]
    [pair] = data["pairs"]
    assert pair["partner"] == "bob" and pair["my_role"] == "mentee" and set(pair) >= {"status", "started_at"}
    assert [(c["period"], c["answer"]) for c in data["checkins_answered"]] == []  # bob answered it
    assert [(r["rating"], r["note"]) for r in data["ratings"]] == [(4, ALICE_NOTE)]
    assert [(r["kind"], r["text"]) for r in data["reports"]] == [("problem", ALICE_REPORT)]
    assert [b["person"] for b in data["blocks"]] == ["dan"]
    whole = json.dumps(data)
    assert BOB_NOTE not in whole and "5" not in [str(r["rating"]) for r in data["ratings"]]
    # dan's block against alice is dan's: never in her file.
    assert "dan" not in json.dumps({k: v for k, v in data.items() if k != "blocks"})

    out = await run("@bob /mentor my-data")
    bob = my_file(run, "bob")
    assert [(r["rating"], r["note"]) for r in bob["ratings"]] == [(5, BOB_NOTE)]
    assert [c["answer"] for c in bob["checkins_answered"]] == ["met"]
    assert bob["reports"] == [] and bob["blocks"] == []
    assert ALICE_NOTE not in json.dumps(bob) and ALICE_REPORT not in json.dumps(bob)
    assert bob["pairs"][0]["partner"] == "alice" and bob["pairs"][0]["my_role"] == "mentor"
    assert "career" not in json.dumps(bob)  # the partner's profile is not his


async def test_my_data_takes_no_words_and_a_member_cannot_ask_for_someone_else(run: Script) -> None:
    out = await run(SETUP + "@alice /mentor my-data @bob")
    assert "(only alice sees) /mentor my-data takes nothing more" in out
    assert run.console.files == []


async def test_forget_me_asks_first_and_cancel_changes_nothing(run: Script, bot: MentorBot) -> None:
    out = await run(STORY + "@alice /mentor forget-me\n@alice click Keep my data")
    assert "(only alice sees) This erases you from mentorbot for good" in out
    assert "Nothing changed: your data stays." in out
    [alice] = await rows(bot, Member, Member.display_name == "alice")
    assert alice.interests == "python,career"
    assert "ended" not in seen_by(out, "bob")


async def test_forget_me_erases_every_string_and_keeps_the_counts(run: Script, bot: MentorBot) -> None:
    await run(STORY)
    before = await counts(bot)
    report_before = await run("@carol /mentor report")
    alice_id = await member_id(bot, "alice")
    out = await run("@alice /mentor forget-me\n@alice click Erase my data\nclock +1m")
    assert "(only alice sees) Done: you have left every program and mentorbot no longer holds your name" in out
    bob = seen_by(out, "bob")
    assert "Your pairing in Spring has ended. A coordinator will be in touch about what comes next." in bob
    assert "alice" not in bob.replace("alice clicks", "").replace("alice: /mentor", "")
    assert f"former member #{alice_id} left the program; bob needs a new match." in posted_to(out, "#leads")
    assert await strings_in_database(bot, ALICE_STRINGS) == []
    # Every row reports count stays; leaving raised the usual rematch request (forget-me is not audited).
    after = await counts(bot)
    assert after == {**before, "Escalation": before["Escalation"] + 1}  # the rematch request leaving raised
    [member] = await rows(bot, Member, Member.id == alice_id)
    assert member.display_name == f"former member #{alice_id}" and member.external_id.startswith("forgotten:")
    assert (member.tz, member.interests, member.topics, member.languages, member.goals) == (None, "", "", "", "")
    assert [f.rating for f in await rows(bot, Feedback)] == [4, 5]
    [bob_feedback] = await rows(bot, Feedback, Feedback.rating == 5)
    assert bob_feedback.note == f"former member #{alice_id} came well prepared"
    assert [(b.member_id, b.blocked_id) for b in await rows(bot, Block)] == [
        (await member_id(bot, "dan"), alice_id)]  # hers deleted; dan's holds no string
    assert not any(e.active for e in await rows(bot, Enrollment, Enrollment.member_id == alice_id))
    report_after = await run("@carol /mentor report")
    assert _figures(report_before) == _figures(report_after) != []
    assert "met 1/1, avg rating 4.5" in report_before and "met 1/1, avg rating 4.5" in report_after
    # If alice comes back she starts afresh, as a new member.
    out = await run("@alice /mentor status")
    assert "not in any program" in out or "not enrolled" in out.lower() or "join" in out
    assert len(await rows(bot, Member, Member.external_id == "alice")) == 1


def _figures(report: str) -> list[str]:
    """The report's lines about ratings and check-ins (their counts must not move when someone is forgotten)."""
    return [line for line in report.splitlines() if "check-in" in line.lower() and "Pairs:" not in line]


async def test_pending_messages_to_a_forgotten_member_are_cancelled(run: Script, bot: MentorBot) -> None:
    await run(SETUP + "@carol /mentor pair @bob @alice")  # the intro is queued, not yet sent
    alice_id = await member_id(bot, "alice")
    await run("@alice /mentor forget-me\n@alice click Erase my data\nclock +1m")
    pending = [r for r in await rows(bot, Outbox) if r.status == "pending"]
    assert pending == []
    to_her = [r for r in await rows(bot, Outbox) if r.dest_kind == "user" and r.target == str(alice_id)]
    assert all(r.payload == {"text": ""} for r in to_her)
    assert await strings_in_database(bot, ALICE_STRINGS) == []


async def test_a_forged_confirmation_for_someone_else_changes_nothing(run: Script, bot: MentorBot) -> None:
    await run(STORY)
    bob_id = await member_id(bot, "bob")
    response = await bot.handle(ActionEvent(Actor("console", "local", "alice", "alice"), "mydata.forget",
                                            str(bob_id), "forged-1"))
    assert "That button was for someone else; nothing changed." in response.text
    [bob] = await rows(bot, Member, Member.id == bob_id)
    assert bob.display_name == "bob" and bob.interests == "python,music"


async def test_a_coordinator_forgets_someone_audited_without_their_name(run: Script, bot: MentorBot) -> None:
    await run(STORY)
    bob_id = await member_id(bot, "bob")
    out = await run("@alice /mentor forget @bob he asked\n@carol /mentor forget @bob\n"
                    "@carol /mentor forget @carol myself\n@carol /mentor forget bob x\n"
                    "@carol /mentor forget @bob asked by email; bob wants no record\nclock +1m")
    assert "(only alice sees) Only coordinators can erase someone else's data." in out
    assert "(only carol sees) Say why, for the audit log" in out
    assert "(only carol sees) To erase your own data, use /mentor forget-me" in out
    assert "(only carol sees) Name the person and why: /mentor forget @person <reason>." in out
    assert f"(only carol sees) Done: that person left every program and is now former member #{bob_id}" in out
    assert "Your pairing in Spring has ended." in seen_by(out, "alice")
    [entry] = await rows(bot, AuditLog, AuditLog.action == "forget")
    assert entry.detail == f"former member #{bob_id}: asked by email; former member #{bob_id} wants no record"
    assert await strings_in_database(bot, ("bob", "music", "Europe/Berlin", BOB_NOTE)) == []


async def test_a_coordinator_cannot_forget_someone_outside_their_programs(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + """
        @dan /mentor status
        @carol /mentor program create Autumn
        @carol /mentor coordinators add @dan --program Autumn
        @dan /mentor forget @alice she asked
    """)
    assert "(only dan sees) alice is not in a program you coordinate" in out
    [alice] = await rows(bot, Member, Member.external_id == "alice")
    assert alice.display_name == "alice"


async def test_an_account_deleted_on_the_platform_is_forgotten_and_leaving_is_not(run: Script,
                                                                                   bot: MentorBot) -> None:
    await run(STORY)
    await bot.handle(MemberLeft(Actor("console", "local", "bob", "bob"), "left-1"))
    [bob] = await rows(bot, Member, Member.external_id == "bob")
    assert bob.interests == "python,music"  # leaving the workspace keeps the data
    await bot.handle(MemberLeft(Actor("console", "local", "alice", "alice"), "gone-1", deleted=True))
    await run("clock +1m")
    assert await strings_in_database(bot, ALICE_STRINGS) == []


async def test_retention_blanks_old_notes_and_resolved_reports_on_the_clock(run: Script, bot: MentorBot) -> None:
    out = await run(STORY + """
        @carol /mentor program set --keep-notes-days soon
        @carol /mentor program set --keep-notes-days 30
        @carol /mentor resolve 1 talked to both, sorted
    """)
    assert '(only carol sees) --keep-notes-days takes a number of days from 1 to 3650, or off' in out
    assert "Notes and reports: blanked 30 days after they are written" in out
    [program] = await rows(bot, Program)
    assert program.keep_notes_days == 30
    await run("clock +29d")
    assert sorted(f.note for f in await rows(bot, Feedback)) == sorted([ALICE_NOTE, BOB_NOTE])
    await run("clock +2d")
    assert [f.note for f in await rows(bot, Feedback)] == ["", ""]
    [esc, *later] = await rows(bot, Escalation)
    assert (esc.reason, esc.resolution, esc.status) == ("", "", "resolved")
    assert all(e.reason for e in later if e.status != "resolved")  # open cases keep their text
    assert [f.rating for f in await rows(bot, Feedback)] == [4, 5]  # the counts stay
    assert await strings_in_database(bot, (ALICE_NOTE, ALICE_REPORT, "sorted")) == []
    out = await run("@carol /mentor program set --keep-notes-days off")
    assert "Notes and reports: kept" in out
    [program] = await rows(bot, Program)
    assert program.keep_notes_days is None

