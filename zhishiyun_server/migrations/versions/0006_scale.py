"""Scale-out: writer leases of tus uploads; manifest lines verified once, on arrival.

Revision ID: 0006_scale
Revises: 0003_upload_manifest
Create Date: 2026-12-01 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_scale'
down_revision = '0003_upload_manifest'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'tus_upload_leases',
        sa.Column('upload_id', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=32), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_tus_upload_leases')),
    )
    # NULL for lines stored before this revision: they are verified (and filled in) the
    # first time their session's manifest is read.
    with op.batch_alter_table('manifest_lines') as batch:
        batch.add_column(sa.Column('line_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('mac_ok', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('prev_ok', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('well_formed', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('manifest_lines') as batch:
        for name in ('well_formed', 'prev_ok', 'mac_ok', 'prev_hash', 'line_hash'):
            batch.drop_column(name)
    op.drop_table('tus_upload_leases')
