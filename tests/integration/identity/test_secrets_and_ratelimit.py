from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ratelimit import Limit, RedisRateLimiter
from core.security import service
from core.security.envelope import Keyring
from core.security.models import StoredSecret

Factory = async_sessionmaker[AsyncSession]


async def test_stored_secrets_rotate(session_factory: Factory) -> None:
    old = Keyring.from_passphrases("old master passphrase", iterations=1_000)
    async with session_factory() as session:
        await service.put_secret(session=session, name="mpesa.consumer_secret", value="s3cr3t", keyring=old)
        await service.put_secret(session=session, name="btc.xprv", value=b"xprv-bytes", keyring=old)
        await session.commit()
    new = Keyring.from_passphrases("new master passphrase", ["old master passphrase"], iterations=1_000)
    async with session_factory() as session:
        assert await service.rotate_all(session=session, keyring=new) == 2
        await session.commit()
        assert await service.rotate_all(session=session, keyring=new) == 0
    only_new = Keyring.from_passphrases("new master passphrase", iterations=1_000)
    async with session_factory() as session:
        assert await service.get_secret(session=session, name="btc.xprv", keyring=only_new) == b"xprv-bytes"
        rows = (await session.execute(select(StoredSecret))).scalars().all()
        assert all("s3cr3t" not in row.envelope and row.key_id == only_new.current for row in rows)


async def test_redis_limiter_sliding_and_fixed(redis_url: str) -> None:
    client, other_client = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client)
    try:
        sliding = Limit("pin", 3, 60)
        assert [(await limiter.hit(sliding, "c:1")).remaining for _ in range(3)] == [2, 1, 0]
        assert not (await limiter.peek(sliding, "c:1")).allowed
        blocked = await limiter.hit(sliding, "c:1")
        assert not blocked.allowed and 1 <= blocked.retry_after <= 60
        assert (await limiter.peek(sliding, "c:2")).allowed and (await limiter.hit(sliding, "c:2")).allowed
        # shared: another process's limiter on the same Redis sees the same count
        other = RedisRateLimiter(other_client)
        assert not (await other.hit(sliding, "c:1")).allowed
        assert (await other.hit(sliding, "c:2")).remaining == 1
        fixed = Limit("ip", 2, 60, "fixed")
        assert (await limiter.hit(fixed, "1.2.3.4")).allowed
        assert (await limiter.hit(fixed, "1.2.3.4")).allowed
        denied = await limiter.hit(fixed, "1.2.3.4")
        assert not denied.allowed and 1 <= denied.retry_after <= 60
    finally:
        await other_client.aclose()
        await client.aclose()
