"""A stored USSD session reads back as it was written, from Redis's bytes or a str, and a record an
older version wrote (a field since dropped) still reads: only the fields a session has are kept."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.ussd.session import UssdSession

_TEXT = st.text(max_size=30)
_SESSIONS = st.builds(
    UssdSession,
    session_id=_TEXT,
    phone=_TEXT,
    state=_TEXT,
    language=st.sampled_from(["en", "sw"]),
    customer_id=st.none() | st.integers(min_value=1, max_value=2**40),
    data=st.dictionaries(
        st.text(max_size=8), st.none() | st.integers() | _TEXT | st.lists(_TEXT, max_size=3), max_size=4
    ),
    history=st.lists(_TEXT, max_size=4),
    last_len=st.integers(min_value=0, max_value=600),
    last_digest=_TEXT,
    last_response=_TEXT,
    hops=st.integers(min_value=0, max_value=1000),
    ended=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(_SESSIONS)
def test_a_session_reads_back_as_written(session: UssdSession) -> None:
    raw = session.dumps()
    assert UssdSession.loads(raw) == session
    assert UssdSession.loads(raw.encode()) == session  # as Redis answers it


def test_an_older_record_reads_without_its_dropped_fields() -> None:
    session = UssdSession(session_id="ATUid_1", phone="+254712345678", state="main", hops=3)
    older = json.loads(session.dumps())
    older["last_text"] = "1*2*1234"  # what an earlier version kept (it held PINs)
    assert UssdSession.loads(json.dumps(older).encode()) == session


def test_a_garbled_record_is_an_error_not_a_session() -> None:
    for raw in (b"", b"{", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises((ValueError, AttributeError, TypeError)):
            UssdSession.loads(raw)
