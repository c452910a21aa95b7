"""`kibeti demo` seeds one demo merchant (till code 123456, screened and active) and prints a working
API key on every run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.auth import api_keys
from core.config import Settings
from core.merchants.models import Merchant
from webapp.bootstrap import build_runtime
from webapp.cli.demo import seed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 (wallets adapter) imports websockets.legacy
async def test_demo_merchant(sqlite_url: str, tmp_path: Path) -> None:
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url="", data_dir=tmp_path))
    try:
        keys = []
        for _ in range(2):
            lines = "\n".join(await seed(rt))
            assert "till code 123456" in lines and "active" in lines
            keys.append(re.search(r"kbt_live_[\w-]+", lines).group(0))  # type: ignore[union-attr]
        async with rt.session_factory() as session:
            rows = (await session.execute(select(Merchant))).scalars().all()
            assert [(m.till_code, m.status, m.screening_outcome) for m in rows] == [
                ("123456", "active", "clear")
            ]
            for key in keys:
                found = await api_keys.authenticate_api_key(
                    session=session, plaintext=key, scope="invoices:write", clock=rt.clock
                )
                assert found.merchant_id == rows[0].id
    finally:
        await rt.session_factory.kw["bind"].dispose()
