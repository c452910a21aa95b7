"""Migration compliance_0003 copies each KYC profile's tier onto the customer row written before
compliance kept the two in step."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, insert, select, text

from compliance.models import KycProfile
from core.identity.models import Customer
from webapp.schema import upgrade


def test_backfill_brings_customer_tiers_into_step(tmp_path: Path) -> None:
    path = tmp_path / "before.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "compliance_0002")
    upgrade(url, "core_0101_identity")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as db:
        # the columns of the schema at core_0101 (the model has gained some since)
        db.execute(
            text(
                "INSERT INTO customers (id, phone, name, language, kyc_tier, status, pin_hash, pin_failed_count,"
                " created_at, updated_at) VALUES (:id, :phone, '', 'en', :tier, 'active', 'x', 0,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            [{"id": n, "phone": f"+25470000000{n}", "tier": tier} for n, tier in ((1, 0), (2, 0), (3, 2))],
        )
        db.execute(
            insert(KycProfile.__table__), [{"customer_id": 1, "tier": 2}, {"customer_id": 3, "tier": 0}]
        )
    upgrade(url)
    with engine.connect() as db:
        rows = db.execute(select(Customer.id, Customer.kyc_tier).order_by(Customer.id)).all()
    engine.dispose()
    assert {row[0]: row[1] for row in rows} == {1: 2, 2: 0, 3: 0}  # customer 2 has no profile: unchanged
