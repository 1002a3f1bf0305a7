"""Upload: manifest lines received per session (tus uploads live in the upload storage).

Revision ID: 0003_upload_manifest
Revises: 0001_initial
Create Date: 2026-11-23 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_upload_manifest'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'manifest_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('track', sa.String(length=16), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_manifest_lines_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest_lines')),
        sa.UniqueConstraint('session_id', 'track', 'seq',
                            name=op.f('uq_manifest_lines_session_id')),
    )
    op.create_index(op.f('ix_manifest_lines_session_id'), 'manifest_lines', ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_manifest_lines_session_id'), table_name='manifest_lines')
    op.drop_table('manifest_lines')
