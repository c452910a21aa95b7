"""`kibeti pesapal register-ipn | orders | reconcile` against the PesaPal simulator."""

from __future__ import annotations

import httpx
import pytest

from payouts.pesapal import adapter
from simulators.pesapal import PesapalSimulator
from tests.cli import kibeti


def test_register_ipn_once_then_list_orders_and_reconcile(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = PesapalSimulator()
    monkeypatch.setattr(adapter, "TRANSPORT", httpx.ASGITransport(app=sim.create_app()))
    monkeypatch.setattr(adapter, "_ipn_ids", {})
    env = {
        "DATABASE_URL": sqlite_url, "REDIS_URL": "", "KIBETI_ENV": "test", "PESAPAL_BASE_URL": "http://sim",
        "PESAPAL_PUBLIC_BASE_URL": "https://kibeti.example", "PESAPAL_CONSUMER_KEY": "key",
        "PESAPAL_CONSUMER_SECRET": "secret",
    }  # fmt: skip
    first = kibeti("pesapal", "register-ipn", env=env)
    assert first.returncode == 0, first.stderr
    assert "https://kibeti.example/pesapal/ipn registered: notification_id" in first.stdout
    monkeypatch.setattr(adapter, "_ipn_ids", {})  # another process: found in GetIpnList, not registered again
    again = kibeti("pesapal", "register-ipn", env=env)
    assert again.stdout.split()[-1] == first.stdout.split()[-1] and len(sim.ipns) == 1
    assert kibeti("pesapal", "orders", env=env).stdout == ""
    assert "0 open order(s)" in kibeti("pesapal", "reconcile", env=env).stdout
