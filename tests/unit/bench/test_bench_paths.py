"""The benchmarks measure the code the flows run, and `make bench` finds every benchmark."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench"


@pytest.fixture(autouse=True)
def _importable_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


def test_the_ledger_benchmark_posts_with_the_function_a_ussd_send_posts_with() -> None:
    from core.flows import trading
    from core.ledger import service

    bench_ledger = importlib.import_module("bench.bench_ledger")
    assert trading.ledger is service
    assert bench_ledger.TRANSFER is trading.ledger.transfer
    # and it calls it the way a flow does: a session from the factory, the transfer, commit; no
    # group-commit batcher or retry wrapper of its own
    source = inspect.getsource(bench_ledger._clients)
    assert "await TRANSFER(" in source and "await session.commit()" in source
    assert not (ROOT / "core/ledger/batch.py").exists()


def test_the_ussd_benchmark_serves_the_real_app_beside_its_io_floor() -> None:
    bench_ussd = importlib.import_module("bench.bench_ussd")
    source = inspect.getsource(bench_ussd.measure_floor_and_hop)
    assert '"webapp.main:app"' in source and '"bench.bench_ussd:floor"' in source
    # served as compose serves the api (kibeti serve --reuse-port: webapp.serving, a socket per worker)
    assert "serve_socket_per_worker" in source
    serving = inspect.getsource(importlib.import_module("bench.common").serve_socket_per_worker)
    assert '"webapp.serving"' in serving and '"--reuse-port"' in serving
    floor_source = inspect.getsource(bench_ussd.floor_hop)
    # exactly the hop's I/O: one MGET, one PostgreSQL query, one SET
    assert floor_source.count("redis.mget(") == 1 and floor_source.count("pg.fetch(") == 1
    assert floor_source.count("redis.set(") == 1


def test_the_payouts_benchmark_runs_the_production_worker_entry_point() -> None:
    harness = importlib.import_module("tests.integration.payouts.harness")
    assert '"payouts.worker"' in inspect.getsource(harness.Stack.start_worker)


def test_run_all_discovers_every_benchmark_module_and_each_exposes_run_short() -> None:
    run_all = importlib.import_module("bench.run_all")
    names = run_all.discover()
    expected = {path.stem.removeprefix("bench_") for path in BENCH.glob("bench_*.py")}
    assert set(names) == expected
    for name in names:  # parsed, not imported: some import heavy optional tooling
        tree = ast.parse((BENCH / f"bench_{name}.py").read_text())
        runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
        assert runs, f"bench_{name}.py has no run(short)"
        assert [a.arg for a in runs[0].args.args] == ["short"], f"bench_{name}.py: run(short) expected"


def test_row_ratio_and_table() -> None:
    common = importlib.import_module("bench.common")
    row = common.Row(figure="x", value=3.0, anchor="y", anchor_value=2.0, target=">= 1.0x", met=True)
    assert row.ratio == 1.5
    assert common.Row(figure="z", value=1.0).ratio is None
    table = common.table([row])
    assert "| x | 3.00 | y | 2.00 | 1.50x | >= 1.0x | met |" in table
    assert sys.modules["bench.common"] is common


def test_the_invoice_benchmark_posts_to_the_route_merchants_call() -> None:
    """bench_invoices serves webapp.main:app and POSTs /api/v1/invoices with a key and an
    Idempotency-Key: the route the app mounts, which creates through core.invoices.service; its address
    pool is filled by the function the scheduler's refill job runs."""
    from wallets.address_pool import refill_invoice_address_pool
    from wallets.gateway import WalletGateway
    from webapp import app as app_module
    from webapp.api import v1_invoices

    bench_invoices = importlib.import_module("bench.bench_invoices")
    assert '"webapp.main:app"' in inspect.getsource(bench_invoices.measure_creation)
    script = bench_invoices.WRK_SCRIPT
    assert 'wrk.format("POST", "/api/v1/invoices"' in script
    assert '["Authorization"] = "Bearer "' in script and '["Idempotency-Key"]' in script
    assert v1_invoices.router in app_module._routers()
    (route,) = [
        r
        for r in v1_invoices.router.routes
        if getattr(r, "path", "") == "/api/v1/invoices" and "POST" in getattr(r, "methods", ())
    ]
    assert getattr(route, "endpoint", None) is v1_invoices.create_invoice
    assert "invoices.create_invoice_view(" in inspect.getsource(v1_invoices.create_invoice)
    assert "wallet_service.refill_pool(" in inspect.getsource(bench_invoices.fill_pool)
    assert "service.refill_pool(" in inspect.getsource(WalletGateway.refill_address_pool)
    assert "refill_address_pool(" in inspect.getsource(refill_invoice_address_pool)
