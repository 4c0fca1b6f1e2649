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
    # Plain ADD COLUMNs throughout (the server defaults fill existing rows and stay): a batch operation
    # would rebuild the table, and SQLite refuses to drop a table other rows point at.
    op.add_column('member', sa.Column('topics', sa.String(length=1000), nullable=False, server_default=''))
    op.add_column('member', sa.Column('languages', sa.String(length=200), nullable=False, server_default=''))
    op.add_column('program', sa.Column('match_weights', sa.String(length=200), nullable=False, server_default=''))
    op.add_column('program', sa.Column('max_tz_gap', sa.Integer(), nullable=True))
    op.add_column('program', sa.Column('require_language', sa.Boolean(), nullable=False, server_default=sa.false()))
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
    if op.get_bind().dialect.name == 'sqlite':  # SQLite adds a reference only inline, with the column
        op.execute('ALTER TABLE pair ADD COLUMN proposal_id INTEGER REFERENCES proposal (id)')
    else:
        op.add_column('pair', sa.Column('proposal_id', sa.Integer(), nullable=True))
        op.create_foreign_key('pair_proposal_id_fkey', 'pair', 'proposal', ['proposal_id'], ['id'])
    op.add_column('pair', sa.Column('score', sa.Float(), nullable=True))
    op.add_column('pair', sa.Column('reasons', sa.JSON(), nullable=True))
    op.create_index('ix_pair_proposal_id', 'pair', ['proposal_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pair_proposal_id', table_name='pair')
    with op.batch_alter_table('pair', schema=None) as batch_op:
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
