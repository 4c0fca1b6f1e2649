"""Which program a command is about, and whether the actor may run coordinator commands on it."""

from __future__ import annotations

from sqlmodel import col, select

from bot.args import Args
from bot.context import Ctx
from bot.directory import coordinated_programs, is_coordinator, program_by_name, programs_of
from bot.errors import UserError
from storage.models import Enrollment, Program, Role


async def coordinator_program(ctx: Ctx, args: Args, command: str) -> Program:
    """The program a coordinator command acts on (--program, or the only one they run); refuses others."""
    if name := args.options.get("program"):
        program = await program_by_name(ctx.session, ctx.ws, name)
        if not await is_coordinator(ctx.session, ctx.me, program):
            raise UserError("error.not_coordinator", command=command, program=program.name)
        return program
    mine = await coordinated_programs(ctx.session, ctx.me, ctx.ws)
    if len(mine) == 1:
        return mine[0]
    if not mine:
        if not await programs_of(ctx.session, ctx.ws):
            raise UserError("error.no_programs_coordinator" if ctx.me.is_admin else "error.not_coordinator_any",
                            command=command)
        raise UserError("error.not_coordinator_any", command=command)
    raise UserError("error.which_program", names=", ".join(p.name for p in mine), command=command,
                    example=mine[0].name)


async def member_program(ctx: Ctx, args: Args, name: str | None = None) -> Program:
    """The program a member command is about: named, or the only one they are enrolled in."""
    name = name or args.options.get("program")
    if name:
        return await program_by_name(ctx.session, ctx.ws, name)
    enrolled = (
        await ctx.session.exec(
            select(Program)
            .join(Enrollment, col(Enrollment.program_id) == col(Program.id))
            .where(
                Enrollment.member_id == ctx.me.id,
                col(Enrollment.active).is_(True),
                Enrollment.role != Role.COORDINATOR,
            )
            .distinct()
        )
    ).all()
    if len(enrolled) == 1:
        return enrolled[0]
    if not enrolled:
        raise UserError("error.not_enrolled")
    raise UserError("error.which_program_member", names=", ".join(p.name for p in enrolled))
