"""members' own data: a per-program retention of free-text notes and reports

Revision ID: 0009_member_data
Revises: 0008_health
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_member_data'
down_revision: str | None = '0008_health'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable ADD COLUMN (NULL: keep notes forever): no table rebuild on SQLite.
    op.add_column('program', sa.Column('keep_notes_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_column('keep_notes_days')
