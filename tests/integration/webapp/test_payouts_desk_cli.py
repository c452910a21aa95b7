"""`kibeti payouts list` shows what docs/OPERATIONS.md's "a payout is stuck unknown" asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.db.session import make_engine, make_session_factory
from core.payments.models import Payout, PayoutStatus
from tests.cli import kibeti
from tests.conftest import run_blocking


async def _payouts(url: str) -> None:
    engine = make_engine(url, null_pool=True)
    try:
        async with make_session_factory(engine)() as session:
            for pid, status in (("p-stuck", PayoutStatus.UNKNOWN), ("p-done", PayoutStatus.SUCCEEDED)):
                session.add(
                    Payout(
                        id=pid, idempotency_key=pid, phone="254700000001", account_id=1, amount_minor=150_000,
                        hold_id=1, status=status.value, originator_conversation_id=pid,
                        result_code="500.003.1001" if status is PayoutStatus.UNKNOWN else "0",
                        result_desc="gateway timeout", updated_at=datetime.now(UTC) - timedelta(minutes=42),
                    )
                )  # fmt: skip
            # unknown for 75 minutes, last asked about (status query: updated_at) 2 minutes ago
            asked = Payout(
                id="p-asked", idempotency_key="p-asked", phone="254700000001", account_id=1, amount_minor=20_000,
                hold_id=2, status=PayoutStatus.UNKNOWN.value, originator_conversation_id="p-asked",
                updated_at=datetime.now(UTC) - timedelta(minutes=2),
                unknown_since=datetime.now(UTC) - timedelta(minutes=75),
            )  # fmt: skip
            session.add(asked)
            await session.commit()
    finally:
        await engine.dispose()


def test_list_unknown_payouts_with_amount_and_age(sqlite_url: str) -> None:
    run_blocking(_payouts, sqlite_url)
    env = {"DATABASE_URL": sqlite_url, "REDIS_URL": ""}
    result = kibeti("payouts", "list", "--status", "unknown", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "p-stuck" in result.stdout and "p-done" not in result.stdout
    assert "KES 1,500.00" in result.stdout and "42 min" in result.stdout
    (asked,) = [line for line in result.stdout.splitlines() if line.startswith("p-asked")]
    assert "75 min" in asked  # since it became unknown, not since the last status query
    wrong = kibeti("payouts", "list", "--status", "lost", env=env)
    assert wrong.returncode != 0 and "'lost' is not one of" in wrong.stderr
