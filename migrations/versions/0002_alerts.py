"""Alerts (one open per rule and subject), when each ticket (re-)entered its queue, and indexes
for the day's finished tickets of a branch.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:14:22.242229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('lead_time_s', sa.Integer(), nullable=True),
    sa.Column('raised_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalated_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('resolved_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_notified_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['staff.id'], name=op.f('fk_alerts_acknowledged_by_staff')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_alerts_branch_id_branches')),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_alerts_counter_id_counters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_branch_raised', ['branch_id', 'raised_at'], unique=False)
        batch_op.create_index('uq_alerts_open_subject', ['branch_id', 'rule', 'subject_kind', 'subject_id'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_since', server.models.UTCDateTime(timezone=True), nullable=True))
    # Tickets issued before this revision have never been transferred as far as we know.
    op.execute("UPDATE tickets SET waiting_since = issued_at")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('waiting_since', existing_type=server.models.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_tickets_branch_finished', ['branch_id', 'finished_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_branch_finished')
        batch_op.drop_column('waiting_since')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_open_subject', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index('ix_alerts_branch_raised')

    op.drop_table('alerts')
