"""Slack's Web API answering with something that is not Slack's JSON (a proxy's 502 page, plain text, a JSON
body of another shape, JSON that does not parse): every command is still answered, every failed send is
retried like any 5xx, and nothing logs a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from adapters.slack.messenger import PROFILE_TTL
from bot.errors import UserError
from storage.models import Member, Outbox, OutboxStatus
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import setup_pair

NOT_SLACK = [
    pytest.param(502, "Bad Gateway", "text/plain", id="502 text/plain"),
    pytest.param(502, '"upstream connect error"', "application/json", id="502 json string"),
    pytest.param(503, '{"message": "Service Unavailable"}', "application/json", id="503 json of another shape"),
    pytest.param(200, "[1, 2, 3]", "application/json", id="200 json list"),
    pytest.param(200, "OK", "text/plain", id="200 text/plain"),
    pytest.param(502, "{truncated", "application/json", id="502 json that does not parse"),
    pytest.param(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", id="502 html"),
    pytest.param(500, "", "text/plain", id="500 empty"),
]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(("status", "body", "content_type"), NOT_SLACK)
async def test_a_users_info_that_is_not_slack_json_still_answers_the_command(
    slack: Slack, caplog: pytest.LogCaptureFixture, status: int, body: str, content_type: str
) -> None:
    slack.fake.fail("users.info", status=status, body=body, content_type=content_type)
    with caplog.at_level(logging.INFO):
        reply = await slack.command("UBOB", "help")
    assert "/mentor" in text_of(reply["blocks"])  # the minimal profile: answered all the same
    assert tracebacks(caplog) == []


async def test_a_failed_users_info_keeps_the_profile_slack_gave_last(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    await slack.command("UCAROL", "help")
    for cached in slack.adapter.messenger._profiles.values():
        cached.at -= PROFILE_TTL + 1  # the cached profile is due for a refresh
    slack.fake.fail("users.info", status=502, body="Bad Gateway", content_type="text/plain", times=5)
    with caplog.at_level(logging.INFO):
        reply = await slack.command("UCAROL", "program create Spring")
    assert "Program Spring created" in reply["text"]  # still the admin Slack said she was
    async with slack.bot.db.transaction() as s:
        carol = (await s.exec(select(Member).where(Member.external_id == "UCAROL"))).one()
    assert (carol.display_name, carol.tz_from_platform) == ("Carol", "America/New_York")
    assert tracebacks(caplog) == []


async def test_a_person_slack_cannot_look_up_now_is_a_clear_reply_not_a_failure(slack: Slack) -> None:
    slack.fake.fail("users.info", status=502, body="Bad Gateway", content_type="text/plain")
    with pytest.raises(UserError) as err:  # what a flow looking up a mentioned person gets
        await slack.bot.lookup_profile("slack", "T1", "UDAN")
    assert err.value.key == "error.platform_unavailable"
    assert await slack.bot.lookup_profile("slack", "T1", "UNOBODY") is None  # Slack answers again: no such user


@pytest.mark.parametrize(("status", "body", "content_type"), NOT_SLACK)
async def test_a_send_answered_with_something_else_is_retried_like_a_5xx(
    slack: Slack, caplog: pytest.LogCaptureFixture, status: int, body: str, content_type: str
) -> None:
    slack.fake.fail("chat.postMessage", status=status, body=body, content_type=content_type)
    with caplog.at_level(logging.INFO):
        await setup_pair(slack)
    async with slack.bot.db.transaction() as s:
        row = (await s.exec(select(Outbox).where(Outbox.key == "intro:1"))).one()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert f"http_{status}" in (row.last_error or "")
    assert tracebacks(caplog) == []
    slack.bot.clock.set(row.next_attempt_at)  # type: ignore[attr-defined]
    await slack.deliver()
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Outbox.status).where(Outbox.key == "intro:1"))).one() == OutboxStatus.SENT
