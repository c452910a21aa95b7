"""Signed webhook deliveries to merchants' servers (httpx), run as jobs; the records are core/webhooks."""
