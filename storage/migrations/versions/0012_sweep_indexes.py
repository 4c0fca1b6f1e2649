"""sweeps that cost nothing when nothing is due: each program's next digest and retention moments, and an
index serving "open escalations not reminded yet, oldest first"

Revision ID: 0012_sweep_indexes
Revises: 0011_due_index
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0012_sweep_indexes'
down_revision: str | None = '0011_due_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable ADD COLUMNs: no table rebuild on SQLite. NULL means "not scheduled yet" (and, for
    # retention, with keep_notes_days set, due now): the sweep schedules it on its next tick.
    op.add_column('program', sa.Column('next_digest_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column('program', sa.Column('retention_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_program_archived_digest', 'program', ['archived', 'next_digest_at'], unique=False)
    op.create_index('ix_program_retention', 'program', ['retention_at', 'keep_notes_days'], unique=False)
    op.create_index('ix_escalation_status_reminded_opened', 'escalation', ['status', 'reminded_at', 'opened_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_escalation_status_reminded_opened', table_name='escalation')
    op.drop_index('ix_program_retention', table_name='program')
    op.drop_index('ix_program_archived_digest', table_name='program')
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_column('retention_at')
        batch_op.drop_column('next_digest_at')
