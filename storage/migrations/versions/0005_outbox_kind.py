"""outbox kind: what an outbox row is, and the id of what it is about, as columns; filled for the rows
already there from their keys (the last place keys are read)

Revision ID: 0005_outbox_kind
Revises: 0004_pair_end_cause
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_outbox_kind'
down_revision: str | None = '0004_pair_end_cause'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def kind_and_subject(key: str) -> tuple[str, int | None]:
    """Every key so far is `<kind>:<subject id>[:<detail>...][@<dest kind>:<target>...]`."""
    kind, _, rest = key.split('@', 1)[0].partition(':')
    subject = rest.split(':', 1)[0]
    return kind, int(subject) if subject.isdecimal() and len(subject) < 10 else None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
    conn = op.get_bind()
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('key', sa.String),
                      sa.column('kind', sa.String), sa.column('subject_id', sa.Integer))
    last = 0
    while rows := conn.execute(sa.select(outbox.c.id, outbox.c.key).where(outbox.c.id > last)
                               .order_by(outbox.c.id).limit(BATCH)).all():
        values = [{'row_id': row.id, 'k': k, 's': s} for row in rows for k, s in [kind_and_subject(row.key)]]
        conn.execute(outbox.update().where(outbox.c.id == sa.bindparam('row_id'))
                     .values(kind=sa.bindparam('k'), subject_id=sa.bindparam('s')), values)
        last = rows[-1].id
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
        batch_op.create_index('ix_outbox_kind_subject', ['kind', 'subject_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_kind_subject')
        batch_op.drop_column('subject_id')
        batch_op.drop_column('kind')
