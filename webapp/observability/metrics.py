"""Prometheus metrics, all named `kibeti_*`.

Two kinds:
- counted as things happen (request latency per route family): prometheus-client histograms, which
  work across several uvicorn workers and RQ work-horses in multiprocess mode
  (PROMETHEUS_MULTIPROC_DIR set, as docker-compose does);
- read from the database and Redis when Prometheus scrapes (payouts by state, outbox backlog, chain
  scanners, floats, FX rate age, compliance queues, RQ depth): the source of truth is the database, so
  any API replica answers the same and nothing is lost when a process restarts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds. The USSD hop must answer well inside Africa's Talking's ~15 s; most buckets are below 1 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)

HTTP_LATENCY = Histogram(
    "kibeti_http_request_duration_seconds",
    "Time to answer an HTTP request, by route family.",
    ["family", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

USSD_SCREENS = Counter(
    "kibeti_ussd_screens",
    "USSD screens answered, by the state shown and whether it ended the session.",
    ["state", "end"],
)
USSD_DROPPED = Counter(
    "kibeti_ussd_dropped",
    "USSD sessions that ended without an END screen (Africa's Talking's end notice), by the last state.",
    ["state"],
)
SMS_SENDS = Counter(
    "kibeti_sms_sends",
    "SMS handed to Africa's Talking, by its answer: accepted, refused (for good) or retry.",
    ["outcome"],
)
SMS_INBOUND = Counter(
    "kibeti_sms_inbound",
    "SMS customers sent to the shortcode, by command (or repeat / malformed).",
    ["outcome"],
)
SMS_DELIVERY_REPORTS = Counter(
    "kibeti_sms_delivery_reports",
    "Africa's Talking delivery reports, by what they did: updated, stale, unknown or malformed.",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "kibeti_webhook_attempts",
    "Webhook requests to merchants' servers, by outcome: delivered (2xx), retry (network error,"
    " 408, 429, 5xx) or failed (any other answer).",
    ["outcome"],
)
RAIL_ORDERS = Counter(
    "kibeti_rail_orders",
    "Collection-rail orders (PesaPal: card, Airtel Money) by rail and what the provider's status query"
    " did to them: completed, failed, flagged (disagreed with the order), reversed.",
    ["rail", "outcome"],
)
FX_DISPLAY_REFRESH_FAILED = Counter(
    "kibeti_fx_display_refresh_failed",
    "Reads of the KES bids for a balances screen that failed on the database, by what the screen"
    " showed instead: cached (the bid read before, its rate not stale yet) or none (no KES value).",
    ["shown"],
)
TELEGRAM_UPDATES_UNCHECKED = Counter(
    "kibeti_telegram_updates_unchecked",
    "Telegram updates not handled because Redis could not be reached for their update_id check (after"
    " retries; the user is asked to send it again), by the error.",
    ["reason"],
)
RATE_LIMITER_REDIS_DOWN = Counter(
    "kibeti_ratelimit_redis_down",
    "Times a rate-limit check found Redis down (unreachable, an error, or no answer in 0.25 s): the"
    " process's own limiter then decides such limits for 5 s (held per process), by limit name.",
    ["limit"],
)
TELEGRAM_UPDATES_EXPIRED = Counter(
    "kibeti_telegram_updates_expired",
    "Telegram updates queued behind their chat's holder and dropped, not handled, because their turn"
    " came over 3 min after they arrived (the user is asked to send it again), by the chat's kind"
    " (user, chat, other).",
    ["chat"],
)
_EVENTS = {
    "ussd.screen": (USSD_SCREENS, ("state", "end")),
    "ussd.dropped": (USSD_DROPPED, ("state",)),
    "sms.send": (SMS_SENDS, ("outcome",)),
    "sms.inbound": (SMS_INBOUND, ("outcome",)),
    "sms.delivery_report": (SMS_DELIVERY_REPORTS, ("outcome",)),
    "webhook.attempt": (WEBHOOK_ATTEMPTS, ("outcome",)),
    "rail.order": (RAIL_ORDERS, ("rail", "outcome")),
    "fx.display_refresh_failed": (FX_DISPLAY_REFRESH_FAILED, ("shown",)),
    "telegram.update_unchecked": (TELEGRAM_UPDATES_UNCHECKED, ("reason",)),
    "ratelimit.redis_down": (RATE_LIMITER_REDIS_DOWN, ("limit",)),
    "telegram.update_expired": (TELEGRAM_UPDATES_EXPIRED, ("chat",)),
}


def count_event(event: str, labels: dict[str, str]) -> None:
    """core.telemetry's sink: a known event increments its counter; others are ignored."""
    known = _EVENTS.get(event)
    if known is None:
        return
    counter, names = known
    counter.labels(*(labels.get(name, "") for name in names)).inc()


