"""Reads the webhook channel needs beside its claims and attempts (service.py): views, never tables."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.merchants.models import Merchant
from core.webhooks.models import WebhookEndpoint
from core.webhooks.types import DisabledEndpointNotice


async def disabled_endpoint_notice(
    *, session: AsyncSession, endpoint_id: int
) -> DisabledEndpointNotice | None:
    """The endpoint's URL and its merchant's phones and language, or None for an unknown endpoint."""
    row = (
        await session.execute(
            select(
                WebhookEndpoint.url, Merchant.notification_phones, Merchant.contact_phone, Merchant.language
            )
            .join(Merchant, Merchant.id == WebhookEndpoint.merchant_id)
            .where(WebhookEndpoint.id == endpoint_id)
        )
    ).one_or_none()
    if row is None:
        return None
    url, notification_phones, contact_phone, language = row
    phones = [p for p in notification_phones or [] if p] or ([contact_phone] if contact_phone else [])
    return DisabledEndpointNotice(endpoint_id, url, tuple(phones), language)
