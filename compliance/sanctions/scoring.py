"""Token and name scores as moov-io/watchman computes them (internal/stringscore, pkg/search
similarity_fuzzy.go), with rapidfuzz's Jaro-Winkler (prefix 4, boost above Jaro 0.7)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapidfuzz.distance import JaroWinkler

from compliance.sanctions.normalize import phonetic_class

LENGTH_DIFFERENCE_CUTOFF_FACTOR = 0.9
LENGTH_DIFFERENCE_PENALTY_WEIGHT = 0.3
DIFFERENT_LETTER_PENALTY_WEIGHT = 0.9
UNMATCHED_INDEX_TOKEN_WEIGHT = 0.15
TERM_MATCH_THRESHOLD = 0.90
SHORT_QUERY_PENALTY = 0.8
TERM_COVERAGE_PENALTY = 0.85

TokenScorer = Callable[[str, str], float]


def token_score(query: str, indexed: str) -> float:
    """customJaroWinkler: JW, a length-difference penalty, a different-first-letter penalty,
    and zero across phonetic classes (the watchman pre-filter)."""
    if not query or not indexed:
        return 0.0
    if query[0] != indexed[0] and phonetic_class(query) != phonetic_class(indexed):
        return 0.0
    score = JaroWinkler.similarity(query, indexed)
    shorter, longer = sorted((len(query), len(indexed)))
    ratio = shorter / longer
    if ratio < LENGTH_DIFFERENCE_CUTOFF_FACTOR:
        score *= 1 - (1 - ratio) * LENGTH_DIFFERENCE_PENALTY_WEIGHT
    if query[0] != indexed[0]:
        score *= DIFFERENT_LETTER_PENALTY_WEIGHT
    return score


def best_pairs(query: Sequence[str], indexed: Sequence[str], scorer: TokenScorer = token_score) -> float:
    """BestPairsJaroWinkler: greedy one-to-one token pairing by descending score, averaged with
    weights len(q)+len(i) over all query tokens and the matched index tokens, then a small penalty
    for index tokens left unmatched."""
    if not query or not indexed:
        return 0.0
    scored = sorted(
        ((scorer(q, i), qi, ii) for qi, q in enumerate(query) for ii, i in enumerate(indexed)),
        reverse=True,
    )
    used_q: set[int] = set()
    used_i: set[int] = set()
    total = 0.0
    matched_index_len = 0
    for score, qi, ii in scored:
        if qi in used_q or ii in used_i:
            continue
        used_q.add(qi)
        used_i.add(ii)
        total += score * (len(query[qi]) + len(indexed[ii]))
        matched_index_len += len(indexed[ii])
        if len(used_q) == len(query) or len(used_i) == len(indexed):
            break
    query_len = sum(len(t) for t in query)
    index_len = sum(len(t) for t in indexed)
    average = total / (query_len + matched_index_len)
    unmatched = (index_len - matched_index_len) / index_len
    return average * (1 - UNMATCHED_INDEX_TOKEN_WEIGHT * unmatched)


def unmatched_index_tokens(
    query: Sequence[str], indexed: Sequence[str], scorer: TokenScorer = token_score, floor: float = 0.85
) -> list[str]:
    """Index tokens the greedy pairing leaves unmatched (or pairs below `floor`)."""
    scored = sorted(
        ((scorer(q, i), qi, ii) for qi, q in enumerate(query) for ii, i in enumerate(indexed)),
        reverse=True,
    )
    used_q: set[int] = set()
    matched: set[int] = set()
    for score, qi, ii in scored:
        if qi in used_q or ii in matched or score < floor:
            continue
        used_q.add(qi)
        matched.add(ii)
    return [tok for ii, tok in enumerate(indexed) if ii not in matched]


def name_score(query: Sequence[str], indexed: Sequence[str], scorer: TokenScorer = token_score) -> float:
    """The name piece: best pairs, then watchman's two structural penalties."""
    score = best_pairs(query, indexed, scorer)
    if score <= TERM_MATCH_THRESHOLD and len(query) >= 2:
        score *= SHORT_QUERY_PENALTY
    ratio = len(query) / len(indexed)
    covered = sum(1 for q in query if any(q in i for i in indexed))
    if covered < 0.4 * len(query) or not 0.3 <= ratio <= 3:
        score *= TERM_COVERAGE_PENALTY
    return score
