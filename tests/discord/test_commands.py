"""/mentor as Discord application commands: generated from the core's declared subcommands, typed values
handed to the core as they are, autocomplete that only shows what the person may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

import prompts
from adapters.discord.commands import mentor_group
from adapters.discord.interactions import PLATFORM
from adapters.limits import split_text
from bot import suggest
from bot.core import MentorBot
from bot.feature import Arg, Kind
from bot.features import REGISTRY
from tests.discord.conftest import Cast, People, Running, pair_them, setup_program
from testkit.fake_discord import GUILD_ID, LEADS, FakeDiscord


def test_every_core_subcommand_is_a_discord_command() -> None:
    group = mentor_group()
    names = set()
    for command in group.commands:
        children = getattr(command, "commands", None)
        names |= {f"{command.name} {c.name}" for c in children} if children else {command.name}
    assert names == {" ".join(REGISTRY.nested(s)) for s in REGISTRY.subcommands} | {"help"}
    assert all(len(c.description) <= 100 for c in group.walk_commands())
    # Discord takes at most 25 subcommands (and groups) in a command, and 25 in each group.
    assert len(group.commands) <= 25
    assert all(len(getattr(c, "commands", ())) <= 25 for c in group.commands)


def test_a_family_nested_on_discord_still_reaches_its_core_subcommand() -> None:
    escalations = next(c for c in mentor_group().commands if c.name == "escalations")
    assert {c.name for c in escalations.commands} == {"list", "ack", "resolve"}  # type: ignore[attr-defined]
    assert {s.name for s in REGISTRY.subcommands if s.grouped and s.grouped[0] == "escalations"} == {
        "escalations", "ack", "resolve"}


# Discord's option types: https-free summary of the API's ApplicationCommandOptionType.
DISCORD_TYPE = {Kind.PERSON: 6, Kind.CHANNEL: 7, Kind.PROGRAM: 3, Kind.PAIR: 4, Kind.ESCALATION: 4, Kind.TEXT: 3,
                Kind.INT: 4, Kind.CHOICE: 3, Kind.DATE: 3, Kind.TIME: 3, Kind.TZ: 3, Kind.FLAG: 5}
COMPLETED = {Kind.PROGRAM, Kind.PAIR, Kind.ESCALATION, Kind.TZ}


def expected_option(arg: Arg) -> dict[str, Any]:
    """What the catalog says Discord must show for one argument."""
    option: dict[str, Any] = {"name": arg.name, "type": 3 if arg.also else DISCORD_TYPE[arg.kind],
                              "required": arg.required, "description": prompts.say(f"arg.{arg.described_as}")[:100],
                              "autocomplete": arg.kind in COMPLETED}
    if arg.choices:
        option["choices"] = list(arg.choices)
    if arg.kind is Kind.INT:
        option["min_value"], option["max_value"] = arg.low, arg.high
    return option


def shown_option(option: dict[str, Any]) -> dict[str, Any]:
    shown = {k: option[k] for k in ("name", "type", "required", "description")}
    shown["autocomplete"] = bool(option.get("autocomplete"))
    if "choices" in option:
        shown["choices"] = [c["value"] for c in option["choices"]]
    for bound in ("min_value", "max_value"):
        if bound in option:
            shown[bound] = option[bound]
    return shown


async def test_every_catalog_entry_is_on_discord_with_exactly_its_options_and_types(
    running: Running, fake: FakeDiscord
) -> None:
    (sync,) = fake.find("PUT", rf"/applications/\d+/guilds/{GUILD_ID}/commands")
    (spec,) = sync.body  # what discord.py registered with Discord
    for sub in REGISTRY.subcommands:
        node = spec
        for word in REGISTRY.nested(sub):
            node = next(o for o in node["options"] if o["name"] == word)
        declared = sorted(sub.arguments, key=lambda a: not a.required)
        assert [shown_option(o) for o in node.get("options", [])] == [expected_option(a) for a in declared], sub.name


async def test_typed_values_reach_the_core_as_they_are(running: Running, people: People, cast: Cast,
                                                        bot: MentorBot, fake: FakeDiscord) -> None:
    """Quotes, dashes and option-like words in a value stay the person's words: nothing re-reads them as text."""
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    reply = await people.command(cast.alice, "problem", what="He said “it’s fine” --pair 7 -- twice", pair=1)
    assert "coordinators" in reply.text.lower()
    await bot.deliver()
    (post,) = [m for m in fake.posts(LEADS) if m["components"]]
    assert "He said “it’s fine” --pair 7 -- twice" in str(post)


async def test_start_up_asks_for_the_guilds_intent_only_and_registers_mentor(
    running: Running, fake: FakeDiscord
) -> None:
    assert fake.identify is not None and fake.identify["intents"] == 1
    (sync,) = fake.find("PUT", rf"/applications/\d+/guilds/{GUILD_ID}/commands")
    (mentor,) = sync.body
    assert mentor["name"] == "mentor" and mentor["dm_permission"] is False  # servers only
    join = next(o for o in mentor["options"] if o["name"] == "join")
    role = next(o for o in join["options"] if o["name"] == "role")
    assert [c["value"] for c in role["choices"]] == ["mentor", "mentee", "peer"]


async def test_help_is_the_cores_help(running: Running, people: People, cast: Cast) -> None:
    reply = await people.command(cast.bob, "help", command="pair")
    assert reply.text.startswith("/mentor pair @mentor @mentee") and reply.ephemeral
    assert await people.autocomplete(cast.bob, "help", "command", command="prog") == [
        "program create", "program set", "program list"]


