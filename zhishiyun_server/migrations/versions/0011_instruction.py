"""The spoken instruction per exam (``admin set-instruction``); phone bindings before entry.

A bind code made from the exam card has no session yet: ``session_id`` may be NULL and the
exam and candidate say whose it is until the candidate enters.

Revision ID: 0011_instruction
Revises: 0004_second_camera
Create Date: 2026-12-01 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_instruction'
down_revision = '0004_second_camera'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'exam_instructions',
        sa.Column('exam_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['exam_id'], ['exams.id'], ondelete='CASCADE',
                                name=op.f('fk_exam_instructions_exam_id_exams')),
        sa.PrimaryKeyConstraint('exam_id', name=op.f('pk_exam_instructions')),
    )
    with op.batch_alter_table('second_camera_bindings') as batch:
        batch.alter_column('session_id', existing_type=sa.String(length=40), nullable=True)
        batch.add_column(sa.Column('exam_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('candidate_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_second_camera_bindings_exam_id'), ['exam_id'])
        batch.create_foreign_key(batch.f('fk_second_camera_bindings_exam_id_exams'), 'exams',
                                 ['exam_id'], ['id'], ondelete='CASCADE')
        batch.create_foreign_key(batch.f('fk_second_camera_bindings_candidate_id_candidates'),
                                 'candidates', ['candidate_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('second_camera_bindings') as batch:
        batch.drop_constraint(batch.f('fk_second_camera_bindings_candidate_id_candidates'),
                              type_='foreignkey')
        batch.drop_constraint(batch.f('fk_second_camera_bindings_exam_id_exams'),
                              type_='foreignkey')
        batch.drop_index(batch.f('ix_second_camera_bindings_exam_id'))
        batch.drop_column('candidate_id')
        batch.drop_column('exam_id')
        batch.alter_column('session_id', existing_type=sa.String(length=40), nullable=False)
    op.drop_table('exam_instructions')
