"""A phonetic key per token (Metaphone, from jellyfish), the second way a query token finds listed
tokens: spellings Jaro-Winkler keeps apart and no equivalence class lists (qasim ~ kassim,
sulaymani ~ suleimani, zawahry ~ zawahiri) share a key. A leading vowel is written "A", as Double
Metaphone does, so Omar and Umar, Osama and Usama agree."""

from __future__ import annotations

from functools import lru_cache

import jellyfish

# Keys of short tokens collide too often to propose candidates (ali, aly, ally, alla, ...).
MIN_TOKEN_LENGTH = 4
MIN_KEY_LENGTH = 3
_VOWELS = frozenset("AEIOU")


@lru_cache(maxsize=200_000)
def phonetic_key(token: str) -> str:
    """The token's key, or "" when the token is too short or not alphabetic to have a useful one."""
    if len(token) < MIN_TOKEN_LENGTH or not token.isalpha() or not token.isascii():
        return ""
    key = jellyfish.metaphone(token).replace(" ", "")
    if key[:1] in _VOWELS:
        key = "A" + key[1:]
    return key if len(key) >= MIN_KEY_LENGTH else ""
