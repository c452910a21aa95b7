"""A settlement's statement explains every cent: M-Pesa pays whole shillings, so the cents of the
payments' net it did not pay are a `kept_for_next_settlement` line, and earlier kept cents paid
with this settlement a `from_earlier_settlements` line; the paid line puts the M-Pesa receipt under
`reference`, never under `payer`. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settlements import statement
from core.settlements.models import MerchantCredit, Settlement

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def _statement(
    factory: async_sessionmaker[AsyncSession], number: int, nets: list[int], paid: int
) -> list[dict[str, str]]:
    async with factory() as session, session.begin():
        row = Settlement(
            merchant_id=9, idempotency_key=f"settlement:9:{number}", status="paid", method="till",
            destination="5551234", account_reference="", gross_minor=sum(nets), fee_minor=0, refunds_minor=0,
            amount_minor=paid, payout_id=f"p{number}", receipt=f"SKL{number}XYZ", failure="", created_at=AT,
            finished_at=AT,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        for index, net in enumerate(nets):
            session.add(
                MerchantCredit(
                    merchant_id=9,
                    source="invoice",
                    source_ref=f"{number}-{index}",
                    reference=f"INV-{number}{index}",
                    payer="0712***678",
                    gross_minor=net,
                    fee_minor=0,
                    net_minor=net,
                    entry_id=1,
                    settlement_id=row.id,
                    created_at=AT,
                )
            )
        await session.flush()
        text = await statement.statement_csv(session=session, settlement_id=row.id, merchant_id=9)
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_cents_m_pesa_did_not_pay_are_kept_for_the_next_settlement(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    first = await _statement(session_factory, 1, [30_025, 250_050], paid=280_000)  # 2,800.75 -> 2,800
    assert [line["line"] for line in first] == ["1", "2", "total", "kept_for_next_settlement", "paid"]
    kept = first[3]
    assert kept["net_kes"] == "0.75"
    total, paid = first[2], first[4]
    assert (total["net_kes"], paid["net_kes"]) == ("2800.75", "2800.00")
    assert (paid["reference"], paid["payer"], paid["source"]) == ("SKL1XYZ", "", "till 5551234")

    second = await _statement(session_factory, 2, [9_950], paid=10_000)  # 99.50 + the 0.75 kept -> 100.25
    names = ["1", "total", "from_earlier_settlements", "kept_for_next_settlement", "paid"]
    assert [line["line"] for line in second] == names
    assert (second[2]["net_kes"], second[3]["net_kes"]) == ("0.75", "0.25")
