"""Webhook use cases across the database and the outside world (DNS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.security.envelope import Keyring
from core.webhooks import service
from core.webhooks.destinations import DestinationPolicy, check_url
from core.webhooks.models import WebhookEndpoint


async def register_endpoint(
    *,
    session: AsyncSession,
    merchant_id: int,
    url: str,
    events: Sequence[str],
    description: str,
    keyring: Keyring,
    policy: DestinationPolicy,
    now: datetime,
    actor: str = "system",
) -> tuple[WebhookEndpoint, str]:
    """Check the URL's form and where its host resolves (SSRF), then record the endpoint. Returns
    the endpoint and its signing secret, which is never shown again."""
    await check_url(url, policy)
    return await service.create_endpoint(
        session=session,
        merchant_id=merchant_id,
        url=url,
        events=events,
        description=description,
        keyring=keyring,
        policy=policy,
        now=now,
        actor=actor,
    )
