"""Late answers: when each stored version was saved and whether it arrived after the end.

Revision ID: 0010_late_answers
Revises: 0001_initial
Create Date: 2026-12-01 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_late_answers'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'answer_timings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('question_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('saved_at', sa.DateTime(), nullable=True),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('delay_s', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_answer_timings_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_timings')),
        sa.UniqueConstraint('session_id', 'question_id',
                            name=op.f('uq_answer_timings_session_id_question_id')),
    )
    op.create_index(op.f('ix_answer_timings_session_id'), 'answer_timings', ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_answer_timings_session_id'), table_name='answer_timings')
    op.drop_table('answer_timings')
