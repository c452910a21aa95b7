"""Sanctions list versions in the database, so every process screens against the same list.

`save_version` stores a fully parsed list inactive, then switches the active flag in the same
transaction: readers see the old version or the new one, never a mix. Processes pick the active
version up with `active_list` (cached per version id in compliance.sanctions.registry).
"""

from __future__ import annotations

import gzip
import json

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from compliance import audit_trail
from compliance.models import SanctionsListVersion
from compliance.sanctions import registry
from compliance.sanctions.entities import ListedEntity
from compliance.sanctions.loader import SanctionsList
from core.clock import clock_of


def _pack(lists: SanctionsList) -> bytes:
    payload = json.dumps([e.to_dict() for e in lists.entities], separators=(",", ":"))
    return gzip.compress(payload.encode(), compresslevel=6)


def _unpack(blob: bytes) -> list[ListedEntity]:
    return [ListedEntity.from_dict(d) for d in json.loads(gzip.decompress(blob))]


async def save_version(
    *, session: AsyncSession, lists: SanctionsList, loaded_by: str
) -> SanctionsListVersion:
    now = lists.loaded_at = clock_of(session).now()
    row = SanctionsListVersion(
        checksum=lists.checksum,
        active=False,
        summary=lists.summary(),
        files=lists.files,
        payload=_pack(lists),
        loaded_by=loaded_by,
        loaded_at=now,
    )
    session.add(row)
    await session.flush()
    await session.execute(
        update(SanctionsListVersion).where(SanctionsListVersion.active).values(active=False)
    )
    row.active = True
    await session.flush()
    lists.version = row.id
    await audit_trail.record(
        session=session,
        actor=loaded_by,
        action="sanctions.list_loaded",
        subject=f"sanctions_list:{row.id}",
        now=now,
        details={"checksum": lists.checksum, "entries": lists.summary()},
    )
    return row


async def active_list(*, session: AsyncSession) -> SanctionsList | None:
    """The active list, from this process's cache when its version is current."""
    statement = (
        select(SanctionsListVersion.id, SanctionsListVersion.checksum)
        .where(SanctionsListVersion.active)
        .limit(1)
    )
    active = (await session.execute(statement)).one_or_none()
    if active is None:
        return registry.current_or_none()
    version_id, checksum = active
    cached = registry.current_or_none()
    # the id alone is not enough: another database (a second tenant, a test) numbers its versions too
    if cached is not None and cached.version == version_id and cached.checksum == checksum:
        return cached
    row = await session.get(SanctionsListVersion, version_id)
    assert row is not None
    lists = SanctionsList.from_entities(_unpack(row.payload), checksum=row.checksum, files=list(row.files))
    lists.version = row.id
    lists.loaded_at = row.loaded_at
    registry.swap(lists)
    return lists


async def list_versions(*, session: AsyncSession, limit: int = 20) -> list[SanctionsListVersion]:
    statement = (
        select(SanctionsListVersion)
        .options(defer(SanctionsListVersion.payload))
        .order_by(SanctionsListVersion.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())
