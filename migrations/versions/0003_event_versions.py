"""A branch's latest event (the version screens compare to notice missed messages), and each
ticket's latest call (so a recall moves it to the top of a display's list).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_branch_id', ['branch_id', 'id'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_called_at', server.models.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE tickets SET last_called_at = called_at")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_branch_last_called', ['branch_id', 'last_called_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_branch_last_called')
        batch_op.drop_column('last_called_at')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_branch_id')
