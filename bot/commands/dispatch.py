"""Runs one `/mentor` command line: finds the subcommand, checks its arguments, calls its flow."""

from __future__ import annotations

import difflib

from bot.commands.catalog import GROUPS, SUBCOMMANDS, Subcommand
from bot.commands.parser import parse_args, tokenize
from bot.context import Ctx
from bot.directory import coordinated_programs
from bot.errors import UserError
from bot.messages import Message, Response


def find(words: list[str]) -> tuple[Subcommand | None, int]:
    """The subcommand the first words name, and how many words that took."""
    lowered = [w.lower() for w in words]
    for sub in SUBCOMMANDS:
        if tuple(lowered[: len(sub.path)]) == sub.path:
            return sub, len(sub.path)
    return None, 0


def usage(ctx: Ctx, sub: Subcommand) -> str:
    return ctx.t(f"usage.{sub.key}")


async def help_text(ctx: Ctx, topic: list[str]) -> Response:
    if topic:
        sub, _ = find(topic)
        if sub is None:
            return await help_text(ctx, []) if topic[0].lower() not in GROUPS else _group_help(ctx, topic[0].lower())
        return Response([Message(ctx.t("help.one", usage=usage(ctx, sub), text=ctx.t(f"help.{sub.key}")))])
    lines = [ctx.t("help.head")]
    lines += [ctx.t("help.line", usage=usage(ctx, s)) for s in SUBCOMMANDS if not s.coordinator]
    if ctx.me.is_admin or await coordinated_programs(ctx.session, ctx.me, ctx.ws):
        lines.append(ctx.t("help.coordinator_head"))
        lines += [ctx.t("help.line", usage=usage(ctx, s)) for s in SUBCOMMANDS if s.coordinator]
    lines.append(ctx.t("help.more"))
    return Response([Message("\n".join(lines))])


def _group_help(ctx: Ctx, group: str) -> Response:
    subs = [s for s in SUBCOMMANDS if s.path[0] == group]
    return Response([Message("\n".join(ctx.t("help.line", usage=usage(ctx, s)) for s in subs))])


async def run_command(ctx: Ctx, text: str) -> Response:
    """Parse and run `/mentor <text>`; a person's mistake comes back as UserError."""
    tokens = tokenize(text)
    if not tokens or tokens[0].lower() in ("help", "--help", "-h", "?"):
        return await help_text(ctx, tokens[1:])
    sub, used = find(tokens)
    if sub is None:
        first = tokens[0].lower()
        if first in GROUPS:
            raise UserError("error.unknown_in_group", group=first,
                            choices=", ".join(s.path[1] for s in SUBCOMMANDS if s.path[0] == first))
        names = sorted({s.path[0] for s in SUBCOMMANDS} | {"help"})
        close = difflib.get_close_matches(first, names, n=1)
        if close:
            raise UserError("error.unknown_command_close", word=tokens[0], close=close[0])
        raise UserError("error.unknown_command", word=tokens[0])
    rest = tokens[used:]
    if "--help" in rest or "-h" in rest:
        return await help_text(ctx, list(sub.path))
    args = parse_args(rest, options=sub.options, flags=sub.flags, usage=usage(ctx, sub))
    try:
        return await sub.handler(ctx, args)
    except UserError as err:
        err.params.setdefault("usage", usage(ctx, sub))
        raise
