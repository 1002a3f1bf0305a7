"""The organisation's spoken instruction per exam (``admin set-instruction``).

Revision ID: 0011_instruction
Revises: 0001_initial
Create Date: 2026-12-01 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_instruction'
down_revision = '0001_initial'
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


def downgrade() -> None:
    op.drop_table('exam_instructions')
