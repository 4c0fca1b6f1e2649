"""Program impact: `/mentor report --weeks N [--chart]` and `/mentor export`, on the console.

The scripted 12-week program below is seeded as rows (four pairs, their weekly check-ins, ratings and
escalations) on top of people who joined through the console; the figures asserted are worked out by hand
in the comments, so a change in how the report counts shows up as a wrong number, not a changed snapshot."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import charts, impact_figures as fig
from bot.clock import ManualClock
from bot.core import MentorBot
from storage.models import AuditLog, Checkin, Escalation, Feedback, Pair, PairEndCause, PairStatus, Program
from testkit.console import SETUP, Script
from tests.test_flow_checkin import member_id, rows

NOW = datetime(2027, 2, 22, 12, 0, tzinfo=UTC)  # a Monday: weeks 2026-12-07 .. 2027-02-22
W = [datetime(2026, 12, 7, tzinfo=UTC) + timedelta(weeks=i) for i in range(12)]  # W[0] = week 1
FAR = datetime(2030, 1, 1, tzinfo=UTC)  # active_since: the scheduler plans nothing for the seeded pairs
PEOPLE = SETUP + """
    @dave /mentor join mentor
    @erin /mentor join mentee
    @frank /mentor join mentor
    @gina /mentor join mentee
    @hank /mentor join mentor
    @ivy /mentor join mentee
