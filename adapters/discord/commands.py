"""`/mentor` as a Discord application-command group: one subcommand per core subcommand, typed options,
autocomplete. Each builds the core's command text from its options and hands it to the core, which
checks everything (coordinator rights included) exactly as for every other platform."""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import discord
from discord import app_commands

import prompts
from adapters.discord.interactions import PLATFORM, actor_for, answer
from adapters.discord.settings import DiscordSettings
from bot import suggest
from bot.commands.catalog import SUBCOMMANDS
from bot.context import Runtime
from bot.core import MentorBot
from bot.events import CommandEvent
from bot.messages import Message, Response
from bot.periods import WEEKDAYS
from storage.models import Cadence

DESCRIPTION_LIMIT = 100
CHOICE_NAME_LIMIT = 100
_CURLY = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_UNSAFE_NAME = re.compile(r"[<>|@#\"'`\u2018\u2019\u201c\u201d]")


class HasBot(Protocol):
    """The client: what commands and autocomplete need from it."""

    bot: MentorBot
    settings: DiscordSettings


def _describe(key: str) -> str:
    """A command's description: its help text, cut to the first clause when Discord's 100 characters
    cannot hold it (the whole text is in /mentor help)."""
    text = prompts.say(f"help.{key}")
    if len(text) > DESCRIPTION_LIMIT:
        text = re.split(r"(?<=\))\.|[.;:](?=\s)", text, maxsplit=1)[0]
    return text[:DESCRIPTION_LIMIT]


def _opt(key: str) -> str:
    return prompts.say(f"discord.option.{key}")


def _quote(value: str | int) -> str:
    # The core reads curly quotes as straight ones, so straighten them first to keep the quoting intact.
    return shlex.quote(str(value).translate(_CURLY))


def _name(text: str) -> str:
    return _UNSAFE_NAME.sub("", text).strip() or "?"


def mention(user: discord.abc.User) -> str:
    """A member as the core reads one: <@id|name>."""
    return f"<@{user.id}|{_name(user.display_name)}>"


def channel_mention(channel: app_commands.AppCommandChannel | discord.abc.GuildChannel) -> str:
    return f"<#{channel.id}|{_name(channel.name)}>"


def command_line(*words: str | int | None, **options: str | int | bool | None) -> str:
    """Core command text: the words in order, then `--name value` options and bare `--flag`s
    (option names use `-` where Python needs `_`)."""
    parts = [_quote(w) for w in words if w is not None]
    for name, value in options.items():
        flag = "--" + name.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(flag)
        elif value is not None and value is not False:
            parts += [flag, _quote(value)]
    return " ".join(parts)


def _client(interaction: discord.Interaction[Any]) -> HasBot:
    return interaction.client  # type: ignore[return-value]


# --- autocomplete ------------------------------------------------------------------------------


T = TypeVar("T", str, int)
# A bot.suggest look-up: (runtime, platform, server, user, typed) -> (value, label) of each choice.
Lookup = Callable[[Runtime, str, str, str, str], Awaitable[Sequence[tuple[T, str]]]]


async def _choices(interaction: discord.Interaction[Any], current: str,
                   lookup: Lookup[T]) -> list[app_commands.Choice[T]]:
    """What `lookup` suggests to this person in this server, as choices (none outside a server)."""
    if interaction.guild_id is None:
        return []
    found = await lookup(_client(interaction).bot.rt, PLATFORM, str(interaction.guild_id),
                         str(interaction.user.id), current)
    return [app_commands.Choice(name=label[:CHOICE_NAME_LIMIT], value=value) for value, label in found]


async def _program_names(rt: Runtime, platform: str, workspace: str, _user_id: str,
                         typed: str) -> list[tuple[str, str]]:
    return [(name, name) for name in await suggest.programs(rt, platform, workspace, typed)]


