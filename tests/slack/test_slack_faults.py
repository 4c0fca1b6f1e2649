"""Platform faults and hostile input on Slack. The Web API answering with something that is not Slack's JSON
(a proxy's 502 page, plain text, a JSON body of another shape, JSON that does not parse): every command is
still answered, every failed send is retried like any 5xx. Requests that are not what Slack sends (wrong
content type, a body that is not what it says, a bad timestamp, too large): a 4xx and no change. Nothing
logs a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from adapters.slack.messenger import PROFILE_TTL
from adapters.slack.server import EVENTS_PATH
from bot.messenger import ProfileUnavailable
from bot.text import MAX_COMMAND_CHARS
from storage.models import Escalation, Member, Outbox, OutboxStatus, Program, Workspace
from tests.slack.conftest import Slack, text_of
from testkit.fake_slack import FakeSlack, signed_headers
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


async def test_a_person_slack_cannot_look_up_now_is_unavailable_not_unknown(slack: Slack) -> None:
    slack.fake.fail("users.info", status=502, body="Bad Gateway", content_type="text/plain")
    with pytest.raises(ProfileUnavailable):  # never mistaken for "no such user"
        await slack.adapter.messenger.lookup_profile("T1", "UDAN")
    assert await slack.adapter.messenger.lookup_profile("T1", "UNOBODY") is None  # Slack answers again: no such user


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


# --- hostile or malformed requests -------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def command_body(text: str = "program create Sneaky") -> str:
    return urlencode({"team_id": "T1", "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                      "text": text, "channel_id": "C1", "trigger_id": "t-1"})


async def changed_nothing(slack: Slack, *, looked_up: bool = False) -> None:
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Member))).all() == [] and (await s.exec(select(Program))).all() == []
    assert bool(slack.fake.called("users.info")) is looked_up


@pytest.mark.parametrize(("body", "content_type", "status"), [
    pytest.param(command_body(), "text/plain", 415, id="signed form sent as text/plain"),
    pytest.param(command_body(), "application/octet-stream", 415, id="signed form with no content type"),
    pytest.param(json.dumps({"team_id": "T1", "user_id": "UCAROL", "command": "/mentor", "text": "help"}), FORM, 400,
                 id="json labelled as a form"),
    pytest.param("payload=%7Bnot+json", FORM, 400, id="form whose payload is not json"),
    pytest.param("{not json", "application/json", 400, id="json that does not parse"),
    pytest.param("[1, 2]", "application/json", 400, id="json that is not an object"),
    pytest.param("a=1&&=&b", FORM, 400, id="a form that does not parse"),
])
async def test_a_body_that_is_not_what_slack_sends_gets_a_4xx(
    slack: Slack, caplog: pytest.LogCaptureFixture, body: str, content_type: str, status: int
) -> None:
    with caplog.at_level(logging.INFO):
        got, _ = await slack.post(body, content_type)  # signed: only its shape is wrong
    assert got == status
    assert tracebacks(caplog) == []
    await changed_nothing(slack)


async def test_a_timestamp_that_is_not_a_number_gets_a_4xx(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    body = command_body()
    headers = signed_headers(body, FORM) | {"X-Slack-Request-Timestamp": "soon"}
    with caplog.at_level(logging.INFO):
        status, _ = await slack.post(body, FORM, headers=headers)
    assert 400 <= status < 500 and tracebacks(caplog) == []
    await changed_nothing(slack)


async def test_a_body_that_is_not_utf8_gets_a_4xx(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    raw = b"team_id=T1&user_id=UCAROL&command=%2Fmentor&text=\xff\xfe"
    with caplog.at_level(logging.INFO):
        resp = await slack.http.post(EVENTS_PATH, data=raw, headers=signed_headers(raw.decode("latin-1"), FORM))
    assert resp.status == 400 and tracebacks(caplog) == []
    await changed_nothing(slack)


async def test_an_oversized_request_is_refused_before_it_is_read(slack: Slack) -> None:
    body = command_body("problem " + "x" * 1_000_000)
    status, _ = await slack.post(body, FORM)
    assert status == 413
    await changed_nothing(slack)
    chunked = await slack.http.post(EVENTS_PATH, data=_chunks(body.encode()), headers=signed_headers(body, FORM))
    assert chunked.status == 413  # no Content-Length to go by: refused once the limit is read
    assert (await slack.http.get("/healthz")).status == 200
    await changed_nothing(slack)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start:start + 65536]


# --- text from people ----------------------------------------------------------------------------------


async def test_nul_and_control_characters_are_removed_before_anything_is_stored(slack: Slack) -> None:
    await setup_pair(slack)
    reply = await slack.command("UALICE", "problem a\x00b\x1b[31m\tc\r\nd")
    assert "coordinators" in reply["text"] and "wrong" not in reply["text"]
    reply = await slack.command("UALICE", "profile --goals a\x00b")
    assert "wrong" not in reply["text"]
    reply = await slack.command("UALICE", "rematch \x00")
    assert "Give a short reason" in reply["text"]
    async with slack.bot.db.transaction() as s:
        escalation = (await s.exec(select(Escalation))).one()
        alice = (await s.exec(select(Member).where(Member.external_id == "UALICE"))).one()
    assert "ab[31m c d" in escalation.reason  # ESC and NUL gone; tab and line break separate words
    assert alice.goals == "ab"


async def test_a_command_whose_text_says_payload_is_answered(slack: Slack) -> None:
    # bolt alone reads any form containing the word "payload" as an interaction and drops it.
    await setup_pair(slack)
    reply = await slack.command("UALICE", "problem the payload of our sessions is too light")
    assert "went privately to the coordinators" in reply["text"]
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Escalation))).one().reason == "the payload of our sessions is too light"


async def test_a_command_over_the_length_limit_gets_a_clear_reply_and_changes_nothing(slack: Slack) -> None:
    reply = await slack.command("UCAROL", "program create " + "x" * MAX_COMMAND_CHARS)
    assert f"longer than {MAX_COMMAND_CHARS} characters" in reply["text"]
    await changed_nothing(slack, looked_up=True)
    slack.fake.calls.clear()
    # Within the limit, a long text is answered like any other.
    await slack.command("UCAROL", "program create Spring")
    reply = await slack.command("UCAROL", "pair " + " ".join(f"'a {n}'" for n in range(MAX_COMMAND_CHARS // 8)))
    assert "Name two people" in reply["text"] or "not a person" in reply["text"]


# --- another workspace ---------------------------------------------------------------------------------


async def test_a_request_from_another_workspace_is_refused_and_creates_nothing(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    body = urlencode({"team_id": "T2", "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                      "text": "program create Elsewhere", "channel_id": "C1", "trigger_id": "t-2",
                      "response_url": slack.fake.hook_url("t2")})
    with caplog.at_level(logging.INFO):
        status, text = await slack.post(body, FORM)
        assert status == 200 and "serves another Slack workspace" in json.loads(text)["text"]
        click = {"type": "block_actions", "team": {"id": "T2"}, "user": {"id": "UBOB", "team_id": "T2"},
                 "response_url": slack.fake.hook_url("t2click"),
                 "actions": [{"action_id": "mentorbot#help", "value": "", "action_ts": "1"}]}
        assert (await slack.post(urlencode({"payload": json.dumps(click)}), FORM))[0] == 200
        gone = {**slack.fake.users["UALICE"], "team_id": "T2", "deleted": True}
        event = json.dumps({"team_id": "T2", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev-T2",
                            "event": {"type": "user_change", "user": gone}, "event_time": 1700000000})
        assert (await slack.post(event, "application/json"))[0] == 200
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Workspace))).all() == []
    await changed_nothing(slack)
    assert slack.fake.replies("t2click") == [] and tracebacks(caplog) == []
    # The bot's own workspace is served as before.
    assert "Program Spring created" in (await slack.command("UCAROL", "program create Spring"))["text"]


# --- response_url --------------------------------------------------------------------------------------


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeSlack]:
    """A server that is not Slack, to be named in a crafted payload's response_url."""
    other = FakeSlack(team="T9")
    await other.start()
    yield other
    await other.stop()


