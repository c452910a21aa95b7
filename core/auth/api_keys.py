"""Merchant API keys: `kbt_live_<key id>_<secret>`, shown once, stored as SHA-256, scoped, revocable.

The key has 256 bits of randomness, so a fast hash is right here (no password stretching needed);
lookup is by the public key id, comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.errors import ApiKeyInvalid, ApiKeyScopeDenied
from core.auth.models import ApiKey
from core.auth.permissions import API_KEY_SCOPES
from core.clock import Clock
from core.merchants import service as merchants
from core.merchants.errors import MerchantNotActive
from core.merchants.idempotency import StoredResponse
from core.merchants.models import ApiIdempotencyKey, Merchant, MerchantStatus

LAST_USED_RESOLUTION = timedelta(minutes=1)
VERIFIED_TTL_SECONDS = 5.0  # how long a process trusts a checked key's hash (never its status)
LIVE_PREFIX = "kbt_live_"
TEST_PREFIX = "kbt_test_"


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str  # show once; never stored


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class VerifiedKey:
    """What the API needs of a key that was checked against the database (and its merchant)."""

    key_id: str
    merchant_id: int
    scopes: frozenset[str]
    prefix: str


class VerifiedKeyCache:
    """Keys checked in the last VERIFIED_TTL_SECONDS, by the SHA-256 of the whole presented key (so
    a hit proves the secret as the stored hash would): an API call then skips the hash check, the
    last_used_at write and its commit. The key's revocation and its merchant's status are still read on
    every call, so a revocation or suspension made by any process is refused on the next request; a new
    lookup after the TTL keeps last_used_at at most a minute old."""

    def __init__(self, ttl_seconds: float = VERIFIED_TTL_SECONDS, capacity: int = 10_000) -> None:
        self.ttl_seconds, self.capacity = ttl_seconds, capacity
        self._entries: dict[str, tuple[float, VerifiedKey]] = {}

    def get(self, plaintext: str) -> VerifiedKey | None:
        entry = self._entries.get(_hash(plaintext.strip()))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, plaintext: str, key: VerifiedKey) -> None:
        if len(self._entries) >= self.capacity:
            now = time.monotonic()
            self._entries = {h: e for h, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self.capacity:
                self._entries.clear()
        self._entries[_hash(plaintext.strip())] = (time.monotonic() + self.ttl_seconds, key)

    def forget(self, key_id: str) -> None:
        self._entries = {h: e for h, e in self._entries.items() if e[1].key_id != key_id}

    def clear(self) -> None:
        self._entries.clear()


verified_keys = VerifiedKeyCache()


async def create_api_key(
    *,
    session: AsyncSession,
    merchant_id: int,
    scopes: list[str],
    name: str,
    clock: Clock,
    actor: str,
    live: bool = True,
) -> IssuedKey:
    unknown = set(scopes) - API_KEY_SCOPES
    if not scopes or unknown:
        raise ValueError(f"scopes must be among {sorted(API_KEY_SCOPES)}")
    merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)  # UnknownMerchant
    if (
        merchant.status == "suspended"
    ):  # a pending merchant may get keys to build against; they work once active
        raise MerchantNotActive(f"merchant {merchant_id} is suspended")
    prefix = LIVE_PREFIX if live else TEST_PREFIX
    key_id = secrets.token_hex(6)
    plaintext = f"{prefix}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        key_id=key_id,
        prefix=prefix,
        key_hash=_hash(plaintext),
        merchant_id=merchant_id,
        name=name,
        scopes=" ".join(sorted(set(scopes))),
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="api_key.created",
        subject=f"merchant:{merchant_id}",
        details={"key_id": key_id, "scopes": row.scopes},
    )
    return IssuedKey(api_key=row, plaintext=plaintext)


def _key_id(plaintext: str) -> str | None:
    for prefix in (LIVE_PREFIX, TEST_PREFIX):
        if plaintext.startswith(prefix):
            key_id, sep, _ = plaintext[len(prefix) :].partition("_")
            return key_id if sep and key_id else None
    return None


def key_id_of(plaintext: str) -> str | None:
    """The public key id a presented key names (not proof that the key is real)."""
    return _key_id(plaintext.strip())


@dataclass(frozen=True)
class CheckedKey:
    row: ApiKey
    stamped: bool  # last_used_at moved: a write the caller commits (at most once a minute a key)


async def check_api_key(*, session: AsyncSession, plaintext: str, scope: str, clock: Clock) -> CheckedKey:
    """`authenticate_api_key`, saying whether it wrote last_used_at (a caller with nothing written
    need not commit before its own work)."""
    key_id = _key_id(plaintext.strip())
    row = None
    if key_id is not None:  # the merchant in the same read: the caller's status check is then no round trip
        query = select(ApiKey, Merchant).join(Merchant, Merchant.id == ApiKey.merchant_id)
        found = (await session.execute(query.where(ApiKey.key_id == key_id))).one_or_none()
        row = None if found is None else found[0]
    if row is None or row.revoked_at is not None:
        raise ApiKeyInvalid("invalid API key")
    if not hmac.compare_digest(row.key_hash.encode(), _hash(plaintext.strip()).encode()):
        raise ApiKeyInvalid("invalid API key")
    if scope not in row.scopes.split():
        raise ApiKeyScopeDenied(f"this key lacks the {scope} scope")
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now  # at most once a minute: not a write (and a commit) on every call
        await session.flush()
        return CheckedKey(row, stamped=True)
    return CheckedKey(row, stamped=False)


async def authenticate_api_key(*, session: AsyncSession, plaintext: str, scope: str, clock: Clock) -> ApiKey:
    """The live key for `plaintext`, if it carries `scope`. Raises ApiKeyInvalid/ApiKeyScopeDenied."""
    return (await check_api_key(session=session, plaintext=plaintext, scope=scope, clock=clock)).row


async def key_in_force(*, session: AsyncSession, key_id: str, merchant_id: int) -> bool:
    """Is the key unrevoked and its merchant (`merchant_id`) active? (`key_in_force_for`)"""
    return await key_in_force_for(session=session, key_id=key_id, merchant_id=merchant_id) is not None


@dataclass(frozen=True)
class KeyInForce:
    """What a cached key's per-request read found: its merchant's row, in the request's session (a
    session holds its rows weakly: keep this for the request and the request's own read of the
    merchant, merchants.require_active, costs no round trip), and the response stored for the
    request's Idempotency-Key (None: none stored, or no key asked)."""

    merchant: Merchant
    stored: StoredResponse | None = None


