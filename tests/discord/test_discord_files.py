"""Files for the person who asked (Response.files) on Discord: attached to the ephemeral reply (or its
followup when the answer was deferred) as multipart/form-data, through the real discord.py client against
the fake Discord. The exact bytes arrive, the reply stays ephemeral, more than ten files take several
messages, a file over the interaction's attachment_size_limit is named instead, and Discord refusing the
upload (413, 400) is answered with a short sentence."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from adapters.discord import interactions
from bot.core import MentorBot
from bot.events import Invocation
from bot.messages import Attachment, Message, Response
from tests.discord.conftest import ATTACHMENT_LIMIT, Cast, People, Reply, Running
from testkit.fake_discord import APP_ID, Call, FakeDiscord

CHART = Attachment("meeting-rate.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "Meeting rate per week")
EXPORT = Attachment("spring-export.zip", b"PK\x03\x04" + b"\x00\xffcsv" * 300, "Spring export")


@pytest.fixture
def files(bot: MentorBot) -> list[Attachment]:
    """What the next `/mentor help command:files-test` hands its actor: a tiny stand-in for the features that
    make files (charts, exports, my-data), built by other modules."""
    handed: list[Attachment] = []
    real = bot.handle

    async def handle(event: Any) -> Response:
        if isinstance(event, Invocation) and event.path == ("help",) and event.words == ("files-test",):
            await real(replace(event, words=()))  # real work first, as a feature would do (and takes time)
            return Response([Message("Here is what you asked for.")], files=list(handed))
        return await real(event)

    bot.handle = handle  # type: ignore[method-assign]
    return handed


async def ask(people: People, cast: Cast, parts: int = 1) -> tuple[Reply, list[Call]]:
    """carol asks for the files; her reply (waiting for `parts` messages) and the calls that answered it."""
    data = people._options(["help"], {"command": "files-test"})
    payload = people._base(2, cast.carol, people.fake.channels[next(iter(people.fake.channels))], data)
    await people.fake.dispatch("INTERACTION_CREATE", payload)
    reply = await people.reply(payload, parts)
    token = payload["token"]
    calls = people.fake.find("POST", rf"/interactions/{payload['id']}/{token}/callback")
    calls += people.fake.find("POST", rf"/webhooks/{APP_ID}/{token}")
    return reply, calls


def uploaded(calls: list[Call]) -> list[tuple[str, bytes]]:
    return [(f.filename, f.data) for c in calls for f in c.files]


async def test_one_file_rides_on_the_ephemeral_reply(running: Running, people: People, cast: Cast,
                                                     files: list[Attachment]) -> None:
    files.append(CHART)
    reply, calls = await ask(people, cast)
    assert reply.kind == 4 and reply.ephemeral and reply.text == "Here is what you asked for."
    assert uploaded(calls) == [("meeting-rate.png", CHART.data)]
    (callback,) = calls
    # payload_json names the attachment with its description (alt text), and the message is ephemeral.
    assert callback.body["data"]["attachments"] == [
        {"id": 0, "filename": "meeting-rate.png", "description": "Meeting rate per week"}]
    assert callback.body["data"]["flags"] & 64


async def test_two_files_on_one_message(running: Running, people: People, cast: Cast,
                                        files: list[Attachment]) -> None:
    files += [CHART, EXPORT]
    reply, calls = await ask(people, cast)
    assert reply.ephemeral and len(calls) == 1
    assert uploaded(calls) == [("meeting-rate.png", CHART.data), ("spring-export.zip", EXPORT.data)]


async def test_a_deferred_answer_attaches_to_the_followup(running: Running, people: People, cast: Cast,
                                                          files: list[Attachment],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interactions, "ACK_BUDGET", 0)
    files += [CHART, EXPORT]
    reply, calls = await ask(people, cast)
    assert reply.kind == 5 and reply.ephemeral and "Here is what you asked for." in reply.text
    callback, followup = calls
    assert not callback.files and callback.body["type"] == 5
    assert uploaded([followup]) == [("meeting-rate.png", CHART.data), ("spring-export.zip", EXPORT.data)]


async def test_more_than_ten_files_take_several_messages(running: Running, people: People, cast: Cast,
                                                         files: list[Attachment]) -> None:
    files += [Attachment(f"chart-{n}.png", bytes([n]) * 10, f"Chart {n}") for n in range(12)]
    reply, calls = await ask(people, cast, parts=2)
    assert reply.ephemeral and [len(c.files) for c in calls] == [10, 2]
    assert uploaded(calls) == [(f"chart-{n}.png", bytes([n]) * 10) for n in range(12)]


async def test_a_file_over_the_limit_is_named_and_the_rest_arrive(running: Running, people: People, cast: Cast,
                                                                  files: list[Attachment]) -> None:
    big = Attachment("everything.zip", b"\x00" * (2 * ATTACHMENT_LIMIT), "Full export")
    files += [CHART, big]
    reply, calls = await ask(people, cast, parts=2)
    assert reply.ephemeral
    assert "Full export is too large to send here (16.8 MB; Discord takes files up to 8.4 MB" in reply.text
    assert uploaded(calls) == [("meeting-rate.png", CHART.data)]  # the big one never left the bot


@pytest.mark.parametrize("status, code", [(413, 40005), (400, 50035)])
async def test_discord_refusing_the_upload_is_answered(running: Running, people: People, cast: Cast,
                                                       fake: FakeDiscord, files: list[Attachment],
                                                       caplog: pytest.LogCaptureFixture, status: int,
                                                       code: int) -> None:
    files.append(CHART)
    fake.fail("POST", r"/interactions/\d+/[^/]+/callback", status, code)
    with caplog.at_level(logging.WARNING):
        reply, calls = await ask(people, cast, parts=2)
    # The refused callback carried the file; the answer then went without it, with a note, still ephemeral.
    assert len(calls) == 3 and calls[0].files and not calls[1].files and not calls[2].files
    assert reply.ephemeral and reply.kind == 4
    assert reply.text == ("Here is what you asked for.\n"
                          f"Discord refused the file (HTTP {status}, code {code}). Please try again in a few "
                          "minutes, or ask for a smaller part.")
    assert "Discord refused 1 file(s)" in caplog.text and "Traceback" not in caplog.text


async def test_a_refused_followup_upload_is_answered(running: Running, people: People, cast: Cast,
                                                     fake: FakeDiscord, files: list[Attachment],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interactions, "ACK_BUDGET", 0)
    fake.attachment_limit = 100  # Discord's own check, stricter than the limit the interaction announced
    files.append(CHART)
    reply, calls = await ask(people, cast, parts=3)  # the refused followup is recorded too
    assert reply.kind == 5 and reply.ephemeral
    assert [bool(c.files) for c in calls] == [False, True, False, False]
    assert [c.body["content"] for c in calls[2:]] == [
        "Here is what you asked for.",
        "Discord refused the file (HTTP 413, code 40005). Please try again in a few minutes, or ask for a "
        "smaller part."]
