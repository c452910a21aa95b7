"""One fake per core port, for tests that need no real adapter (tests/fakes/<port>.py)."""
