"""A money form refused for its asset says so beside the asset (found by trying the portal as a new
user): a send of KES (USSD sends KES; the portal's list has only the crypto assets) or an asset a
stale page offered came back 422 with the asset field marked but no message anywhere."""

from __future__ import annotations

import pytest

from core.runtime import Runtime
from tests.integration.customer_portal.test_customer_portal import _client, _csrf, _sign_in, rt

__all__ = ["rt"]  # the fixture, shared with the portal's main tests


@pytest.mark.parametrize("asset", ["KES", "DOGE", ""])
async def test_a_refused_asset_is_told_beside_the_asset(rt: Runtime, asset: str) -> None:
    async with _client(rt) as client:
        await _sign_in(client, rt)
        form = await client.get("/app/send")
        refused = await client.post(
            "/app/send/quote",
            data={"csrf_token": _csrf(form.text), "asset": asset, "amount": "10", "phone": "0711 300 401"},
        )
        assert refused.status_code == 422
        assert 'aria-describedby="e-asset"' in refused.text
        assert '<p class="error" id="e-asset">' in refused.text, refused.text[-1500:]
