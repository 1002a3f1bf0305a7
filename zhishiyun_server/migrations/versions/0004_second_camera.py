"""Second camera: bind codes and the phones holding them.

Revision ID: 0004_second_camera
Revises: 0001_initial
Create Date: 2026-11-23 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_second_camera'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'second_camera_bindings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('code_expires_at', sa.DateTime(), nullable=False),
        sa.Column('redeemed_at', sa.DateTime(), nullable=True),
        sa.Column('credential_hash', sa.String(length=64), nullable=True),
        sa.Column('credential_expires_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('last_seen_at', sa.DateTime(), nullable=True),
        sa.Column('phone_state', sa.String(length=16), nullable=False),
        sa.Column('hidden', sa.Boolean(), nullable=False),
        sa.Column('buffered', sa.Integer(), nullable=False),
        sa.Column('user_agent', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_second_camera_bindings_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_second_camera_bindings')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_second_camera_bindings_code_hash')),
        sa.UniqueConstraint('credential_hash',
                            name=op.f('uq_second_camera_bindings_credential_hash')),
    )
    op.create_index(op.f('ix_second_camera_bindings_session_id'), 'second_camera_bindings',
                    ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_second_camera_bindings_session_id'),
                  table_name='second_camera_bindings')
    op.drop_table('second_camera_bindings')
