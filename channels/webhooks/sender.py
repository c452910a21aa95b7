"""One HTTP attempt of a webhook delivery: sign, POST to the checked address, classify the answer.

Never raises for what the receiver or the network does: every outcome is an `AttemptResult`
(network errors, timeouts, 408, 429 and 5xx are retried later; other answers are final).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import datetime

import httpx

from core.security import webhooks as signing
from core.webhooks.destinations import DestinationPolicy, check_url
from core.webhooks.errors import InvalidWebhookUrl, WebhookDestinationRefused
from core.webhooks.service import SNIPPET_CHARS, AttemptResult, Claim, retryable_status
from core.webhooks.types import AttemptOutcome

USER_AGENT = "Kibeti-Webhooks/1"
MAX_RESPONSE_BYTES = 4096  # read this much of the answer for the log, no more
# The whole request, however slowly the receiver drips its answer, within this many timeouts (the
# job's lease, channels.webhooks.jobs.lease_for, outlasts it).
TOTAL_TIMEOUT_FACTOR = 1.5


def signature_header(*, secret: str, previous_secret: str, body: bytes, timestamp: int) -> str:
    """`t=...,v1=...`, with a second v1 by the previous secret while a rolled one overlaps (Stripe's
    receivers accept the header when any v1 matches)."""
    header = signing.sign(secret=secret, body=body, timestamp=timestamp)
    if previous_secret:
        header += "," + signing.sign(secret=previous_secret, body=body, timestamp=timestamp).split(",", 1)[1]
    return header


def headers_for(
    claim: Claim, *, secret: str, timestamp: int, host_header: str, previous_secret: str = ""
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": host_header,
        signing.HEADER: signature_header(
            secret=secret, previous_secret=previous_secret, body=claim.body, timestamp=timestamp
        ),
        "Kibeti-Event-Id": claim.event_public_id,
        "Kibeti-Event-Type": claim.event_type,
        "Kibeti-Delivery-Id": str(claim.delivery_id),
        "Kibeti-Attempt": str(claim.number),
    }


async def attempt(
    claim: Claim,
    *,
    secret: str,
    policy: DestinationPolicy,
    request_timeout_s: float,
    started_at: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    verify: ssl.SSLContext | bool = True,
    previous_secret: str = "",
) -> AttemptResult:
    began = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - began) * 1000)

    try:
        destination = await check_url(claim.url, policy)
    except (InvalidWebhookUrl, WebhookDestinationRefused) as exc:
        return AttemptResult(
            outcome=AttemptOutcome.FAILED,
            started_at=started_at,
            latency_ms=elapsed_ms(),
            error=f"{exc.code}: {exc}",
        )
    target = destination.target
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and target.port != default_port:
        host_header = f"[{target.host}]:{target.port}"
    elif ":" in target.host:
        host_header = f"[{target.host}]"
    headers = headers_for(
        claim,
        secret=secret,
        timestamp=int(started_at.timestamp()),
        host_header=host_header,
        previous_secret=previous_secret,
    )
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with (
            asyncio.timeout(request_timeout_s * TOTAL_TIMEOUT_FACTOR),  # httpx's timeouts are per read
            httpx.AsyncClient(
                timeout=request_timeout_s,
                follow_redirects=False,
                transport=transport,
                trust_env=False,
                verify=verify,
            ) as client,
            client.stream(
                "POST", destination.pinned_url, content=claim.body, headers=headers, extensions=extensions
            ) as response,
        ):
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) >= MAX_RESPONSE_BYTES:
                    break
    except (httpx.TimeoutException, TimeoutError) as exc:
        return AttemptResult(
            outcome=AttemptOutcome.RETRY,
            started_at=started_at,
            latency_ms=elapsed_ms(),
            error=f"timeout: {type(exc).__name__}",
        )
    except (httpx.HTTPError, OSError) as exc:
        return AttemptResult(
            outcome=AttemptOutcome.RETRY,
            started_at=started_at,
            latency_ms=elapsed_ms(),
            error=f"network: {type(exc).__name__}: {exc}"[:200],
        )
    snippet = raw[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace")[:SNIPPET_CHARS]
    code = response.status_code
    if 200 <= code <= 299:
        outcome = AttemptOutcome.DELIVERED
    elif retryable_status(code):
        outcome = AttemptOutcome.RETRY
    else:
        outcome = AttemptOutcome.FAILED
    return AttemptResult(
        outcome=outcome,
        started_at=started_at,
        latency_ms=elapsed_ms(),
        status_code=code,
        error="" if outcome is AttemptOutcome.DELIVERED else f"HTTP {code}",
        response_snippet=snippet,
        retry_after_s=_retry_after(response.headers.get("retry-after"))
        if outcome is AttemptOutcome.RETRY
        else None,
    )


def _retry_after(value: str | None) -> int | None:
    """Retry-After in seconds (the HTTP-date form is ignored: the schedule applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())
