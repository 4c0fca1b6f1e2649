"""relationship health: fit checks after the first meeting, pulse surveys and their schedule, weekly
snapshots of every pair's health state

Revision ID: 0008_health
Revises: 0007_goals
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0008_health'
down_revision: str | None = '0007_goals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable: the sweep fills it the first time it sees a pair); no table rebuild.
    op.add_column('pair', sa.Column('pulse_at', storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_pair_status_pulse', 'pair', ['status', 'pulse_at'], unique=False)
    op.create_table(
        'fitcheck',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pair_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('checkin_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.String(length=16), nullable=True),
        sa.Column('asked_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('answered_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['pair_id'], ['pair.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pair_id', 'member_id'),
    )
    op.create_index('ix_fitcheck_pair_id', 'fitcheck', ['pair_id'], unique=False)
    op.create_table(
        'pulse',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pair_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('asked_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(length=2000), nullable=False),
        sa.Column('answered_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['pair_id'], ['pair.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pair_id', 'member_id', 'round'),
    )
    op.create_index('ix_pulse_pair_id', 'pulse', ['pair_id'], unique=False)
    op.create_table(
        'healthsnapshot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('week', sa.String(length=10), nullable=False),
        sa.Column('states', sa.JSON(), nullable=False),
        sa.Column('taken_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['program_id'], ['program.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('program_id', 'week'),
    )
    op.create_index('ix_healthsnapshot_program_id', 'healthsnapshot', ['program_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_healthsnapshot_program_id', table_name='healthsnapshot')
    op.drop_table('healthsnapshot')
    op.drop_index('ix_pulse_pair_id', table_name='pulse')
    op.drop_table('pulse')
    op.drop_index('ix_fitcheck_pair_id', table_name='fitcheck')
    op.drop_table('fitcheck')
    op.drop_index('ix_pair_status_pulse', table_name='pair')
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_column('pulse_at')
