"""Append to and verify the keyed, hash-chained audit log.

Each row's hash is an HMAC-SHA256 (key derived from the envelope keyring, core.audit.keys) over its
sequence number, time, actor, action, subject, details and the previous row's hash; sequence
numbers are contiguous from 1. `verify` therefore detects an edited row (hash mismatch), an inserted
or deleted row (sequence gap or broken link) and a row forged or a chain rewritten by anyone without
the key. Deleting the newest rows, a TRUNCATE (which PostgreSQL refuses anyway) or a rewrite by a
key holder is caught against the published checkpoints (core.audit.checkpoints) or `expected_head`.
Rows written before the chain was keyed (`key_id` "") are plain SHA-256; `rekey` re-seals them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.keys import AuditKeys, current_keys
from core.audit.models import GENESIS_HASH, AuditEntry, AuditPending
from core.clock import Clock, clock_of
from core.errors import KibetiError

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


class AuditChainBroken(KibetiError):
    code = "audit_chain_broken"


def compute_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev: str,
    key_id: str = "",
    keys: AuditKeys | None = None,
) -> str:
    """HMAC under `key_id`'s chain key; `key_id` "" is the legacy unkeyed SHA-256."""
    payload = {
        "seq": seq,
        "at": _timestamp(occurred_at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev": prev,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if not key_id:
        return hashlib.sha256(canonical).hexdigest()
    return (keys or current_keys()).mac(key_id, b"kibeti-audit-v2|" + key_id.encode() + b"|" + canonical)


def _entry_hash(entry: AuditEntry, keys: AuditKeys, *, key_id: str | None = None) -> str:
    return compute_hash(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=entry.details,
        prev=entry.prev_hash,
        key_id=entry.key_id if key_id is None else key_id,
        keys=keys,
    )


async def lock_chain(session: AsyncSession) -> None:
    """Serialise appends on PostgreSQL until the caller's transaction ends. Money writes take it
    before their first row lock, so appends and ledger row locks are always taken in one order."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _LOCK_ID})


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
    keys = current_keys()
    await lock_chain(session)
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    moment = (clock or clock_of(session)).now().astimezone(UTC)
    entry = AuditEntry(
        seq=seq,
        occurred_at=moment,
        actor=actor,
        action=action,
        subject=subject,
        details=_clean(details or {}),
        prev_hash=prev,
        key_id=keys.current,
    )
    entry.entry_hash = _entry_hash(entry, keys)
    session.add(entry)
    await session.flush()
    return entry


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def record_deferred(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """A money write's audit row (in the caller's transaction). On PostgreSQL it is queued in
    `audit_pending` without the chain's lock, so money writes do not serialise on the chain;
    `chain_pending` appends it. SQLite (one writer at a time anyway) appends it at once."""
    if not _is_postgres(session):
        await record(session=session, actor=actor, action=action, subject=subject, details=details)
        return
    session.add(
        AuditPending(
            occurred_at=clock_of(session).now(), actor=actor, action=action, subject=subject,
            details=_clean(details or {}),
        )
    )  # fmt: skip
    await session.flush()


async def chain_pending(*, session: AsyncSession, limit: int = 2000) -> int:
    """Append up to `limit` queued rows to the chain, oldest first, deleting them in the same
    (the caller's) transaction: a row is queued or chained, never both or neither. Returns how many."""
    keys = current_keys()
    await lock_chain(session)
    pending = list(
        (await session.execute(select(AuditPending).order_by(AuditPending.id).limit(limit))).scalars()
    )
    if not pending:
        return 0
    seq, prev = await head(session=session)
    for row in pending:
        seq += 1
        entry = AuditEntry(
            seq=seq, occurred_at=row.occurred_at.astimezone(UTC), actor=row.actor, action=row.action,
            subject=row.subject, details=_clean(row.details), prev_hash=prev, key_id=keys.current,
        )  # fmt: skip
        entry.entry_hash = prev = _entry_hash(entry, keys)
        session.add(entry)
        await session.delete(row)
    await session.flush()
    return len(pending)


async def pending_count(*, session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(AuditPending))).scalar_one())


@dataclass
class Verification:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    unkeyed: int = 0  # rows still under the legacy unkeyed hash


