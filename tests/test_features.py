"""The feature declarations: one registry built from the feature modules, and typed invocations (what
Discord sends) handled exactly like typed text."""

from __future__ import annotations

import pytest

from bot.args import Args
from bot.core import MentorBot
from bot.events import Actor, CommandEvent, Invocation
from bot.feature import Arg, Feature, Kind
from bot.features import FEATURES, REGISTRY, Registry
from bot.messages import Response
from bot.text import MAX_COMMAND_CHARS
from testkit.console import SETUP, Script

ALICE = Actor("console", "local", "alice", display_name="alice")
CAROL = Actor("console", "local", "carol", display_name="carol", is_admin=True)


async def nothing(*_: object) -> Response:
    return Response()


def test_the_registry_holds_every_features_declarations_in_order() -> None:
    assert REGISTRY.subcommands == tuple(sub for f in FEATURES for sub in f.subcommands)
    assert [s.name for s in REGISTRY.sweeps][:3] == ["auto-resume", "close-periods", "plan-checkins"]
    assert {"checkin.met", "feedback.rate", "escalation.ack"} <= set(REGISTRY.actions)
    assert REGISTRY.groups == {"program", "goal"}
    # Options that never hold a space are declared with such a kind: the parser takes one word for them.
    kinds = {o.name: o.kind for s in REGISTRY.subcommands for o in s.options}
    assert kinds["pair"] is Kind.PAIR and kinds["capacity"] is Kind.INT and kinds["program"] is Kind.PROGRAM


@pytest.mark.parametrize("what", ["command", "action", "form", "sweep"])
def test_a_name_declared_twice_stops_the_bot_at_start_up(what: str) -> None:
    one, two = Feature("one"), Feature("two")
    for feature in (one, two):
        if what == "command":
            feature.command("status")(nothing)
        elif what == "action":
            feature.action("x.click")(nothing)
        elif what == "form":
            feature.form("x.form")(nothing)
        else:
            feature.sweep("tidy", nothing)
    with pytest.raises(ValueError):
        Registry.of((one, two))


async def test_an_invocation_answers_like_the_same_typed_command(run: Script, bot: MentorBot) -> None:
    await run(SETUP)
    typed = await bot.handle(CommandEvent(ALICE, "status"))
    invoked = await bot.handle(Invocation(ALICE, ("status",)))
    assert invoked.text == typed.text and "Spring" in invoked.text
    # Text values stay whole: no quotes or dashes are read as syntax.
    reply = await bot.handle(Invocation(ALICE, ("problem",), ('He said "fine" --pair 9',)))
    assert "coordinators" in reply.text.lower()
    escalations = await bot.handle(Invocation(CAROL, ("escalations",)))
    assert 'He said "fine" --pair 9' in escalations.text


async def test_invocation_mistakes_get_the_same_answers_as_typed_ones(run: Script, bot: MentorBot) -> None:
    await run(SETUP)
    unknown = await bot.handle(Invocation(ALICE, ("status",), options={"colour": "red"}))
    assert "--colour" in unknown.text and "/mentor status" in unknown.text
    assert 'I don\'t know "dance"' in (await bot.handle(Invocation(ALICE, ("dance",)))).text
    long = await bot.handle(Invocation(ALICE, ("problem",), ("x" * (MAX_COMMAND_CHARS + 1),)))
    assert long.text == (await bot.handle(CommandEvent(ALICE, "problem " + "x" * MAX_COMMAND_CHARS))).text
    help_one = await bot.handle(Invocation(ALICE, ("help",), ("pair",)))
    assert help_one.text.startswith("/mentor pair @mentor @mentee")


def test_args_read_words_in_order() -> None:
    assert Args(["a", "b c"]).rest(1) == "b c"


def test_an_argument_declared_twice_in_one_subcommand_stops_the_bot_at_start_up() -> None:
    one = Feature("one")
    one.command("join", args=(Arg("program", Kind.PROGRAM),), options=(Arg("program", Kind.PROGRAM),))(nothing)
    with pytest.raises(ValueError):
        Registry.of((one,))
