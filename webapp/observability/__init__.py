"""What an operator watches: Prometheus metrics, readiness checks and error reporting (Sentry)."""
