"""matching: profile topics and languages, per-program match weights and rules, private block lists,
proposals and the proposed pairs' score and reasons

Revision ID: 0006_matching
Revises: 0005_outbox_kind
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0006_matching'
down_revision: str | None = '0005_outbox_kind'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topics', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('languages', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_weights', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('max_tz_gap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('require_language', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'proposal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('program_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('unmatched', sa.JSON(), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['program_id'], ['program.id']),
        sa.ForeignKeyConstraint(['requested_by_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_proposal_program_id', 'proposal', ['program_id'], unique=False)
    op.create_table(
        'block',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('blocked_id', sa.Integer(), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.ForeignKeyConstraint(['blocked_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('member_id', 'blocked_id'),
    )
    op.create_index('ix_block_member_id', 'block', ['member_id'], unique=False)
    op.create_index('ix_block_blocked_id', 'block', ['blocked_id'], unique=False)
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposal_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('reasons', sa.JSON(), nullable=True))
        batch_op.create_index('ix_pair_proposal_id', ['proposal_id'], unique=False)
        batch_op.create_foreign_key('fk_pair_proposal_id', 'proposal', ['proposal_id'], ['id'])
    for table, column in (('member', 'topics'), ('member', 'languages'), ('program', 'match_weights'),
                          ('program', 'require_language')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('pair', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pair_proposal_id', type_='foreignkey')
        batch_op.drop_index('ix_pair_proposal_id')
        batch_op.drop_column('reasons')
        batch_op.drop_column('score')
        batch_op.drop_column('proposal_id')
    op.drop_index('ix_block_blocked_id', table_name='block')
    op.drop_index('ix_block_member_id', table_name='block')
    op.drop_table('block')
    op.drop_index('ix_proposal_program_id', table_name='proposal')
    op.drop_table('proposal')
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_column('require_language')
        batch_op.drop_column('max_tz_gap')
        batch_op.drop_column('match_weights')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('languages')
        batch_op.drop_column('topics')
