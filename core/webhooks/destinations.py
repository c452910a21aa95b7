"""Where a webhook may be sent (SSRF defence): an absolute http(s) URL whose host resolves only to
public addresses, and https in production. Private, loopback, link-local and other non-global
addresses are refused unless a setting allows them (tests and the embedded default do).

The delivery connects to the address checked here (`Destination.pinned_url`), not to a second
resolution of the name, so a DNS answer that changes between check and connect (rebinding) cannot
steer the request inside the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.config import Settings
from core.webhooks.errors import InvalidWebhookUrl, WebhookDestinationRefused

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_S = 5
# Stable refusal texts (never the resolver's or the IDNA codec's own words); the error's `code` says
# which kind: webhook_url_invalid (HOST_NOT_VALID) or webhook_destination_refused (the others).
HOST_NOT_VALID = "the host name is not valid: each part between dots is 1 to 63 characters"
HOST_NOT_RESOLVING = "the host name does not resolve"
HOST_RESOLVE_TIMEOUT = "the host name did not resolve in time"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class DestinationPolicy:
    allow_private: bool
    require_https: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> DestinationPolicy:
        allow = settings.webhook_allow_private_destinations
        https = settings.webhook_require_https
        return cls(
            allow_private=(not settings.is_production) if allow is None else allow,
            require_https=settings.is_production if https is None else https,
        )


@dataclass(frozen=True)
class Target:
    """A syntactically valid webhook URL, split up."""

    url: str
    scheme: str
    host: str  # without brackets for IPv6
    port: int
    path: str  # path and query, at least "/"


@dataclass(frozen=True)
class Destination:
    target: Target
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host (send Host/SNI = target.host)."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return urlunsplit((self.target.scheme, f"{host}:{self.target.port}", self.target.path, "", ""))


def parse_target(url: str, policy: DestinationPolicy) -> Target:
    """Check the URL's form (no I/O). Raises InvalidWebhookUrl or WebhookDestinationRefused."""
    text = url.strip()
    if not text or len(text) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidWebhookUrl(
            f"a webhook URL is an absolute http(s) URL of at most {MAX_URL_LENGTH} characters"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl(
            "a webhook URL starts with https:// (or http:// outside production) and names a host"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("a webhook URL may not carry a user name or password")
    if parts.fragment:
        raise InvalidWebhookUrl("a webhook URL may not have a #fragment")
    if policy.require_https and scheme != "https":
        raise WebhookDestinationRefused("webhook URLs must use https")
    host = parts.hostname.lower()
    if not _is_host_name(host):
        raise InvalidWebhookUrl(HOST_NOT_VALID)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        url=text,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


def _is_host_name(host: str) -> bool:
    """An IP literal, or a name of at most 253 characters whose labels (after IDNA) are 1 to 63."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:  # a label over 63 characters, an empty label, or not encodable
        return False
    labels = ascii_name.removesuffix(".").split(".")
    return len(ascii_name) <= 253 and all(0 < len(label) <= 63 for label in labels)


def check_address(address: IPAddress, policy: DestinationPolicy) -> None:
    """Refuse an address inside the network, unless the policy allows private ones."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        raise WebhookDestinationRefused(f"webhooks cannot be sent to {address}")
    if address.is_global:
        return
    if not policy.allow_private:
        raise WebhookDestinationRefused(
            f"webhooks cannot be sent to {address}: a private, loopback, link-local or reserved address"
        )


async def resolve(target: Target, policy: DestinationPolicy) -> Destination:
    """Resolve the host; every address it resolves to must pass `check_address`. Returns the one
    to connect to (the first IPv4 one, if any)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, policy)
        return Destination(target=target, address=literal)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise WebhookDestinationRefused(HOST_RESOLVE_TIMEOUT) from None
    except UnicodeError:
        raise InvalidWebhookUrl(HOST_NOT_VALID) from None
    except OSError:  # the resolver's own text ("[Errno -2] Name or service not known") stays out
        raise WebhookDestinationRefused(HOST_NOT_RESOLVING) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        check_address(address, policy)
        addresses.append(address)
    if not addresses:
        raise WebhookDestinationRefused(HOST_NOT_RESOLVING)
    addresses.sort(key=lambda address: address.version)  # IPv4 first: reachable from more hosts
    return Destination(target=target, address=addresses[0])


async def check_url(url: str, policy: DestinationPolicy) -> Destination:
    return await resolve(parse_target(url, policy), policy)
