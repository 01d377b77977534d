"""The line between the lobby manager and the counters: instructions and their answers, help
requests with a reason and an "on my way", and recorded complaints; alerts by resolution time
(the engine's hold-off); each ticket's raw estimate (what the estimates' calibration is measured
against).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_estimate_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fits_before_close', sa.Boolean(), nullable=True))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_resolved', ['resolved_at'], unique=False)
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('help_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('help_text', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('help_responder_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('help_responded_at', server.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_counters_help_responder_id_staff'), 'staff', ['help_responder_id'],
                                    ['id'])
    op.create_table('instructions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('teller_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ticket_id', BigId, nullable=True),
    sa.Column('alert_id', BigId, nullable=True),
    sa.Column('text', sa.String(length=500), nullable=True),
    sa.Column('issued_by', sa.Integer(), nullable=False),
    sa.Column('issued_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.String(length=16), nullable=True),
    sa.Column('answer_text', sa.String(length=500), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answered_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_instructions_alert_id_alerts')),
    sa.ForeignKeyConstraint(['answered_by'], ['staff.id'], name=op.f('fk_instructions_answered_by_staff')),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_instructions_branch_id_branches')),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_instructions_counter_id_counters')),
    sa.ForeignKeyConstraint(['issued_by'], ['staff.id'], name=op.f('fk_instructions_issued_by_staff')),
    sa.ForeignKeyConstraint(['teller_id'], ['staff.id'], name=op.f('fk_instructions_teller_id_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_instructions_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instructions'))
    )
    with op.batch_alter_table('instructions', schema=None) as batch_op:
        batch_op.create_index('ix_instructions_branch_issued', ['branch_id', 'issued_at'], unique=False)
        batch_op.create_index('ix_instructions_counter_open', ['counter_id', 'answered_at'], unique=False)
    op.create_table('complaints',
    sa.Column('id', BigId, nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ticket_id', BigId, nullable=True),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_complaints_branch_id_branches')),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_complaints_counter_id_counters')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff.id'], name=op.f('fk_complaints_recorded_by_staff')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_complaints_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_branch_at', ['branch_id', 'recorded_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_branch_at')
    op.drop_table('complaints')
    with op.batch_alter_table('instructions', schema=None) as batch_op:
        batch_op.drop_index('ix_instructions_counter_open')
        batch_op.drop_index('ix_instructions_branch_issued')
    op.drop_table('instructions')
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_counters_help_responder_id_staff'), type_='foreignkey')
        batch_op.drop_column('help_responded_at')
        batch_op.drop_column('help_responder_id')
        batch_op.drop_column('help_text')
        batch_op.drop_column('help_reason')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_resolved')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('fits_before_close')
        batch_op.drop_column('raw_estimate_s')
