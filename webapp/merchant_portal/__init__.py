"""The merchant dashboard at /merchant (issue 18 item 3): invoices and payment links, settlements
with their statements, API keys, webhook endpoints and deliveries, notification phones. Every page
calls the same services as the merchant API; owners change things, viewers read."""
