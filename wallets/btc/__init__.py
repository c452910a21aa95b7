"""Bitcoin: deposits from an Esplora (electrs) HTTP API."""
