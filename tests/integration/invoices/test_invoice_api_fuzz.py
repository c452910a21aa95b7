"""A property test over the merchant API's invoice routes (in place of schemathesis, which is not
installed): any JSON body, query and path answer a 2xx or a 4xx with {code, message}, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import runtime as runtime_module
from core.auth import api_keys
from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.merchants import service as merchants
from tests.integration.identity.api_helpers import make_runtime
from tests.integration.invoices.conftest import MNEMONIC
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import Network
from webapp.app import create_app

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**22), 10**22),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2500", "0.01", "1e3", "-1", "KES", "USD", "BTC", "USDT-TRC20", "", " ", "NaN", "१२३"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FIELDS = ["amount", "currency", "payment_methods", "order_id", "description", "buyer_phone", "buyer_email",
          "redirect_url", "metadata", "unknown"]  # fmt: skip
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=6), values)


@pytest.fixture(scope="module")
def api(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, httpx.AsyncClient, str]]:
    loop = asyncio.new_event_loop()
    path = tmp_path_factory.mktemp("fuzz") / "k.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    factory = make_session_factory(engine)
    clock = FixedClock(datetime.now(UTC))

    async def setup() -> str:
        async with factory() as session, session.begin():
            await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
            merchant = await merchants.create_merchant(session=session, name="Fuzz", actor="t", clock=clock)
            merchant.status = "active"
            issued = await api_keys.create_api_key(
                session=session, merchant_id=merchant.id, scopes=["invoices:read", "invoices:write"],
                name="fuzz", clock=clock, actor="t",
            )  # fmt: skip
            return issued.plaintext

    key = loop.run_until_complete(setup())
    runtime = make_runtime(factory, clock)
    seed = Seed(seed_from_mnemonic(MNEMONIC))
    runtime.chains = WalletGateway(
        session_factory=factory, deriver=AddressDeriver({n: seed.account_xpub(n) for n in Network})
    )
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    previous = runtime_module._current
    runtime_module.install(runtime)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )
    yield loop, client, key
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(engine.dispose())
    runtime_module._current = previous
    loop.close()


def _check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        body = answer.json()
        assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, idempotency=st.one_of(st.none(), st.text(max_size=300)))
def test_create_never_5xx(
    api: tuple[Any, httpx.AsyncClient, str], body: Any, idempotency: str | None
) -> None:
    loop, client, key = api
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency.encode("ascii", "ignore").decode() or "k"
    content = json.dumps(body, allow_nan=True)  # NaN and Infinity too, as a careless client sends them
    _check(loop.run_until_complete(client.post("/api/v1/invoices", content=content, headers=headers)))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["limit", "cursor", "status", "order_id", "x"]), st.text(max_size=20), max_size=4
    ),
    invoice_id=st.text(min_size=1, max_size=50),
)
def test_reads_never_5xx(
    api: tuple[Any, httpx.AsyncClient, str], params: dict[str, str], invoice_id: str
) -> None:
    loop, client, key = api
    headers = {"Authorization": f"Bearer {key}"}
    _check(loop.run_until_complete(client.get("/api/v1/invoices", params=params, headers=headers)))
    answer = loop.run_until_complete(
        client.get(f"/api/v1/invoices/{quote(invoice_id, safe='')}", headers=headers)
    )
    assert answer.status_code < 500, answer.text
