"""The /app portal's routes, in matching order: fixed paths first, the money pages' /{name} last."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.customer_portal import account, money, pwa, sign_in, topup, wallet
from webapp.customer_portal.auth import portal

router = APIRouter(include_in_schema=False)
for part in (pwa, sign_in, wallet, account, topup, money):
    router.include_router(part.router)

__all__ = ["portal", "router"]
