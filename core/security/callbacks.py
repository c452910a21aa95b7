"""Inbound callback checks (Daraja, Africa's Talking): secret path token and optional IP allow-list.

X-Forwarded-For is trusted only when the direct peer is one of the configured proxies; then the
client is the right-most address that is not itself a trusted proxy.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Sequence

from core.config import Settings
from core.security.compare import equals
from core.security.errors import CallbackRejected

log = logging.getLogger(__name__)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# Every USSD hop, SMS and M-Pesa callback checks its address against the allow-list (and, behind a
# proxy, the trusted proxies): parsing each entry and the address again on every request cost ~90 us
# a request with seven entries, ~6 us an entry (a hop's whole routing costs less). Both answers are
# pure functions of their (few, repeating) inputs: cached, keyed by the entries as given, so a changed
# setting is a new key. The membership cache holds addresses, bounded: one spraying addresses only
# evicts entries, never changes an answer.
_MEMBERSHIP_CACHE = 4096


@functools.lru_cache(maxsize=64)
def _parsed(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """The entries' networks (an invalid entry raises ValueError, as it always did: never cached)."""
    return _parsed(tuple(entries))


@functools.lru_cache(maxsize=_MEMBERSHIP_CACHE)
def _member(ip: str, entries: tuple[str, ...]) -> bool:
    networks = _parsed(entries)
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


def _in_any(ip: str, entries: Sequence[str]) -> bool:
    """Whether `ip` is inside one of the entries' networks (an unparsable address is in none)."""
    return _member(ip, tuple(entries))


def client_ip(*, peer: str, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy that forwarded it."""
    proxies = tuple(trusted_proxies)
    _networks(proxies)  # an invalid entry raises here, whatever the request
    if not forwarded_for or not _in_any(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in_any(hop, proxies):
            return hop
    return hops[0] if hops else peer


def ip_allowed(ip: str, allowlist: Sequence[str], *, empty_allows_all: bool = True) -> bool:
    """The address must be inside one entry; an empty allow-list allows everyone only where
    `empty_allows_all` (development: production refuses to start without one, and refuses here)."""
    entries = tuple(allowlist)
    if not _networks(entries):
        return empty_allows_all
    return _in_any(ip, entries)


def check_callback(
    *,
    path_token: str,
    expected_token: str,
    peer: str,
    forwarded_for: str | None = None,
    trusted_proxies: Sequence[str] = (),
    allowlist: Sequence[str] = (),
    require_allowlist: bool = False,
) -> str:
    """Verify an inbound callback; returns the client IP or raises CallbackRejected.

    `require_allowlist` (production): an empty allow-list lets nobody in, instead of everyone."""
    if not equals(path_token, expected_token):
        raise CallbackRejected("callback path token mismatch")
    ip = client_ip(peer=peer, forwarded_for=forwarded_for, trusted_proxies=trusted_proxies)
    if not ip_allowed(ip, allowlist, empty_allows_all=not require_allowlist):
        raise CallbackRejected("callback source address not allowed")
    return ip


def at_callback_allowed(settings: Settings, *, path_token: str, peer: str, forwarded_for: str | None) -> bool:
    """An Africa's Talking callback (USSD, inbound SMS, delivery report): our path token, from an
    allowed address. A refusal is logged without the request's body."""
    try:
        check_callback(
            path_token=path_token,
            expected_token=settings.at_callback_token.get_secret_value(),
            peer=peer,
            forwarded_for=forwarded_for,
            trusted_proxies=settings.trusted_proxies,
            allowlist=settings.callback_ip_allowlist,
            require_allowlist=settings.is_production,
        )
    except CallbackRejected as exc:
        log.warning("africa's talking callback refused: %s", exc)
        return False
    return True
