"""Review console: staff accounts and logins, verdicts, the audit log, help requests.

Revision ID: 0007_review
Revises: 0001_initial
Create Date: 2026-12-01 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_review'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], ondelete='CASCADE',
                                   name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade() -> None:
    op.create_table(
        'staff_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    )
    op.create_index(op.f('ix_staff_accounts_name'), 'staff_accounts', ['name'], unique=True)
    op.create_table(
        'staff_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        _fk('staff_sessions', 'staff_id', 'staff_accounts'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions')),
    )
    op.create_index(op.f('ix_staff_sessions_token_hash'), 'staff_sessions', ['token_hash'],
                    unique=True)
    op.create_table(
        'review_verdicts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('verdict', sa.String(length=16), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('staff_name', sa.String(length=100), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=False),
        _fk('review_verdicts', 'session_id', 'exam_sessions'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_verdicts')),
    )
    op.create_index(op.f('ix_review_verdicts_session_id'), 'review_verdicts', ['session_id'])
    op.create_table(
        'staff_audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('staff_name', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_audit_log')),
    )
    op.create_index(op.f('ix_staff_audit_log_at'), 'staff_audit_log', ['at'])
    op.create_table(
        'help_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        _fk('help_requests', 'session_id', 'exam_sessions'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_help_requests')),
    )
    op.create_index(op.f('ix_help_requests_session_id'), 'help_requests', ['session_id'])
    op.create_table(
        'help_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('staff_name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        _fk('help_replies', 'request_id', 'help_requests'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_help_replies')),
    )
    op.create_index(op.f('ix_help_replies_request_id'), 'help_replies', ['request_id'])


def downgrade() -> None:
    for table, column in (('help_replies', 'request_id'), ('help_requests', 'session_id'),
                          ('staff_audit_log', 'at'), ('review_verdicts', 'session_id'),
                          ('staff_sessions', 'token_hash'), ('staff_accounts', 'name')):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
        op.drop_table(table)
