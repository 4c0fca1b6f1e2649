"""due-indexed planning: each pair stores when the check-in planner next has work for it

Revision ID: 0011_due_index
Revises: 0010_outbox_claim
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0011_due_index'
down_revision: str | None = '0010_outbox_claim'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable ADD COLUMN (no table rebuild on SQLite); every existing pair is marked "recompute",
    # so the first sweep computes each one's due moment from its schedule.
    op.add_column('pair', sa.Column('next_due_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    pair = sa.table('pair', sa.column('next_due_at', storage.models.UTCDateTime(timezone=True)))
    op.execute(pair.update().values(next_due_at=storage.models.RECOMPUTE))
    op.create_index('ix_pair_status_next_due', 'pair', ['status', 'next_due_at'], unique=False)
    op.create_index('ix_checkin_status_reminded_due', 'checkin', ['status', 'reminded_at', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_checkin_status_reminded_due', table_name='checkin')
    op.drop_index('ix_pair_status_next_due', table_name='pair')
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('next_due_at')
