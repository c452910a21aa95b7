"""Token and name scores as moov-io/watchman computes them (internal/stringscore, pkg/search
similarity_fuzzy.go), with rapidfuzz's Jaro-Winkler (prefix 4, boost above Jaro 0.7), plus two
token rules of our own: a query initial matches a listed name with that first letter, and tokens
with the same phonetic key score at least PHONETIC_TOKEN_SCORE."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapidfuzz.distance import JaroWinkler

from compliance.sanctions.normalize import phonetic_class
from compliance.sanctions.phonetic import MIN_TOKEN_LENGTH as PHONETIC_MIN_LENGTH
from compliance.sanctions.phonetic import phonetic_key
from compliance.sanctions.transliteration import initials_of

LENGTH_DIFFERENCE_CUTOFF_FACTOR = 0.9
LENGTH_DIFFERENCE_PENALTY_WEIGHT = 0.3
DIFFERENT_LETTER_PENALTY_WEIGHT = 0.9
UNMATCHED_INDEX_TOKEN_WEIGHT = 0.15
TERM_MATCH_THRESHOLD = 0.90
SHORT_QUERY_PENALTY = 0.8
TERM_COVERAGE_PENALTY = 0.85
# A query initial ("M. Zawahiri") against a listed token it abbreviates: about a one-edit match.
INITIAL_TOKEN_SCORE = 0.9
# Same Metaphone key (qasim ~ kassim, zawahry ~ zawahiri): as good as a close spelling, not exact.
PHONETIC_TOKEN_SCORE = 0.9
# Sound-alike spellings are never this far apart in Jaro-Winkler (chabab ~ shabaab is 0.73): below
# it, the keys are not worth looking up.
PHONETIC_PLAUSIBLE = 0.5

TokenScorer = Callable[[str, str], float]


def is_initial(token: str) -> bool:
    return len(token) == 1 and token.isalpha()


def token_score(query: str, indexed: str) -> float:
    """The best of: customJaroWinkler (JW, a length-difference penalty, a different-first-letter
    penalty, zero across phonetic classes: the watchman pre-filter), a query initial against a
    listed token starting with it, and equal phonetic keys. (Called a hundred thousand times a
    second: written for speed.)"""
    if not query or not indexed:
        return 0.0
    q_len, i_len = len(query), len(indexed)
    if q_len == 1 and i_len > 1 and query.isalpha():
        return INITIAL_TOKEN_SCORE if query in initials_of(indexed) else 0.0
    ratio = q_len / i_len if q_len < i_len else i_len / q_len
    length_factor = (
        1 - (1 - ratio) * LENGTH_DIFFERENCE_PENALTY_WEIGHT if ratio < LENGTH_DIFFERENCE_CUTOFF_FACTOR else 1.0
    )
    if query[0] == indexed[0]:
        score = JaroWinkler.similarity(query, indexed) * length_factor
    elif phonetic_class(query) != phonetic_class(indexed):
        return 0.0  # the watchman pre-filter holds for sounds too
    else:
        score = JaroWinkler.similarity(query, indexed) * length_factor * DIFFERENT_LETTER_PENALTY_WEIGHT
    if (
        PHONETIC_PLAUSIBLE <= score < PHONETIC_TOKEN_SCORE
        and q_len >= PHONETIC_MIN_LENGTH
        and i_len >= PHONETIC_MIN_LENGTH
        and (key := phonetic_key(query))
        and key == phonetic_key(indexed)
    ):
        # the same length penalty as a spelling match: abdi and abbatay share a key, not a name
        return max(score, PHONETIC_TOKEN_SCORE * length_factor)
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


def matched_pairs(
    query: Sequence[str], indexed: Sequence[str], scorer: TokenScorer = token_score, floor: float = 0.8
) -> list[tuple[float, str, str]]:
    """The greedy one-to-one pairing best_pairs makes, as (score, query token, index token), keeping
    pairs scoring at least `floor`: what a match rests on, for weighing its evidence."""
    scored = sorted(
        ((scorer(q, i), qi, ii) for qi, q in enumerate(query) for ii, i in enumerate(indexed)),
        reverse=True,
    )
    used_q: set[int] = set()
    used_i: set[int] = set()
    pairs: list[tuple[float, str, str]] = []
    for score, qi, ii in scored:
        if score < floor:
            break
        if qi in used_q or ii in used_i:
            continue
        used_q.add(qi)
        used_i.add(ii)
        pairs.append((score, query[qi], indexed[ii]))
    return pairs


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
