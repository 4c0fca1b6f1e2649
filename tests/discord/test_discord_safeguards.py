"""The never-again rule through Discord: /mentor pair refuses two people whose pair went wrong, and its
`force` option (a reason, audited) pairs them anyway."""

from __future__ import annotations

from sqlmodel import select

from bot.core import MentorBot
from storage.models import AuditLog, Pair, PairStatus
from tests.discord.conftest import Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import FakeDiscord


async def test_pair_refuses_a_pairing_that_went_wrong_unless_forced(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    await people.command(cast.alice, "problem", what="He never listens")
    await people.command(cast.carol, "unpair", pair=1, reason="Report upheld")

    refused = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice)
    assert refused.ephemeral
    assert "Bob and Alice were paired before (#1)" in refused.text
    assert "after a problem report" in refused.text and "--force" in refused.text

    forced = await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice,
                                  force="Both asked to try again")
    assert "Paired #2" in forced.text and "audit log" in forced.text
    async with bot.db.transaction() as s:
        assert list((await s.exec(select(Pair.status).order_by(Pair.id))).all()) == [PairStatus.ENDED,
                                                                                     PairStatus.ACTIVE]
        audit = (await s.exec(select(AuditLog.detail).where(AuditLog.action == "pair.force"))).one()
    assert audit.endswith("after #1 (problem): Both asked to try again")
