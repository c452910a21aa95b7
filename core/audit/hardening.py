"""Run the application under a PostgreSQL role that cannot alter the audit log.

Set-up (docs/SECURITY.md): the migrations run as an owner role (owns every table, and so the
audit log and its triggers); the application connects as a separate role without ownership. Then
`harden` (run as the owner, `kibeti audit harden --app-role ROLE`) leaves that role SELECT and
INSERT on `audit_log` only: no UPDATE, DELETE or TRUNCATE, and, not being the owner, it cannot
ALTER the table or disable or drop its triggers.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import KibetiError

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class HardeningRefused(KibetiError):
    code = "audit_hardening_refused"


def statements(app_role: str) -> list[str]:
    if not _ROLE_NAME.match(app_role):
        raise HardeningRefused(f"{app_role!r} is not a plain PostgreSQL role name")
    return [
        # money writes queue audit rows here and the sweeper deletes them once chained: no edits
        f"REVOKE UPDATE, TRUNCATE ON audit_pending FROM {app_role}",
        f"REVOKE ALL ON audit_log FROM {app_role}",
        f"GRANT SELECT, INSERT ON audit_log TO {app_role}",
    ]


async def harden(connection: AsyncConnection, *, app_role: str) -> list[str]:
    """Apply `statements` after refusing a role that would still be able to bypass them."""
    if connection.dialect.name != "postgresql":
        raise HardeningRefused("role hardening applies to PostgreSQL only")
    role = (
        await connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": app_role}
        )
    ).first()
    if role is None:
        raise HardeningRefused(f"no PostgreSQL role {app_role}")
    if role[0]:
        raise HardeningRefused(f"{app_role} is a superuser: it can alter anything; use a plain role")
    owner = (
        await connection.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))
    ).scalar_one()
    owner_member = (
        await connection.execute(
            text("SELECT pg_has_role(:role, :owner, 'USAGE')"), {"role": app_role, "owner": owner}
        )
    ).scalar_one()
    if owner_member:
        raise HardeningRefused(
            f"{app_role} owns audit_log (or is a member of its owner {owner}): run the migrations as "
            "a separate owner role and connect the application as a role without ownership"
        )
    done = statements(app_role)
    for statement in done:
        await connection.execute(text(statement))
    return done
