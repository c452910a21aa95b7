"""Identity verification (Kenya's IPRS, usually through an aggregator: the port is
core.ports.IdentityRegistry) and a simulated provider for the embedded default and tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from compliance.sanctions.normalize import normalize
from core.ports import IdentityCheck, IdentityRegistry


@dataclass(frozen=True)
class IdentityRecord:
    id_number: str
    full_name: str
    date_of_birth: date


NOT_FOUND_SUFFIX = "0000"  # the lenient simulator's "not in the register" IDs, e.g. 12340000
VerificationResult = IdentityCheck  # the port's answer type, under its historical name here
IdentityVerifier = IdentityRegistry


def names_agree(given: str, registered: str) -> bool:
    """Every word the customer gave appears in the registered name (order and extra names free)."""
    registered_words = set(normalize(registered).split())
    given_words = normalize(given).split()
    return bool(given_words) and all(w in registered_words for w in given_words)


@dataclass
class SimulatedIprs:
    """Answers from an in-memory register. IDs not registered are `not_found`, unless `lenient`,
    in which case any well-formed ID matches (the embedded default) except those ending in
    NOT_FOUND_SUFFIX, which stay unknown (to try the staff-review path without a register)."""

    records: dict[str, IdentityRecord] = field(default_factory=dict)
    lenient: bool = False
    calls: int = 0

    def register(self, record: IdentityRecord) -> None:
        self.records[record.id_number] = record

    async def verify(self, *, id_number: str, full_name: str, date_of_birth: date) -> VerificationResult:
        self.calls += 1
        reference = f"SIM-IPRS-{self.calls:06d}"
        record = self.records.get(id_number)
        if record is None:
            found = self.lenient and not id_number.endswith(NOT_FOUND_SUFFIX)
            return VerificationResult("matched" if found else "not_found", reference)
        mismatches = []
        if not names_agree(full_name, record.full_name):
            mismatches.append("name")
        if record.date_of_birth != date_of_birth:
            mismatches.append("date_of_birth")
        return VerificationResult("mismatch" if mismatches else "matched", reference, tuple(mismatches))


@dataclass
class UnavailableIprs:
    """No registry connection configured (production until a KYC provider is wired): every
    identity goes to staff review instead of being matched automatically."""

    async def verify(self, *, id_number: str, full_name: str, date_of_birth: date) -> VerificationResult:
        return VerificationResult("unavailable")
