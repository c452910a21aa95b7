"""Rate sources behind core.ports.RateSource: HTTP providers (through an injected `HttpGet`, with
timeouts; webapp.http_get is the httpx one) and demo rates.

* ExchangeRateApiSource: an exchangerate-api-compatible `latest/USD` endpoint answering
  ``{"result": "success", "base_code": "USD", "conversion_rates": {"KES": 129.5}}``.
* CoinGeckoSource: a CoinGecko-compatible ``/api/v3/simple/price?ids=bitcoin,tether&vs_currencies=usd``.
* DemoRateSource: fixed rates for the embedded default, labelled ``source="demo"`` wherever shown.

Numbers are parsed straight into Decimal (``parse_float=Decimal``), never through float. Anything
malformed (an HTML error page, a missing field, a non-numeric or non-positive rate) raises
RateSourceError with a clear message; the caller keeps the last good rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from core.fx.errors import RateSourceError
from core.fx.rates import DEMO_SOURCE
from core.ports import RateQuote, RateSource

DEFAULT_TIMEOUT = 5.0
COINGECKO_IDS = {"bitcoin": "BTC", "tether": "USDT"}
DEMO_RATES = {("USD", "KES"): "129.50", ("BTC", "USD"): "95000", ("USDT", "USD"): "1.00"}


def parse_json(body: bytes | str, source: str) -> Any:
    """JSON with every number as Decimal; HTML or garbage raises RateSourceError."""
    try:
        return json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = (body[:60] if isinstance(body, str) else body[:60].decode("utf-8", "replace")).strip()
        raise RateSourceError(f"{source}: response is not JSON ({snippet!r})") from exc


def parse_rate(value: object, source: str, what: str) -> Decimal:
    """A positive finite Decimal from a JSON number or numeric string; anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, str)):
        raise RateSourceError(f"{source}: {what} is not a number ({value!r})")
    try:
        rate = Decimal(value)
    except InvalidOperation as exc:
        raise RateSourceError(f"{source}: {what} is not a number ({value!r})") from exc
    if not rate.is_finite() or rate <= 0:
        raise RateSourceError(f"{source}: {what} is not a positive rate ({value!r})")
    return rate


def _field(data: object, key: str, source: str) -> Any:
    if not isinstance(data, Mapping) or key not in data:
        raise RateSourceError(f"{source}: response has no {key!r}")
    return data[key]


def parse_exchangerate_api(
    body: bytes | str, source: str, targets: tuple[str, ...] = ("KES",)
) -> list[RateQuote]:
    data = parse_json(body, source)
    if _field(data, "result", source) != "success":
        raise RateSourceError(f"{source}: result is {data.get('result')!r}, not 'success'")
    base = _field(data, "base_code", source)
    if base != "USD":
        raise RateSourceError(f"{source}: base_code is {base!r}, expected 'USD'")
    rates = _field(data, "conversion_rates", source)
    quotes = []
    for target in targets:
        rate = parse_rate(_field(rates, target, source), source, f"USD/{target}")
        quotes.append(RateQuote(base="USD", quote=target, rate=str(rate), source=source))
    return quotes


def parse_coingecko(body: bytes | str, source: str) -> list[RateQuote]:
    data = parse_json(body, source)
    quotes = []
    for coin_id, code in COINGECKO_IDS.items():
        prices = _field(data, coin_id, source)
        rate = parse_rate(_field(prices, "usd", source), source, f"{code}/USD")
        quotes.append(RateQuote(base=code, quote="USD", rate=str(rate), source=source))
    return quotes


class HttpGet(Protocol):
    """GET a JSON URL: (status, body). Raises TimeoutError on a timeout and OSError (its message names
    what failed) on any other transport failure. Core does no I/O itself: webapp.bootstrap injects one."""

    async def __call__(
        self, url: str, *, params: Mapping[str, str] | None, timeout_s: float
    ) -> tuple[int, bytes]: ...


