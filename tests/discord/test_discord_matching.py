"""`/mentor match` through Discord: the proposal lands in the coordinator's DM with buttons, clicks approve
one and skip another, the approved pair's intro opens its private thread, nobody else hears anything."""

from __future__ import annotations

from sqlmodel import col, select

from bot.core import MentorBot
from bot.offload import in_worker
from storage.models import Pair, PairStatus
from tests.discord.conftest import Cast, People, Running, setup_program
from testkit.fake_discord import PAIRS, FakeDiscord


def labels(message: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["label"] for row in message["components"] for b in row["components"]]


async def test_match_proposal_approve_skip_and_intro_on_discord(running: Running, people: People, cast: Cast,
                                                               bot: MentorBot, fake: FakeDiscord) -> None:
    await in_worker(abs, -1)  # the worker process is started once per test run; start it before the clock matters
    await setup_program(people, cast)
    for user, role in ((cast.bob, "mentor"), (cast.dave, "mentor"), (cast.alice, "mentee"), (cast.rita, "mentee")):
        await people.command(user, "join", role=role)
    await people.command(cast.bob, "profile", interests="python, Music")
    await people.command(cast.alice, "profile", interests="Python,career")
    await people.command(cast.dave, "profile", interests="cooking")
    await people.command(cast.rita, "profile", interests="cooking")
    reply = await people.command(cast.carol, "match")
    assert "Proposal #1 for Spring: 2 pair(s), 0 left unmatched" in reply.text and reply.ephemeral
    await bot.deliver()
    (post,) = fake.posts(cast.carol.id + 1)
    assert "Bob (mentor) & Alice (mentee)" in post["content"] and "interests python" in post["content"]
    assert labels(post) == ["Approve all (2)", "Approve #1", "Skip #1", "Approve #2", "Skip #2", "Discard"]
    assert not [c for c in fake.channels.values() if c.get("parent_id") == str(PAIRS)]

    approved = await people.click(cast.carol, post, "Approve #1")
    assert "Approved #1" in approved.text and approved.ephemeral
    await bot.deliver()
    (thread,) = [cid for cid, c in fake.channels.items() if c.get("parent_id") == str(PAIRS)]
    assert "You have been matched in Spring" in fake.posts(thread)[0]["content"]
    post = fake.messages[int(post["id"])]
    skipped = await people.click(cast.carol, post, "Skip #2")
    assert "Skipped #2" in skipped.text
    await bot.deliver()
    post = fake.messages[int(post["id"])]
    assert "This proposal is closed." in post["content"] and post["components"] == []
    assert not fake.posts(cast.rita.id + 1) and not fake.posts(cast.dave.id + 1)
    async with bot.db.transaction() as s:
        statuses = [p.status for p in (await s.exec(select(Pair).order_by(col(Pair.id)))).all()]
    assert statuses == [PairStatus.ACTIVE, PairStatus.SKIPPED]
