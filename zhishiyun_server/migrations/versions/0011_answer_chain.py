"""Local retention as an organisation setting (``local_retention_days`` in ``/config``).

Revision ID: 0011_answer_chain
Revises: 0001_initial
Create Date: 2026-12-01 12:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_answer_chain'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organisations') as batch:
        batch.add_column(sa.Column('local_retention_days', sa.Float(), nullable=False,
                                   server_default='7'))


def downgrade() -> None:
    with op.batch_alter_table('organisations') as batch:
        batch.drop_column('local_retention_days')
