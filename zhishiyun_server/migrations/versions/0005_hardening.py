"""Hardening: failed-login counts and unfinished uploads live in the database.

Revision ID: 0005_hardening
Revises: 0001_initial
Create Date: 2026-12-01 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_hardening'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('id_number', sa.String(length=64), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    op.create_index('ix_login_failures_id_number_at', 'login_failures', ['id_number', 'at'])
    op.create_index('ix_login_failures_address_at', 'login_failures', ['address', 'at'])
    op.create_table(
        'pending_uploads',
        sa.Column('upload_id', sa.String(length=32), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_pending_uploads_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_pending_uploads')),
    )
    op.create_index(op.f('ix_pending_uploads_session_id'), 'pending_uploads', ['session_id'])
    op.create_index(op.f('ix_pending_uploads_expires_at'), 'pending_uploads', ['expires_at'])


def downgrade() -> None:
    op.drop_table('pending_uploads')
    op.drop_table('login_failures')
