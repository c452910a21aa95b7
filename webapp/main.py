"""ASGI entry point for uvicorn: `webapp.main:app`."""

from webapp.app import create_app

app = create_app(freeze_gc=True)
