"""Load a set of list files into a new, complete SanctionsList, or reject it whole.

PATH may be a directory holding the standard layout (ofac/*.csv, un/consolidated.xml,
crypto/sanctioned_addresses_*.txt, or any of those files directly), or a single file.
Nothing is half-loaded: any problem raises MalformedListFile with every line at fault.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from compliance.errors import MalformedListFile
from compliance.sanctions.crypto_lists import load_address_file
from compliance.sanctions.entities import LineError, ListedEntity
from compliance.sanctions.index import SanctionsIndex
from compliance.sanctions.ofac import load_ofac
from compliance.sanctions.un import load_un

Progress = Callable[[str], None]


@dataclass
class SanctionsList:
    """One immutable version of the lists, with its index. Swapped in whole, never edited."""

    entities: list[ListedEntity]
    index: SanctionsIndex
    checksum: str
    files: list[str] = field(default_factory=list)
    version: int = 0
    loaded_at: datetime | None = None  # when it was stored (store.save_version), on the session's clock

    @classmethod
    def from_entities(
        cls, entities: list[ListedEntity], *, checksum: str = "", files: list[str] | None = None
    ) -> SanctionsList:
        return cls(entities, SanctionsIndex.build(entities), checksum, files or [])

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entity in self.entities:
            counts[entity.source] = counts.get(entity.source, 0) + 1
        counts["names_and_aliases"] = self.index.name_count
        counts["crypto_addresses"] = self.index.address_count
        counts["with_date_of_birth"] = sum(1 for e in self.entities if e.dates_of_birth)
        return counts


def _find_files(path: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(ofac directories, UN xml files, crypto txt files) under `path`."""
    if path.is_file():
        if path.suffix.lower() == ".xml":
            return [], [path], []
        if path.suffix.lower() == ".txt":
            return [], [], [path]
        if path.name.lower() == "sdn.csv":
            return [path.parent], [], []
        raise MalformedListFile([LineError(path.name, 0, "unknown list file type")])
    if not path.is_dir():
        raise MalformedListFile([LineError(str(path), 0, "no such file or directory")])
    ofac_dirs = sorted({p.parent for p in path.rglob("sdn.csv")})
    un_files = sorted(p for p in path.rglob("*.xml"))
    crypto_files = sorted(path.rglob("sanctioned_addresses_*.txt"))
    return ofac_dirs, un_files, crypto_files


def _checksum(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def load_path(path: Path, progress: Progress | None = None) -> SanctionsList:
    say = progress or (lambda _msg: None)
    ofac_dirs, un_files, crypto_files = _find_files(path)
    if not (ofac_dirs or un_files or crypto_files):
        raise MalformedListFile([LineError(str(path), 0, "no sdn.csv, *.xml or sanctioned_addresses_*.txt")])
    errors: list[LineError] = []
    entities: list[ListedEntity] = []
    used: list[Path] = []
    for directory in ofac_dirs:
        say(f"OFAC SDN CSV in {directory} ...")
        found = load_ofac(directory, errors)
        say(f"  {len(found)} SDN entries")
        entities += found
        used += [p for p in directory.iterdir() if p.suffix.lower() == ".csv"]
    for xml in un_files:
        say(f"UN consolidated list {xml.name} ...")
        found = load_un(xml, errors)
        say(f"  {len(found)} UN entries")
        entities += found
        used.append(xml)
    for txt in crypto_files:
        found = load_address_file(txt, errors)
        say(f"crypto addresses {txt.name}: {len(found)}")
        entities += found
        used.append(txt)
    if errors:
        raise MalformedListFile(errors)
    say(f"indexing {len(entities)} entries ...")
    return SanctionsList.from_entities(entities, checksum=_checksum(used), files=sorted(str(p) for p in used))
