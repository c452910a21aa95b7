"""Every staff portal page, one router (webapp.web.mount includes it)."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.staff_portal import (
    audit_log,
    cases,
    config,
    customers,
    dashboard,
    fx,
    kyc,
    limits,
    merchants,
    payouts,
    sign_in,
)
from webapp.staff_portal.auth import portal

router = APIRouter(include_in_schema=False)
for module in (sign_in, dashboard, kyc, cases, payouts, customers, merchants, config, fx, limits, audit_log):
    router.include_router(module.router)

__all__ = ["portal", "router"]
