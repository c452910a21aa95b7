"""The CollectionRail port over PesaPal API 3.0 (cards, Airtel Money), built by webapp.bootstrap.

Every call builds its HTTP client for the running event loop (RQ runs each job in a fresh loop);
the token is shared through Redis when there is one (payouts.mpesa.token, its own key), else kept in
the process. Our IPN URL is registered once per process (GetIpnList first, RegisterIPN only if it is
missing), or ahead of time with `kibeti pesapal register-ipn`. With no PESAPAL_BASE_URL the client
talks to the simulator the web app mounts at /pesapal-sim (never in production).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import redis.asyncio

from core.config import Settings
from core.money import Money
from core.ports import CollectionRail, CollectionResult, CollectionStarted, CollectionState
from core.rails.errors import RailRefused
from core.runtime import Runtime
from payouts.adapter import audit_sink
from payouts.mpesa.token import MemoryTokenCache, RedisTokenCache
from payouts.pesapal import wire
from payouts.pesapal.client import PesapalClient, PesapalConfig, fetch_token

log = logging.getLogger(__name__)
RAIL = "pesapal"
EMBEDDED_SIMULATOR_PATH = "/pesapal-sim"
IPN_PATH = "/pesapal/ipn"
RETURN_PATH = "/pesapal/return"
# Where PesaPal requests go instead of the network, when set (tests: the simulator in-process).
TRANSPORT: httpx.AsyncBaseTransport | None = None
_memory_tokens: dict[str, MemoryTokenCache] = {}
_ipn_ids: dict[str, str] = {}


def base_url(settings: Settings) -> str:
    if settings.pesapal_base_url:
        return settings.pesapal_base_url.rstrip("/")
    return settings.pesapal_public_base_url.rstrip("/") + EMBEDDED_SIMULATOR_PATH


def public_url(settings: Settings, path: str) -> str:
    return settings.pesapal_public_base_url.rstrip("/") + path


def config(settings: Settings) -> PesapalConfig:
    simulated = not settings.pesapal_base_url  # the simulator takes any non-empty credentials
    return PesapalConfig(
        base_url=base_url(settings),
        consumer_key=settings.pesapal_consumer_key.get_secret_value()
        or ("simulator-key" if simulated else ""),
        consumer_secret=settings.pesapal_consumer_secret.get_secret_value()
        or ("simulator" if simulated else ""),
    )


@asynccontextmanager
async def pesapal(runtime: Runtime) -> AsyncIterator[PesapalClient]:
    settings = runtime.settings
    cfg = config(settings)
    audit = audit_sink(runtime)
    async with httpx.AsyncClient(transport=TRANSPORT) as http:
        if settings.redis_url:
            connection = redis.asyncio.Redis.from_url(settings.redis_url)
            try:
                tokens: Any = RedisTokenCache(
                    connection,
                    lambda: fetch_token(http, cfg, audit, clock=runtime.clock),
                    namespace=f"pesapal|{cfg.base_url}|{cfg.consumer_key}",
                )
                tokens.key = tokens.key.replace("mpesa:oauth:", "pesapal:token:")
                tokens.lock_key = f"{tokens.key}:lock"
                yield PesapalClient(cfg, http=http, tokens=tokens, audit=audit)
            finally:
                await connection.aclose()
            return
        key = f"{cfg.base_url}|{cfg.consumer_key}"
        memory = _memory_tokens.setdefault(
            key, MemoryTokenCache(lambda: fetch_token(http, cfg, audit, clock=runtime.clock))
        )
        memory.rebind(lambda: fetch_token(http, cfg, audit, clock=runtime.clock))
        yield PesapalClient(cfg, http=http, tokens=memory, audit=audit)


async def register_ipn(runtime: Runtime, client: PesapalClient | None = None) -> str:
    """Our IPN URL's id at PesaPal: listed (GetIpnList) or registered (RegisterIPN) once per process."""
    url = public_url(runtime.settings, IPN_PATH)
    key = f"{base_url(runtime.settings)}|{url}"
    if key in _ipn_ids:
        return _ipn_ids[key]
    if client is None:
        async with pesapal(runtime) as fresh:
            return await register_ipn(runtime, fresh)
    _ipn_ids[key] = await client.ensure_ipn(url=url)
    return _ipn_ids[key]


def _decimal(value: Any) -> Decimal | None:
    """An amount as PesaPal sent it, or None when it is not a finite number (NaN, sNaN and Infinity
    included: a signalling NaN raised on the first comparison with the order's amount)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def result_of(body: dict[str, Any]) -> CollectionResult:
    return CollectionResult(
        state=wire.state_of(body),
        merchant_reference=str(body.get("merchant_reference") or ""),
        amount=_decimal(body.get("amount")),
        currency=str(body.get("currency") or ""),
        confirmation=str(body.get("confirmation_code") or ""),
        method=str(body.get("payment_method") or ""),
        description=str(body.get("payment_status_description") or ""),
    )


class PesapalRail:
    """Collect KES on PesaPal's hosted page: the customer opens the redirect URL (by our short link)."""

    name = RAIL

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def start_collection(
        self, *, reference: str, phone: str, amount: Money, description: str
    ) -> CollectionStarted:
        async with pesapal(self._runtime) as client:
            ipn_id = await register_ipn(self._runtime, client)
            order = await client.submit_order(
                merchant_reference=reference, amount=amount.amount, currency=amount.asset.currency,
                description=description, callback_url=public_url(self._runtime.settings, RETURN_PATH),
                notification_id=ipn_id, phone=phone,
            )  # fmt: skip
        return CollectionStarted(provider_reference=order.order_tracking_id, redirect_url=order.redirect_url)

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        async with pesapal(self._runtime) as client:
            try:
                body = await client.transaction_status(order_tracking_id=provider_reference)
            except RailRefused as exc:  # PesaPal answers an unpaid order with an error envelope too
                log.info("PesaPal status of %s: %s", provider_reference, exc)
                return CollectionResult(state=CollectionState.PENDING, merchant_reference="")
        return result_of(body)

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        async with pesapal(self._runtime) as client:
            return await client.refund(
                confirmation_code=confirmation, amount=amount.amount, username="kibeti", remarks=remarks[:100]
            )

    async def cancel_collection(self, *, provider_reference: str) -> bool:
        async with pesapal(self._runtime) as client:
            return await client.cancel_order(order_tracking_id=provider_reference)


def build(runtime: Runtime) -> dict[str, CollectionRail]:
    """The rails this package offers, by name. Production without PESAPAL_BASE_URL offers none (the
    simulator is never a production rail): Airtel and Telkom buys are then refused, not faked."""
    settings = runtime.settings
    if settings.is_production and not settings.pesapal_base_url:
        log.warning("PESAPAL_BASE_URL is not set: no card / Airtel Money rail")
        return {}
    keys = (
        settings.pesapal_consumer_key.get_secret_value(),
        settings.pesapal_consumer_secret.get_secret_value(),
    )
    if settings.pesapal_base_url and not all(keys):
        log.warning("PESAPAL_CONSUMER_KEY / PESAPAL_CONSUMER_SECRET are not set: no card / Airtel Money rail")
        return {}
    return {RAIL: PesapalRail(runtime)}
