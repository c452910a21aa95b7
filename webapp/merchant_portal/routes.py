"""The /merchant dashboard's routes."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.merchant_portal import invoices, manage, sign_in
from webapp.merchant_portal.auth import portal

router = APIRouter(include_in_schema=False)
for part in (sign_in, invoices, manage):
    router.include_router(part.router)

__all__ = ["portal", "router"]