# Route families, first match wins; the path token of provider callbacks never becomes a label.
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("/ussd", "ussd"),
    ("/telegram", "telegram"),
    ("/api/staff", "staff_api"),
    ("/api/v1", "merchant_api"),
    ("/sms", "sms_callback"),
    ("/staff", "staff_portal"),
    ("/app", "customer_portal"),
    ("/merchant", "merchant_portal"),
    ("/i/", "checkout"),
    ("/metrics", "metrics"),
    ("/healthz", "health"),
    ("/readyz", "health"),
    ("/health", "health"),
)


def route_family(path: str, callback_prefixes: Iterable[str] = ()) -> str:
    for prefix, family in _FAMILIES:
        if path.startswith(prefix):
            return family
    first = path.strip("/").split("/", 1)[0]
    if first and first in callback_prefixes:
        return "mpesa_callback"
    return "other"


class MetricsMiddleware:
    """Times every HTTP request into HTTP_LATENCY. Pure ASGI: no body buffering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.callback_prefixes: frozenset[str] | None = None

    def _prefixes(self, scope: Scope) -> frozenset[str]:
        """The M-Pesa callback prefix, from the app's runtime (installed by the lifespan)."""
        if self.callback_prefixes is None:
            runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
            if runtime is None:
                return frozenset()
            self.callback_prefixes = frozenset({runtime.settings.mpesa_callback_path_prefix.strip("/")})
        return self.callback_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            family = route_family(scope.get("path", ""), self._prefixes(scope))
            HTTP_LATENCY.labels(family, scope.get("method", "GET"), f"{status['code'] // 100}xx").observe(
                time.perf_counter() - started
            )


@dataclass
class Snapshot:
    """What the database and Redis say right now (filled by webapp.observability.snapshot)."""

    payouts_by_state: dict[str, int] = field(default_factory=dict)
    oldest_unknown_payout_age: float = 0.0
    collections_by_state: dict[str, int] = field(default_factory=dict)
    rail_refunds_open: dict[str, int] = field(default_factory=dict)  # pending / unknown / accepted -> count
    oldest_open_rail_refund_age: float = 0.0
    oldest_rail_refund_age_by_state: dict[str, float] = field(default_factory=dict)  # 0 when none
    outbox_pending: int = 0
    oldest_outbox_pending_age: float = 0.0
    scanner_height: dict[str, int] = field(default_factory=dict)
    scanner_lag_blocks: dict[str, int] = field(default_factory=dict)
    scanner_age: dict[str, float] = field(default_factory=dict)
    float_minor: dict[tuple[str, ...], int] = field(default_factory=dict)  # (account, asset) -> minor
    owed_minor: dict[str, int] = field(default_factory=dict)  # asset -> customers' wallets, minor
    fx_rate_age: dict[str, float] = field(default_factory=dict)
    alerts_open: int = 0
    cases_open: dict[str, int] = field(default_factory=dict)
    queue_depth: dict[str, int] = field(default_factory=dict)
    failed_jobs: dict[str, int] = field(default_factory=dict)
    up: dict[str, int] = field(default_factory=dict)  # dependency -> 1 reachable / 0 not


