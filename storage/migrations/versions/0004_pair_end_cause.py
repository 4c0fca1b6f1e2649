"""pair end cause: why a pair ended, as a typed column, filled for pairs that already ended; and
when a pair's pause last ended

Revision ID: 0004_pair_end_cause
Revises: 0003_count
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0004_pair_end_cause'
down_revision: str | None = '0003_count'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CAUSES = ('problem', 'low_rating', 'rematch', 'unpair', 'left')

# Best effort for pairs that ended before the cause was stored, most serious first (as
# bot/safeguards.end_cause decides it today): a problem report, a rating of 2 or less, a rematch a
# member asked for (the one raised when someone leaves has no reporter), a coordinator's unpair in
# the audit log; anything else ended because a member left.
BACKFILL = (
    ('problem', "EXISTS (SELECT 1 FROM escalation e WHERE e.pair_id = pair.id AND e.kind = 'problem')"),
    ('low_rating', "EXISTS (SELECT 1 FROM feedback f JOIN checkin c ON c.id = f.checkin_id"
                   " WHERE c.pair_id = pair.id AND f.rating <= 2)"),
    ('rematch', "EXISTS (SELECT 1 FROM escalation e WHERE e.pair_id = pair.id AND e.kind = 'rematch'"
                " AND e.reporter_id IS NOT NULL)"),
    ('unpair', "EXISTS (SELECT 1 FROM auditlog a WHERE a.program_id = pair.program_id AND a.action = 'unpair'"
               " AND a.detail LIKE '#' || CAST(pair.id AS VARCHAR(12)) || ':%')"),
    ('left', "1 = 1"),
)


def upgrade() -> None:
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_cause', sa.Enum(*CAUSES, native_enum=False, length=16,
                                                           create_constraint=False), nullable=True))
        batch_op.add_column(sa.Column('resumed_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    for cause, condition in BACKFILL:
        op.execute(f"UPDATE pair SET end_cause = '{cause}' WHERE status = 'ended' AND end_cause IS NULL AND {condition}")


def downgrade() -> None:
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('resumed_at')
        batch_op.drop_column('end_cause')
