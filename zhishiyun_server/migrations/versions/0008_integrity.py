"""Integrity: organisation/exam overrides, what each session reported, finished tracks.

Revision ID: 0008_integrity
Revises: 0001_initial
Create Date: 2026-12-01 11:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_integrity'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'integrity_settings',
        sa.Column('scope', sa.String(length=32), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_integrity_settings')),
    )
    op.create_table(
        'session_integrity',
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('devices', sa.JSON(), nullable=False),
        sa.Column('stand_ins', sa.JSON(), nullable=False),
        sa.Column('environment', sa.JSON(), nullable=False),
        sa.Column('reported_at', sa.DateTime(), nullable=False),
        sa.Column('identity_due_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_session_integrity_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('session_id', name=op.f('pk_session_integrity')),
    )
    op.create_table(
        'session_track_ends',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('track', sa.String(length=16), nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
        sa.Column('reported_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_session_track_ends_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_session_track_ends')),
        sa.UniqueConstraint('session_id', 'track',
                            name=op.f('uq_session_track_ends_session_id')),
    )
    op.create_index(op.f('ix_session_track_ends_session_id'), 'session_track_ends',
                    ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_session_track_ends_session_id'), table_name='session_track_ends')
    op.drop_table('session_track_ends')
    op.drop_table('session_integrity')
    op.drop_table('integrity_settings')
