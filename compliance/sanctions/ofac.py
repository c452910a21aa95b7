"""OFAC SDN CSV loader: sdn.csv, alt.csv, add.csv and sdn_comments*.csv (Remarks overflow, where
digital currency addresses often are). `-0-` is null. Every problem is reported with its line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from compliance.sanctions.entities import CryptoAddress, LineError, ListedDate, ListedEntity, ListedId

NULL = "-0-"
SDN_COLUMNS = 12
ALT_COLUMNS = 5
ADD_COLUMNS = 6
COMMENTS_COLUMNS = 2

CRYPTO_RE = re.compile(r"Digital\s+Currency\s+Address\s+-\s+([A-Z0-9]+)\s+([A-Za-z0-9]+)", re.IGNORECASE)
DOB_RE = re.compile(r"\bDOB\s+([^;]+)")
ID_RE = re.compile(
    r"(?:^|;)\s*(?:alt\.\s+)?(Passport|National ID No\.|Cedula No\.|Identification Number|"
    r"NIT #|Tax ID No\.|Registration Number|Registration ID|Personal ID Card|D\.N\.I\.)\s+"
    r"([A-Za-z0-9][A-Za-z0-9\-/]*(?:\s[0-9][A-Za-z0-9\-/]*)*)[^;(]*(?:\(([^)]*)\))?"
)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
DATE_FULL = re.compile(r"^(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})$")
DATE_MONTH = re.compile(r"^([A-Za-z]{3})\s+(\d{4})$")
DATE_RANGE = re.compile(r"^(\d{4})\s+to\s+(\d{4})$")
DATE_YEAR = re.compile(r"^(?:circa\s+)?(\d{4})$")


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value == NULL else value


def read_text(path: Path, errors: list[LineError]) -> str | None:
    """The file as UTF-8 (a trailing DOS EOF byte dropped); bad bytes are a line error."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").replace("\x1a", "")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        errors.append(LineError(path.name, line, f"not UTF-8 text (byte {exc.start})"))
        return None


def read_rows(path: Path, columns: int, errors: list[LineError]) -> Iterator[tuple[int, list[str]]]:
    """Rows with their starting line number; a wrong column count or bad ent_num is an error."""
    text = read_text(path, errors)
    if text is None:
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    try:
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != columns:
                errors.append(LineError(path.name, start, f"expected {columns} columns, found {len(row)}"))
                continue
            if not row[0].strip().isdigit():
                errors.append(LineError(path.name, start, f"ent_num is not a number: {row[0].strip()!r}"))
                continue
            yield start, [_clean(cell) for cell in row]
    except csv.Error as exc:
        errors.append(LineError(path.name, previous_end + 1, f"CSV syntax: {exc}"))


def parse_date(text: str) -> ListedDate | None:
    text = text.strip().rstrip(".")
    if m := DATE_FULL.match(text):
        month = MONTHS.get(m.group(2).lower())
        return ListedDate(int(m.group(3)), month, int(m.group(1))) if month else None
    if m := DATE_MONTH.match(text):
        month = MONTHS.get(m.group(1).lower())
        return ListedDate(int(m.group(2)), month) if month else None
    if m := DATE_RANGE.match(text):
        return ListedDate(int(m.group(1)), to_year=int(m.group(2)))
    if m := DATE_YEAR.match(text):
        return ListedDate(int(m.group(1)))
    return None


def parse_remarks(entity: ListedEntity, remarks: str) -> None:
    """Dates of birth, ID numbers and digital currency addresses out of the remarks text."""
    for m in DOB_RE.finditer(remarks):
        for part in m.group(1).split(","):
            if (date := parse_date(part)) is not None:
                entity.dates_of_birth.append(date)
    for m in ID_RE.finditer(remarks):
        entity.ids.append(ListedId(m.group(1), m.group(2).strip(), (m.group(3) or "").strip()))
    for m in CRYPTO_RE.finditer(remarks):
        crypto = CryptoAddress(m.group(1).upper(), m.group(2))
        if crypto not in entity.crypto:
            entity.crypto.append(crypto)


def load_ofac(directory: Path, errors: list[LineError]) -> list[ListedEntity]:
    """Parse the OFAC CSV set in `directory`. Problems are appended to `errors`."""
    sdn_path = directory / "sdn.csv"
    entities: dict[str, ListedEntity] = {}
    remarks: dict[str, list[str]] = {}
    for line, row in read_rows(sdn_path, SDN_COLUMNS, errors):
        ent_num, name, sdn_type, program = row[0], row[1], row[2].lower(), row[3]
        if not name:
            errors.append(LineError(sdn_path.name, line, "SDN_Name is empty"))
            continue
        if ent_num in entities:
            errors.append(LineError(sdn_path.name, line, f"duplicate ent_num {ent_num}"))
            continue
        entities[ent_num] = ListedEntity(
            source="ofac",
            source_id=ent_num,
            name=name,
            entity_type=sdn_type or "entity",
            programs=[p.strip() for p in program.split(";") if p.strip()],
        )
        remarks[ent_num] = [row[11]]
    alt_path = directory / "alt.csv"
    if alt_path.exists():
        for _line, row in read_rows(alt_path, ALT_COLUMNS, errors):
            if (entity := entities.get(row[0])) is not None and row[3]:
                entity.aliases.append(row[3])
    add_path = directory / "add.csv"
    if add_path.exists():
        for _line, row in read_rows(add_path, ADD_COLUMNS, errors):
            if (entity := entities.get(row[0])) is not None and row[4]:
                entity.countries.append(row[4])
    for comments_path in sorted(directory.glob("sdn_comments*.csv")):
        for _line, row in read_rows(comments_path, COMMENTS_COLUMNS, errors):
            remarks.setdefault(row[0], []).append(row[1])
    for ent_num in remarks.keys() - entities.keys():
        # Overflow rows for an entry this sdn.csv lacks: keep its addresses and IDs, unnamed.
        entities[ent_num] = ListedEntity(
            source="ofac", source_id=ent_num, name=f"OFAC SDN entry {ent_num}", entity_type="address"
        )
    for ent_num, entity in entities.items():
        # Overflow continues the Remarks mid-word: join without a separator before parsing.
        text = "".join(remarks[ent_num])
        entity.remarks = text[:2000]
        parse_remarks(entity, text)
    return list(entities.values())
