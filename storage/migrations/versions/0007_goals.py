"""goals: a pair's written goals (what, success, target date) and the mentee's progress answers

Revision ID: 0007_goals
Revises: 0006_matching
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0007_goals'
down_revision: str | None = '0006_matching'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'goal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pair_id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.Column('success', sa.String(length=400), nullable=False),
        sa.Column('target_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('progress', sa.String(length=16), nullable=False),
        sa.Column('moved_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['pair_id'], ['pair.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_goal_pair_status', 'goal', ['pair_id', 'status'], unique=False)
    op.create_table(
        'goalprogress',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('goal_id', sa.Integer(), nullable=False),
        sa.Column('checkin_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['goal_id'], ['goal.id']),
        sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('goal_id', 'checkin_id', 'member_id'),
    )
    op.create_index('ix_goalprogress_goal_id', 'goalprogress', ['goal_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_goalprogress_goal_id', table_name='goalprogress')
    op.drop_table('goalprogress')
    op.drop_index('ix_goal_pair_status', table_name='goal')
    op.drop_table('goal')
