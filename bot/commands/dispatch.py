"""Runs one `/mentor` command, typed as text or chosen with typed values: finds the subcommand, checks its
arguments against its declaration, calls its flow."""

from __future__ import annotations

import difflib

from bot.args import Args
from bot.commands.parser import parse_args, tokenize
from bot.context import Ctx
from bot.directory import coordinated_programs
from bot.errors import UserError
from bot.feature import Subcommand
from bot.features import REGISTRY
from bot.messages import Message, Response

HELP_WORDS = ("help", "--help", "-h", "?")


def find(words: list[str]) -> tuple[Subcommand | None, int]:
    """The subcommand the first words name, and how many words that took."""
    return REGISTRY.find(words)


def usage(ctx: Ctx, sub: Subcommand) -> str:
    return ctx.t(f"usage.{sub.key}")


async def help_text(ctx: Ctx, topic: list[str]) -> Response:
    """`/mentor help [command]`: every command this person may run, or one command in full."""
    if topic:
        sub, _ = find(topic)
        if sub is None:
            group = topic[0].lower()
            return await help_text(ctx, []) if group not in REGISTRY.groups else _group_help(ctx, group)
        return Response([Message(ctx.t("help.one", usage=usage(ctx, sub), text=ctx.t(f"help.{sub.key}")))])
    subs = REGISTRY.subcommands
    lines = [ctx.t("help.head")]
    lines += [ctx.t("help.line", usage=usage(ctx, s)) for s in subs if not s.coordinator]
    if ctx.me.is_admin or await coordinated_programs(ctx.session, ctx.me, ctx.ws):
        lines.append(ctx.t("help.coordinator_head"))
        lines += [ctx.t("help.line", usage=usage(ctx, s)) for s in subs if s.coordinator]
    lines.append(ctx.t("help.more"))
    return Response([Message("\n".join(lines))])


def _group_help(ctx: Ctx, group: str) -> Response:
    subs = [s for s in REGISTRY.subcommands if s.path[0] == group]
    return Response([Message("\n".join(ctx.t("help.line", usage=usage(ctx, s)) for s in subs))])


def _unknown(words: list[str]) -> UserError:
    first = words[0].lower()
    if first in REGISTRY.groups:
        return UserError("error.unknown_in_group", group=first,
                         choices=", ".join(s.path[1] for s in REGISTRY.subcommands if s.path[0] == first))
    names = sorted({s.path[0] for s in REGISTRY.subcommands} | {"help"})
    close = difflib.get_close_matches(first, names, n=1)
    if close:
        return UserError("error.unknown_command_close", word=words[0], close=close[0])
    return UserError("error.unknown_command", word=words[0])


async def run_command(ctx: Ctx, text: str) -> Response:
    """Parse and run `/mentor <text>`; a person's mistake comes back as UserError."""
    tokens = tokenize(text)
    if not tokens or tokens[0].lower() in HELP_WORDS:
        return await help_text(ctx, tokens[1:])
    sub, used = find(tokens)
    if sub is None:
        raise _unknown(tokens)
    rest = tokens[used:]
    if "--help" in rest or "-h" in rest:
        return await help_text(ctx, list(sub.path))
    return await _run(ctx, sub, parse_args(rest, sub.options, usage(ctx, sub)))


async def run_invocation(ctx: Ctx, path: tuple[str, ...], args: Args) -> Response:
    """Run a subcommand whose arguments a platform already collected as typed values (Discord's options)."""
    if not path or path[0] == "help":
        return await help_text(ctx, args.words)
    sub, used = find(list(path))
    if sub is None or used != len(path):
        raise _unknown(list(path) or ["?"])
    declared = {o.name for o in sub.options}
    if unknown := (set(args.options) | args.flags) - declared:
        raise UserError("error.unknown_option", option="--" + sorted(unknown)[0], usage=usage(ctx, sub))
    return await _run(ctx, sub, args)


async def _run(ctx: Ctx, sub: Subcommand, args: Args) -> Response:
    try:
        return await sub.handler(ctx, args)
    except UserError as err:
        err.params.setdefault("usage", usage(ctx, sub))
        raise
