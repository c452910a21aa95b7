"""`kibeti db upgrade`: bring the database schema to the newest revision."""

from __future__ import annotations

import click

from core.config import get_settings
from webapp.schema import upgrade


@click.group(name="db")
def cli() -> None:
    """Database schema."""


@cli.command(name="upgrade")
@click.option("--revision", default="heads", show_default=True, help="Alembic target revision.")
def upgrade_command(revision: str) -> None:
    """Apply every pending migration (all packages)."""
    url = get_settings().database_url
    click.echo(f"Migrating {url.split('@')[-1]} to {revision} ...", err=True)
    upgrade(url, revision)
    click.echo("Database is up to date.", err=True)
