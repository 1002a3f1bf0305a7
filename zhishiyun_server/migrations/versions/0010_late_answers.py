"""Late delivery: when each stored answer version was saved, and which answers and events
arrived after the end (saved or happened before it).

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
    op.create_table(
        'late_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('delay_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE',
                                name=op.f('fk_late_events_event_id_events')),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_late_events_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_late_events')),
        sa.UniqueConstraint('event_id', name=op.f('uq_late_events_event_id')),
    )
    op.create_index(op.f('ix_late_events_session_id'), 'late_events', ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_late_events_session_id'), table_name='late_events')
    op.drop_table('late_events')
    op.drop_index(op.f('ix_answer_timings_session_id'), table_name='answer_timings')
    op.drop_table('answer_timings')
