"""The audit log: every coordinator action, who did it and when."""

from __future__ import annotations

from bot.context import Ctx
from storage.models import AuditLog


async def record(ctx: Ctx, action: str, detail: str = "", program_id: int | None = None) -> None:
    """Append one audit row in the action's own transaction."""
    ctx.session.add(
        AuditLog(
            workspace_id=ctx.ws.id,  # type: ignore[arg-type]
            program_id=program_id,
            actor_id=ctx.me.id,  # type: ignore[arg-type]
            action=action,
            detail=detail[:2000],
            at=ctx.now,
        )
    )
