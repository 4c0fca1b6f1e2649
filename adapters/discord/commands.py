"""`/mentor` as a Discord application-command group, generated from the core's declared subcommands: one
Discord subcommand per core subcommand, one option per declared argument with the matching Discord type,
choices, range and autocomplete. The chosen values go to the core as typed values (an Invocation), never
through a text line; the core checks everything (coordinator rights included) as for every other platform."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any, Optional, Protocol

import discord
from discord import app_commands

import prompts
from adapters.discord.interactions import PLATFORM, actor_for, answer
from adapters.discord.settings import DiscordSettings
from bot.core import MentorBot
from bot.events import Invocation
from bot.feature import Arg, Kind, Subcommand
from bot.features import REGISTRY
from bot.messages import Message, Response

DESCRIPTION_LIMIT = 100
CHOICE_NAME_LIMIT = 100
CHOICE_LIMIT = 25  # choices Discord shows at once
_UNSAFE_NAME = re.compile(r"[<>|@#\"'`\u2018\u2019\u201c\u201d]")
Callback = Callable[..., Coroutine[Any, Any, None]]

# The Discord type of each kind of argument (PAIR with an extra word, like nudge's "all", is text).
ANNOTATIONS: dict[Kind, Any] = {
    Kind.PERSON: discord.Member, Kind.CHANNEL: discord.TextChannel, Kind.PROGRAM: str, Kind.PAIR: int,
    Kind.ESCALATION: int, Kind.TEXT: str, Kind.CHOICE: str, Kind.DATE: str, Kind.TIME: str, Kind.TZ: str,
    Kind.FLAG: bool,
}
COMPLETED = frozenset({Kind.PROGRAM, Kind.PAIR, Kind.ESCALATION, Kind.TZ})


class HasBot(Protocol):
    """The client: what commands and autocomplete need from it."""

    bot: MentorBot
    settings: DiscordSettings


def _client(interaction: discord.Interaction[Any]) -> HasBot:
    return interaction.client  # type: ignore[return-value]


def _describe(key: str) -> str:
    """A command's description: its help text, cut to the first clause when Discord's 100 characters
    cannot hold it (the whole text is in /mentor help)."""
    text = prompts.say(f"help.{key}")
    if len(text) > DESCRIPTION_LIMIT:
        text = re.split(r"(?<=\))\.|[.;:](?=\s)", text, maxsplit=1)[0]
    return text[:DESCRIPTION_LIMIT]


def _name(text: str) -> str:
    return _UNSAFE_NAME.sub("", text).strip() or "?"


def mention(user: discord.abc.User) -> str:
    """A member as the core reads one: <@id|name>."""
    return f"<@{user.id}|{_name(user.display_name)}>"


def channel_mention(channel: app_commands.AppCommandChannel | discord.abc.GuildChannel) -> str:
    return f"<#{channel.id}|{_name(channel.name)}>"


def _value(value: Any) -> str:
    """One chosen value as the core reads it."""
    if isinstance(value, discord.abc.User):
        return mention(value)
    if isinstance(value, app_commands.AppCommandChannel | discord.abc.GuildChannel):
        return channel_mention(value)
    return str(value)


def _annotation(arg: Arg) -> Any:
    if arg.kind is Kind.INT:
        kind: Any = app_commands.Range[int, arg.low, arg.high]
    else:
        kind = str if arg.also else ANNOTATIONS[arg.kind]
    return kind if arg.required or arg.kind is Kind.FLAG else Optional[kind]  # noqa: UP045 (a runtime object)


def _choices(arg: Arg) -> list[app_commands.Choice[str]]:
    label = (lambda v: prompts.say(f"{arg.choice_prompts}.{v}")) if arg.choice_prompts else str
    return [app_commands.Choice(name=label(v)[:CHOICE_NAME_LIMIT], value=v) for v in arg.choices]


def _py(arg: Arg) -> str:
    return arg.name.replace("-", "_")


def _completer(sub: Subcommand, arg: Arg) -> Callable[..., Coroutine[Any, Any, list[app_commands.Choice[Any]]]]:
    async def complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[Any]]:
        if interaction.guild_id is None:
            return []
        found = await _client(interaction).bot.suggest(PLATFORM, str(interaction.guild_id), str(interaction.user.id),
                                                       sub.path, arg.name, current)
        return [app_commands.Choice(name=label[:CHOICE_NAME_LIMIT], value=value) for value, label in found]
    return complete


def _callback(sub: Subcommand) -> Callback:
    """A callback whose signature discord.py reads as the subcommand's options, with their descriptions,
    renames (`at-risk` is no Python name), choices and autocomplete."""
    async def callback(interaction: discord.Interaction[Any], **values: Any) -> None:
        words = tuple(_value(values[_py(a)]) for a in sub.args if values.get(_py(a)) is not None)
        options = {o.name: _value(v) for o in sub.options
                   if o.kind is not Kind.FLAG and (v := values.get(_py(o))) is not None}
        flags = frozenset(o.name for o in sub.options if o.kind is Kind.FLAG and values.get(_py(o)))
        await run(interaction, sub.path, words, options, flags)

    every = sorted(sub.arguments, key=lambda a: not a.required)  # Discord lists required options first
    first = inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)
    callback.__signature__ = inspect.Signature([first] + [  # type: ignore[attr-defined]
        inspect.Parameter(_py(a), inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_annotation(a),
                          default=inspect.Parameter.empty if a.required else (False if a.kind is Kind.FLAG else None))
        for a in every])
    described: Callback = app_commands.describe(
        **{_py(a): prompts.say(f"arg.{a.described_as}")[:DESCRIPTION_LIMIT] for a in every})(callback)
    if renames := {_py(a): a.name for a in every if _py(a) != a.name}:
        described = app_commands.rename(**renames)(described)
    if choices := {_py(a): _choices(a) for a in every if a.choices}:
        described = app_commands.choices(**choices)(described)
    if completers := {_py(a): _completer(sub, a) for a in every if a.kind in COMPLETED}:
        described = app_commands.autocomplete(**completers)(described)
    return described


async def run(interaction: discord.Interaction[Any], path: tuple[str, ...], words: tuple[str, ...] = (),
              options: dict[str, str] | None = None, flags: frozenset[str] = frozenset()) -> None:
    """Hand `/mentor <path>` with its typed values to the core and show its answer to the actor only."""
    if interaction.guild_id is None:  # commands are server-only; a DM cannot say which server
        await answer(interaction, "0", _static(prompts.say("discord.guild_only")))
        return
    client = _client(interaction)
    workspace = str(interaction.guild_id)
    event = Invocation(actor_for(interaction, workspace, client.settings.coordinator_role), path, words,
                       options or {}, flags, channel_ref=str(interaction.channel_id), event_id=str(interaction.id))
    await answer(interaction, workspace, client.bot.handle(event))


async def _static(text: str) -> Response:
    return Response([Message(text)])


def _help() -> app_commands.Command[Any, ..., None]:
    names = [s.name for s in REGISTRY.subcommands]

    # Autocomplete rather than fixed choices: Discord takes at most 25 choices, and there are more commands.
    async def topics(_interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:CHOICE_LIMIT]

    @app_commands.describe(command=prompts.say("arg.command"))
    @app_commands.autocomplete(command=topics)
    async def help(interaction: discord.Interaction[Any], command: str | None = None) -> None:
        await run(interaction, ("help",), tuple((command or "").split()))

    return app_commands.Command(name="help", description=prompts.say("help.head")[:DESCRIPTION_LIMIT], callback=help)


def mentor_group() -> app_commands.Group:
    """The `/mentor` group, usable in servers only: `help` and every declared subcommand."""
    root = app_commands.Group(name="mentor", description=prompts.say("discord.describe_mentor"), guild_only=True)
    root.add_command(_help())
    groups: dict[str, app_commands.Group] = {}
    for sub in REGISTRY.subcommands:
        parent, path = root, REGISTRY.nested(sub)
        if len(path) == 2:
            if (parent := groups.get(path[0])) is None:
                parent = groups[path[0]] = app_commands.Group(
                    name=path[0], description=prompts.say(f"help.group_{path[0]}"))
                root.add_command(parent)
        parent.add_command(app_commands.Command(name=path[-1], description=_describe(sub.key),
                                                callback=_callback(sub)))
    return root