async def test_mentions_and_channels_reach_the_core_resolved(
    running: Running, fake: FakeDiscord, people: People, cast: Cast
) -> None:
    await setup_program(people, cast)
    await people.command(cast.rita, "help")  # mentorbot adds only people it has met
    reply = await people.command(cast.carol, "program coordinators", action="add", person=cast.rita)
    assert "Rita" in reply.text
    listed = await people.command(cast.rita, "program coordinators")
    assert "Carol" in listed.text and "Rita" in listed.text
    assert f"<#{LEADS}|leads>" in (await people.command(cast.carol, "program channel", channel=LEADS)).text


async def test_a_bad_time_zone_gets_the_cores_answer(running: Running, people: People, cast: Cast) -> None:
    reply = await people.command(cast.bob, "profile", tz="Mars/Olympus")
    assert "is not a time zone I know" in reply.text


async def test_autocomplete_programs_zones_and_only_visible_pairs(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)
    assert await people.autocomplete(cast.bob, "join", "program", role="mentor", program="spr") == ["Spring"]
    assert await people.autocomplete(cast.bob, "join", "program", role="mentor", program="nope") == []
    assert "Europe/Berlin" in await people.autocomplete(cast.bob, "profile", "tz", tz="berl")
    mine = await people.autocomplete(cast.alice, "checkin", "pair", pair="")
    assert mine == ["#1 Bob (mentor) & Alice (mentee)"]
    assert await people.autocomplete(cast.dave, "checkin", "pair", pair="") == []  # not Dave's pair
    assert await people.autocomplete(cast.carol, "nudge", "target", target="") == [
        "All active pairs", "#1 Bob (mentor) & Alice (mentee)"]
    assert await people.autocomplete(cast.dave, "escalations ack", "escalation", escalation="") == []


async def test_pair_autocomplete_offers_what_the_command_accepts(
    running: Running, fake: FakeDiscord, people: People, cast: Cast, bot: MentorBot
) -> None:
    """checkin takes only one's own pairs; unpair (and nudge) only pairs of the programs one coordinates."""
    await setup_program(people, cast)
    await pair_them(people, cast, bot, fake)  # #1 in Spring
    assert "created" in (await people.command(cast.carol, "program create", name="Autumn")).text
    await people.command(cast.rita, "join", role="mentor", program="Spring")
    await people.command(cast.dave, "join", role="mentee", program="Spring")
    assert "Paired #2" in (await people.command(cast.carol, "pair", mentor=cast.rita, mentee=cast.dave,
                                                program="Spring")).text
    await people.command(cast.bob, "join", role="mentor", program="Autumn")
    await people.command(cast.alice, "join", role="mentee", program="Autumn")
    assert "Paired #3" in (await people.command(cast.carol, "pair", mentor=cast.bob, mentee=cast.alice,
                                                program="Autumn")).text
    assert "Dave" in (await people.command(cast.carol, "program coordinators", action="add", person=cast.dave,
                                           program="Autumn")).text
    # Dave is in #2 and coordinates Autumn (#3): each command offers only what it accepts from him.
    assert await people.autocomplete(cast.dave, "checkin", "pair", pair="") == ["#2 Rita (mentor) & Dave (mentee)"]
    assert await people.autocomplete(cast.dave, "rematch", "pair", reason="x", pair="") == [
        "#2 Rita (mentor) & Dave (mentee)"]
    assert await people.autocomplete(cast.dave, "unpair", "pair", pair="") == ["#3 Bob (mentor) & Alice (mentee)"]
    assert await people.autocomplete(cast.dave, "nudge", "target", target="") == [
        "All active pairs", "#3 Bob (mentor) & Alice (mentee)"]
    # Carol coordinates everything but is in no pair.
    assert await people.autocomplete(cast.carol, "checkin", "pair", pair="") == []
    assert await people.autocomplete(cast.carol, "unpair", "pair", pair="#") == [
        "#1 Bob (mentor) & Alice (mentee)", "#2 Rita (mentor) & Dave (mentee)", "#3 Bob (mentor) & Alice (mentee)"]
    assert await people.autocomplete(cast.bob, "problem", "pair", what="x", pair="alice") == [
        "#1 Bob (mentor) & Alice (mentee)", "#3 Bob (mentor) & Alice (mentee)"]
    assert await people.autocomplete(cast.bob, "unpair", "pair", pair="") == []  # Bob coordinates nothing

    # A keystroke costs the same few queries however many pairs there are (no look-up per pair label).
    selects: list[str] = []
    event.listen(bot.db.engine.sync_engine, "before_cursor_execute",
                 lambda *call: selects.append(call[2]) if call[2].lstrip().upper().startswith("SELECT") else None)
    assert len(await suggest.coordinated_pairs(bot.rt, PLATFORM, str(GUILD_ID), str(cast.carol.id), "")) == 3
    assert len(selects) == 4  # workspace with member, programs, pairs, their members


def test_a_long_reply_is_split_at_line_ends() -> None:
    text = "\n".join(f"line {i:04d} " + "x" * 90 for i in range(60))
    parts = split_text(text, 2000)
    assert len(parts) == 4 and all(len(p) <= 2000 and p.startswith("line ") for p in parts)  # 19 lines each
    assert "\n".join(parts) == text
