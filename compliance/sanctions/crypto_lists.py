"""Plain address lists, one per line, named sanctioned_addresses_<TICKER>.txt (0xB10C's format)."""

from __future__ import annotations

import re
from pathlib import Path

from compliance.sanctions.entities import CryptoAddress, LineError, ListedEntity
from compliance.sanctions.ofac import read_text

ADDRESS_RE = re.compile(r"^[A-Za-z0-9]{20,128}$")
FILE_RE = re.compile(r"^sanctioned_addresses_([A-Z0-9]+)\.txt$")


def load_address_file(path: Path, errors: list[LineError]) -> list[ListedEntity]:
    match = FILE_RE.match(path.name)
    ticker = match.group(1) if match else "UNKNOWN"
    found: list[ListedEntity] = []
    text = read_text(path, errors)
    if text is None:
        return found
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not ADDRESS_RE.match(line):
            errors.append(LineError(path.name, number, f"not a {ticker} address: {line[:60]!r}"))
            continue
        found.append(
            ListedEntity(
                source="crypto",
                source_id=f"{ticker}:{line}",
                name=f"Sanctioned {ticker} address {line}",
                entity_type="address",
                programs=["OFAC-listed digital currency address"],
                crypto=[CryptoAddress(ticker, line)],
            )
        )
    return found
