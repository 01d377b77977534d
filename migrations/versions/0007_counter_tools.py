"""The counter's tools: priority tickets, hold and call back, return of a no-show, transfer to a
counter with a note, and undo of a counter's last complete or no-show; staff-issued tickets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('returned_at', server.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('directed_counter_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('held_at', server.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('issued_by_staff_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tickets_directed_counter_id_counters'), 'counters',
                                    ['directed_counter_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_tickets_issued_by_staff_id_staff'), 'staff',
                                    ['issued_by_staff_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_tickets_issued_by_staff_id_idempotency_key'),
                                          ['issued_by_staff_id', 'idempotency_key'])
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('undo_ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.add_column(sa.Column('undo_action', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('undo_at', server.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.drop_column('undo_at')
        batch_op.drop_column('undo_action')
        batch_op.drop_column('undo_ticket_id')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_tickets_issued_by_staff_id_idempotency_key'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_tickets_issued_by_staff_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_tickets_directed_counter_id_counters'), type_='foreignkey')
        batch_op.drop_column('issued_by_staff_id')
        batch_op.drop_column('note')
        batch_op.drop_column('held_at')
        batch_op.drop_column('directed_counter_id')
        batch_op.drop_column('returned_at')
        batch_op.drop_column('priority')
