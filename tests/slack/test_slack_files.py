"""Files for the person who asked (Response.files) on Slack: an ephemeral reply cannot carry one, so each
goes through files_upload_v2 into the person's DM with the app, through the real bolt app against the
fake Slack's upload endpoints. The exact bytes arrive in that DM and nowhere else; the reply says where
they went; a file too large, a missing files:write scope, a rate limit or a failed upload is answered
with a short sentence, never a crash."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.slack.blocks import message_blocks
from bot.events import ActionEvent, CommandEvent
from bot.messages import Attachment, Button, Message, Response
from testkit.fake_slack import Posted
from tests.slack.conftest import Slack, text_of

CHART = Attachment("meeting-rate.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "Meeting rate per week")
EXPORT = Attachment("spring-export.zip", b"PK\x03\x04" + b"\x00\xffcsv" * 300, "Spring export")
CAROL_DM = "DCAROL"


@pytest.fixture
def files(slack: Slack) -> list[Attachment]:
    """What the next `/mentor files-test` (or a click on the test button) hands its actor: a tiny stand-in
    for the features that make files (charts, exports, my-data), built by other modules."""
    handed: list[Attachment] = []
    real = slack.bot.handle

    async def handle(event: Any) -> Response:
        if (isinstance(event, CommandEvent) and event.text == "files-test") or (
                isinstance(event, ActionEvent) and event.action_id == "test.files"):
            return Response([Message("Here is what you asked for.")], files=list(handed))
        return await real(event)

    slack.bot.handle = handle  # type: ignore[method-assign]
    return handed


def only_in(slack: Slack, channel: str) -> list[bytes]:
    """The bytes of every file the fake holds, after checking each was shared into `channel` only."""
    for f in slack.fake.files.values():
        assert f.channels == [channel], (f.filename, f.channels)
    return [f.data or b"" for f in slack.fake.files.values()]


async def test_one_file_reaches_the_persons_dm_and_nowhere_else(slack: Slack, files: list[Attachment]) -> None:
    files.append(CHART)
    ack = await slack.command("UCAROL", "files-test")
    assert "Here is what you asked for." in ack["text"] and ack["response_type"] == "ephemeral"
    assert slack.fake.called("conversations.open") == [{"users": "UCAROL"}]
    assert only_in(slack, CAROL_DM) == [CHART.data]
    shared = slack.fake.shared_in(CAROL_DM)[0]
    assert (shared.filename, shared.title) == ("meeting-rate.png", "Meeting rate per week")
    assert shared.comment == "Here is what you asked for."
    # The reply (through the command's response_url, after the ack) says where the file went.
    (late,) = slack.fake.replies("cmd1")
    assert "Meeting rate per week" in late["text"] and "direct messages" in late["text"]
    assert late["response_type"] == "ephemeral"
    # Nothing was posted as a message anywhere: the file is only in the DM.
    assert not slack.fake.messages and not slack.fake.called("chat.postEphemeral")


async def test_two_files_are_shared_together_in_one_dm(slack: Slack, files: list[Attachment]) -> None:
    files += [CHART, EXPORT]
    await slack.command("UBOB", "files-test")
    assert only_in(slack, "DBOB") == [CHART.data, EXPORT.data]
    assert len(slack.fake.called("files.getUploadURLExternal")) == 2
    (complete,) = slack.fake.called("files.completeUploadExternal")
    assert complete["channel_id"] == "DBOB"
    (late,) = slack.fake.replies("cmd1")
    assert "Meeting rate per week, Spring export" in late["text"]
    assert not slack.fake.shared_in(CAROL_DM)


async def test_a_click_and_a_slow_answer_carry_files_too(slack: Slack, files: list[Attachment]) -> None:
    files.append(EXPORT)
    button = Message("Your export is ready.", buttons=(Button("Get it", "test.files"),))
    posted = Posted(CAROL_DM, "1.000100", button.text, message_blocks(button))
    hook = await slack.click("UCAROL", posted, "Get it")
    (reply,) = slack.fake.replies(hook)
    assert "Here is what you asked for." in reply["text"] and "Spring export" in text_of(reply["blocks"])
    assert only_in(slack, CAROL_DM) == [EXPORT.data]

    slack.adapter.ack_budget = 0.0  # the core too slow for the ack: messages and files come later together
    ack = await slack.command("UCAROL", "files-test")
    assert "Working on it" in ack["text"]
    (late,) = slack.fake.replies("cmd2")
    assert "Here is what you asked for." in late["text"] and "direct messages" in late["text"]
    assert only_in(slack, CAROL_DM) == [EXPORT.data, EXPORT.data]


async def test_a_file_too_large_is_named_and_the_others_still_arrive(slack: Slack, files: list[Attachment]) -> None:
    slack.adapter.max_file_bytes = 2000  # Slack's 1 GiB, scaled down
    files += [CHART, Attachment(EXPORT.filename, EXPORT.data * 2, EXPORT.title)]  # 1,032 and 3,008 bytes
    await slack.command("UCAROL", "files-test")
    assert only_in(slack, CAROL_DM) == [CHART.data]
    (late,) = slack.fake.replies("cmd1")
    assert "Spring export is too large to send on Slack (3.0 KB; Slack takes files up to 2.0 KB)" in late["text"]
    assert "Meeting rate per week: sent to your direct messages" in late["text"]


async def test_nothing_fits_nothing_is_uploaded(slack: Slack, files: list[Attachment]) -> None:
    slack.adapter.max_file_bytes = 10
    files.append(CHART)
    await slack.command("UCAROL", "files-test")
    assert not slack.fake.called("conversations.open") and not slack.fake.files
    (late,) = slack.fake.replies("cmd1")
    assert "too large" in late["text"] and "direct messages" not in late["text"]


async def test_missing_files_write_scope_is_answered_clearly(slack: Slack, files: list[Attachment],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    files.append(CHART)
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    with caplog.at_level(logging.WARNING):
        ack = await slack.command("UCAROL", "files-test")
    assert "Here is what you asked for." in ack["text"]
    (late,) = slack.fake.replies("cmd1")
    assert "files:write" in late["text"] and "reinstall" in late["text"]
    assert not slack.fake.shared_in(CAROL_DM)
    assert "missing_scope" in caplog.text and "Traceback" not in caplog.text


async def test_a_rate_limit_that_lasts_is_answered_busy(slack: Slack, files: list[Attachment]) -> None:
    files.append(CHART)
    # The client waits out one 429 (through the pacer's fake time) and retries; a second one is final.
    slack.fake.fail("files.completeUploadExternal", status=429, retry_after=3, times=2)
    await slack.command("UCAROL", "files-test")
    assert len(slack.fake.called("files.completeUploadExternal")) == 2 and 3 in slack.time.sleeps
    (late,) = slack.fake.replies("cmd1")
    assert "Slack is busy" in late["text"]
    assert not slack.fake.shared_in(CAROL_DM)


async def test_one_429_is_waited_out_and_the_file_arrives(slack: Slack, files: list[Attachment]) -> None:
    files.append(CHART)
    slack.fake.fail("files.getUploadURLExternal", status=429, retry_after=2)
    await slack.command("UCAROL", "files-test")
    assert only_in(slack, CAROL_DM) == [CHART.data]


@pytest.mark.parametrize("how, said", [
    ("upload 500", "could not send you the file (upload)"),
    ("workspace forbids", "does not allow this upload (file_uploads_disabled)"),
    ("no dm", "could not send you the file (user_not_found)"),
])
async def test_upload_failures_are_answered_never_crash(slack: Slack, files: list[Attachment], how: str,
                                                        said: str) -> None:
    files.append(CHART)
    if how == "upload 500":
        slack.fake.upload_failures.append(500)
    elif how == "workspace forbids":
        slack.fake.fail("files.getUploadURLExternal", error="file_uploads_disabled")
    else:
        slack.fake.fail("conversations.open", error="user_not_found")
    ack = await slack.command("UCAROL", "files-test")
    assert "Here is what you asked for." in ack["text"]
    (late,) = slack.fake.replies("cmd1")
    assert said in late["text"]
    assert not slack.fake.shared_in(CAROL_DM)
    # The app keeps answering.
    assert "mentor" in (await slack.command("UCAROL", "help"))["text"]
