"""`kibeti demo`: the demo customers are verified to tier 1 and the bundled crypto-address list is
loaded when none is active, so the embedded default can screen and send a withdrawal; seeding
twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from compliance.models import KycProfile
from compliance.sanctions import store
from core.config import Settings
from core.identity.models import Customer
from core.ledger.models import JournalEntry
from tests.cli import kibeti
from webapp.bootstrap import build_runtime
from webapp.cli.demo import DEMO_CUSTOMERS, seed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 (wallets adapter) imports websockets.legacy
async def test_demo_seed_is_idempotent_and_ready_for_withdrawals(sqlite_url: str, tmp_path: Path) -> None:
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url="", data_dir=tmp_path))
    try:
        first = await seed(rt)
        second = await seed(rt)
        assert any("crypto-address list" in line for line in first)
        assert not any("crypto-address list" in line for line in second)
        async with rt.session_factory() as session:
            tiers = (await session.execute(select(Customer.phone, Customer.kyc_tier))).all()
            assert sorted(tiers) == sorted((phone, 1) for phone, *_ in DEMO_CUSTOMERS)
            profiles = (await session.execute(select(KycProfile.tier))).scalars().all()
            assert profiles == [1] * len(DEMO_CUSTOMERS)
            lists = await store.active_list(session=session)
            assert lists is not None and lists.summary()["crypto_addresses"] > 500
            entries = (await session.execute(select(func.count()).select_from(JournalEntry))).scalar_one()
            assert entries == len(DEMO_CUSTOMERS)  # one opening balance each, not two
    finally:
        await rt.session_factory.kw["bind"].dispose()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_demo_curl_example_points_where_the_app_is_served(sqlite_url: str, tmp_path: Path) -> None:
    env = {"KIBETI_ENV": "test", "DATABASE_URL": sqlite_url, "REDIS_URL": "", "DATA_DIR": str(tmp_path)}
    served = kibeti("demo", env={**env, "MPESA_CALLBACK_BASE_URL": "http://127.0.0.1:19201"})
    assert served.returncode == 0, served.stderr
    assert "curl -s -X POST http://127.0.0.1:19201/api/v1/invoices" in served.stdout
    assert ":8000" not in served.stdout

    told = kibeti("demo", "--base-url", "https://kibeti.example.com/", env=env)
    assert told.returncode == 0, told.stderr
    assert "curl -s -X POST https://kibeti.example.com/api/v1/invoices" in told.stdout

    wrong = kibeti("demo", "--base-url", "kibeti.example.com", env=env)
    assert wrong.returncode == 2 and "--base-url" in wrong.stderr and "http(s) URL" in wrong.stderr
