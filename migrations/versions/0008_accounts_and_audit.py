"""Accounts and devices: when each account was last seen, which accounts and devices demo mode made
(production refuses to start while one exists), and the audit log of administrative actions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', server.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('demo', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('demo', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_table(
        'audit_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('at', server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('via', sa.String(length=16), nullable=False),
        sa.Column('actor_staff_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target_kind', sa.String(length=16), nullable=False),
        sa.Column('target_name', sa.String(length=128), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['actor_staff_id'], ['staff.id'], name=op.f('fk_audit_log_actor_staff_id_staff')),
        sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_audit_log_branch_id_branches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('demo')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('demo')
        batch_op.drop_column('last_seen_at')
