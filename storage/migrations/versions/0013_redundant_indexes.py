"""drop two indexes that a wider index already serves: pair(status) is the prefix of (status, next_due_at) and
(status, pulse_at); checkin(pair_id) is the prefix of the unique (pair_id, period). Each was written on every
planned check-in (a pair's next_due_at moves; a check-in is inserted) and read by nothing the wider ones miss.

Revision ID: 0013_redundant_indexes
Revises: 0012_sweep_indexes
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0013_redundant_indexes'
down_revision: str | None = '0012_sweep_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_pair_status', table_name='pair')
    op.drop_index('ix_checkin_pair_id', table_name='checkin')


def downgrade() -> None:
    op.create_index('ix_checkin_pair_id', 'checkin', ['pair_id'], unique=False)
    op.create_index('ix_pair_status', 'pair', ['status'], unique=False)
