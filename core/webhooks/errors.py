"""Named webhook errors, flat. Each has a stable `code` and the HTTP status the merchant API answers."""

from __future__ import annotations

from core.errors import KibetiError


class InvalidWebhookUrl(KibetiError, ValueError):
    """Not an absolute http(s) URL with a host, or too long, or with credentials in it."""

    code = "webhook_url_invalid"
    http_status = 422


class WebhookDestinationRefused(KibetiError, ValueError):
    """The URL points inside the network (private, loopback, link-local...) or is not https in
    production: Kibeti will not send requests there (SSRF)."""

    code = "webhook_destination_refused"
    http_status = 422


class UnknownEventType(KibetiError, ValueError):
    code = "webhook_event_unknown"
    http_status = 422


class InvalidWebhookEndpoint(KibetiError, ValueError):
    code = "webhook_endpoint_invalid"
    http_status = 422


class TooManyWebhookEndpoints(KibetiError):
    code = "webhook_endpoint_limit"
    http_status = 409


class UnknownWebhookEndpoint(KibetiError, LookupError):
    code = "webhook_endpoint_not_found"
    http_status = 404


class UnknownWebhookDelivery(KibetiError, LookupError):
    code = "webhook_delivery_not_found"
    http_status = 404
