"""Every saved answer version (``answer_versions``); the answers already held become rows.

The backfill takes each stored answer with its timing (when it is the same version) and the
``sha256`` of its line in the session's ``answers`` chain (when that line was received).
Older versions were never kept on the server: only their chain lines exist.

Revision ID: 0010_answer_history
Revises: 0010_late_answers
Create Date: 2026-12-01 14:20:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0010_answer_history'
down_revision = '0010_late_answers'
branch_labels = None
depends_on = '0003_upload_manifest'


def upgrade() -> None:
    op.create_table(
        'answer_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('question_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('saved_at', sa.DateTime(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('delay_s', sa.Float(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('refused', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_answer_versions_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_versions')),
        sa.UniqueConstraint('session_id', 'question_id', 'version',
                            name=op.f('uq_answer_versions_session_id')),
    )
    op.create_index(op.f('ix_answer_versions_session_id'), 'answer_versions', ['session_id'])
    _backfill(op.get_bind())


def _chain_hashes(bind) -> dict:
    """(session, question, version) → the sha256 of its ``answers`` chain line."""
    hashes = {}
    for session_id, line in bind.execute(sa.text(
            "SELECT session_id, line FROM manifest_lines WHERE track = 'answers'")):
        try:
            record = json.loads(line)
            hashes[(session_id, str(record["question"]), int(record["version"]))] = \
                str(record["sha256"])
        except (ValueError, KeyError, TypeError):
            continue  # not an answers line the server could read: no hash to take
    return hashes


def _backfill(bind) -> None:
    # In SQL, so every database keeps its own date and boolean types.
    bind.execute(sa.text(
        "INSERT INTO answer_versions (session_id, question_id, version, content, saved_at, "
        "received_at, late, delay_s) "
        "SELECT a.session_id, a.question_id, a.version, a.content, "
        "CASE WHEN t.version = a.version THEN t.saved_at END, a.updated_at, "
        "CASE WHEN t.version = a.version THEN t.late ELSE false END, "
        "CASE WHEN t.version = a.version THEN t.delay_s END "
        "FROM answers a LEFT JOIN answer_timings t ON t.session_id = a.session_id "
        "AND t.question_id = a.question_id"))
    hashes = [{"session_id": s, "question_id": q, "version": v, "sha256": h}
              for (s, q, v), h in _chain_hashes(bind).items()]
    if hashes:
        bind.execute(sa.text(
            "UPDATE answer_versions SET sha256 = :sha256 WHERE session_id = :session_id "
            "AND question_id = :question_id AND version = :version"), hashes)


def downgrade() -> None:
    op.drop_index(op.f('ix_answer_versions_session_id'), table_name='answer_versions')
    op.drop_table('answer_versions')
