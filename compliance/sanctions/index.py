"""An in-memory screening index over every listed name and alias.

Blocking: index tokens are grouped by their first letter's phonetic class (watchman's
pre-filter); a query token is compared with rapidfuzz against its class only, and also meets every
listed token with the same phonetic key (a second candidate path for spellings Jaro-Winkler keeps
apart). Names are indexed and searched with transliterations canonicalised (mohamed -> muhammad), so
equivalent spellings are one token. A name becomes a candidate when it shares enough similar tokens
with the query; a query initial ("M. Zawahiri") never proposes candidates but counts against a listed
token with its letter. Only candidates get the full watchman name score. Crypto addresses are an
exact, case-insensitive dictionary lookup.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from compliance.sanctions.entities import CryptoAddress, ListedEntity
from compliance.sanctions.normalize import CLASSES, name_variants, normalize, normalize_id, tokens
from compliance.sanctions.phonetic import phonetic_key
from compliance.sanctions.scoring import (
    DIFFERENT_LETTER_PENALTY_WEIGHT,
    INITIAL_TOKEN_SCORE,
    TERM_COVERAGE_PENALTY,
    UNMATCHED_INDEX_TOKEN_WEIGHT,
    is_initial,
    name_score,
    token_score,
)
from compliance.sanctions.transliteration import canonical_token, initials_of
from compliance.sanctions.weights import TokenWeights

CANDIDATE_TOKEN_CUTOFF = 0.8
MIN_ID_LENGTH = 5
# A multi-token name scoring <= 0.90 is multiplied by 0.8 (so < 0.75): a candidate whose
# length-weighted best-token estimate is under this floor cannot reach review.
ESTIMATE_FLOOR_MULTI = 0.85
SIMILAR_CACHE_SIZE = 50_000
MAX_SCORED_CANDIDATES = 100
PRECOMPUTED_TOKENS = 400
SAME_LETTER_MIN_RATIO = 0.55
OTHER_LETTER_MIN_RATIO = 0.66
_CLASS_LETTERS = {ch: letters for letters in CLASSES for ch in letters}


@dataclass(frozen=True, slots=True)
class NameHit:
    entity: ListedEntity
    matched_name: str
    score: float
    alias: bool
    # The canonical tokens the score was computed on (query variant, listed variant).
    query_tokens: tuple[str, ...] = ()
    listed_tokens: tuple[str, ...] = ()


@dataclass(slots=True)
class _IndexedName:
    entity_idx: int
    display: str
    toks: tuple[str, ...]
    alias: bool


@dataclass
class SanctionsIndex:
    entities: list[ListedEntity]
    _names: list[_IndexedName] = field(default_factory=list)
    _postings: dict[str, list[int]] = field(default_factory=dict)
    _buckets: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    _addresses: dict[str, list[tuple[int, CryptoAddress]]] = field(default_factory=dict)
    _ids: dict[str, list[int]] = field(default_factory=dict)
    _second: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)
    _warm: dict[str, dict[str, float]] = field(default_factory=dict)
    _similar_cache: dict[str, dict[str, float]] = field(default_factory=dict)
    _by_key: dict[str, list[str]] = field(default_factory=dict)
    _by_initial: dict[str, set[int]] = field(default_factory=dict)
    _spelling_of: dict[str, str] = field(default_factory=dict)
    _spelled: dict[str, list[str]] = field(default_factory=dict)
    weights: TokenWeights = field(default_factory=lambda: TokenWeights({}, 0))

    @classmethod
    def build(cls, entities: Iterable[ListedEntity]) -> SanctionsIndex:
        index = cls(entities=list(entities))
        postings: dict[str, list[int]] = defaultdict(list)
        addresses: dict[str, list[tuple[int, CryptoAddress]]] = defaultdict(list)
        ids: dict[str, list[int]] = defaultdict(list)
        # document frequency of canonical tokens, one count per listed name or alias
        frequency: dict[str, int] = defaultdict(int)
        counted: set[tuple[int, str]] = set()
        # listed spellings of canonical tokens (djamel -> jamal): found by blocking like tokens, so a
        # slip in the spelling ("djavmel") reaches its canonical token
        spellings: dict[str, str] = {}
        for idx, entity in enumerate(index.entities):
            individual = entity.entity_type == "individual"
            seen: set[tuple[str, ...]] = set()
            names = [] if entity.entity_type == "address" else [(False, entity.name)]
            for alias, display in names + [(True, a) for a in entity.aliases]:
                variants = name_variants(display, individual=individual)
                for tok in tokens(normalize(display, individual=individual)):
                    if (canonical := canonical_token(tok)) != tok:
                        spellings[tok] = canonical
                if (display_key := (idx, display)) not in counted:
                    counted.add(display_key)
                    for tok in set(variants[0]):
                        frequency[tok] += 1
                for variant in variants:
                    key = tuple(variant)
                    if not key or key in seen:
                        continue
                    seen.add(key)
                    name_id = len(index._names)
                    index._names.append(_IndexedName(idx, display, key, alias))
                    for tok in set(key):
                        postings[tok].append(name_id)
            for crypto in entity.crypto:
                addresses[crypto.address.casefold()].append((idx, crypto))
            for listed_id in entity.ids:
                number = normalize_id(listed_id.number)
                if len(number) >= MIN_ID_LENGTH:
                    ids[number].append(idx)
        buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
        second: dict[tuple[str, str, int], list[str]] = defaultdict(list)
        by_key: dict[str, list[str]] = defaultdict(list)
        spelled: dict[str, list[str]] = defaultdict(list)
        for tok, canonical in spellings.items():
            if canonical in postings and tok not in postings:
                spelled[canonical].append(tok)
        index._spelling_of = {tok: canonical for canonical, toks in spelled.items() for tok in toks}
        index._spelled = dict(spelled)
        for tok in [*postings, *index._spelling_of]:
            buckets[(tok[0], len(tok))].append(tok)
            second[(tok[0], tok[1:2], len(tok))].append(tok)
            if sound := phonetic_key(tok):
                by_key[sound].append(tok)
        index._by_key = dict(by_key)
        by_initial: dict[str, set[int]] = defaultdict(set)
        for name_id, indexed in enumerate(index._names):
            for tok in indexed.toks:
                if len(tok) > 1:
                    for letter in initials_of(tok):
                        by_initial[letter].add(name_id)
        index._by_initial = dict(by_initial)
        index.weights = TokenWeights(dict(frequency), len(counted))
        index._postings = dict(postings)
        index._buckets = dict(buckets)
        index._second = dict(second)
        index._addresses = dict(addresses)
        index._ids = dict(ids)
        # Precompute the neighbours of the most frequent listed tokens (al, mohammed, ali, abu ...):
        # they recur in customers' names, and they are the most expensive to look up.
        frequent = sorted(postings, key=lambda t: len(postings[t]), reverse=True)[:PRECOMPUTED_TOKENS]
        index._warm = {tok: index._compute_similar(tok) for tok in frequent}
        return index

    @property
    def name_count(self) -> int:
        """Distinct names and aliases indexed (token-merge variants not counted)."""
        return len({(n.entity_idx, n.display) for n in self._names})

    @property
    def address_count(self) -> int:
        return len(self._addresses)

    def lookup_address(self, address: str) -> list[tuple[ListedEntity, CryptoAddress]]:
        found = self._addresses.get(address.strip().casefold(), [])
        return [(self.entities[idx], crypto) for idx, crypto in found]

    def lookup_id(self, number: str) -> list[ListedEntity]:
        key = normalize_id(number)
        if len(key) < MIN_ID_LENGTH:
            return []
        return [self.entities[idx] for idx in self._ids.get(key, [])]

    def search(self, name: str, *, min_score: float = 0.75, limit: int = 10) -> list[NameHit]:
        """Listed parties whose best name or alias scores at least `min_score`, best first."""
        best: dict[int, NameHit] = {}
        similar: dict[str, dict[str, float]] = {}
        for variant in name_variants(name):
            for hit in self._search_tokens(variant, min_score, similar):
                current = best.get(hit.entity_idx_key)
                if current is None or hit.score > current.score:
                    best[hit.entity_idx_key] = hit.to_name_hit(self.entities)
        hits = sorted(best.values(), key=lambda h: h.score, reverse=True)
        return hits[:limit]

    def _similar(self, qtok: str) -> dict[str, float]:
        """Index tokens similar to `qtok` (same phonetic class, watchman token score >= cutoff).
        Memoised per index: customer names repeat tokens heavily (Mohamed, Wanjiru, Otieno)."""
        cached = self._warm.get(qtok) or self._similar_cache.get(qtok)
        if cached is not None:
            return cached
        if len(self._similar_cache) >= SIMILAR_CACHE_SIZE:
            self._similar_cache.clear()
        self._similar_cache[qtok] = found = self._compute_similar(qtok)
        return found

    def _compute_similar(self, qtok: str) -> dict[str, float]:
        """Blocking by (first letter, length). A same-letter token scores at most
        (0.8 + 0.2r)(0.7 + 0.3r) at length ratio r, so r < SAME_LETTER_MIN_RATIO cannot reach the
        cutoff; a different letter of the same phonetic class gets no Winkler boost and a x0.9
        penalty, so it needs raw Jaro >= cutoff / 0.9 and a closer length; those are only sought
        among tokens sharing the second letter (ebrahim ~ ibrahim, qaddafi ~ gaddafi)."""
        length = len(qtok)
        same: list[str] = []
        other: list[str] = []
        letters = _CLASS_LETTERS.get(qtok[0], qtok[0])
        shortest = max(1, int(length * SAME_LETTER_MIN_RATIO))
        for size in range(shortest, int(length / SAME_LETTER_MIN_RATIO) + 2):
            same += self._buckets.get((qtok[0], size), [])
            if OTHER_LETTER_MIN_RATIO * size <= length <= size / OTHER_LETTER_MIN_RATIO:
                for letter in letters:
                    if letter != qtok[0]:
                        other += self._second.get((letter, qtok[1:2], size), [])
        found = process.extract(
            qtok, same, scorer=JaroWinkler.similarity, score_cutoff=CANDIDATE_TOKEN_CUTOFF, limit=None
        )
        if other:
            found += process.extract(
                qtok,
                other,
                scorer=JaroWinkler.similarity,
                score_cutoff=CANDIDATE_TOKEN_CUTOFF / DIFFERENT_LETTER_PENALTY_WEIGHT,
                limit=None,
            )
        near = [itok for itok, _raw, _pos in found]
        if key := phonetic_key(qtok):
            near += self._by_key.get(key, ())
        sims: dict[str, float] = {}
        for itok in near:
            score = token_score(qtok, itok)
            if score >= CANDIDATE_TOKEN_CUTOFF:
                itok = self._spelling_of.get(itok, itok)
                if score > sims.get(itok, 0.0):
                    sims[itok] = score
        return sims

    def token_similarity(self, qtok: str, itok: str) -> float:
        """token_score against an indexed token or any listed spelling of it, whichever is nearer."""
        score = token_score(qtok, itok)
        for spelling in self._spelled.get(itok, ()):
            score = max(score, token_score(qtok, spelling))
        return score

    def _single_token_hits(self, qtok: str, table: dict[str, float], min_score: float) -> list[_RawHit]:
        """name_score for a one-token query in closed form: the best token pair, the unmatched
        index-token penalty, and the coverage penalty (watchman's arithmetic, no pairing loop)."""
        best: dict[int, tuple[float, str]] = {}
        for itok, score in table.items():
            for name_id in self._postings[itok]:
                if name_id not in best or score > best[name_id][0]:
                    best[name_id] = (score, itok)
        hits: list[_RawHit] = []
        for name_id, (score, itok) in best.items():
            indexed = self._names[name_id]
            total = sum(len(t) for t in indexed.toks)
            value = score * (1 - UNMATCHED_INDEX_TOKEN_WEIGHT * (total - len(itok)) / total)
            if len(indexed.toks) > 1 / 0.3 or not any(qtok in t for t in indexed.toks):
                value *= TERM_COVERAGE_PENALTY
            if value >= min_score:
                hits.append(
                    _RawHit(indexed.entity_idx, indexed.display, value, indexed.alias, (qtok,), indexed.toks)
                )
        return hits

    @staticmethod
    def _generators(query: list[str], volumes: list[int]) -> list[int]:
        """Query tokens to draw candidates from. A multi-token candidate must reach the estimate
        floor, so the query tokens it leaves unmatched weigh less than (1 - floor) of the query:
        any token set heavier than that contains a matched token. Pick the cheapest such set.
        Initials never generate (every listed token with their letter would be a candidate); a
        candidate must match a full query token anyway."""
        full = [qi for qi, q in enumerate(query) if not is_initial(q)]
        if len(full) < 2:
            return full
        total = sum(len(q) for q in query)
        limit = (1 - ESTIMATE_FLOOR_MULTI) * total
        order = sorted(full, key=lambda qi: volumes[qi] / len(query[qi]))
        singles = [qi for qi in order if len(query[qi]) > limit]
        if singles:
            return [min(singles, key=lambda qi: volumes[qi])]
        chosen: list[int] = []
        weight = 0
        for qi in order:
            chosen.append(qi)
            weight += len(query[qi])
            if weight > limit:
                break
        return chosen

    def _search_tokens(
        self, query: list[str], min_score: float, similar: dict[str, dict[str, float]]
    ) -> list[_RawHit]:
        """Candidates must share similar tokens with at least min(2, len(query)) query tokens and
        pass a cheap length-weighted estimate before the full watchman name score."""
        if not query:
            return []
        for qtok in query:
            if qtok not in similar:
                similar[qtok] = {} if is_initial(qtok) else self._similar(qtok)
        sims = [similar[q] for q in query]
        if len(query) == 1:
            if is_initial(query[0]):
                return []
            return self._single_token_hits(query[0], sims[0], min_score)
        volumes = [sum(len(self._postings[t]) for t in s) for s in sims]
        generators = self._generators(query, volumes)
        # best[qi][name_id]: the best token score of query token qi within that name.
        best: list[dict[int, float]] = [{} for _ in query]
        for qi in generators:
            found = best[qi]
            for itok, score in sims[qi].items():
                for name_id in self._postings[itok]:
                    if score > found.get(name_id, 0.0):
                        found[name_id] = score
        candidates = set().union(*(best[qi].keys() for qi in generators))
        initials = [q for q in query if is_initial(q)]
        if initials and len(query) - len(initials) < 2:
            # one full token: a candidate must also match an initial to share two tokens
            candidates &= set().union(*(self._by_initial.get(q, set()) for q in initials))
        for qi in range(len(query)):
            if qi in generators:
                continue
            found, table = best[qi], sims[qi]
            if is_initial(query[qi]):
                with_letter = self._by_initial.get(query[qi], set())
                found.update(dict.fromkeys(candidates & with_letter, INITIAL_TOKEN_SCORE))
                continue
            if volumes[qi] <= 3 * len(candidates):  # cheaper to walk this token's postings
                for itok, score in table.items():
                    for name_id in self._postings[itok]:
                        if name_id in candidates and score > found.get(name_id, 0.0):
                            found[name_id] = score
                continue
            for name_id in candidates:
                top = max((table.get(t, 0.0) for t in self._names[name_id].toks), default=0.0)
                if top:
                    found[name_id] = top
        need = min(2, len(query))
        weights = [len(q) for q in query]
        total_weight = sum(weights)
        floor = ESTIMATE_FLOOR_MULTI if len(query) >= 2 else min_score
        cache: dict[tuple[str, str], float] = {}
        for qtok, table in zip(query, sims, strict=True):
            for itok, score in table.items():
                cache[(qtok, itok)] = score

        def cached(q: str, i: str) -> float:
            key = (q, i)
            if key not in cache:
                cache[key] = self.token_similarity(q, i)
            return cache[key]

        passing: list[tuple[float, int]] = []
        for name_id in candidates:
            tops = [b.get(name_id, 0.0) for b in best]
            if sum(1 for t in tops if t) < need:
                continue
            estimate = sum(t * w for t, w in zip(tops, weights, strict=True))
            if estimate >= floor * total_weight:
                passing.append((estimate, name_id))
        if len(passing) > MAX_SCORED_CANDIDATES:
            # A query of common tokens and initials ("A. Abdullah") is near a thousand listed names,
            # all alike to it; score the likeliest, best estimate first, to bound the time per name.
            passing = heapq.nlargest(MAX_SCORED_CANDIDATES, passing)
        hits: list[_RawHit] = []
        for _estimate, name_id in passing:
            indexed = self._names[name_id]
            score = name_score(query, indexed.toks, cached)
            if score >= min_score:
                hits.append(
                    _RawHit(
                        indexed.entity_idx, indexed.display, score, indexed.alias, tuple(query), indexed.toks
                    )
                )
        return hits


@dataclass(frozen=True, slots=True)
class _RawHit:
    entity_idx_key: int
    display: str
    score: float
    alias: bool
    query_tokens: tuple[str, ...]
    listed_tokens: tuple[str, ...]

    def to_name_hit(self, entities: list[ListedEntity]) -> NameHit:
        return NameHit(
            entities[self.entity_idx_key],
            self.display,
            self.score,
            self.alias,
            self.query_tokens,
            self.listed_tokens,
        )
