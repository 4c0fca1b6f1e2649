"""Discord (or a proxy in front of it) answering with something that is not Discord's JSON: an HTML error
page, an empty body, a Cloudflare 429, or no answer at all. Sends are retried or failed with a readable
reason, interactions still do their work, and nothing logs a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import col, select

from adapters.discord import messenger as discord_messenger
from bot.clock import ManualClock
from bot.core import MentorBot
from bot.messenger import ProfileUnavailable
from storage.models import Enrollment, Outbox, OutboxStatus
from tests.discord.conftest import Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import GUILD_ID, FakeDiscord

PAGE = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>"


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


async def _intro(bot: MentorBot) -> Outbox:
    async with bot.db.transaction() as s:
        return (await s.exec(select(Outbox).where(col(Outbox.key).startswith("intro")))).one()


@pytest.mark.parametrize(("status", "body", "content_type"), [
    pytest.param(503, PAGE, "text/html", id="503 html"),
    pytest.param(503, "", "text/plain", id="503 empty"),
    pytest.param(429, "<html>error code: 1015</html>", "text/html", id="429 from cloudflare"),
])
async def test_a_send_answered_with_a_proxy_page_is_retried(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock,
    caplog: pytest.LogCaptureFixture, status: int, body: str, content_type: str,
) -> None:
    await setup_program(people, cast)
    fake.fail("POST", r"/channels/\d+/messages", status, body=body, content_type=content_type)
    with caplog.at_level(logging.INFO):
        thread = await pair_them(people, cast, bot, fake)
    intro = await _intro(bot)
    assert intro.status == OutboxStatus.PENDING and intro.attempts == 1
    assert "<html" not in (intro.last_error or "")
    assert tracebacks(caplog) == []
    clock.set(intro.next_attempt_at)
    await bot.deliver()
    assert (await _intro(bot)).status == OutboxStatus.SENT and len(fake.posts(thread)) == 1


async def test_a_refusal_served_as_html_is_named_by_its_status_not_its_markup(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    fake.fail("POST", r"/channels/\d+/messages", 400, body="<html><body>400 Bad Request</body></html>")
    await pair_them(people, cast, bot, fake)
    intro = await _intro(bot)
    assert intro.status == OutboxStatus.FAILED
    assert "400" in (intro.last_error or "") and "<html" not in (intro.last_error or "")


async def test_a_send_that_gets_no_answer_times_out_and_is_retried(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot, clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await setup_program(people, cast)
    monkeypatch.setattr(discord_messenger, "CALL_TIMEOUT", 0.2)
    fake.fail("POST", r"/channels/\d+/messages", 200, hang=True)
    thread = await pair_them(people, cast, bot, fake)
    intro = await _intro(bot)
    assert intro.status == OutboxStatus.PENDING and "TimeoutError" in (intro.last_error or "")
    clock.set(intro.next_attempt_at)
    await bot.deliver()
    assert (await _intro(bot)).status == OutboxStatus.SENT and len(fake.posts(thread)) == 1


async def test_an_interaction_answer_refused_with_a_proxy_page_still_does_the_work(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await people.command(cast.carol, "program create", name="Spring")
    # (A 5xx here discord.py itself retries, sleeping a second or more; a 4xx it raises at once.)
    fake.fail("POST", r"/interactions/\d+/\w+/callback", 400, body="<html><body>400 Bad Request</body></html>")
    with caplog.at_level(logging.INFO):
        await people.command(cast.bob, "join", role="mentor")
        # The next command is answered: the failed answer above is logged (one line) by then.
        assert "Status for Bob" in (await people.command(cast.bob, "status")).text
    async with bot.db.transaction() as s:
        assert len((await s.exec(select(Enrollment))).all()) == 2
    assert any("could not answer interaction" in r.getMessage() for r in caplog.records)
    assert tracebacks(caplog) == []


async def test_a_profile_discord_cannot_give_now_is_unavailable_not_unknown(
    running: Running, fake: FakeDiscord, cast: Cast, bot: MentorBot
) -> None:
    discord = bot.messengers["discord"]
    fake.fail("GET", r"/guilds/\d+/members/\d+", 503, body=PAGE)
    with pytest.raises(ProfileUnavailable):
        await discord.lookup_profile(str(GUILD_ID), str(cast.dave.id))
    assert (await discord.lookup_profile(str(GUILD_ID), str(cast.dave.id))).display_name == "Dave"  # type: ignore[union-attr]
    assert await discord.lookup_profile(str(GUILD_ID), "123456789012345678") is None  # not in the server
