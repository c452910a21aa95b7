"""How much a token says about who someone is, from how often it occurs.

A match on "muhammad" or "hasan" (thousands of listed names, and half of Coastal and North-Eastern
Kenya) says little; a match on "zawahiri" says a lot. A token's information is its inverse document
frequency over the listed names, capped for names common in Kenya (a corpus shipped with this
package, data/kenyan_names.tsv: given and family names across communities). Screening weighs the
tokens a name match rests on by this information (compliance.sanctions.screening).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from compliance.sanctions.normalize import name_variants
from compliance.sanctions.transliteration import canonical_token

CORPUS_FILE = "kenyan_names.tsv"
# Information (nats) a token common in Kenya is worth at most: about a 1-in-7 name.
COMMON_NAME_INFORMATION = 2.0
# A listed token occurring once is worth log(N); never count a token as worth less than this.
MIN_INFORMATION = 0.5
CACHE_SIZE = 100_000
# Frequencies are measured against at least this many names, so that a small list (a test's, or a
# single-program extract) does not make every token look common.
MIN_POPULATION = 20_000


@cache
def kenyan_names() -> dict[str, frozenset[str]]:
    """Canonical token -> the communities it is common in, from the shipped corpus."""
    text = resources.files("compliance.sanctions").joinpath("data", CORPUS_FILE).read_text(encoding="utf-8")
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("name\t"):
            continue
        name, _tab, community = line.partition("\t")
        for variant in name_variants(name)[:1]:
            for tok in variant:
                found.setdefault(tok, set()).add(community.strip())
    return {tok: frozenset(communities) for tok, communities in found.items()}


@dataclass
class TokenWeights:
    """Information per (canonical) token: log((names + 1) / (names containing it + 1)) with names
    at least MIN_POPULATION, at most
    COMMON_NAME_INFORMATION for tokens common in Kenya, at least MIN_INFORMATION."""

    document_frequency: Mapping[str, int]
    names: int
    common: frozenset[str] = field(default_factory=lambda: frozenset(kenyan_names()))

    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def information(self, token: str) -> float:
        """Of the token's canonical spelling: "mohammed" is as common as "muhammad"."""
        if (cached := self._cache.get(token)) is not None:
            return cached
        value = self._own_information(canonical_token(token))
        # A merge variant ("husayn ali" -> "husaynali") is rare as a token but says no more than
        # its parts do.
        for cut in range(2, len(token) - 1):
            head, tail = token[:cut], token[cut:]
            if self._known(head) and self._known(tail):
                parts = self._own_information(canonical_token(head)) + self._own_information(
                    canonical_token(tail)
                )
                value = min(value, parts)
        value = max(value, MIN_INFORMATION)
        if len(self._cache) < CACHE_SIZE:
            self._cache[token] = value
        return value

    def _known(self, token: str) -> bool:
        token = canonical_token(token)
        return token in self.common or token in self.document_frequency

    def _own_information(self, token: str) -> float:
        df = self.document_frequency.get(token, 0)
        value = math.log((max(self.names, MIN_POPULATION) + 1) / (df + 1))
        if token in self.common:
            value = min(value, COMMON_NAME_INFORMATION)
        return value

    def is_common(self, token: str) -> bool:
        return token in self.common
