"""Safeguarding in pairing (bot/safeguards.py): never again after a pairing that went wrong unless a
coordinator forces it, paused people start paused pairs, and a coordinator in a pair never sees the
private side of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core import MentorBot
from storage.models import AuditLog, Checkin, CheckinStatus, Escalation, Pair, PairEndCause, PairStatus
from storage.db import create_engine
from storage.migrate import upgrade
from tests.conftest import SETUP, Script
from tests.test_flow_checkin import FIRST_NUDGE, PAIRED, rows, seen_by

# --- never again ---------------------------------------------------------------------------------

REFUSAL = ("(only carol sees) bob and alice were paired before (#1), which ended 2026-11-30 after {cause}; "
           "I won't pair them again. If it is right anyway: /mentor pair @bob @alice --force \"reason\" (audited).")


async def test_after_an_unpair_the_same_two_are_not_paired_again(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + "@carol /mentor unpair 1 schedules never matched\n@carol /mentor pair @bob @alice")
    assert REFUSAL.format(cause="a coordinator's unpair") in out
    assert [p.id for p in await rows(bot, Pair)] == [1]
    [pair] = await rows(bot, Pair)
    assert pair.end_cause == PairEndCause.UNPAIR


async def test_force_with_a_reason_pairs_them_and_is_audited(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @carol /mentor unpair 1 schedules never matched
        @carol /mentor pair @bob @alice --force "both asked to try again"
    """)
    assert ("(only carol sees) Paired #2: bob and alice. I'm introducing them in a shared conversation now.\n"
            "  Paired despite their earlier pair #1; your --force reason is in the audit log.") in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ENDED, PairStatus.ACTIVE]
    forced = [a.detail for a in await rows(bot, AuditLog) if a.action == "pair.force"]
    assert forced == ["#2 bob & alice after #1 (unpair): both asked to try again"]


