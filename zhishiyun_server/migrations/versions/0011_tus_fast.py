"""The tus writer lease moves onto the upload's pending row (one UPDATE per PATCH).

Revision ID: 0011_tus_fast
Revises: 0011_instruction, 0005_hardening, 0006_scale
Create Date: 2026-12-01 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_tus_fast'
# The newest head, and the heads that made pending_uploads (0005) and tus_upload_leases (0006).
down_revision = ('0011_instruction', '0005_hardening', '0006_scale')
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pending_uploads') as batch:
        batch.add_column(sa.Column('holder', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.Float(), nullable=True))
    op.drop_table('tus_upload_leases')


def downgrade() -> None:
    op.create_table(
        'tus_upload_leases',
        sa.Column('upload_id', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=32), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_tus_upload_leases')),
    )
    with op.batch_alter_table('pending_uploads') as batch:
        batch.drop_column('lease_until')
        batch.drop_column('holder')
