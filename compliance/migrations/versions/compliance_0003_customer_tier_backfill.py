"""compliance: copy each KYC profile's tier onto its customer row

Before this revision compliance raised `compliance_kyc_profiles.tier` without touching
`customers.kyc_tier` (read by fee overrides and quotes); `kyc.set_customer_tier` now writes both.
This brings rows written before it into step. Data only; downgrade leaves them as they are.

Revision ID: compliance_0003
Revises: compliance_0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "compliance_0003"
down_revision: str | Sequence[str] | None = "compliance_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "core_0101_identity"


def upgrade() -> None:
    op.execute(
        "UPDATE customers SET kyc_tier = (SELECT p.tier FROM compliance_kyc_profiles p"
        " WHERE p.customer_id = customers.id)"
        " WHERE EXISTS (SELECT 1 FROM compliance_kyc_profiles p"
        " WHERE p.customer_id = customers.id AND p.tier <> customers.kyc_tier)"
    )


def downgrade() -> None:
    pass
