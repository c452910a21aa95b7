"""Property test over the webhook API (schemathesis-style, by hypothesis): whatever JSON a client
sends to POST /api/v1/webhooks, and whatever ids it asks for, the answer is a 2xx or a 4xx with
{code, message}, never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.runtime import Runtime
from core.webhooks.events import SUBSCRIBABLE
from tests.integration.webhooks.test_webhooks_api import _auth, api  # noqa: F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
FUZZ = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
urls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
        st.sampled_from(["http", "https", "ftp", "HTTPS", "javascript", ""]),
        st.sampled_from(
            ["127.0.0.1", "localhost", "[::1]", "10.0.0.1", "0", "example.invalid", "exa mple", "@", "%00"]
        ),
        st.sampled_from(["", ":0", ":1", ":65535", ":99999", ":x"]),
        st.text(max_size=20),
    ),
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"url": urls},
        optional={
            "events": st.one_of(
                st.lists(st.sampled_from([*SUBSCRIBABLE, "webhook.test", "x"]), max_size=15), json_values
            ),
            "description": st.one_of(st.text(max_size=250), json_values),
        },
    ),
)


@FUZZ
@given(body=bodies)
async def test_any_body_is_answered_without_a_5xx(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime],  # noqa: F811
    body: Any,
) -> None:
    client, keys, _runtime = api
    answer = await client.post(
        "/api/v1/webhooks",
        content=json.dumps(body),
        headers=_auth(keys["shop"], **{"Content-Type": "application/json"}),
    )
    assert answer.status_code < 500, (body, answer.text)
    if answer.status_code >= 400:
        assert set(answer.json()) == {"code", "message"}


@FUZZ
@given(
    segment=st.text(max_size=30),
    action=st.sampled_from(["", "/deliveries", "/test", "/enable", "/roll-secret"]),
)
async def test_any_id_is_answered_without_a_5xx(
    api: tuple[httpx.AsyncClient, dict[str, str], Runtime],  # noqa: F811
    segment: str,
    action: str,
) -> None:
    client, keys, _runtime = api
    path = "/api/v1/webhooks/" + quote(segment, safe="") + action
    method = "POST" if action in ("/test", "/enable", "/roll-secret") else "GET"
    answer = await client.request(method, path, headers=_auth(keys["shop"]))
    assert answer.status_code < 500, (path, answer.text)