async def _programs(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    return await _choices(interaction, current, _program_names)


async def _my_pairs(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[int]]:
    return await _choices(interaction, current, suggest.my_pairs)


async def _coordinated_pairs(interaction: discord.Interaction[Any],
                             current: str) -> list[app_commands.Choice[int]]:
    return await _choices(interaction, current, suggest.coordinated_pairs)


async def _escalations(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[int]]:
    return await _choices(interaction, current, suggest.escalations)


async def _nudge_targets(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    every = app_commands.Choice(name=prompts.say("discord.choice.nudge_all"), value="all")
    pairs = await _coordinated_pairs(interaction, current)
    return ([every] + [app_commands.Choice(name=c.name, value=str(c.value)) for c in pairs])[: suggest.LIMIT]


async def _zones(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=z, value=z) for z in suggest.time_zones(current)]


_CADENCES = [app_commands.Choice(name=prompts.say(f"cadence.{c}"), value=str(c)) for c in Cadence]
_DAYS = [app_commands.Choice(name=prompts.say(f"weekday.{d}"), value=d) for d in WEEKDAYS]
_TOPICS = [app_commands.Choice(name=s.name, value=s.name) for s in SUBCOMMANDS]


async def run(interaction: discord.Interaction[Any], text: str) -> None:
    """Hand `/mentor <text>` to the core and show its answer to the actor only."""
    if interaction.guild_id is None:  # commands are server-only; a DM cannot say which server
        await answer(interaction, "0", _static(prompts.say("discord.guild_only")))
        return
    client = _client(interaction)
    workspace = str(interaction.guild_id)
    event = CommandEvent(actor_for(interaction, workspace, client.settings.coordinator_role), text,
                         channel_ref=str(interaction.channel_id), event_id=str(interaction.id))
    await answer(interaction, workspace, client.bot.handle(event))


async def _static(text: str) -> Response:
    return Response([Message(text)])


# --- the commands ------------------------------------------------------------------------------

class ProgramGroup(app_commands.Group):
    """`/mentor program create|set|list`."""

    @app_commands.command(name="create", description=_describe("program_create"))
    @app_commands.describe(name=_opt("name"), cadence=_opt("cadence"), day=_opt("day"), time=_opt("time"),
                           tz=_opt("program_tz"), threshold=_opt("threshold"))
    @app_commands.choices(cadence=_CADENCES, day=_DAYS)
    @app_commands.autocomplete(tz=_zones)
    async def create(self, interaction: discord.Interaction[Any], name: str, cadence: str | None = None,
                     day: str | None = None, time: str | None = None, tz: str | None = None,
                     threshold: app_commands.Range[int, 1, 10] | None = None) -> None:
        await run(interaction, command_line("program", "create", name, cadence=cadence, day=day, time=time, tz=tz,
                                            threshold=threshold))

    @app_commands.command(name="set", description=_describe("program_set"))
    @app_commands.describe(program=_opt("program"), cadence=_opt("cadence"), day=_opt("day"), time=_opt("time"),
                           tz=_opt("program_tz"), threshold=_opt("threshold"))
    @app_commands.choices(cadence=_CADENCES, day=_DAYS)
    @app_commands.autocomplete(program=_programs, tz=_zones)
    async def set(self, interaction: discord.Interaction[Any], program: str | None = None, cadence: str | None = None,
                  day: str | None = None, time: str | None = None, tz: str | None = None,
                  threshold: app_commands.Range[int, 1, 10] | None = None) -> None:
        await run(interaction, command_line("program", "set", program=program, cadence=cadence, day=day, time=time,
                                            tz=tz, threshold=threshold))

    @app_commands.command(name="list", description=_describe("program_list"))
    async def list(self, interaction: discord.Interaction[Any]) -> None:
        await run(interaction, command_line("program", "list"))


class MentorGroup(app_commands.Group):
    """`/mentor ...`: everyone sees every subcommand; the core refuses coordinator ones to non-coordinators,
    because a server's admins can change who sees what, so visibility proves nothing."""

    program = ProgramGroup(name="program", description=prompts.say("discord.describe_program"))

    @app_commands.command(name="help", description=prompts.say("help.head")[:DESCRIPTION_LIMIT])
    @app_commands.describe(command=_opt("command"))
    @app_commands.choices(command=_TOPICS)
    async def help(self, interaction: discord.Interaction[Any], command: str | None = None) -> None:
        await run(interaction, command_line("help", *(command or "").split()))

    @app_commands.command(name="join", description=_describe("join"))
    @app_commands.describe(role=_opt("role"), program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def join(self, interaction: discord.Interaction[Any], role: Literal["mentor", "mentee", "peer"],
                   program: str | None = None) -> None:
        await run(interaction, command_line("join", role, program))

    @app_commands.command(name="profile", description=_describe("profile"))
    @app_commands.describe(tz=_opt("tz"), interests=_opt("interests"), goals=_opt("goals"), capacity=_opt("capacity"))
    @app_commands.autocomplete(tz=_zones)
    async def profile(self, interaction: discord.Interaction[Any], tz: str | None = None,
                      interests: str | None = None, goals: str | None = None,
                      capacity: app_commands.Range[int, 1, 99] | None = None) -> None:
        await run(interaction, command_line("profile", tz=tz, interests=interests, goals=goals, capacity=capacity))

    @app_commands.command(name="status", description=_describe("status"))
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        await run(interaction, "status")

    @app_commands.command(name="pause", description=_describe("pause"))
    @app_commands.describe(until=_opt("until"))
    async def pause(self, interaction: discord.Interaction[Any], until: str | None = None) -> None:
        await run(interaction, command_line("pause", *(("until", until) if until else ())))

    @app_commands.command(name="resume", description=_describe("resume"))
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await run(interaction, "resume")

    @app_commands.command(name="leave", description=_describe("leave"))
    @app_commands.describe(program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def leave(self, interaction: discord.Interaction[Any], program: str | None = None) -> None:
        await run(interaction, command_line("leave", program))

    @app_commands.command(name="checkin", description=_describe("checkin"))
    @app_commands.describe(pair=_opt("pair"))
    @app_commands.autocomplete(pair=_my_pairs)
    async def checkin(self, interaction: discord.Interaction[Any], pair: int | None = None) -> None:
        await run(interaction, command_line("checkin", pair=pair))

    @app_commands.command(name="problem", description=_describe("problem"))
    @app_commands.describe(what=_opt("what"), pair=_opt("pair"))
    @app_commands.autocomplete(pair=_my_pairs)
    async def problem(self, interaction: discord.Interaction[Any], what: str, pair: int | None = None) -> None:
        await run(interaction, command_line("problem", what, pair=pair))

    @app_commands.command(name="rematch", description=_describe("rematch"))
    @app_commands.describe(reason=_opt("reason"), pair=_opt("pair"))
    @app_commands.autocomplete(pair=_my_pairs)
    async def rematch(self, interaction: discord.Interaction[Any], reason: str, pair: int | None = None) -> None:
        await run(interaction, command_line("rematch", reason, pair=pair))

    @app_commands.command(name="coordinators", description=_describe("coordinators"))
    @app_commands.describe(action=_opt("action"), person=_opt("person"), program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def coordinators(self, interaction: discord.Interaction[Any], action: Literal["add", "remove"] | None = None,
                           person: discord.Member | None = None, program: str | None = None) -> None:
        await run(interaction, command_line("coordinators", action, mention(person) if person else None,
                                            program=program))

    @app_commands.command(name="channel", description=_describe("channel"))
    @app_commands.describe(channel=_opt("channel"), pairs=_opt("pairs"), program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def channel(self, interaction: discord.Interaction[Any], channel: discord.TextChannel, pairs: bool = False,
                      program: str | None = None) -> None:
        await run(interaction, command_line("channel", channel_mention(channel), pairs=pairs, program=program))

    @app_commands.command(name="pair", description=_describe("pair"))
    @app_commands.describe(mentor=_opt("mentor"), mentee=_opt("mentee"), force=_opt("force"), program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def pair(self, interaction: discord.Interaction[Any], mentor: discord.Member, mentee: discord.Member,
                   force: str | None = None, program: str | None = None) -> None:
        await run(interaction, command_line("pair", mention(mentor), mention(mentee), force=force, program=program))

    @app_commands.command(name="unpair", description=_describe("unpair"))
    @app_commands.describe(pair=_opt("unpair_pair"), reason=_opt("unpair_reason"), program=_opt("program"))
    # Two decorators on purpose: one takes callbacks of a single choice type (int for pair, str for program).
    @app_commands.autocomplete(pair=_coordinated_pairs)
    @app_commands.autocomplete(program=_programs)
    async def unpair(self, interaction: discord.Interaction[Any], pair: int, reason: str,
                     program: str | None = None) -> None:
        await run(interaction, command_line("unpair", pair, reason, program=program))

    @app_commands.command(name="pairs", description=_describe("pairs"))
    @app_commands.describe(at_risk=_opt("at_risk"), all_=_opt("all_pairs"), program=_opt("program"))
    @app_commands.rename(at_risk="at-risk", all_="all")
    @app_commands.autocomplete(program=_programs)
    async def pairs(self, interaction: discord.Interaction[Any], at_risk: bool = False, all_: bool = False,
                    program: str | None = None) -> None:
        await run(interaction, command_line("pairs", at_risk=at_risk, all_=all_, program=program))

    @app_commands.command(name="people", description=_describe("people"))
    @app_commands.describe(unmatched=_opt("unmatched"), program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def people(self, interaction: discord.Interaction[Any], unmatched: bool = False,
                     program: str | None = None) -> None:
        await run(interaction, command_line("people", unmatched=unmatched, program=program))

    @app_commands.command(name="escalations", description=_describe("escalations"))
    @app_commands.describe(all_=_opt("all_escalations"), program=_opt("program"))
    @app_commands.rename(all_="all")
    @app_commands.autocomplete(program=_programs)
    async def escalations(self, interaction: discord.Interaction[Any], all_: bool = False,
                          program: str | None = None) -> None:
        await run(interaction, command_line("escalations", all_=all_, program=program))

    @app_commands.command(name="ack", description=_describe("ack"))
    @app_commands.describe(escalation=_opt("escalation"))
    @app_commands.autocomplete(escalation=_escalations)
    async def ack(self, interaction: discord.Interaction[Any], escalation: int) -> None:
        await run(interaction, command_line("ack", escalation))

    @app_commands.command(name="resolve", description=_describe("resolve"))
    @app_commands.describe(escalation=_opt("escalation"), note=_opt("note"))
    @app_commands.autocomplete(escalation=_escalations)
    async def resolve(self, interaction: discord.Interaction[Any], escalation: int, note: str) -> None:
        await run(interaction, command_line("resolve", escalation, note))

    @app_commands.command(name="nudge", description=_describe("nudge"))
    @app_commands.describe(target=_opt("nudge_target"), program=_opt("program"))
    @app_commands.autocomplete(target=_nudge_targets, program=_programs)
    async def nudge(self, interaction: discord.Interaction[Any], target: str, program: str | None = None) -> None:
        await run(interaction, command_line("nudge", target, program=program))

    @app_commands.command(name="report", description=_describe("report"))
    @app_commands.describe(program=_opt("program"))
    @app_commands.autocomplete(program=_programs)
    async def report(self, interaction: discord.Interaction[Any], program: str | None = None) -> None:
        await run(interaction, command_line("report", program=program))


def mentor_group() -> MentorGroup:
    """The `/mentor` group, usable in servers only."""
    return MentorGroup(name="mentor", description=prompts.say("discord.describe_mentor"), guild_only=True)