def _gauge(name: str, doc: str, labels: list[str], values: Mapping[tuple[str, ...], float]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


class SnapshotCollector(Collector):
    """Turns one Snapshot into gauge families at scrape time."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _gauge(
            "kibeti_payouts",
            "M-Pesa payouts by state.",
            ["state"],
            {(k,): v for k, v in s.payouts_by_state.items()},
        )
        yield _gauge(
            "kibeti_payout_oldest_unknown_age_seconds",
            "Age of the oldest payout in state unknown (0 when none).",
            [],
            {(): s.oldest_unknown_payout_age},
        )
        yield _gauge(
            "kibeti_collections",
            "M-Pesa STK collections by state.",
            ["state"],
            {(k,): v for k, v in s.collections_by_state.items()},
        )
        yield _gauge(
            "kibeti_rail_refunds_open",
            "PesaPal refunds not settled (amount held), by state: pending (on the wire), unknown, or "
            "accepted (waiting for approval on PesaPal's dashboard).",
            ["state"],
            {(k,): v for k, v in s.rail_refunds_open.items()},
        )
        yield _gauge(
            "kibeti_rail_refund_oldest_open_age_seconds",
            "Age of the oldest PesaPal refund not settled (0 when none).",
            [],
            {(): s.oldest_open_rail_refund_age},
        )
        yield _gauge(
            "kibeti_rail_refund_oldest_age_seconds",
            "Age of the oldest PesaPal refund not settled, by state: pending, unknown, or accepted "
            "(waiting for approval on PesaPal's dashboard); 0 when none.",
            ["state"],
            {(k,): v for k, v in s.oldest_rail_refund_age_by_state.items()},
        )
        yield _gauge("kibeti_outbox_backlog", "Outbox rows not yet done.", [], {(): s.outbox_pending})
        yield _gauge(
            "kibeti_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not yet done.",
            [],
            {(): s.oldest_outbox_pending_age},
        )
        yield _gauge(
            "kibeti_chain_scanner_height",
            "Last block height a chain scanner processed.",
            ["network"],
            {(k,): v for k, v in s.scanner_height.items()},
        )
        yield _gauge(
            "kibeti_chain_scanner_lag_blocks",
            "Blocks between the chain tip and the scanner's cursor.",
            ["network"],
            {(k,): v for k, v in s.scanner_lag_blocks.items()},
        )
        yield _gauge(
            "kibeti_chain_scanner_last_advance_age_seconds",
            "Seconds since a chain scanner's cursor last moved.",
            ["network"],
            {(k,): v for k, v in s.scanner_age.items()},
        )
        yield _gauge(
            "kibeti_float_held_minor_units",
            "What the ledger says Kibeti holds per float (chain custody, M-Pesa shortcode), minor units.",
            ["account", "asset"],
            s.float_minor,
        )
        yield _gauge(
            "kibeti_customer_funds_minor_units",
            "What customers' wallets hold (what Kibeti owes), in minor units.",
            ["asset"],
            {(k,): v for k, v in s.owed_minor.items()},
        )
        yield _gauge(
            "kibeti_fx_rate_age_seconds",
            "Age of the newest stored rate per pair.",
            ["pair"],
            {(k,): v for k, v in s.fx_rate_age.items()},
        )
        yield _gauge("kibeti_compliance_alerts_open", "Open compliance alerts.", [], {(): s.alerts_open})
        yield _gauge(
            "kibeti_compliance_cases_open",
            "Compliance cases not closed, by status.",
            ["status"],
            {(k,): v for k, v in s.cases_open.items()},
        )
        yield _gauge(
            "kibeti_rq_queue_depth",
            "Jobs waiting in each RQ queue.",
            ["queue"],
            {(k,): v for k, v in s.queue_depth.items()},
        )
        yield _gauge(
            "kibeti_rq_failed_jobs",
            "Jobs in each RQ queue's failed registry.",
            ["queue"],
            {(k,): v for k, v in s.failed_jobs.items()},
        )
        yield _gauge(
            "kibeti_dependency_up",
            "1 when a dependency answered the scrape's query, else 0.",
            ["dependency"],
            {(k,): v for k, v in s.up.items()},
        )


def age_seconds(then: datetime | None, now: datetime) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def render(snapshot: Snapshot, *, multiprocess_dir: str = "") -> tuple[bytes, str]:
    """The exposition text: this process's (or, in multiprocess mode, every process's) counters and
    histograms, plus the snapshot's gauges."""
    registry = CollectorRegistry()
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (HTTP_LATENCY, USSD_SCREENS, USSD_DROPPED, SMS_SENDS):
            registry.register(collector)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry), CONTENT_TYPE_LATEST
