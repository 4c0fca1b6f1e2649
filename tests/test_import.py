"""Bulk sign-ups (`mentorbot import FILE.csv --program P`) on the console: every kind of bad row with its line
number, dry runs that change nothing, --skip-bad, re-imports that change nothing, and the real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from adapters.console import ConsolePeople
from bot.errors import UserError
from bot.signups import Report, explain, import_people, read_sheet, render
from storage.db import Database
from storage.models import AuditLog, Enrollment, Member
from testkit.console import START, Script

ROOT = Path(__file__).parent.parent
PROGRAM = "admin carol\n@carol /mentor program create Spring\n"

GOOD = """Person,Role,Topics,Interests,Languages,Time Zone,Capacity,Goals
@bob,mentor,"Python, SQL ,python",music,"en, de",europe/berlin,3,
alice,Mentee,python,"career, python",en,America/New_York,,"First dev job, in a year"
erin,peer,,,,,,
"""


async def load(db: Database, text: str, program: str = "Spring", **flags: bool) -> tuple[Report, str]:
    report = await import_people(db, ConsolePeople(), text, program, source="people.csv", now=START, **flags)
    return report, render(report)


async def counts(db: Database) -> tuple[int, int, int]:
    """Members, enrollments and audit rows: what an import that changes nothing must leave as it was."""
    async with db.transaction() as s:
        return tuple([(await s.exec(select(func.count()).select_from(t))).one()  # type: ignore[return-value]
                      for t in (Member, Enrollment, AuditLog)])


async def test_a_good_file_signs_everyone_up_with_their_profile(db: Database, run: Script) -> None:
    await run(PROGRAM)
    report, out = await load(db, GOOD)
    assert report.ok and report.applied
    assert out.splitlines() == [
        "Importing people.csv into Spring: 3 person row(s).",
        "line 2: bob (new to mentorbot) enrolled as mentor; sets topics, interests, languages, time zone, capacity",
        "line 3: alice (new to mentorbot) enrolled as mentee; sets topics, interests, languages, time zone, goals",
        "line 4: erin (new to mentorbot) enrolled as peer",
        "Done in Spring: 3 enrolled, 0 updated, 0 unchanged, 0 bad row(s) skipped.",
    ]
    # What the people and the coordinator see afterwards.
    profile = await run("@alice /mentor profile")
    assert "Time zone: America/New_York" in profile and "Interests: career, python" in profile
    assert "Goals: First dev job, in a year" in profile
    people = await run("@carol /mentor people")
    assert "bob: mentor, 0/3 pairs, Europe/Berlin" in people and "alice: mentee, 0/1 pairs" in people
    assert "erin: peer" in people
    async with db.transaction() as s:
        bob = (await s.exec(select(Member).where(Member.external_id == "bob"))).one()
        audit = (await s.exec(select(AuditLog).where(AuditLog.action == "import"))).one()
    assert (bob.topics, bob.interests, bob.languages) == ("python,sql", "music", "en,de")
    assert audit.detail == "people.csv: enrolled 3, updated 0, unchanged 0"
    importer = await _audit_actor(db, "import")
    assert importer.external_id == "mentorbot:import" and importer.display_name == "mentorbot import (command line)"


async def _audit_actor(db: Database, action: str) -> Member:
    async with db.transaction() as s:
        row = (await s.exec(select(AuditLog).where(AuditLog.action == action))).one()
        member = await s.get(Member, row.actor_id)
    assert member is not None
    return member


BAD = """person,role,topics,tz,capacity,goals,languages
,mentee,,,,,
two words,mentee,,,,,
x@example.com,mentee,,,,,
frank,,,,,,
gina,boss,,,,,
hank,mentee,,Mars/Olympus,,,
ivan,mentee,,EST,,,
judy,mentor,,,11,,
kim,mentee,,,2,,
lee,mentee,""" + ",".join(f"t{i}" for i in range(21)).join('""') + """,,,,
mo,mentee,""" + "x" * 41 + """,,,,
nia,mentee,,,,""" + "g" * 501 + """,
olga,mentee,,,,,,extra
dave,mentor,,,,,
pat,mentee,,,,,
pat,mentee,,,,,
"""


async def test_every_bad_row_is_named_with_its_line_and_nothing_is_imported(db: Database, run: Script) -> None:
    await run(PROGRAM + "@dave /mentor join mentee\n")
    before = await counts(db)
    report, out = await load(db, BAD)
    assert not report.ok and not report.applied
    problems = out.splitlines()[1:-1]
    assert problems == [
        "line 2 (): the person cell is empty. Give a user id, @handle or e-mail address.",
        "line 3 (two words): \"two words\" is not a person. Give a user id, @handle or e-mail address.",
        "line 4 (x@example.com): e-mail addresses (x@example.com) cannot be looked up on the console. "
        "Give their user id or @handle instead.",
        "line 5 (frank): the role cell is empty. Give mentor, mentee or peer.",
        "line 6 (gina): \"boss\" is not a role. Give mentor, mentee or peer.",
        "line 7 (hank): \"Mars/Olympus\" is not a time zone I know. Use a name like Europe/Berlin, "
        "America/New_York or Asia/Tokyo.",
        "line 8 (ivan): \"EST\" is an abbreviation, and abbreviations do not follow daylight saving. "
        "Use your region's zone name instead, e.g. America/New_York.",
        "line 9 (judy): capacity \"11\" is not a number from 1 to 10.",
        "line 10 (kim): capacity is for mentors only, and this row's role is mentee. Leave the cell empty.",
        "line 11 (lee): topics: 21 tags; give at most 20.",
        f"line 12 (mo): topics: \"{'x' * 41}\" is longer than 40 characters. Shorten it.",
        "line 13 (nia): goals: 501 characters; keep them to 500.",
        "line 14 (olga): 8 cells, but the header has 7 columns. Put a cell with commas in double quotes, "
        "e.g. \"python, sql\".",
        "line 15 (dave): already in the program as mentee, so not as mentor. They can /mentor leave first, "
        "or change the row's role to mentee.",
        "line 16 (pat): pat is also on line(s) 17. Keep one row per person.",
        "line 17 (pat): pat is also on line(s) 16. Keep one row per person.",
    ]
    assert out.splitlines()[-1] == ("Nothing imported: 16 bad row(s). Fix them and run again, or add --skip-bad "
                                    "to import the 0 good row(s) only.")
    assert await counts(db) == before


async def test_skip_bad_imports_the_good_rows_and_lists_the_bad(db: Database, run: Script) -> None:
    await run(PROGRAM)
    text = "person,role,capacity\nbob,mentor,2\ngina,boss,\nalice,mentee,\n"
    report, out = await load(db, text, skip_bad=True)
    assert report.ok and report.applied
    assert "line 3 (gina): \"boss\" is not a role." in out
    assert "line 2: bob (new to mentorbot) enrolled as mentor; sets capacity" in out
    assert out.splitlines()[-1] == "Done in Spring: 2 enrolled, 0 updated, 0 unchanged, 1 bad row(s) skipped."
    people = await run("@carol /mentor people")
    assert "bob: mentor, 0/2 pairs" in people and "alice: mentee" in people and "gina" not in people
    assert (await _audit_actor(db, "import")).external_id == "mentorbot:import"


async def test_skip_bad_with_only_bad_rows_imports_nothing(db: Database, run: Script) -> None:
    await run(PROGRAM)
    report, out = await load(db, "person,role\ngina,boss\n", skip_bad=True)
    assert not report.ok and not report.applied
    assert out.splitlines()[-1] == "Nothing imported: no row can be imported."


async def test_a_header_without_rows_imports_nothing_and_says_so(db: Database, run: Script) -> None:
    await run(PROGRAM)
    report, out = await load(db, "person,role\n\n")
    assert not report.ok and out.splitlines()[-1] == "Nothing imported: the file has a header row but no person rows."


async def test_a_dry_run_changes_nothing_and_says_what_would_change(db: Database, run: Script) -> None:
    await run(PROGRAM + "@bob /mentor join mentor\n@bob /mentor profile --tz Europe/Berlin --capacity 2\n"
               "@alice /mentor join mentee\n@alice /mentor leave\n@erin /mentor join peer\n")
    before = await counts(db)
    text = ("person,role,capacity,tz,topics\nbob,mentor,3,Europe/Berlin,sql\nalice,mentee,,,\nerin,peer,,,\n"
            "zoe,mentee,,Asia/Tokyo,\n")
    report, out = await load(db, text, dry_run=True)
    assert report.ok and not report.applied
    assert out.splitlines() == [
        "Dry run of people.csv into Spring: 4 person row(s). Nothing is changed.",
        "line 2: bob would be updated: topics, capacity",
        "line 3: alice would be re-enrolled as mentee (had left)",
        "line 4: erin unchanged (peer, profile as in the file)",
        "line 5: zoe (new to mentorbot) would be enrolled as mentee; sets time zone",
        "Would do in Spring: 2 enrolled, 1 updated, 1 unchanged, 0 bad row(s) skipped.",
    ]
    assert await counts(db) == before
    assert "zoe" not in await run("@carol /mentor people")
    # The real run does what the dry run said, re-activating alice's old enrollment rather than adding one.
    report, out = await load(db, text)
    assert "line 3: alice re-enrolled as mentee (had left)" in out and "line 2: bob updated: topics, capacity" in out
    async with db.transaction() as s:
        alice = (await s.exec(select(Member).where(Member.external_id == "alice"))).one()
        rows = (await s.exec(select(Enrollment).where(Enrollment.member_id == alice.id))).all()
    assert [(e.role, e.active, e.left_at) for e in rows] == [("mentee", True, None)]
    assert "bob: mentor, 0/3 pairs" in await run("@carol /mentor people")


async def test_a_dry_run_with_bad_rows_says_nothing_would_be_imported(db: Database, run: Script) -> None:
    await run(PROGRAM)
    report, out = await load(db, "person,role\nbob,mentor\ngina,boss\n", dry_run=True)
    assert not report.ok
    assert out.splitlines()[-1] == ("Nothing would be imported: 1 bad row(s). Fix them, or add --skip-bad to import "
                                    "the 1 good row(s) only.")


async def test_importing_the_same_file_again_changes_nothing(db: Database, run: Script) -> None:
    await run(PROGRAM)
    await load(db, GOOD)
    before = await counts(db)
    report, out = await load(db, GOOD)
    assert report.ok
    assert out.splitlines()[1:] == [
        "line 2: bob unchanged (mentor, profile as in the file)",
        "line 3: alice unchanged (mentee, profile as in the file)",
        "line 4: erin unchanged (peer, profile as in the file)",
        "Done in Spring: 0 enrolled, 0 updated, 3 unchanged, 0 bad row(s) skipped.",
    ]
    assert await counts(db) == before  # no audit row either: nothing was done


async def test_empty_cells_leave_a_known_profile_alone(db: Database, run: Script) -> None:
    await run(PROGRAM + "@bob /mentor join mentor\n@bob /mentor profile --tz Asia/Tokyo --interests chess\n")
    report, out = await load(db, "person,role,interests,tz\nbob,mentor,,\n")
    assert "line 2: bob unchanged" in out
    assert "Interests: chess" in await run("@bob /mentor profile")


@pytest.mark.parametrize(("text", "message"), [
    ("", "The file is empty. Give a header row"),
    ("person,topics\nbob,sql\n", "The header row needs the column(s) role; it has: person, topics."),
    ("person,role,Time Zone,tz\n", "The header names one column twice (\"Time Zone\" and \"tz\"). Keep one."),
    ('person,role\n"bob,mentor\n', "cannot be read as CSV"),
])
def test_a_file_that_is_not_a_sign_up_sheet_is_refused_whole(text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        read_sheet(text)
    assert message in explain(err.value)


def test_unknown_columns_are_named_and_ignored_and_headers_ignore_case() -> None:
    sheet = read_sheet("\ufeffPERSON,Role,Shoe Size,time_zone\nbob,mentor,42,Europe/Paris\n")
    assert sheet.unknown_columns == ["Shoe Size"]
    assert sheet.rows[0].profile == {"tz": "Europe/Paris"}


def test_line_numbers_count_lines_a_quoted_cell_spans_and_skip_blank_ones() -> None:
    sheet = read_sheet('person,role,goals\nbob,mentor,"two\nlines"\n\nalice,boss,\n')
    assert [(r.line, r.token) for r in sheet.rows] == [(2, "bob"), (5, "alice")]
    assert sheet.rows[0].profile["goals"] == "two\nlines"


async def test_the_program_must_exist_and_the_error_names_those_that_do(db: Database, run: Script) -> None:
    await run(PROGRAM + "@carol /mentor program create Autumn\n")
    with pytest.raises(UserError) as err:
        await load(db, GOOD, program="Winter")
    assert explain(err.value) == ("There is no program \"Winter\" in workspace local on the console. "
                                  "Programs there: Spring, Autumn.")


# --- the real entry point ----------------------------------------------------------------------------


def _mentorbot(*args: str, db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{db}"},
    )


def test_mentorbot_import_on_the_console_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    setup = tmp_path / "setup.txt"
    setup.write_text(PROGRAM)
    done = _mentorbot("console", "--script", str(setup), "--db", f"sqlite+aiosqlite:///{db}", db=db, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    sheet = tmp_path / "people.csv"
    sheet.write_text(GOOD + "gina,boss,,,,,,\n")

    dry = _mentorbot("import", str(sheet), "--program", "spring", "--dry-run", "--skip-bad", db=db, cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "line 2: bob (new to mentorbot) would be enrolled as mentor" in dry.stdout
    bad = _mentorbot("import", str(sheet), "--program", "spring", db=db, cwd=tmp_path)
    assert bad.returncode == 2 and "line 5 (gina): \"boss\" is not a role." in bad.stdout
    assert "Nothing imported: 1 bad row(s)" in bad.stdout
    done = _mentorbot("import", str(sheet), "--program", "spring", "--skip-bad", db=db, cwd=tmp_path)
    assert done.returncode == 0 and "Done in Spring: 3 enrolled" in done.stdout, done.stdout + done.stderr
    again = _mentorbot("import", str(sheet), "--program", "spring", "--skip-bad", db=db, cwd=tmp_path)
    assert again.returncode == 0 and "0 enrolled, 0 updated, 3 unchanged, 1 bad row(s) skipped" in again.stdout

    check = tmp_path / "check.txt"
    check.write_text("@alice /mentor status\n")
    seen = _mentorbot("console", "--script", str(check), "--db", f"sqlite+aiosqlite:///{db}", db=db, cwd=tmp_path)
    assert "Status for alice:" in seen.stdout and "• Spring: mentee" in seen.stdout, seen.stdout

    for args, message in [
        (["nope.csv", "--program", "Spring"], "No such file: nope.csv."),
        ([str(sheet), "--program", "Winter"], "There is no program \"Winter\" in workspace local on the console. "
                                              "Programs there: Spring."),
        ([str(sheet), "--program", "Spring", "--workspace", "T1"], "The console has one workspace, \"local\""),
    ]:
        refused = _mentorbot("import", *args, db=db, cwd=tmp_path)
        assert refused.returncode == 2 and refused.stderr.startswith(message), refused.stdout + refused.stderr
        assert "Traceback" not in refused.stderr


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "latin1.csv"
    sheet.write_bytes("person,role\nJos\xe9,mentee\n".encode("latin-1"))
    done = _mentorbot("import", str(sheet), "--program", "Spring", db=tmp_path / "m.db", cwd=tmp_path)
    assert done.returncode == 2 and "latin1.csv is not UTF-8 text" in done.stderr


def test_both_platforms_configured_needs_platform_named(tmp_path: Path) -> None:
    sheet = tmp_path / "people.csv"
    sheet.write_text("person,role\nbob,mentor\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/m.db",
           "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "s", "DISCORD_BOT_TOKEN": "MTA.fake.token"}
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "import", str(sheet), "--program", "Spring"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == "Both Slack and Discord are configured: add --platform slack or --platform discord."
