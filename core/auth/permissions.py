"""THE role/permission matrix: the one place that says which staff role may do what.

Every staff route declares one rule (`require_permission(Permission.X)`, `any_staff` or `public`);
tests/unit/identity/test_authz_matrix.py walks the app's route table and fails on a staff route
without a rule. Maker-checker (payouts, limits) is enforced in the flows on top of this.
"""

from __future__ import annotations

from enum import StrEnum

from core.auth.models import Role


class Permission(StrEnum):
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    CUSTOMERS_RESET_PIN = "customers.reset_pin"
    KYC_REVIEW = "kyc.review"
    COMPLIANCE_CASES = "compliance.cases"
    COMPLIANCE_REPORTS = "compliance.reports"
    LIMITS_CHANGE = "limits.change"
    LEDGER_READ = "ledger.read"
    PAYOUTS_READ = "payouts.read"
    PAYOUTS_APPROVE = "payouts.approve"
    SETTLEMENTS_MANAGE = "settlements.manage"
    MERCHANTS_MANAGE = "merchants.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    STAFF_MANAGE = "staff.manage"
    CONFIG_CHANGE = "config.change"  # approve a proposed configuration change (the checker)
    CONFIG_PROPOSE = "config.propose"  # propose one (fees, FX margin): the maker
    KEYS_MANAGE = "keys.manage"
    AUDIT_READ = "audit.read"
    FX_OVERRIDE = "fx.override"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            P.CUSTOMERS_READ,
            P.MERCHANTS_MANAGE,
            P.API_KEYS_MANAGE,
            P.STAFF_MANAGE,
            P.CONFIG_CHANGE,
            P.CONFIG_PROPOSE,
            P.KEYS_MANAGE,
            P.AUDIT_READ,
            P.LEDGER_READ,
            P.PAYOUTS_READ,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            P.CUSTOMERS_READ,
            P.KYC_REVIEW,
            P.COMPLIANCE_CASES,
            P.COMPLIANCE_REPORTS,
            P.LIMITS_CHANGE,
            P.AUDIT_READ,
            P.LEDGER_READ,
            P.PAYOUTS_READ,
        }
    ),
    Role.SUPPORT: frozenset({P.CUSTOMERS_READ, P.CUSTOMERS_WRITE, P.CUSTOMERS_RESET_PIN, P.PAYOUTS_READ}),
    Role.FINANCE: frozenset(
        {
            P.CUSTOMERS_READ,
            P.LEDGER_READ,
            P.PAYOUTS_READ,
            P.PAYOUTS_APPROVE,
            P.SETTLEMENTS_MANAGE,
            P.FX_OVERRIDE,
            P.CONFIG_PROPOSE,
        }
    ),
}

# Paths under these prefixes are staff surfaces: each route must carry a rule.
STAFF_ROUTE_PREFIXES = ("/api/staff", "/api/admin", "/admin")

# Scopes a merchant API key may carry.
API_KEY_SCOPES = frozenset(
    {
        "invoices:read",
        "invoices:write",
        "refunds:write",
        "webhooks:write",
        "payments:read",
        "payments:write",
        "payouts:write",
        "webhooks:manage",
    }
)


def has_permission(role: str | Role, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def permissions_for(role: str | Role) -> frozenset[Permission]:
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()