async def test_force_reason_may_be_unquoted_but_not_empty(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @carol /mentor unpair 1 moved
        @carol /mentor pair @bob @alice --force ""
        @carol /mentor pair @bob @alice --force they both asked
    """)
    assert '(only carol sees) --force needs a reason, e.g. --force "both asked to try again".' in out
    forced = [a.detail for a in await rows(bot, AuditLog) if a.action == "pair.force"]
    assert forced == ["#2 bob & alice after #1 (unpair): they both asked"]


async def test_the_gravest_cause_on_record_is_the_one_remembered(run: Script, bot: MentorBot) -> None:
    await run(SETUP + """
        @bob /mentor profile --capacity 3
        @dave /mentor join mentee
        @erin /mentor join mentee
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob @erin
        @alice /mentor problem he is rude
        @dave /mentor rematch no chemistry
    """)
    await run(f"clock {FIRST_NUDGE}\n@erin click We met\n@erin click 1\n@erin cancel")
    out = await run("""
        @carol /mentor unpair 1 report
        @carol /mentor unpair 2 rematch
        @carol /mentor unpair 3 rating
        @carol /mentor pair @bob @alice
        @carol /mentor pair @bob @dave
        @carol /mentor pair @bob @erin
    """)
    assert [p.end_cause for p in await rows(bot, Pair)] == [
        PairEndCause.PROBLEM, PairEndCause.REMATCH, PairEndCause.LOW_RATING]
    assert "ended 2026-12-07 after a problem report" in out
    assert "ended 2026-12-07 after a rematch request" in out
    assert "ended 2026-12-07 after a rating of 2 or less" in out


async def test_leaving_is_not_a_pairing_that_went_wrong(run: Script, bot: MentorBot) -> None:
    out = await run(PAIRED + """
        @alice /mentor leave
        @alice /mentor join mentee
        @carol /mentor pair @bob @alice
    """)
    assert "(only carol sees) Paired #2: bob and alice." in out
    assert [p.end_cause for p in await rows(bot, Pair)] == [PairEndCause.LEFT, None]


async def test_leaving_after_a_report_still_bars_the_pair(run: Script) -> None:
    out = await run(PAIRED + """
        @alice /mentor problem he is rude
        @alice /mentor leave
        @alice /mentor join mentee
        @carol /mentor pair @bob @alice
    """)
    assert "which ended 2026-11-30 after a problem report" in out


# --- paused people -------------------------------------------------------------------------------


async def test_a_paused_person_is_paired_with_a_warning_and_the_pair_starts_paused(run: Script, bot: MentorBot) -> None:
    out = await run(SETUP + "@alice /mentor pause until 2026-12-20\n@carol /mentor pair @bob @alice")
    assert ("(only carol sees) Paired #1: bob and alice. I'm introducing them in a shared conversation now.\n"
            "  Warning: alice has paused check-ins until Sun 20 Dec 2026, 05:00 (UTC), so pair #1 starts paused: "
            "no check-ins until everyone in it is back.") in out
    assert "First check-in for bob: when alice is back from a pause" in seen_by(out, "bob")
    [pair] = await rows(bot, Pair)
    assert pair.status == PairStatus.PAUSED
    # No check-in while paused; the pause ends on its own and check-ins start from the next period.
    assert "Check-in time" not in await run("clock 2026-12-19T00:00Z")
    out = await run("clock 2026-12-21T09:00Z")
    assert "Check-in time, bob and alice! Have you met this period (2026-12-21)" in out
    assert [p.status for p in await rows(bot, Pair)] == [PairStatus.ACTIVE]


async def test_a_paused_pairs_period_is_not_missed_and_never_escalates(run: Script, bot: MentorBot) -> None:
    # Threshold 2. Period 12-07 is missed while active; bob pauses during 12-14 and resumes after it
    # closed; 12-28 is missed again. Only one period since the resume was missed: no escalation.
    await run(PAIRED + f"clock {FIRST_NUDGE}\nclock 2026-12-14T09:01Z\n@bob /mentor pause")
    out = await run("clock 2026-12-21T09:01Z")
    assert "Check-in 2026-12-14: check-ins were paused, so nothing is recorded for this period." in out
    assert "recorded as missed" not in out
    await run("@bob /mentor resume\nclock 2026-12-28T09:01Z\nclock 2027-01-04T09:01Z")
    checkins = {c.period: c.status for c in await rows(bot, Checkin)}
    assert checkins["2026-12-07"] == CheckinStatus.MISSED and "2026-12-14" not in checkins
    # 12-21 was due before the resume, so it was never asked; 12-28 is the first missed active period.
    assert "2026-12-21" not in checkins
    assert checkins["2026-12-28"] == CheckinStatus.MISSED
    assert [e.kind for e in await rows(bot, Escalation)] == []


# --- the migration that added the end cause ------------------------------------------------------

_OLD_ROWS = """
INSERT INTO workspace (id, platform, external_id, name) VALUES (1, 'console', 'w', '');
INSERT INTO member (id, workspace_id, external_id, display_name, interests, goals, is_admin, paused, created_at)
  VALUES (1, 1, 'carol', 'carol', '', '', true, false, '2026-11-30 08:00:00'),
         (2, 1, 'bob', 'bob', '', '', false, false, '2026-11-30 08:00:00'),
         (3, 1, 'alice', 'alice', '', '', false, false, '2026-11-30 08:00:00');
INSERT INTO program (id, workspace_id, name, cadence, weekday, local_time, tz, missed_threshold, archived, created_at)
  VALUES (1, 1, 'Spring', 'weekly', 0, '10:00', 'UTC', 2, false, '2026-11-30 08:00:00');
INSERT INTO pair (id, program_id, member_a_id, member_b_id, kind, status, created_at, active_since, ended_at)
  VALUES (1, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (2, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (3, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (4, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (5, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00'),
         (6, 1, 2, 3, 'mentorship', 'active', '2026-11-30 08:00:00', '2026-11-30 08:00:00', NULL),
         (11, 1, 2, 3, 'mentorship', 'ended', '2026-11-30 08:00:00', '2026-11-30 08:00:00', '2026-12-01 08:00:00');
INSERT INTO escalation (id, program_id, pair_id, reporter_id, kind, reason, status, opened_at, resolution)
  VALUES (1, 1, 1, 3, 'problem', 'rude', 'open', '2026-11-30 09:00:00', ''),
         (2, 1, 3, 3, 'rematch', 'no fit', 'open', '2026-11-30 09:00:00', ''),
         (3, 1, 5, NULL, 'rematch', 'alice left', 'open', '2026-11-30 09:00:00', ''),
         (4, 1, 6, 3, 'problem', 'live pair', 'open', '2026-11-30 09:00:00', '');
INSERT INTO checkin (id, pair_id, period, due_at, closes_at, status)
  VALUES (1, 2, '2026-11-30', '2026-11-30 10:00:00', '2026-12-07 10:00:00', 'met');
INSERT INTO feedback (id, checkin_id, member_id, rating, note, created_at)
  VALUES (1, 1, 3, 2, '', '2026-11-30 11:00:00');
INSERT INTO auditlog (workspace_id, program_id, actor_id, action, detail, at)
  VALUES (1, 1, 1, 'unpair', '#4: moved', '2026-12-01 08:00:00'),
         (1, 1, 1, 'unpair', '#1: rude', '2026-12-01 08:00:00');
"""


async def test_the_migration_fills_the_end_cause_of_pairs_that_already_ended(
    tmp_path: Path, pg_ready: str | None,
) -> None:
    urls = [f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"]
    if pg_ready:
        urls.append(await _fresh_pg(pg_ready))
    for url in urls:
        await asyncio.to_thread(upgrade, url, "0002")
        engine = create_engine(url)
        async with engine.begin() as conn:
            for statement in _OLD_ROWS.strip().split(";"):
                if statement.strip():
                    await conn.execute(text(statement))
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            causes = dict((await conn.execute(text("SELECT id, end_cause FROM pair ORDER BY id"))).all())
        await engine.dispose()
        # 1: report then unpair; 2: low rating; 3: a member's rematch; 4: unpair in the audit log;
        # 5: the rematch raised when someone leaves is not a complaint; 6 is live; 11 is not #1.
        assert causes == {1: "problem", 2: "low_rating", 3: "rematch", 4: "unpair", 5: "left", 6: None,
                          11: "left"}, url
    if pg_ready:
        await _drop_pg(urls[1])


async def _admin_pg(url: str, *sql: str) -> None:
    engine = create_async_engine(make_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in sql:
            await conn.execute(text(statement))
    await engine.dispose()


async def _fresh_pg(url: str) -> str:
    """An empty PostgreSQL database of this test's own, on the server the test session uses."""
    server = make_url(url)
    name = f"{server.database}_mig"
    await _admin_pg(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


async def _drop_pg(url: str) -> None:
    name = make_url(url).database
    await _admin_pg(url.rsplit("/", 1)[0] + "/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
