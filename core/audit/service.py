"""Append to and verify the hash-chained audit log.

Each row's hash covers its sequence number, time, actor, action, subject, details and the previous
row's hash; sequence numbers are contiguous from 1. `verify` therefore detects an edited row (hash
mismatch), an inserted or deleted row (sequence gap or broken link); truncation of the newest rows
is caught by passing the last known head (`expected_head`) to `verify`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import GENESIS_HASH, AuditEntry
from core.clock import Clock

_LOCK_ID = 0x4B49_4254  # "KIBT": serialises appends on PostgreSQL
_SENSITIVE = ("pin", "otp", "password", "token", "secret", "passphrase", "totp", "api_key", "code")
REDACTED = "[REDACTED]"
_PAGE = 1000


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    """Drop secrets and make the details JSON-stable (so the hash survives a round trip)."""
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        lowered = key.lower()
        if any(word in lowered for word in _SENSITIVE):
            cleaned[key] = REDACTED
        elif isinstance(value, dict):
            cleaned[key] = _clean(value)
        else:
            cleaned[key] = value
    result: dict[str, Any] = json.loads(json.dumps(cleaned, default=str))
    return result


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev: str,
) -> str:
    payload = {
        "seq": seq,
        "at": _timestamp(occurred_at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev": prev,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _entry_hash(entry: AuditEntry) -> str:
    return compute_hash(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=entry.details,
        prev=entry.prev_hash,
    )


async def record(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditEntry:
    """Append one event (in the caller's transaction). Actor like "staff:3", "customer:12", "system"."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _LOCK_ID})
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    moment = (clock.now() if clock else datetime.now(UTC)).astimezone(UTC)
    entry = AuditEntry(
        seq=seq,
        occurred_at=moment,
        actor=actor,
        action=action,
        subject=subject,
        details=_clean(details or {}),
        prev_hash=prev,
    )
    entry.entry_hash = _entry_hash(entry)
    session.add(entry)
    await session.flush()
    return entry


@dataclass
class Verification:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)


async def verify(*, session: AsyncSession, expected_head: tuple[int, str] | None = None) -> Verification:
    """Walk the chain from seq 1; report every broken link, edited row and gap."""
    problems: list[str] = []
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    while True:
        page = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.seq >= expected_seq)
                    .order_by(AuditEntry.seq)
                    .limit(_PAGE)
                )
            )
            .scalars()
            .all()
        )
        if not page:
            break
        for entry in page:
            if entry.seq != expected_seq:
                problems.append(f"seq {expected_seq}..{entry.seq - 1}: rows missing (deleted)")
            if entry.prev_hash != prev_hash:
                problems.append(f"seq {entry.seq}: link to previous row broken (row inserted or deleted)")
            if _entry_hash(entry) != entry.entry_hash:
                problems.append(f"seq {entry.seq}: content does not match its hash (row edited)")
            prev_hash, expected_seq, checked = entry.entry_hash, entry.seq + 1, checked + 1
    head_seq = expected_seq - 1
    if expected_head is not None and (head_seq, prev_hash) != expected_head:
        problems.append(f"head is seq {head_seq}, expected seq {expected_head[0]} (rows removed or replaced)")
    return Verification(
        ok=not problems, checked=checked, head_seq=head_seq, head_hash=prev_hash, problems=problems
    )


async def count(*, session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one())


async def list_entries(
    *, session: AsyncSession, after_seq: int = 0, limit: int = 50, action: str = ""
) -> list[AuditEntry]:
    """Rows after `after_seq`, oldest first (page on with the last row's seq). `action` is an exact
    action, or a prefix ending in "." ("case." -> every case action)."""
    statement = select(AuditEntry).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq).limit(limit)
    if action.endswith("."):
        statement = statement.where(AuditEntry.action.startswith(action, autoescape=True))
    elif action:
        statement = statement.where(AuditEntry.action == action)
    return list((await session.execute(statement)).scalars())
