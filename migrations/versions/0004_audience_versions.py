"""Versions per audience: which families of screens heard each change (events.audiences), and the
version of the last change a ticket's own phone page heard alone (tickets.version).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events written before this revision have no audiences: NULL reads as "every screen heard it".
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audiences', sa.Integer(), nullable=True))
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('ix_tickets_version', ['version'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_version')
        batch_op.drop_column('version')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('audiences')
