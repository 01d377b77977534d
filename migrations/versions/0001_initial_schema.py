"""Initial schema: branches, services, counters, staff, devices, tickets and the event log.

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 08:58:07.161232
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('branches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.JSON(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('created_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_branches')),
    sa.UniqueConstraint('code', name=op.f('uq_branches_code'))
    )
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_devices_branch_id_branches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('branch_id', 'name', name=op.f('uq_devices_branch_id_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_devices_token_hash'))
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('name', sa.JSON(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('expected_minutes', sa.Float(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=True),
    sa.Column('target_wait_s', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_services_branch_id_branches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('branch_id', 'code', name=op.f('uq_services_branch_id_code'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_staff_branch_id_branches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    op.create_table('auth_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_auth_tokens_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_tokens_token_hash'))
    )
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_tokens_staff_id'), ['staff_id'], unique=False)

    op.create_table('counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_since', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('pause_reason', sa.String(length=32), nullable=True),
    sa.Column('help_requested_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_counters_branch_id_branches')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_counters_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counters')),
    sa.UniqueConstraint('branch_id', 'number', name=op.f('uq_counters_branch_id_number')),
    sa.UniqueConstraint('staff_id', name=op.f('uq_counters_staff_id'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_events_branch_id_branches')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_events_device_id_devices')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_events_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_branch_at', ['branch_id', 'at'], unique=False)
        batch_op.create_index('ix_events_entity', ['entity', 'entity_id', 'id'], unique=False)

    op.create_table('ticket_sequences',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_ticket_sequences_service_id_services')),
    sa.PrimaryKeyConstraint('service_id', 'business_day', name=op.f('pk_ticket_sequences'))
    )
    op.create_table('counter_services',
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_counter_services_counter_id_counters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_counter_services_service_id_services')),
    sa.PrimaryKeyConstraint('counter_id', 'service_id', name=op.f('pk_counter_services'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('people_ahead', sa.Integer(), nullable=False),
    sa.Column('estimated_wait_s', sa.Integer(), nullable=False),
    sa.Column('issued_at', server.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('called_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('served_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('served_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('recall_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('original_service_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('cancel_reason', sa.String(length=32), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rated_at', server.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_tickets_branch_id_branches')),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_tickets_counter_id_counters')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_tickets_device_id_devices')),
    sa.ForeignKeyConstraint(['original_service_id'], ['services.id'], name=op.f('fk_tickets_original_service_id_services')),
    sa.ForeignKeyConstraint(['served_by_staff_id'], ['staff.id'], name=op.f('fk_tickets_served_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_tickets_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('branch_id', 'business_day', 'number', name=op.f('uq_tickets_branch_id_business_day_number')),
    sa.UniqueConstraint('device_id', 'idempotency_key', name=op.f('uq_tickets_device_id_idempotency_key')),
    sa.UniqueConstraint('token', name=op.f('uq_tickets_token'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_finished', ['service_id', 'finished_at'], unique=False)
        batch_op.create_index('ix_tickets_queue', ['branch_id', 'status', 'service_id', 'issued_at', 'id'], unique=False)
        batch_op.create_index('uq_tickets_active_counter', ['counter_id'], unique=True, sqlite_where=sa.text("status IN ('called', 'serving')"), postgresql_where=sa.text("status IN ('called', 'serving')"))



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('uq_tickets_active_counter', sqlite_where=sa.text("status IN ('called', 'serving')"), postgresql_where=sa.text("status IN ('called', 'serving')"))
        batch_op.drop_index('ix_tickets_queue')
        batch_op.drop_index('ix_tickets_finished')

    op.drop_table('tickets')
    op.drop_table('counter_services')
    op.drop_table('ticket_sequences')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_entity')
        batch_op.drop_index('ix_events_branch_at')

    op.drop_table('events')
    op.drop_table('counters')
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_tokens_staff_id'))

    op.drop_table('auth_tokens')
    op.drop_table('staff')
    op.drop_table('services')
    op.drop_table('devices')
    op.drop_table('branches')
