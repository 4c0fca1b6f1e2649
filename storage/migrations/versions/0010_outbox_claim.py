"""outbox claim in index order (priority column, claim index) and send slots shared by replicas

Revision ID: 0010_outbox_claim
Revises: 0009_member_data
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_outbox_claim'
down_revision: str | None = '0009_member_data'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Urgency as a column instead of a CASE in ORDER BY, so the claim reads (status, priority, id) in index
    # order rather than sorting every pending row. A NOT NULL column with a default: no table rebuild on SQLite.
    op.add_column('outbox', sa.Column('priority', sa.SmallInteger(), server_default='1', nullable=False))
    # Rows still to send get the urgency the old CASE gave them (edits and direct messages first).
    op.execute("UPDATE outbox SET priority = 0 WHERE status = 'pending' "
               "AND (edits_key IS NOT NULL OR dest_kind = 'user')")
    op.create_index('ix_outbox_claim', 'outbox', ['status', 'priority', 'id'], unique=False)
    op.create_table(
        'send_slot',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('next_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('send_slot')
    op.drop_index('ix_outbox_claim', table_name='outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('priority')