class _HttpSource:
    name: str

    def __init__(
        self, *, name: str, url: str, get: HttpGet, timeout: float = DEFAULT_TIMEOUT, api_key: str = ""
    ) -> None:
        self.name = name
        self.url = url.replace("{api_key}", api_key)
        self.timeout = timeout
        self._http = get

    async def _get(self, params: dict[str, str] | None = None) -> bytes:
        try:
            status, body = await self._http(self.url, params=params, timeout_s=self.timeout)
        except TimeoutError as exc:
            raise RateSourceError(f"{self.name}: timed out after {self.timeout}s") from exc
        except OSError as exc:
            raise RateSourceError(f"{self.name}: {exc}") from exc
        if status != 200:
            raise RateSourceError(f"{self.name}: HTTP {status}")
        return body


class ExchangeRateApiSource(_HttpSource):
    """USD/KES from an exchangerate-api-compatible endpoint (the URL names the USD base)."""

    async def fetch(self) -> list[RateQuote]:
        return parse_exchangerate_api(await self._get(), self.name)


class CoinGeckoSource(_HttpSource):
    """BTC/USD and USDT/USD from a CoinGecko-compatible simple-price endpoint (base URL or full path)."""

    def __init__(
        self, *, name: str, url: str, get: HttpGet, timeout: float = DEFAULT_TIMEOUT, api_key: str = ""
    ) -> None:
        if not url.rstrip("/").endswith("/simple/price"):
            url = url.rstrip("/") + "/api/v3/simple/price"
        super().__init__(name=name, url=url, get=get, timeout=timeout, api_key=api_key)

    async def fetch(self) -> list[RateQuote]:
        params = {"ids": ",".join(COINGECKO_IDS), "vs_currencies": "usd"}
        return parse_coingecko(await self._get(params), self.name)


class DemoRateSource:
    """Fixed demo rates for the embedded default. Always labelled "demo"; never used in production."""

    name = DEMO_SOURCE

    def __init__(self, rates: Mapping[tuple[str, str], str] | None = None) -> None:
        self.rates = dict(rates or DEMO_RATES)

    async def fetch(self) -> list[RateQuote]:
        return [RateQuote(base=b, quote=q, rate=r, source=self.name) for (b, q), r in self.rates.items()]


def sources_from_settings(
    *,
    usd_kes_url: str = "",
    usd_kes_fallback_url: str = "",
    crypto_url: str = "",
    crypto_fallback_url: str = "",
    api_key: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    get: HttpGet | None = None,
) -> list[RateSource]:
    """The configured sources, primary before fallback; the demo source when none is configured.

    For webapp.bootstrap (the composition root): pass the FX_* settings.
    """
    sources: list[RateSource] = []
    configured = [u for u in (usd_kes_url, usd_kes_fallback_url, crypto_url, crypto_fallback_url) if u]
    if not configured:
        return [DemoRateSource()]
    if get is None:
        raise RateSourceError("FX_* URLs are set but no HTTP client was given to fetch them")
    for name, url in (("usd_kes", usd_kes_url), ("usd_kes_fallback", usd_kes_fallback_url)):
        if url:
            sources.append(
                ExchangeRateApiSource(name=name, url=url, get=get, timeout=timeout, api_key=api_key)
            )
    for name, url in (("crypto", crypto_url), ("crypto_fallback", crypto_fallback_url)):
        if url:
            sources.append(CoinGeckoSource(name=name, url=url, get=get, timeout=timeout))
    return sources


def build_sources(settings: object, *, get: HttpGet | None = None) -> list[RateSource]:
    """Builder used by webapp.bootstrap: the FX_* settings -> sources (demo when none configured)."""

    def text(name: str) -> str:
        value = getattr(settings, name, "")
        secret = getattr(value, "get_secret_value", None)
        return str(secret() if callable(secret) else value or "")

    return sources_from_settings(
        usd_kes_url=text("fx_usd_kes_url"),
        usd_kes_fallback_url=text("fx_usd_kes_fallback_url"),
        crypto_url=text("fx_crypto_url"),
        crypto_fallback_url=text("fx_crypto_fallback_url"),
        api_key=text("fx_api_key"),
        get=get,
    )
