"""Merchant webhooks: endpoints, events, deliveries and their attempt log (delivery: channels/webhooks)."""
