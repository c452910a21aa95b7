"""The invoice tests' fixtures (an active merchant, demo rates, the HD test wallet, simulated chains
watched by the real deposit monitor), for the day-of-traffic test."""

from tests.integration.invoices.conftest import clock, deriver, shop  # noqa: F401
