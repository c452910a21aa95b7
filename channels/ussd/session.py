"""USSD session state: Redis keyed by sessionId (TTL 180 s), or in memory when there is no Redis.

A second record per phone number (TTL 5 min) lets a dropped operation resume on redial.
PINs are never stored here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

SESSION_TTL_SECONDS = 180
RESUME_TTL_SECONDS = 300
_SESSION_KEY = "ussd:session:{}"
_RESUME_KEY = "ussd:resume:{}"


@dataclass
class UssdSession:
    session_id: str
    phone: str
    state: str
    language: str = "en"
    customer_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    last_text: str = ""
    last_response: str = ""
    hops: int = 0

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> UssdSession:
        return cls(**json.loads(raw))


@dataclass
class ResumePoint:
    """Where a dropped operation stood: its state, its data and the history to go back through."""

    state: str
    data: dict[str, Any]
    history: list[str]

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> ResumePoint:
        return cls(**json.loads(raw))


class SessionStore(Protocol):
    async def load(self, session_id: str) -> UssdSession | None: ...
    async def save(self, session: UssdSession) -> None: ...
    async def delete(self, session_id: str) -> None: ...
    async def load_resume(self, phone: str) -> ResumePoint | None: ...
    async def save_resume(self, phone: str, point: ResumePoint) -> None: ...
    async def delete_resume(self, phone: str) -> None: ...


class RedisSessionStore:
    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def load(self, session_id: str) -> UssdSession | None:
        raw = await self._redis.get(_SESSION_KEY.format(session_id))
        return UssdSession.loads(raw) if raw else None

    async def save(self, session: UssdSession) -> None:
        key = _SESSION_KEY.format(session.session_id)
        await self._redis.set(key, session.dumps(), ex=SESSION_TTL_SECONDS)

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(_SESSION_KEY.format(session_id))

    async def load_resume(self, phone: str) -> ResumePoint | None:
        raw = await self._redis.get(_RESUME_KEY.format(phone))
        return ResumePoint.loads(raw) if raw else None

    async def save_resume(self, phone: str, point: ResumePoint) -> None:
        await self._redis.set(_RESUME_KEY.format(phone), point.dumps(), ex=RESUME_TTL_SECONDS)

    async def delete_resume(self, phone: str) -> None:
        await self._redis.delete(_RESUME_KEY.format(phone))


class MemorySessionStore:
    """The embedded default (and unit tests): a dict with expiry, on an injectable clock."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._items: dict[str, tuple[float, str]] = {}

    def _get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._now():
            del self._items[key]
            return None
        return item[1]

    def _set(self, key: str, value: str, ttl: int) -> None:
        if len(self._items) > 10_000:
            self._purge()
        self._items[key] = (self._now() + ttl, value)

    def _purge(self) -> None:
        now = self._now()
        for key in [k for k, (expiry, _) in self._items.items() if expiry <= now]:
            del self._items[key]

    async def load(self, session_id: str) -> UssdSession | None:
        raw = self._get(_SESSION_KEY.format(session_id))
        return UssdSession.loads(raw) if raw else None

    async def save(self, session: UssdSession) -> None:
        self._set(_SESSION_KEY.format(session.session_id), session.dumps(), SESSION_TTL_SECONDS)

    async def delete(self, session_id: str) -> None:
        self._items.pop(_SESSION_KEY.format(session_id), None)

    async def load_resume(self, phone: str) -> ResumePoint | None:
        raw = self._get(_RESUME_KEY.format(phone))
        return ResumePoint.loads(raw) if raw else None

    async def save_resume(self, phone: str, point: ResumePoint) -> None:
        self._set(_RESUME_KEY.format(phone), point.dumps(), RESUME_TTL_SECONDS)

    async def delete_resume(self, phone: str) -> None:
        self._items.pop(_RESUME_KEY.format(phone), None)
