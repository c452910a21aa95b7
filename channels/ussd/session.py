"""USSD session state: Redis keyed by sessionId (TTL 180 s), or in memory when there is no Redis.

A second record per phone number (TTL 5 min) lets a dropped operation resume on redial.
PINs are never stored here, nor the raw text of a hop (Africa's Talking's accumulated `text` holds
every PIN and ID typed so far): only its length and a keyed digest, enough to find this hop's
input and to recognise a retried hop. An ended session stays (without its data) until its TTL, so
a retried final hop gets the same END answer.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

SESSION_TTL_SECONDS = 180
RESUME_TTL_SECONDS = 300
_SESSION_KEY = "ussd:session:{}"
_RESUME_KEY = "ussd:resume:{}"
_DUMPS = json.JSONEncoder(
    separators=(",", ":")
).encode  # what json.dumps(..., separators=...) builds per call
_DECODE = json.JSONDecoder().decode  # what json.loads calls, without its per-call checks


@dataclass
class UssdSession:
    session_id: str
    phone: str
    state: str
    language: str = "en"
    customer_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    last_len: int = 0  # the length of the last hop's accumulated text
    last_digest: str = ""  # a keyed digest of it (never the text: it carries PINs and IDs)
    last_response: str = ""
    hops: int = 0
    ended: bool = False  # answered with END: kept only to replay that answer to a retried hop

    def remember_text(self, secret: bytes, text: str) -> None:
        self.last_len, self.last_digest = len(text), text_digest(secret, self.session_id, text)

    def is_last_text(self, secret: bytes, text: str) -> bool:
        return len(text) == self.last_len and hmac.compare_digest(
            text_digest(secret, self.session_id, text), self.last_digest
        )

    def input_after_last(self, secret: bytes, text: str) -> str:
        """This hop's input: what follows the last hop's text and its '*' (kept whole, even with a
        '*' or nothing typed inside it); without a recognisable prefix, the last segment."""
        if self.hops and self.last_len == 0:
            return text
        head = text[: self.last_len]
        if len(text) > self.last_len and text[self.last_len] == "*" and self.is_last_text(secret, head):
            return text[self.last_len + 1 :]
        return text.rsplit("*", 1)[-1]

    def close(self) -> None:
        """What an ended session keeps: its last answer and the digest to recognise a retry."""
        self.ended = True
        self.data = {}
        self.history = []

    def dumps(self) -> str:
        # the fields by hand, in declaration order: `asdict` deep-copies `data` and `history` first
        fields = {
            "session_id": self.session_id,
            "phone": self.phone,
            "state": self.state,
            "language": self.language,
            "customer_id": self.customer_id,
            "data": self.data,
            "history": self.history,
            "last_len": self.last_len,
            "last_digest": self.last_digest,
            "last_response": self.last_response,
            "hops": self.hops,
            "ended": self.ended,
        }
        try:
            return _DUMPS(fields)
        except TypeError:  # something only asdict can turn into JSON (a dataclass inside data)
            return _DUMPS(asdict(self))

    @classmethod
    def loads(cls, raw: str | bytes) -> UssdSession:
        # Redis answers bytes: decoded here (json.loads would first sniff them for UTF-16 and -32);
        # the fields this version writes go straight in, only an older record's are filtered
        fields = _DECODE(raw.decode() if isinstance(raw, bytes) else raw)
        if fields.keys() <= _SESSION_FIELDS:
            return cls(**fields)
        return cls(**{k: v for k, v in fields.items() if k in _SESSION_FIELDS})  # e.g. an older last_text


def text_digest(secret: bytes, session_id: str, text: str) -> str:
    # hmac.digest: the one-shot C call (same bytes as hmac.new(...).hexdigest(), half the CPU)
    return hmac.digest(secret, f"ussd-text:{session_id}:{text}".encode(), "sha256").hex()[:32]


_SESSION_FIELDS = frozenset(UssdSession.__dataclass_fields__)


@dataclass
class ResumePoint:
    """Where a dropped operation stood: its state, its data and the history to go back through, and
    when it was saved (epoch seconds; 0 in a point saved before this field existed)."""

    state: str
    data: dict[str, Any]
    history: list[str]
    saved_at: float = 0.0

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | bytes) -> ResumePoint:
        fields = json.loads(raw)
        return cls(**{k: v for k, v in fields.items() if k in _POINT_FIELDS})


_POINT_FIELDS = frozenset(ResumePoint.__dataclass_fields__)


class SessionStore(Protocol):
    async def load(self, session_id: str) -> UssdSession | None: ...
    async def save(self, session: UssdSession) -> None: ...
    async def delete(self, session_id: str) -> None: ...
    async def load_resume(self, phone: str) -> ResumePoint | None: ...
    async def save_resume(self, phone: str, point: ResumePoint) -> None: ...
    async def delete_resume(self, phone: str) -> None: ...
    async def load_with_resume(
        self, session_id: str, phone: str
    ) -> tuple[UssdSession | None, ResumePoint | None]: ...
    async def write(self, batch: Writes) -> None: ...


@dataclass
class Writes:
    """The writes that end one hop, applied together (one Redis round trip): the session saved or
    deleted, and the phone's resume point saved or deleted."""

    save: UssdSession | None = None
    delete: str | None = None
    resume_phone: str | None = None
    resume: ResumePoint | None = None  # with resume_phone: save it; without: delete the phone's point

    def resume_save(self, phone: str, point: ResumePoint) -> None:
        self.resume_phone, self.resume = phone, point

    def resume_delete(self, phone: str) -> None:
        self.resume_phone, self.resume = phone, None


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

    async def load_with_resume(
        self, session_id: str, phone: str
    ) -> tuple[UssdSession | None, ResumePoint | None]:
        """The session and the phone's resume point in one round trip (MGET)."""
        raw_session, raw_point = await self._redis.mget(
            _SESSION_KEY.format(session_id), _RESUME_KEY.format(phone)
        )
        return (
            UssdSession.loads(raw_session) if raw_session else None,
            ResumePoint.loads(raw_point) if raw_point else None,
        )

    async def save_resume(self, phone: str, point: ResumePoint) -> None:
        await self._redis.set(_RESUME_KEY.format(phone), point.dumps(), ex=RESUME_TTL_SECONDS)

    async def delete_resume(self, phone: str) -> None:
        await self._redis.delete(_RESUME_KEY.format(phone))

    async def write(self, batch: Writes) -> None:
        commands: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        if batch.delete is not None:
            commands.append(("delete", (_SESSION_KEY.format(batch.delete),), {}))
        if batch.save is not None:
            key = _SESSION_KEY.format(batch.save.session_id)
            commands.append(("set", (key, batch.save.dumps()), {"ex": SESSION_TTL_SECONDS}))
        if batch.resume_phone is not None:
            key = _RESUME_KEY.format(batch.resume_phone)
            if batch.resume is not None:
                commands.append(("set", (key, batch.resume.dumps()), {"ex": RESUME_TTL_SECONDS}))
            else:
                commands.append(("delete", (key,), {}))
        if len(commands) == 1:  # one command needs no pipeline
            name, args, kwargs = commands[0]
            await getattr(self._redis, name)(*args, **kwargs)
            return
        if commands:
            # no MULTI/EXEC: the writes were independent calls before, and stay so (one round trip)
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, args, kwargs in commands:
                    getattr(pipe, name)(*args, **kwargs)
                await pipe.execute()


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

    async def load_with_resume(
        self, session_id: str, phone: str
    ) -> tuple[UssdSession | None, ResumePoint | None]:
        return await self.load(session_id), await self.load_resume(phone)

    async def save_resume(self, phone: str, point: ResumePoint) -> None:
        self._set(_RESUME_KEY.format(phone), point.dumps(), RESUME_TTL_SECONDS)

    async def delete_resume(self, phone: str) -> None:
        self._items.pop(_RESUME_KEY.format(phone), None)

    async def write(self, batch: Writes) -> None:
        if batch.delete is not None:
            await self.delete(batch.delete)
        if batch.save is not None:
            await self.save(batch.save)
        if batch.resume_phone is not None:
            if batch.resume is not None:
                await self.save_resume(batch.resume_phone, batch.resume)
            else:
                await self.delete_resume(batch.resume_phone)
