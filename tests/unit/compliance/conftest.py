from __future__ import annotations

from pathlib import Path

import pytest

from compliance.sanctions.loader import SanctionsList, load_path

SANCTIONS_DATA = Path("/work/shared/data/sanctions")
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def full_lists() -> SanctionsList:
    """The real OFAC + UN + crypto snapshots, loaded once per session."""
    if not SANCTIONS_DATA.is_dir():
        pytest.fail(f"sanctions snapshots missing at {SANCTIONS_DATA}")
    return load_path(SANCTIONS_DATA)
