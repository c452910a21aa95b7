"""Database schema management: gather every package's models, run Alembic, compare to models."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_WITH_TABLES = ("core", "wallets", "payouts", "compliance")


def import_all_models() -> None:
    """Import every `models` module so Base.metadata knows every table."""
    for package_name in PACKAGES_WITH_TABLES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name.rsplit(".", 1)[-1] == "models":
                importlib.import_module(info.name)


def version_locations() -> list[str]:
    found = []
    for package_name in PACKAGES_WITH_TABLES:
        for versions in sorted((ROOT / package_name).glob("**/migrations/versions")):  # incl. core/identity
            found.append(str(versions))
    return found


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "webapp" / "migrations"))
    config.set_main_option("version_locations", " ".join(version_locations()))
    config.set_main_option("path_separator", "space")
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database to the newest revision of every package's branch."""
    if database_url.startswith("sqlite"):
        _ensure_sqlite_dir(database_url)
    _off_loop(lambda: command.upgrade(alembic_config(database_url), revision))


def _off_loop(work: Callable[[], None]) -> None:
    """Alembic's env runs its own event loop, so run it on a thread when a loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        work()
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work).result()


def _ensure_sqlite_dir(database_url: str) -> None:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