async def _pages(session: AsyncSession) -> AsyncIterator[list[AuditEntry]]:
    after = 0
    while True:
        statement = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(_PAGE)
        page = list((await session.execute(statement)).scalars())
        if not page:
            return
        yield page
        after = page[-1].seq


def _row_problem(entry: AuditEntry, keys: AuditKeys) -> str | None:
    if entry.key_id and not keys.knows(entry.key_id):
        return f"seq {entry.seq}: sealed under key {entry.key_id}, which is not in the keyring"
    if _entry_hash(entry, keys) != entry.entry_hash:
        return f"seq {entry.seq}: content does not match its hash (row edited or forged)"
    return None


async def verify(
    *,
    session: AsyncSession,
    expected_head: tuple[int, str] | None = None,
    keys: AuditKeys | None = None,
    allow_unkeyed: bool = False,
) -> Verification:
    """Walk the chain from seq 1; report every broken link, edited or forged row and gap.

    Legacy unkeyed rows are a problem (anyone can forge them) unless `allow_unkeyed` (rekey's check).
    """
    keys = keys or current_keys()
    problems: list[str] = []
    prev_hash, expected_seq, checked, unkeyed, keyed_seen = GENESIS_HASH, 1, 0, 0, False
    async for page in _pages(session):
        for entry in page:
            if entry.seq != expected_seq:
                problems.append(f"seq {expected_seq}..{entry.seq - 1}: rows missing (deleted)")
            if entry.prev_hash != prev_hash:
                problems.append(f"seq {entry.seq}: link to previous row broken (row inserted or deleted)")
            problem = _row_problem(entry, keys)
            if problem:
                problems.append(problem)
            if not entry.key_id:
                unkeyed += 1
                if keyed_seen:
                    problems.append(f"seq {entry.seq}: unkeyed row after keyed ones (forged)")
            keyed_seen = keyed_seen or bool(entry.key_id)
            prev_hash, expected_seq, checked = entry.entry_hash, entry.seq + 1, checked + 1
    if unkeyed and not allow_unkeyed:
        problems.append(
            f"{unkeyed} row(s) not keyed (written before the keyed chain): run `kibeti audit rekey`"
        )
    head_seq = expected_seq - 1
    if expected_head is not None and (head_seq, prev_hash) != expected_head:
        problems.append(f"head is seq {head_seq}, expected seq {expected_head[0]} (rows removed or replaced)")
    return Verification(
        ok=not problems,
        checked=checked,
        head_seq=head_seq,
        head_hash=prev_hash,
        problems=problems,
        unkeyed=unkeyed,
    )


async def head(*, session: AsyncSession) -> tuple[int, str]:
    """The newest row's (seq, hash); (0, genesis) for an empty log."""
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)


async def entry_hash_at(*, session: AsyncSession, seq: int) -> str | None:
    found = await session.execute(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq))
    return found.scalar_one_or_none()


@dataclass
class Rekeyed:
    rows: int
    old_head: tuple[int, str]
    new_head: tuple[int, str]


async def rekey(*, session: AsyncSession, keys: AuditKeys | None = None) -> Rekeyed:
    """Re-seal every row not under the current key (legacy unkeyed rows, rows under a retired key)
    after checking the chain as it stands is intact: tampering is never laundered into a valid chain.

    Needs the table owner on PostgreSQL (the append-only trigger is switched off for this
    transaction only); the application role cannot run it. The caller commits.
    """
    keys = keys or current_keys()
    await lock_chain(session)
    before = await verify(session=session, keys=keys, allow_unkeyed=True)
    if not before.ok:
        raise AuditChainBroken("the audit chain is broken; not re-keying: " + "; ".join(before.problems[:5]))
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    rows, prev = 0, GENESIS_HASH
    async for page in _pages(session):
        for entry in page:
            changed = entry.prev_hash != prev or entry.key_id != keys.current
            if changed:
                entry.prev_hash, entry.key_id = prev, keys.current
                entry.entry_hash = _entry_hash(entry, keys)
                rows += 1
            prev = entry.entry_hash
        await session.flush()
    if postgres:
        await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    return Rekeyed(
        rows=rows, old_head=(before.head_seq, before.head_hash), new_head=await head(session=session)
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
