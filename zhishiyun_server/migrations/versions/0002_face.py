"""Face login: challenges, attempts (audit log), manual reviews.

Revision ID: 0002_face
Revises: 0001_initial
Create Date: 2026-11-23 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_face'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'face_challenges',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_face_challenges_candidate_id_candidates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_face_challenges')),
    )
    op.create_index(op.f('ix_face_challenges_candidate_id'), 'face_challenges',
                    ['candidate_id'])
    op.create_table(
        'face_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('challenge_id', sa.String(length=40), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('distance', sa.Float(), nullable=True),
        sa.Column('frames', sa.Integer(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('client_address', sa.String(length=64), nullable=False),
        sa.Column('evidence_jpeg', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_face_attempts_candidate_id_candidates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_face_attempts')),
    )
    op.create_index(op.f('ix_face_attempts_candidate_id'), 'face_attempts', ['candidate_id'])
    op.create_table(
        'face_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('photo_jpeg', sa.LargeBinary(), nullable=True),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('submitted_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('token_issued_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], ondelete='CASCADE',
                                name=op.f('fk_face_reviews_candidate_id_candidates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_face_reviews')),
    )
    op.create_index(op.f('ix_face_reviews_candidate_id'), 'face_reviews', ['candidate_id'])


def downgrade() -> None:
    op.drop_table('face_reviews')
    op.drop_table('face_attempts')
    op.drop_table('face_challenges')
