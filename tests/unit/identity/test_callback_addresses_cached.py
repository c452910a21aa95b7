"""The callback address checks are cached (issue 20): every answer is still the one the allow-list
and the trusted proxies give, parsed afresh, whatever was asked before and whatever changed."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.security.callbacks import client_ip, ip_allowed

_ENTRIES = st.sampled_from(
    [
        "196.201.214.200",
        "196.201.212.0/24",
        "149.154.160.0/20",
        "10.0.0.0/8",
        "2001:db8::/32",
        " 127.0.0.1 ",
        "",
    ]
)
_ADDRESSES = st.sampled_from(
    ["196.201.214.200", "196.201.212.9", "149.154.161.3", "10.1.2.3", "2001:db8::1", "127.0.0.1", "8.8.8.8",
     "not-an-ip", "", " 10.0.0.1 "]
)  # fmt: skip


def _fresh_allowed(ip: str, allowlist: list[str], empty_allows_all: bool) -> bool:
    networks = [ipaddress.ip_network(e.strip(), strict=False) for e in allowlist if e.strip()]
    if not networks:
        return empty_allows_all
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ADDRESSES, st.lists(_ENTRIES, max_size=4), st.booleans()), min_size=1, max_size=8))
def test_allowed_is_what_the_list_says_every_time(asks: list[tuple[str, list[str], bool]]) -> None:
    for ip, allowlist, empty_allows_all in asks:  # several lists in a row: a cached answer never leaks
        assert ip_allowed(ip, allowlist, empty_allows_all=empty_allows_all) == _fresh_allowed(
            ip, allowlist, empty_allows_all
        )


def test_a_changed_list_changes_the_answer() -> None:
    allowlist = ["196.201.214.0/24"]
    assert ip_allowed("196.201.214.7", allowlist, empty_allows_all=False)
    allowlist[0] = "196.201.213.0/24"  # the same list object, edited (a test's monkeypatched setting)
    assert not ip_allowed("196.201.214.7", allowlist, empty_allows_all=False)
    assert ip_allowed("196.201.213.7", allowlist, empty_allows_all=False)


def test_the_forwarded_client_behind_a_trusted_proxy() -> None:
    proxies = ["10.0.0.0/8"]
    assert (
        client_ip(peer="10.0.0.5", forwarded_for="3.8.193.10, 10.0.0.9", trusted_proxies=proxies)
        == "3.8.193.10"
    )
    assert client_ip(peer="8.8.8.8", forwarded_for="3.8.193.10", trusted_proxies=proxies) == "8.8.8.8"
    assert client_ip(peer="10.0.0.5", forwarded_for="3.8.193.10", trusted_proxies=[]) == "10.0.0.5"


def test_an_invalid_entry_still_raises_on_every_request() -> None:
    for _ in range(2):  # a failure is never cached as an answer
        with pytest.raises(ValueError):
            ip_allowed("10.0.0.1", ["not-a-network"])
        with pytest.raises(ValueError):
            client_ip(peer="10.0.0.1", forwarded_for=None, trusted_proxies=["not-a-network"])
