"""A member's private "don't pair me with" list: `/mentor block @person`, `unblock @person`, `blocks`.

The list is workspace-wide (a Block has no program) and private: the blocked person is never told or shown
anything (no message, nothing in their status or home page), and it is not in the audit log that
coordinators read. Coordinators only ever learn that "a member's private preference" excludes a pair
(bot/pair_rules.py); every way of making a pair honours it, and only `/mentor pair --force` overrides it."""

from __future__ import annotations

from sqlmodel import col, func, select

from bot.args import Args
from bot.context import Ctx
from bot.directory import find_member, parse_mention
from bot.errors import UserError
from bot.feature import Arg, Feature, Kind
from bot.messages import Message, Response
from bot.pairs import LIVE, pairs_of, partner_id
from storage.models import Block, Member

MAX_BLOCKS = 100  # a list longer than this is no longer a preference; it is a program the person is not in
PERSON = Arg("person", Kind.PERSON, required=True, help="block_person")
feature = Feature("blocks")


async def _person(ctx: Ctx, args: Args, command: str) -> Member:
    """The one person named; someone the bot has never met gets a block-specific answer, not "ask them"."""
    if len(args.words) != 1:
        raise UserError("blocks.person_usage", command=command)
    mention = parse_mention(args.words[0])
    if mention is None:
        raise UserError("error.not_a_mention", token=args.words[0])
    person = await find_member(ctx.session, ctx.ws, mention)
    if person is None:
        raise UserError("blocks.unknown_person", name=mention.name or mention.user_id or args.words[0])
    if person.id == ctx.me.id:
        raise UserError("blocks.self")
    return person


async def _block_of(ctx: Ctx, person: Member) -> Block | None:
    stmt = select(Block).where(Block.member_id == ctx.me.id, Block.blocked_id == person.id)
    return (await ctx.session.exec(stmt)).first()


@feature.command("block", args=(PERSON,), grouped=("blocks", "add"))
async def block(ctx: Ctx, args: Args) -> Response:
    """`/mentor block @person`: never pair me with them. They are not told; a current pair is not ended."""
    person = await _person(ctx, args, "block")
    if await _block_of(ctx, person) is not None:
        return ctx.reply("blocks.already", name=person.display_name)
    count = (await ctx.session.exec(select(func.count()).select_from(Block).where(Block.member_id == ctx.me.id))).one()
    if count >= MAX_BLOCKS:
        raise UserError("blocks.too_many", max=MAX_BLOCKS)
    ctx.session.add(Block(member_id=ctx.me.id, blocked_id=person.id, created_at=ctx.now))  # type: ignore[arg-type]
    lines = [ctx.t("blocks.added", name=person.display_name)]
    current = [p for p in await pairs_of(ctx.session, ctx.me, LIVE) if partner_id(p, ctx.me.id) == person.id]
    lines += [ctx.t("blocks.still_paired", name=person.display_name, id=p.id) for p in current]
    return Response([Message("\n".join(lines))])


@feature.command("unblock", args=(PERSON,), grouped=("blocks", "remove"))
async def unblock(ctx: Ctx, args: Args) -> Response:
    """`/mentor unblock @person`: they may be paired with me again."""
    person = await _person(ctx, args, "unblock")
    existing = await _block_of(ctx, person)
    if existing is None:
        return ctx.reply("blocks.not_blocked", name=person.display_name)
    await ctx.session.delete(existing)
    return ctx.reply("blocks.removed", name=person.display_name)


@feature.command("blocks", grouped=("blocks", "list"))
async def blocks(ctx: Ctx, args: Args) -> Response:
    """`/mentor blocks`: my list, only for me. `blocks add|remove @person` works as typed text too."""
    if args.words and args.words[0].lower() in ("add", "remove"):
        # Discord offers these as `/mentor blocks add|remove`; people then type them so in Slack too.
        rest = Args(args.words[1:], args.options, args.flags)
        return await (block if args.words[0].lower() == "add" else unblock)(ctx, rest)
    if args.words and args.words != ["list"]:
        raise UserError("error.no_words", command="blocks")
    names = (
        await ctx.session.exec(
            select(Member.display_name).join(Block, col(Block.blocked_id) == col(Member.id))
            .where(Block.member_id == ctx.me.id).order_by(col(Member.display_name))
        )
    ).all()
    if not names:
        return ctx.reply("blocks.none")
    return ctx.reply("blocks.list", count=len(names), names=", ".join(names))
