"""foreign key indexes

Index the foreign keys that rows are deleted or joined through: without them PostgreSQL
checks each deleted lead, deal or account with a full scan of its referencing tables
(re-seeding the demo took ~10 s instead of under 1 s).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_account_id', ['account_id'], unique=False)
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_lead_id', ['lead_id'], unique=False)
        batch_op.create_index('ix_deals_account_id', ['account_id'], unique=False)
    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.create_index('ix_stage_events_lead_id', ['lead_id'], unique=False)
        batch_op.create_index('ix_stage_events_deal_id', ['deal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stage_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_events_deal_id')
        batch_op.drop_index('ix_stage_events_lead_id')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_account_id')
        batch_op.drop_index('ix_deals_lead_id')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_account_id')
