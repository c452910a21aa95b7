"""Screening decisions over a SanctionsList (COMPLIANCE.md 5.3 thresholds):
exact ID or crypto address, or name >= 0.95 with a DOB match -> block;
name 0.85-0.95 -> alert; 0.75-0.85 -> review; below -> clear.
Every result carries its pieces so a case record explains the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from compliance.sanctions.index import NameHit
from compliance.sanctions.loader import SanctionsList
from compliance.sanctions.normalize import merge_variants, normalize, tokens
from compliance.sanctions.scoring import unmatched_index_tokens

BLOCK_SCORE = 0.95
ALERT_SCORE = 0.85
REVIEW_SCORE = 0.75
# A DOB given that contradicts every listed DOB weakens a name hit (watchman weighs DOB as a
# supporting piece of the entity score); it never strengthens one into a block on its own.
DOB_MISMATCH_PENALTY = 0.9


class Outcome(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"
    ALERT = "alert"
    BLOCK = "block"


_RANK = {Outcome.CLEAR: 0, Outcome.REVIEW: 1, Outcome.ALERT: 2, Outcome.BLOCK: 3}


@dataclass(frozen=True)
class Subject:
    """Who or what is screened. Any field may be empty."""

    name: str = ""
    date_of_birth: date | None = None
    id_number: str = ""
    id_country: str = "Kenya"
    address: str = ""  # a crypto address


@dataclass(frozen=True)
class MatchPiece:
    entity_key: str
    listed_name: str
    matched_name: str
    score: float
    outcome: Outcome
    reason: str  # name | name+dob | id | address
    programs: tuple[str, ...] = ()
    dob_match: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity_key,
            "listed_name": self.listed_name,
            "matched_name": self.matched_name,
            "score": round(self.score, 4),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "programs": list(self.programs),
            "dob_match": self.dob_match,
        }


@dataclass(frozen=True)
class ScreeningResult:
    outcome: Outcome
    score: float
    matches: list[MatchPiece] = field(default_factory=list)
    list_version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "score": round(self.score, 4),
            "list_version": self.list_version,
            "matches": [m.to_dict() for m in self.matches],
        }


def covers_listed_name(query: str, hit: NameHit) -> bool:
    """A block on name + DOB needs the customer's name to cover every listed token longer than two
    letters (titles and particles such as "dr", "al" may be missing): "Ali Hussein" born the same
    day as "HARB, Ali Hussein" is an alert for a person to judge, not an automatic block."""
    individual = hit.entity.entity_type == "individual"
    listed = tokens(normalize(hit.matched_name, individual=individual))
    for variant in merge_variants(tokens(normalize(query))):
        missing = unmatched_index_tokens(variant, listed)
        if all(len(tok) <= 2 for tok in missing):
            return True
    return False


def _name_outcome(hit: NameHit, dob: date | None, query: str) -> MatchPiece:
    listed = hit.entity.dates_of_birth
    matching = [d for d in listed if dob is not None and d.matches(dob.year, dob.month, dob.day)]
    dob_match = bool(matching)
    # Only a full listed date can make a block; a year (or range) match supports an alert.
    dob_exact = any(d.day is not None for d in matching)
    score = hit.score
    if dob is not None and listed and not dob_match:
        score *= DOB_MISMATCH_PENALTY
    if score < REVIEW_SCORE:
        outcome, reason = Outcome.CLEAR, "name, dob differs"
    elif score >= BLOCK_SCORE and dob_exact and covers_listed_name(query, hit):
        outcome, reason = Outcome.BLOCK, "name+dob"
    elif score >= ALERT_SCORE:
        outcome, reason = Outcome.ALERT, "name"
    else:
        outcome, reason = Outcome.REVIEW, "name"
    return MatchPiece(
        hit.entity.key,
        hit.entity.name,
        hit.matched_name,
        score,
        outcome,
        reason,
        tuple(hit.entity.programs),
        dob_match,
    )


def screen(lists: SanctionsList, subject: Subject) -> ScreeningResult:
    pieces: list[MatchPiece] = []
    index = lists.index
    if subject.address:
        for entity, crypto in index.lookup_address(subject.address):
            pieces.append(
                MatchPiece(
                    entity.key,
                    entity.name,
                    crypto.address,
                    1.0,
                    Outcome.BLOCK,
                    f"address:{crypto.ticker}",
                    tuple(entity.programs),
                )
            )
    if subject.id_number:
        for entity in index.lookup_id(subject.id_number):
            countries = {i.country.casefold() for i in entity.ids if i.country}
            if countries and subject.id_country.casefold() not in countries:
                continue
            pieces.append(
                MatchPiece(
                    entity.key,
                    entity.name,
                    subject.id_number,
                    1.0,
                    Outcome.BLOCK,
                    "id",
                    tuple(entity.programs),
                )
            )
    if subject.name:
        named = [
            _name_outcome(hit, subject.date_of_birth, subject.name) for hit in index.search(subject.name)
        ]
        pieces += [p for p in named if p.outcome is not Outcome.CLEAR]
    if not pieces:
        return ScreeningResult(Outcome.CLEAR, 0.0, [], lists.version)
    pieces.sort(key=lambda p: (_RANK[p.outcome], p.score), reverse=True)
    return ScreeningResult(pieces[0].outcome, pieces[0].score, pieces[:10], lists.version)