"""
# Per pair, week by week from 2026-12-07: M met, R rescheduled, C couldn't meet, X missed, D still due,
# . none. P1 9 met; P2 3 met, ended 01-20 (rematch); P3 started 12-14, 1 met, ended 01-08 (low rating);
# P4 started 01-25, 3 met.
HISTORY = {
    ("bob", "alice"): (datetime(2026, 11, 30, 8, tzinfo=UTC), None, None, "MMXRMMMMMMMD"),
    ("dave", "erin"): (datetime(2026, 11, 30, 8, tzinfo=UTC), datetime(2027, 1, 20, 9, tzinfo=UTC),
                       PairEndCause.REMATCH, "MMCXXM......"),
    ("frank", "gina"): (datetime(2026, 12, 14, 10, tzinfo=UTC), datetime(2027, 1, 8, 9, tzinfo=UTC),
                        PairEndCause.LOW_RATING, ".MXXX......."),
    ("hank", "ivy"): (datetime(2027, 1, 25, 9, tzinfo=UTC), None, None, "........MMMD"),
}
STATUS = {"M": "met", "R": "rescheduled", "C": "could_not_meet", "X": "missed", "D": "due"}
# The mentee's ratings by week index: alice 4, 4, 3, then 5 six times; erin 3 in week 1.
RATINGS = {("bob", "alice"): {0: 4, 1: 4, 4: 3, 5: 5, 6: 5, 7: 5, 8: 5, 9: 5, 10: 5}, ("dave", "erin"): {0: 3}}


async def seed(bot: MentorBot) -> dict[str, int]:
    """The four pairs of HISTORY with their check-ins, ratings and escalations; pair id by mentor."""
    ids = {}
    async with bot.db.transaction() as s:
        [program] = (await s.exec(Program.__table__.select())).all()  # type: ignore[attr-defined]
    names = {n for pair in HISTORY for n in pair}
    member = {n: await member_id(bot, n) for n in names}
    async with bot.db.transaction() as s:
        for (mentor, mentee), (start, end, cause, weeks) in HISTORY.items():
            pair = Pair(program_id=program.id, member_a_id=member[mentor], member_b_id=member[mentee],
                        status=PairStatus.ENDED if end else PairStatus.ACTIVE, end_cause=cause, ended_at=end,
                        created_at=start, active_since=FAR)
            s.add(pair)
            await s.flush()
            ids[mentor] = pair.id
            for i, mark in enumerate(weeks):
                if mark == ".":
                    continue
                c = Checkin(pair_id=pair.id, period=W[i].date().isoformat(), due_at=W[i] + timedelta(hours=9),
                            closes_at=W[i] + timedelta(days=7), status=STATUS[mark])
                s.add(c)
                await s.flush()
                if (rating := RATINGS.get((mentor, mentee), {}).get(i)) is not None:
                    s.add(Feedback(checkin_id=c.id, member_id=member[mentee], rating=rating, note=f"note {mentee} {i}",
                                   created_at=W[i] + timedelta(hours=12)))
        h = timedelta(hours=1)
        for pair_id, opened, acked, resolved in (
            (ids["frank"], datetime(2026, 12, 22, 10, tzinfo=UTC), 2 * h, 24 * h),
            (ids["dave"], datetime(2027, 1, 19, 9, tzinfo=UTC), 4 * h, 48 * h),
            (ids["bob"], datetime(2027, 2, 16, 8, tzinfo=UTC), 1 * h, None),
            (ids["bob"], datetime(2026, 12, 1, 8, tzinfo=UTC), 9 * h, 9 * h),  # before the 12 weeks
        ):
            s.add(Escalation(program_id=program.id, pair_id=pair_id, kind="problem", reason="private report text",
                             opened_at=opened, acked_at=opened + acked, status="resolved" if resolved else "acknowledged",
                             resolved_at=opened + resolved if resolved else None))
    return ids


async def scripted(run: Script, bot: MentorBot, clock: ManualClock, then: str, before: str = "") -> tuple[str, dict[str, int]]:
    """The people join (plus `before`), the 12 weeks are seeded, the clock goes to NOW and `then` runs."""
    await run(PEOPLE + before)
    ids = await seed(bot)
    clock.set(NOW)
    return await run(then), ids


async def test_the_report_of_a_scripted_12_week_program(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    out, _ = await scripted(run, bot, clock, "@carol /mentor report --weeks 12")
    assert "(only carol sees) Impact of Spring, the 12 week(s) from 2026-12-07 (2027-02-22 12:00 UTC)" in out
    weeks = [line.strip() for line in out.splitlines() if line.strip()[:4] in ("2026", "2027")
             or "2026-12-07:" in line]
    assert weeks[0].endswith("2026-12-07: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; "
                             "rating 3.5; quality -")
    assert weeks[1:] == [
        "2026-12-14: 3 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 4.0; quality -",
        "2026-12-21: 0 met, 0 rescheduled, 1 couldn't meet, 2 missed, 0 open; 0% met; rating -; quality -",
        "2026-12-28: 0 met, 1 rescheduled, 0 couldn't meet, 2 missed, 0 open; 0% met; rating -; quality -",
        "2027-01-04: 1 met, 0 rescheduled, 0 couldn't meet, 2 missed, 0 open; 33% met; rating 3.0; quality -",
        "2027-01-11: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-01-18: 1 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-01-25: 1 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-02-01: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-02-08: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-02-15: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality -",
        "2027-02-22: 0 met, 0 rescheduled, 0 couldn't meet, 0 missed, 2 open; - met; rating -; quality -",
    ]
    # 16 met of 24 closed; ten ratings summing to 44.
    assert "Meeting rate: 67% (16 met of 24 closed check-ins)" in out
    assert ("Ratings: average 4.4 from 10 ratings; by week 3.5 → 4.0 → - → - → 3.0 → 5.0 → 5.0 → 5.0 → 5.0 → 5.0 "
            "→ 5.0 → -") in out
    # P3 and P4 started in the weeks, P2 and P3 ended (one cause each, in name order at equal counts).
    assert "Pairs in these weeks: 2 started, 2 ended (1 after a rating of 2 or less, 1 after a rematch request)" in out
    # Cohorts: P1+P2 (week of 11-30), P3 (12-14), P4 (01-25). 4 weeks: P1, P2 and P4 kept, P3 ended: 3 of 4;
    # 8 weeks: only P1 of P1, P2, P3; 12 weeks: P1 of P1, P2 (P3's 12 weeks are not over).
    assert ("Retention (still active and met in the 4 weeks before): 4 weeks: 75% (3 of 4), "
            "8 weeks: 33% (1 of 3), 12 weeks: 50% (1 of 2)") in out
    assert "Pairs that met at least 3 times: 3 of 4 pairs (75%)" in out  # P1 9, P2 3, P4 3; P3 once
    # Acknowledged after 2, 4 and 1 hours (median 2); resolved after 24 and 48 (median 36); one opened earlier.
    assert "Escalations opened in these weeks: 3; median 2.0 h to acknowledge, 36.0 h to resolve" in out
    assert "Goals: 0 set, 0 in progress, 0 done, 0 overdue" in out  # goals are wired in (bot/flows/goals.py)
    assert "Health now: " in out and "Quality score (pulse survey): -" in out  # no survey answered yet
    assert "Left out" not in out


async def test_a_coordinator_in_a_pair_reads_the_report_without_it(run: Script, bot: MentorBot,
                                                                   clock: ManualClock) -> None:
    out, _ = await scripted(run, bot, clock, "@bob /mentor report --weeks 12", "@carol /mentor coordinators add @bob")
    # Without P1: 7 met of 13 closed; P2 and P4 cohorts only.
    assert "Meeting rate: 54% (7 met of 13 closed check-ins)" in out
    assert "Left out: your own pair(s) #1: another coordinator follows them" in out
    assert "Escalations opened in these weeks: 2;" in out


async def test_report_options_are_checked(run: Script) -> None:
    out = await run(PEOPLE + "@carol /mentor report --weeks 0\n@carol /mentor report --weeks x\n@bob /mentor report --weeks 4")
    assert out.count('is not a number of weeks. Use a whole number from 1 to 104: --weeks 12.') == 2
    assert "(only bob sees) /mentor report is for program coordinators" in out
    out = await run("@carol /mentor report")
    assert "Impact: /mentor report --weeks 12 shows the program week by week" in out  # today's report stays


# --- charts --------------------------------------------------------------------------------------------


def _read_png(data: bytes):  # type: ignore[no-untyped-def]
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


async def test_the_chart_is_a_png_of_the_meeting_rate(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    out, _ = await scripted(run, bot, clock, "@carol /mentor report --weeks 12 --chart")
    assert "(file for carol) Meeting rate per week" in out
    [path] = run.console.files
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = _read_png(data)
    assert image.shape[:2] == (charts.PIXELS[1], charts.PIXELS[0])  # rows x columns: 400 x 800
    # The line's green (#2e7d32) is drawn: the series reached the picture.
    green = ((abs(image[..., 0] - 0x2E / 255) < 0.05) & (abs(image[..., 1] - 0x7D / 255) < 0.05)
             & (abs(image[..., 2] - 0x32 / 255) < 0.05))
    assert green.sum() > 200


def test_the_chart_draws_the_series_it_was_given() -> None:
    # A rate of 100% everywhere draws the line at the top of the axes, 0% at the bottom: the green
    # pixels' mean row moves from the upper to the lower half.
    def green_rows(values: list[float | None]) -> float:
        image = _read_png(charts.meeting_rate_png([(f"w{i}", v) for i, v in enumerate(values)], "t", "y"))
        mask = ((abs(image[..., 0] - 0x2E / 255) < 0.05) & (abs(image[..., 1] - 0x7D / 255) < 0.05)
                & (abs(image[..., 2] - 0x32 / 255) < 0.05))
        ys = mask.nonzero()[0]
        return float(ys.mean())

    top, bottom = green_rows([100.0] * 6), green_rows([0.0] * 6)
    assert top < charts.PIXELS[1] / 2 < bottom


def test_the_health_chart_stacks_each_state() -> None:
    history = [("2027-01-04", {"on track": 3, "at risk": 1}), ("2027-01-11", {"on track": 2, "at risk": 2})]
    image = _read_png(charts.health_png(history, [("on track", "on track"), ("at risk", "at risk")], "t", "pairs"))
    assert image.shape[:2] == (charts.PIXELS[1], charts.PIXELS[0])


async def test_too_little_data_is_said_not_drawn(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    await run(PEOPLE)
    await seed(bot)
    clock.set(NOW)
    out = await run("@carol /mentor report --weeks 1 --chart")  # only this week: nothing closed yet
    assert "Not enough data for a chart yet: it needs at least 2 weeks with closed check-ins." in out
    assert run.console.files == []


def test_enough_to_chart_needs_two_points() -> None:
    assert not fig.enough_to_chart([("a", None), ("b", 50.0)])
    assert fig.enough_to_chart([("a", 10.0), ("b", None), ("c", 50.0)])


# --- the export ----------------------------------------------------------------------------------------


def _zip_of(path: str) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(path) as archive:
        return {name: list(csv.DictReader(io.StringIO(archive.read(name).decode()))) for name in archive.namelist()}


async def test_export_hands_the_coordinator_a_zip_of_csvs(run: Script, bot: MentorBot, clock: ManualClock) -> None:
    out, ids = await scripted(run, bot, clock, "@carol /mentor export")
    audit = await rows(bot, AuditLog)
    assert ("(only carol sees) Export of Spring: people.csv 9 rows, pairs.csv 4 rows, checkins.csv 26 rows, "
            f"ratings.csv 10 rows, escalations.csv 4 rows, audit.csv {len(audit)} rows, goals.csv 0 rows, "
            "pulses.csv 0 rows.") in out
    [path] = run.console.files
    assert Path(path).parent.name == "carol"  # the file is carol's only
    files = _zip_of(str(path))
    assert set(files) == {"people.csv", "pairs.csv", "checkins.csv", "ratings.csv", "escalations.csv", "audit.csv",
                          "goals.csv", "pulses.csv"}
    alice = next(p for p in files["people.csv"] if p["name"] == "alice")
    assert (alice["role"], alice["tz"], alice["interests"], alice["goals"]) == (
        "mentee", "America/New_York", "python,career", "First dev job")
    p2 = next(p for p in files["pairs.csv"] if p["pair_id"] == str(ids["dave"]))
    assert (p2["member_a"], p2["member_b"], p2["status"], p2["end_cause"]) == ("dave", "erin", "ended", "rematch")
    assert sorted(c["status"] for c in files["checkins.csv"] if c["pair_id"] == str(ids["frank"])) == [
        "met", "missed", "missed", "missed"]
    assert {r["note"] for r in files["ratings.csv"] if r["pair_id"] == str(ids["dave"])} == {"note erin 0"}
    assert [e["reason"] for e in files["escalations.csv"]] == ["private report text"] * 4
    assert [a["action"] for a in files["audit.csv"]] == [a.action for a in audit]


async def test_a_coordinator_in_a_pair_never_exports_its_private_side(run: Script, bot: MentorBot,
                                                                      clock: ManualClock) -> None:
    out, ids = await scripted(run, bot, clock, "@bob /mentor export", "@carol /mentor coordinators add @bob")
    assert "Left out: your own pair(s) #1 (their check-ins, ratings, notes and reports)" in out
    [path] = run.console.files
    files = _zip_of(str(path))
    mine = str(ids["bob"])
    for name in ("pairs.csv", "checkins.csv", "ratings.csv", "escalations.csv"):
        assert all(row["pair_id"] != mine for row in files[name]), name
    assert not any("note alice" in r["note"] for r in files["ratings.csv"])


async def test_only_coordinators_of_the_program_export(run: Script) -> None:
    out = await run(PEOPLE + "@alice /mentor export\n@bob /mentor export --program Spring\n@carol /mentor export now")
    assert "(only alice sees) /mentor export is for program coordinators, and you are not one." in out
    assert "(only bob sees) Only coordinators of Spring can use /mentor export." in out
    assert "/mentor export takes no extra words" in out
    assert run.console.files == []


async def test_export_streams_in_batches(run: Script, bot: MentorBot, clock: ManualClock,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.flows import impact

    monkeypatch.setattr(impact, "BATCH", 7)  # 26 check-ins: four batches, the last one short
    out, _ = await scripted(run, bot, clock, "@carol /mentor export")
    files = _zip_of(str(run.console.files[0]))
    assert len(files["checkins.csv"]) == 26
    assert len({c["checkin_id"] for c in files["checkins.csv"]}) == 26
    assert len(await rows(bot, Checkin)) == 26


# --- mentorbot export ------------------------------------------------------------------------------------


def test_mentorbot_export_writes_the_zip(tmp_path: Path) -> None:
    from tests.test_import import _mentorbot

    db = tmp_path / "m.db"
    setup = tmp_path / "setup.txt"
    setup.write_text("admin carol\n@carol /mentor program create Spring\n@bob /mentor join mentor\n"
                     "@alice /mentor join mentee\n@carol /mentor pair @bob @alice\n")
    done = _mentorbot("console", "--script", str(setup), "--db", f"sqlite+aiosqlite:///{db}", db=db, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "spring.zip"
    done = _mentorbot("export", "--program", "Spring", "--out", str(out), db=db, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"Wrote {out}: people.csv 3 rows, pairs.csv 1 rows, checkins.csv 0 rows")
    files = _zip_of(str(out))
    assert [(p["member_a"], p["member_b"]) for p in files["pairs.csv"]] == [("bob", "alice")]
    missing = _mentorbot("export", "--program", "Autumn", "--out", str(out), db=db, cwd=tmp_path)
    assert missing.returncode == 2 and 'There is no program called "Autumn".' in missing.stderr
    nowhere = _mentorbot("export", "--program", "Spring", "--out", str(tmp_path / "no" / "x.zip"), db=db, cwd=tmp_path)
    assert nowhere.returncode == 2 and "There is no folder" in nowhere.stderr


# --- where goals, quality and health plug in -------------------------------------------------------------


async def test_goals_quality_and_health_plug_in_through_sources(run: Script, bot: MentorBot, clock: ManualClock,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter
    from datetime import date

    from bot.flows import impact

    async def goals(s, program, hidden, now):  # type: ignore[no-untyped-def]
        return {"set": 5, "in_progress": 3, "done": 1, "overdue": 1}

    async def quality(s, program, hidden, weeks):  # type: ignore[no-untyped-def]
        return {weeks[-2]: 4.25}, 4.1

    async def health_now(s, program, hidden, now, rt):  # type: ignore[no-untyped-def]
        return Counter({"on track": 2, "at risk": 1})

    async def history(s, program, hidden, since):  # type: ignore[no-untyped-def]
        return [(date(2027, 2, 8), Counter({"on track": 3})), (date(2027, 2, 15), Counter({"on track": 2, "at risk": 1}))]

    async def goal_rows(db, program_id, hidden):  # type: ignore[no-untyped-def]
        yield [(1, "Ship a side project")]

    monkeypatch.setattr(impact, "SOURCES", impact.ImpactSources(goals, quality, health_now, history,
                                                                [("goals.csv", ("goal_id", "text"), goal_rows)]))
    out, _ = await scripted(run, bot, clock, "@carol /mentor report --weeks 12 --chart\n@carol /mentor export")
    assert "Goals: 5 set, 3 in progress, 1 done, 1 overdue" in out
    assert "Quality score (pulse survey): 4.1" in out
    assert "2027-02-15: 2 met, 0 rescheduled, 0 couldn't meet, 0 missed, 0 open; 100% met; rating 5.0; quality 4.2" in out
    assert "Health now: on track: 2, at risk: 1" in out
    assert "(file for carol) Health states over time" in out
    health_png = next(p for p in run.console.files if Path(p).name.startswith("health-"))
    assert _read_png(Path(health_png).read_bytes()).shape[:2] == (charts.PIXELS[1], charts.PIXELS[0])
    export = next(p for p in run.console.files if str(p).endswith(".zip"))
    assert _zip_of(str(export))["goals.csv"] == [{"goal_id": "1", "text": "Ship a side project"}]
