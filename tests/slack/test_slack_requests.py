"""What reaches the bolt app: only correctly signed, fresh requests change anything; a redelivered event
and a double click have one effect; bad payloads and unknown users get a short answer, never a crash."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.models import Member, Outbox, ProcessedEvent, Program
from testkit.fake_slack import signed_headers
from tests.slack.conftest import Slack, text_of
from tests.slack.test_slack_stories import PAIR_DM, setup_pair


async def count(slack: Slack, model: type) -> int:
    async with slack.bot.db.transaction() as s:
        return int((await s.exec(select(func.count()).select_from(model))).one())


def command_body(text: str) -> str:
    return urlencode({"team_id": "T1", "user_id": "UCAROL", "user_name": "carol", "command": "/mentor",
                      "text": text, "channel_id": "C1", "trigger_id": "t-1", "response_url": "http://127.0.0.1:9/x"})


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "six minutes old", "tampered body"])
async def test_bad_signatures_get_401_and_change_nothing(slack: Slack, how: str) -> None:
    body = command_body("program create Sneaky")
    form = "application/x-www-form-urlencoded"
    headers = {
        "unsigned": {"Content-Type": form},
        "wrong secret": signed_headers(body, form, secret="not-the-secret"),
        "six minutes old": signed_headers(body, form, age=360),
        "tampered body": signed_headers(command_body("program list"), form),
    }[how]
    status, _ = await slack.post(body, form, headers=headers)
    assert status == 401
    assert await count(slack, Program) == 0 and await count(slack, Member) == 0
    assert slack.fake.called("users.info") == []


async def test_a_fresh_signed_request_is_accepted(slack: Slack) -> None:
    reply = await slack.command("UCAROL", "program create Spring", age=60)
    assert "Program Spring created" in reply["text"]
    assert await count(slack, Program) == 1


async def test_a_redelivered_event_has_one_effect(slack: Slack) -> None:
    await setup_pair(slack)
    gone = {**slack.fake.users["UALICE"], "deleted": True}
    assert await slack.event({"type": "user_change", "user": gone}, "Ev1") == 200
    assert await slack.event({"type": "user_change", "user": gone}, "Ev1", retry=1) == 200
    assert await slack.event({"type": "user_change", "user": gone}, "Ev1", retry=2) == 200
    await slack.deliver()
    # Alice left: one notice to Bob (by DM) and one escalation post, however often Slack redelivered.
    leads = [m for m in slack.posts("CLEADS") if "Escalation" in m.text]
    # Slack's deleted=true means the account is gone: mentorbot forgot her (bot/flows/mydata.py).
    assert len(leads) == 1 and "former member #" in text_of(leads[0].blocks) and "Alice" not in leads[0].text
    async with slack.bot.db.transaction() as s:
        keys = (await s.exec(select(ProcessedEvent.event_key).where(
            ProcessedEvent.event_key.like("%Ev1")))).all()  # type: ignore[attr-defined]
    assert keys == ["slack:T1:Ev1"]


async def test_a_double_click_has_one_effect(slack: Slack, clock: object) -> None:
    await setup_pair(slack)
    await slack.command("UCAROL", "nudge 1")
    await slack.deliver()
    nudge = slack.last(PAIR_DM)
    first = await slack.click("UALICE", nudge, "We met", action_ts=1700000100.1)
    second = await slack.click("UALICE", nudge, "We met", action_ts=1700000100.4)
    await slack.deliver()
    assert len(slack.fake.replies(first)) == 1 and slack.fake.replies(second) == []
    async with slack.bot.db.transaction() as s:
        rates = (await s.exec(select(Outbox.key).where(Outbox.key.like("rate:%")))).all()  # type: ignore[attr-defined]
    assert len(rates) == 2  # one rating request each, not four
    assert nudge.edits == 1


async def test_a_second_answer_from_the_partner_is_told_the_first(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UCAROL", "nudge 1")
    await slack.deliver()
    nudge = slack.last(PAIR_DM)
    await slack.click("UALICE", nudge, "We met")
    hook = await slack.click("UBOB", nudge, "We couldn't meet")
    assert 'already answered: Alice said "met"' in slack.fake.replies(hook)[0]["text"]


async def test_mentions_and_unknown_users(slack: Slack) -> None:
    await slack.command("UCAROL", "program create Spring")
    reply = await slack.command("UCAROL", "pair <@UNOBODY|ghost> <@UBOB|bob>")
    assert reply["response_type"] == "ephemeral"
    assert "ghost" in reply["text"] or "UNOBODY" in reply["text"]
    # An actor Slack does not know still gets an answer (named as the payload names them).
    reply = await slack.command("UGHOST", "help")
    assert "/mentor" in text_of(reply["blocks"])


async def test_bad_payloads_are_answered_or_ignored_without_a_crash(slack: Slack) -> None:
    form = "application/x-www-form-urlencoded"
    no_user = urlencode({"team_id": "T1", "command": "/mentor", "text": "help"})
    status, text = await slack.post(no_user, form)
    assert status == 200 and "could not read" in json.loads(text)["text"]
    for payload in (
        {"type": "block_actions", "user": {"id": "UBOB"}, "team": {"id": "T1"},
         "actions": [{"action_id": "checkin.met#0", "value": "not-a-number", "action_ts": "1"}]},
        {"type": "block_actions", "user": {"id": "UBOB"}, "team": {"id": "T1"},
         "actions": [{"action_id": "escalation.ack#0", "value": "99", "action_ts": "1"}],
         "response_url": slack.fake.hook_url("stale")},
        {"type": "view_submission", "user": {"id": "UBOB"}, "team": {"id": "T1"},
         "view": {"id": "V9", "hash": "h", "callback_id": "mentorbot.form", "private_metadata": "not json"}},
    ):
        status, _ = await slack.post(urlencode({"payload": json.dumps(payload)}), form)
        assert status in (200, 400)
    # A coordinator button pressed by someone who coordinates nothing: a short refusal, to them only.
    assert "coordinator" in slack.fake.replies("stale")[0]["text"]
    assert await count(slack, Program) == 0
    assert (await slack.command("UBOB", "help"))["response_type"] == "ephemeral"  # still serving


async def test_an_expired_trigger_gets_a_short_reply(slack: Slack) -> None:
    await setup_pair(slack)
    await slack.command("UCAROL", "nudge 1")
    await slack.deliver()
    nudge = slack.last(PAIR_DM)
    slack.fake.fail("views.open", error="expired_trigger_id")
    hook = await slack.click("UBOB", nudge, "Report a problem")
    assert any("could not open in time" in r["text"] for r in slack.fake.replies(hook))


async def test_a_slow_core_is_acked_at_once_and_answers_through_the_response_url(slack: Slack) -> None:
    slack.adapter.ack_budget = 0.0  # as if the database were slow: the ack cannot wait for the answer
    reply = await slack.command("UCAROL", "program create Spring")
    assert "Working on it" in reply["text"]
    late = slack.fake.replies("cmd1")
    assert len(late) == 1 and "Program Spring created" in late[0]["text"]
    assert late[0]["response_type"] == "ephemeral" and late[0]["replace_original"] is False


async def test_health_and_metrics(slack: Slack) -> None:
    await slack.bot.run_sweeps()
    resp = await slack.http.get("/healthz")
    assert resp.status == 200 and (await resp.json())["status"] == "ok"
    await slack.command("UCAROL", "program create Spring")
    resp = await slack.http.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and 'mentorbot_outbox_pending{platform="slack"} 0.0' in text
    assert 'mentorbot_handle_seconds_count{event="command"}' in text
    slack.bot.clock.advance(timedelta(minutes=2))  # type: ignore[attr-defined]
    resp = await slack.http.get("/healthz")
    assert resp.status == 503 and (await resp.json())["reasons"][0].startswith("no sweep run finished for 120 s")


async def test_a_profile_change_in_slack_reaches_the_member(slack: Slack) -> None:
    await slack.command("UBOB", "help")
    slack.fake.users["UBOB"] |= {"tz": "Asia/Tokyo", "profile": {"display_name": "Bobby"}}
    await slack.command("UBOB", "help")  # still cached: Slack has not said anything changed
    async with slack.bot.db.transaction() as s:
        assert (await s.exec(select(Member.tz_from_platform).where(Member.external_id == "UBOB"))).one() == \
            "Europe/Berlin"
    assert await slack.event({"type": "user_change", "user": slack.fake.users["UBOB"]}, "Ev-tz") == 200
    await slack.command("UBOB", "help")
    async with slack.bot.db.transaction() as s:
        bob = (await s.exec(select(Member).where(Member.external_id == "UBOB"))).one()
    assert (bob.tz_from_platform, bob.display_name, bob.tz) == ("Asia/Tokyo", "Bobby", None)


async def test_only_workspace_admins_and_owners_create_programs(slack: Slack) -> None:
    refused = await slack.command("UBOB", "program create Mine")
    assert "Program Mine created" not in refused["text"] and await count(slack, Program) == 0
    slack.fake.users["UDAN"]["is_owner"] = True  # an owner who is not flagged admin
    assert "Program Ours created" in (await slack.command("UDAN", "program create Ours"))["text"]
