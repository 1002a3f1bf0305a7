"""A session's received totals per track, kept by triggers; tus upload info in the database.

``session_track_totals`` holds, per session and track, the received segments and their
bytes. Triggers on ``recording_segments`` keep it in the transaction that inserts or
deletes a segment, whichever code does it, so a tus creation checks the session's budget
from a few rows instead of summing every segment received so far (about 1,000 by the end
of a 3-hour exam). ``tus_upload_infos`` keeps the info of uploads in S3 storage (one row
instead of an object written and read at every request).

Revision ID: 0013_tus_fast2
Revises: 0011_tus_fast
Create Date: 2026-12-01 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_tus_fast2'
down_revision = '0011_tus_fast'
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE FUNCTION recording_segments_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_track_totals (session_id, track, segments, bytes)
        VALUES (NEW.session_id, NEW.track, 1, NEW.bytes)
        ON CONFLICT (session_id, track) DO UPDATE
        SET segments = session_track_totals.segments + 1,
            bytes = session_track_totals.bytes + EXCLUDED.bytes;
        RETURN NEW;
    END IF;
    UPDATE session_track_totals SET segments = segments - 1, bytes = bytes - OLD.bytes
    WHERE session_id = OLD.session_id AND track = OLD.track;
    RETURN OLD;
END
$$
"""
_PG_TRIGGER = """
CREATE TRIGGER recording_segments_totals AFTER INSERT OR DELETE ON recording_segments
FOR EACH ROW EXECUTE FUNCTION recording_segments_totals()
"""
_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER recording_segments_totals_insert AFTER INSERT ON recording_segments
    BEGIN
        INSERT INTO session_track_totals (session_id, track, segments, bytes)
        VALUES (NEW.session_id, NEW.track, 1, NEW.bytes)
        ON CONFLICT (session_id, track) DO UPDATE
        SET segments = segments + 1, bytes = bytes + excluded.bytes;
    END
    """,
    """
    CREATE TRIGGER recording_segments_totals_delete AFTER DELETE ON recording_segments
    BEGIN
        UPDATE session_track_totals SET segments = segments - 1, bytes = bytes - OLD.bytes
        WHERE session_id = OLD.session_id AND track = OLD.track;
    END
    """,
)


def upgrade() -> None:
    op.create_table(
        'session_track_totals',
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('track', sa.String(length=16), nullable=False),
        sa.Column('segments', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['exam_sessions.id'], ondelete='CASCADE',
                                name=op.f('fk_session_track_totals_session_id_exam_sessions')),
        sa.PrimaryKeyConstraint('session_id', 'track', name=op.f('pk_session_track_totals')),
    )
    op.create_table(
        'tus_upload_infos',
        sa.Column('upload_id', sa.String(length=32), nullable=False),
        sa.Column('info', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_tus_upload_infos')),
    )
    op.execute("INSERT INTO session_track_totals (session_id, track, segments, bytes) "
               "SELECT session_id, track, count(*), sum(bytes) FROM recording_segments "
               "GROUP BY session_id, track")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER recording_segments_totals ON recording_segments")
        op.execute("DROP FUNCTION recording_segments_totals()")
    else:
        op.execute("DROP TRIGGER recording_segments_totals_insert")
        op.execute("DROP TRIGGER recording_segments_totals_delete")
    op.drop_table('tus_upload_infos')
    op.drop_table('session_track_totals')