async def key_in_force_for(
    *, session: AsyncSession, key_id: str, merchant_id: int, idempotency_key: str | None = None
) -> KeyInForce | None:
    """The key's merchant when the key is unrevoked and its merchant (`merchant_id`) active, else None.
    One read of the key joined to its merchant, whatever the number of the merchant's keys; with an
    `idempotency_key`, the same read also looks up the response stored for it (the merchant API's POST
    would read it next: core.merchants.idempotency.find)."""
    query = (
        select(Merchant)
        .join(ApiKey, ApiKey.merchant_id == Merchant.id)
        .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
    )
    if idempotency_key is not None:
        stored = ApiIdempotencyKey
        query = query.add_columns(stored.request_digest, stored.status_code, stored.response).outerjoin(
            stored, and_(stored.merchant_id == Merchant.id, stored.key == idempotency_key)
        )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    merchant = row[0]
    if merchant.id != merchant_id or merchant.status != MerchantStatus.ACTIVE.value:
        return None
    if idempotency_key is None or row[1] is None:
        return KeyInForce(merchant)
    return KeyInForce(merchant, StoredResponse(row[1], row[2], row[3]))


async def revoke_api_key(*, session: AsyncSession, key_id: str, clock: Clock, actor: str) -> None:
    row = (await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))).scalar_one_or_none()
    if row is None:
        raise ApiKeyInvalid("no such API key")
    verified_keys.forget(key_id)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await session.flush()
        await audit.record(
            session=session,
            actor=actor,
            action="api_key.revoked",
            subject=f"merchant:{row.merchant_id}",
            details={"key_id": key_id},
        )


async def list_api_keys(*, session: AsyncSession, merchant_id: int) -> list[ApiKey]:
    rows = await session.execute(select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.id))
    return list(rows.scalars().all())
