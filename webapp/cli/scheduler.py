"""`kibeti scheduler` lives in worker.py; exposed here for discovery."""

from webapp.cli.worker import scheduler_cli as cli

__all__ = ["cli"]