async def test_a_response_url_that_is_not_slack_s_is_never_called(
    slack: Slack, elsewhere: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    click = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "UBOB", "team_id": "T1"},
             "channel": {"id": "C1"}, "response_url": elsewhere.hook_url("steal"),
             "actions": [{"action_id": "escalation.ack#0", "value": "99", "action_ts": "1"}]}
    with caplog.at_level(logging.INFO):
        assert (await slack.post(urlencode({"payload": json.dumps(click)}), FORM))[0] == 200
    assert elsewhere.calls == []
    # Answered another way: ephemeral in the channel the click came from.
    ephemeral = slack.fake.called("chat.postEphemeral")
    assert len(ephemeral) == 1 and ephemeral[0]["channel"] == "C1" and "coordinator" in ephemeral[0]["text"]
    assert any("not Slack's" in r.getMessage() for r in caplog.records) and tracebacks(caplog) == []
    # A slow command's late answer, too.
    slack.adapter.ack_budget = 0.0
    body = urlencode({"team_id": "T1", "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                      "text": "program create Spring", "channel_id": "C2", "trigger_id": "t-3",
                      "response_url": elsewhere.hook_url("steal2")})
    assert (await slack.post(body, FORM))[0] == 200
    assert elsewhere.calls == []
    assert "Program Spring created" in slack.fake.called("chat.postEphemeral")[-1]["text"]


@pytest.mark.parametrize(("url", "trusted"), [
    ("https://hooks.slack.com/commands/T1/123/abc", True),
    ("https://HOOKS.slack.com/actions/T1/123/abc", True),
    ("http://hooks.slack.com/commands/T1/123/abc", False),
    ("https://hooks.slack.com.example.net/commands/x", False),
    ("https://evil@hooks.slack.com/commands/x", False),
    ("https://example.net/hooks.slack.com", False),
    ("http://[::1/x", False),
])
async def test_which_response_urls_are_slack_s(slack: Slack, url: str, trusted: bool) -> None:
    assert slack.adapter._trusted_hook(url) is trusted
    assert slack.adapter._trusted_hook(slack.fake.hook_url("x")) is True  # the configured API base (tests)
