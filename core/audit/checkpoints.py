"""Signed checkpoints of the audit chain's head, published so that removing the newest rows, a
TRUNCATE or a rewrite of the whole chain is detected later.

A checkpoint is one JSON line: the head's seq and hash, the time, the key id and an Ed25519
signature (key derived from the keyring, core.audit.keys). The scheduler publishes one at least
hourly to the log and appends it to a file that operators ship off the machine (log shipping, WORM
storage): the database's owner can rewrite the table but not what was shipped. `verify` checks each
checkpoint's signature and that the chain still holds the row it saw, with the same hash.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service
from core.audit.keys import AuditKeys, current_keys

log = logging.getLogger("kibeti.audit.checkpoint")
KIND = "kibeti-audit-checkpoint"
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: str
    at: datetime
    key_id: str
    signature: str
    public_key: str

    def signed_part(self) -> bytes:
        body = {"kind": KIND, "v": VERSION, "seq": self.seq, "head": self.head, "at": _iso(self.at),
                "kid": self.key_id}  # fmt: skip
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_line(self) -> str:
        body = json.loads(self.signed_part())
        body.update(sig=self.signature, public_key=self.public_key)
        return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def sign(*, seq: int, head: str, at: datetime, keys: AuditKeys) -> Checkpoint:
    unsigned = Checkpoint(seq, head, at, keys.current, "", keys.public_key_hex(keys.current))
    signature = keys.signing_key(keys.current).sign(unsigned.signed_part()).hex()
    return Checkpoint(seq, head, at, keys.current, signature, unsigned.public_key)


def parse(line: str) -> Checkpoint:
    """One checkpoint line; ValueError when it is not one."""
    try:
        body: dict[str, Any] = json.loads(line)
        if body.get("kind") != KIND or body.get("v") != VERSION:
            raise ValueError("not a Kibeti audit checkpoint")
        return Checkpoint(
            seq=int(body["seq"]), head=str(body["head"]), at=datetime.fromisoformat(body["at"]),
            key_id=str(body["kid"]), signature=str(body["sig"]), public_key=str(body.get("public_key", "")),
        )  # fmt: skip
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a checkpoint line: {exc}") from exc


def signature_problem(checkpoint: Checkpoint, keys: AuditKeys) -> str | None:
    label = f"checkpoint seq {checkpoint.seq} at {_iso(checkpoint.at)}"
    if not keys.knows(checkpoint.key_id):
        return f"{label}: signed by key {checkpoint.key_id}, which is not in the keyring"
    try:
        keys.public_key(checkpoint.key_id).verify(
            bytes.fromhex(checkpoint.signature), checkpoint.signed_part()
        )
    except (InvalidSignature, ValueError):
        return f"{label}: signature invalid (checkpoint forged or edited)"
    return None


async def create(*, session: AsyncSession, now: datetime, keys: AuditKeys | None = None) -> Checkpoint:
    keys = keys or current_keys()
    while await service.chain_pending(session=session):  # the head covers every money write queued
        await session.commit()
    seq, head = await service.head(session=session)
    return sign(seq=seq, head=head, at=now, keys=keys)


def publish(checkpoint: Checkpoint, path: Path) -> None:
    """Log the checkpoint and append it to `path` (flushed to disk before returning)."""
    line = checkpoint.to_line()
    log.info("audit checkpoint %s", line)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(lines: Iterable[str]) -> tuple[list[Checkpoint], list[str]]:
    found, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found.append(parse(line))
        except ValueError as exc:
            problems.append(f"checkpoint line {number}: {exc}")
    return found, problems


async def verify(
    *, session: AsyncSession, checkpoints: Iterable[Checkpoint], keys: AuditKeys | None = None
) -> list[str]:
    """Problems found comparing the chain with published checkpoints (empty: all agree)."""
    keys = keys or current_keys()
    problems: list[str] = []
    head_seq, _ = await service.head(session=session)
    for checkpoint in checkpoints:
        label = f"checkpoint seq {checkpoint.seq} at {_iso(checkpoint.at)}"
        bad_signature = signature_problem(checkpoint, keys)
        if bad_signature:
            problems.append(bad_signature)
            continue
        if checkpoint.seq == 0:
            continue
        if checkpoint.seq > head_seq:
            problems.append(
                f"{label}: the log ends at seq {head_seq} (newest rows deleted or the table truncated)"
            )
            continue
        stored = await service.entry_hash_at(session=session, seq=checkpoint.seq)
        if stored is None:
            problems.append(f"{label}: row {checkpoint.seq} is missing (rows deleted)")
        elif stored != checkpoint.head:
            problems.append(f"{label}: row {checkpoint.seq} has another hash (chain rewritten)")
    return problems
