"""Screening decisions over a SanctionsList (COMPLIANCE.md 5.3 thresholds):
exact ID or crypto address, or name >= 0.95 with a DOB match -> block;
name 0.85-0.95 -> alert; 0.75-0.85 -> review; below -> clear.

A name score says how alike two names are, not how likely they are the same person: "Omar Mohamed"
is spelled exactly like a listed "OMAR, Mohammed", and so are thousands of Kenyans. So a name match
is weighed by its evidence: the information of the token pairs it rests on (rare tokens count,
tokens common in the lists or in Kenya count little: compliance.sanctions.weights), plus secondary
evidence (a matching DOB or nationality). The score is capped at evidence_cap(evidence), which never
drops a match below review but keeps a match on common tokens alone out of alert. Secondary
evidence also moves the capped score: a matching DOB raises it; a contradicting DOB, nationality or
same-country ID lowers it (so "Mohamed Ali" born in 1990 clears against a listed one born in 1965).
Every result carries its pieces so a case record explains the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from compliance.sanctions.entities import ListedDate, ListedEntity
from compliance.sanctions.index import NameHit
from compliance.sanctions.loader import SanctionsList
from compliance.sanctions.normalize import name_variants, normalize_id
from compliance.sanctions.scoring import is_initial, matched_pairs, unmatched_index_tokens
from compliance.sanctions.weights import TokenWeights

BLOCK_SCORE = 0.95
ALERT_SCORE = 0.85
REVIEW_SCORE = 0.75
# A DOB given that contradicts every listed DOB weakens a name hit (watchman weighs DOB as a
# supporting piece of the entity score); it never strengthens one into a block on its own.
DOB_MISMATCH_PENALTY = 0.9
DOB_MATCH_BONUS = 0.03
# A listed nationality (or address country) other than the customer's: weaker, people move.
NATIONALITY_MISMATCH_PENALTY = 0.95
# The customer's ID differs from every listed ID of the same issuing country.
ID_MISMATCH_PENALTY = 0.9
# Evidence (nats) at which a name match is no longer capped; the cap rises linearly from review.
FULL_EVIDENCE = 16.0
DOB_EVIDENCE = 10.0  # a full listed date of birth matches
DOB_MONTH_EVIDENCE = 7.0  # a listed month and year
DOB_YEAR_EVIDENCE = 4.0  # a listed year; a range of years counts this divided by its length
NATIONALITY_EVIDENCE = 3.0
# An initial tells us one letter of a name, whatever the name's own information.
INITIAL_EVIDENCE = 1.5


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
    nationality: str = ""  # a country name as the lists write it ("Kenya"); secondary evidence


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
    name_score: float = 0.0  # before evidence and secondary evidence
    evidence: float = 0.0
    notes: tuple[str, ...] = ()  # what moved the score: "dob differs", "nationality differs", ...

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
            "name_score": round(self.name_score, 4),
            "evidence": round(self.evidence, 2),
            "notes": list(self.notes),
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
    listed_variants = name_variants(hit.matched_name, individual=individual, spellings=True)
    for variant in name_variants(query):
        if any(is_initial(tok) for tok in variant):
            continue  # an initial is a lead, never enough to block
        for listed in listed_variants:
            missing = unmatched_index_tokens(variant, listed)
            if all(len(tok) <= 2 for tok in missing):
                return True
    return False


def name_evidence(hit: NameHit, weights: TokenWeights) -> float:
    """The information of the token pairs a name match rests on, each pair counted by how close it
    is (exact 1, a 0.9 spelling or phonetic match 0.5, 0.8 nothing). A pair says no more than its
    commoner side: a customer's common "Salim" near a listed rare "Salimi" is weak evidence."""
    total = 0.0
    for score, qtok, itok in matched_pairs(hit.query_tokens, hit.listed_tokens):
        closeness = min(1.0, (score - 0.8) / 0.2)
        if is_initial(qtok):
            information = min(weights.information(itok), INITIAL_EVIDENCE)
        else:
            information = min(weights.information(itok), weights.information(qtok))
        total += closeness * information
    return total


def _dob_evidence(listed: ListedDate) -> float:
    if listed.to_year is not None:
        return DOB_YEAR_EVIDENCE / max(1, listed.to_year - listed.year + 1)
    if listed.day is not None:
        return DOB_EVIDENCE
    return DOB_MONTH_EVIDENCE if listed.month is not None else DOB_YEAR_EVIDENCE


def evidence_cap(evidence: float) -> float:
    return REVIEW_SCORE + (1 - REVIEW_SCORE) * min(1.0, evidence / FULL_EVIDENCE)


def _id_contradicts(entity: ListedEntity, subject: Subject) -> bool:
    """The customer's ID number differs from every listed ID issued by the same country."""
    if not subject.id_number:
        return False
    country = subject.id_country.casefold()
    same_country = [i for i in entity.ids if i.country and i.country.casefold() == country]
    number = normalize_id(subject.id_number)
    return bool(same_country) and all(normalize_id(i.number) != number for i in same_country)


def _name_outcome(hit: NameHit, subject: Subject, weights: TokenWeights) -> MatchPiece:
    dob = subject.date_of_birth
    listed = hit.entity.dates_of_birth
    matching = [d for d in listed if dob is not None and d.matches(dob.year, dob.month, dob.day)]
    dob_match = bool(matching)
    # Only a full listed date can make a block; a year (or range) match supports an alert.
    dob_exact = any(d.day is not None for d in matching)
    notes: list[str] = []
    # What supports the match caps the name score; what contradicts it lowers the capped score, so
    # a common name with a different DOB falls below review instead of resting on the cap.
    countries = {c.casefold() for c in hit.entity.countries}
    same_country = bool(subject.nationality) and subject.nationality.casefold() in countries
    evidence = name_evidence(hit, weights)
    evidence += max((_dob_evidence(d) for d in matching), default=0.0)
    evidence += NATIONALITY_EVIDENCE if same_country else 0.0
    score = hit.score
    if score > (cap := evidence_cap(evidence)):
        score = cap
        notes.append("capped: the match rests on common or few tokens")
    if dob_match:
        score = min(1.0, score + DOB_MATCH_BONUS)
    elif dob is not None and listed:
        score *= DOB_MISMATCH_PENALTY
        notes.append("dob differs")
    if subject.nationality and countries and not same_country:
        score *= NATIONALITY_MISMATCH_PENALTY
        notes.append("nationality differs")
    if _id_contradicts(hit.entity, subject):
        score *= ID_MISMATCH_PENALTY
        notes.append("id differs")
    if score < REVIEW_SCORE:
        outcome, reason = Outcome.CLEAR, "name, dob differs"
    elif score >= BLOCK_SCORE and dob_exact and covers_listed_name(subject.name, hit):
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
        hit.score,
        evidence,
        tuple(notes),
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
        named = [_name_outcome(hit, subject, index.weights) for hit in index.search(subject.name)]
        pieces += [p for p in named if p.outcome is not Outcome.CLEAR]
    if not pieces:
        return ScreeningResult(Outcome.CLEAR, 0.0, [], lists.version)
    pieces.sort(key=lambda p: (_RANK[p.outcome], p.score), reverse=True)
    return ScreeningResult(pieces[0].outcome, pieces[0].score, pieces[:10], lists.version)
