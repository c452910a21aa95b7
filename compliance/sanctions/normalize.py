"""Name normalisation in the manner of moov-io/watchman (internal/prepare): reorder
"SURNAME, Given", strip company suffixes, lowercase, drop punctuation and diacritics, drop a few
stopwords, and offer token merges for short tokens ("AL QAIDA" ~ "ALQAIDA")."""

from __future__ import annotations

import re
import unicodedata

from compliance.sanctions.transliteration import canonical_token, canonicalize, is_abd_link, is_abd_prefix

_REORDER = re.compile(r",(?:\s+)?([\w'’\-\.\s]+)$")
_SUFFIX_WORDS = sorted(
    (
        tuple(suffix.split())
        for suffix in [
            "co",
            "d o o",
            "inc",
            "gmbh",
            "llc",
            "l l c",
            "llp",
            "ltd",
            "ltda",
            "sa de cv",
            "s a de c v",
            "limited",
            "corp",
            "plc",
        ]
    ),
    key=len,
    reverse=True,
)
_SEPARATORS = re.compile(r"[.,\-_/]")
STOPWORDS = frozenset({"the", "of", "and", "for"})

# First-letter phonetic classes (watchman phonetics.go): tokens are compared only within a class.
CLASSES = ("aeiouy", "bfpv", "cgjkqsxz", "dt", "l", "mn", "r", "hw")
_CLASS_OF = {ch: idx for idx, letters in enumerate(CLASSES) for ch in letters}


def phonetic_class(token: str) -> int:
    """The class of a token's first letter; digits and others get their own class (-1)."""
    return _CLASS_OF.get(token[:1], -1)


def reorder(name: str) -> str:
    """'AL-ZAWAHIRI, Ayman' -> 'Ayman AL-ZAWAHIRI' (only one comma, as watchman does)."""
    if name.count(",") != 1:
        return name
    match = _REORDER.search(name)
    if not match:
        return name
    return f"{match.group(1).strip()} {name[: match.start()].strip()}"


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", kept)


def normalize(name: str, *, individual: bool = True) -> str:
    """Lowercase ASCII-ish words separated by single spaces."""
    text = reorder(name) if individual else name
    text = strip_diacritics(text).lower()
    text = _SEPARATORS.sub(" ", text)
    text = "".join(ch for ch in text if ch.isalnum() or ch.isspace())
    return " ".join(_strip_company_suffixes(text.split()))


def _strip_company_suffixes(words: list[str]) -> list[str]:
    """Drop trailing company suffixes ("co ltd", "s a de c v") until none is left, on the
    normalised words, so that normalising a normalised name changes nothing. A name that is only
    suffixes is kept whole rather than emptied."""
    original = words
    stripped = True
    while stripped and words:
        stripped = False
        for suffix in _SUFFIX_WORDS:
            if len(words) >= len(suffix) and tuple(words[-len(suffix) :]) == suffix:
                words = words[: -len(suffix)]
                stripped = True
                break
    return words or original


def tokens(normalized: str) -> list[str]:
    kept = [t for t in normalized.split() if t not in STOPWORDS]
    return kept or normalized.split()


def _mergeable(token: str) -> bool:
    """Short enough to be half of a split word ("al", "jsc"); a single letter is an initial."""
    return 2 <= len(token) <= 3


def merge_variants(toks: list[str]) -> list[list[str]]:
    """The tokens as given, plus variants where each token of 2 or 3 characters is joined to its
    neighbour (watchman GenerateWordCombinations): ["al", "qaida"] -> [["al","qaida"], ["alqaida"]].
    Initials are never joined: "a zawahiri" is not "azawahiri"."""
    variants = [toks]
    if len(toks) < 2 or not any(_mergeable(t) for t in toks):
        return variants
    forward: list[str] = []
    for tok in toks:
        if forward and _mergeable(forward[-1]) and len(tok) > 1:
            forward[-1] += tok
        else:
            forward.append(tok)
    if forward != toks:
        variants.append(forward)
    backward: list[str] = []
    for tok in reversed(toks):
        if backward and _mergeable(backward[-1]) and len(tok) > 1:
            backward[-1] = tok + backward[-1]
        else:
            backward.append(tok)
    backward.reverse()
    if backward not in variants:
        variants.append(backward)
    return variants


def name_variants(name: str, *, individual: bool = True, spellings: bool = False) -> list[list[str]]:
    """The token lists a name is searched under: normalised, stopwords dropped, transliterations
    canonicalised (mohamed -> muhammad, abdul rahman -> abdrahman), and the short-token merges of
    `merge_variants` (themselves canonicalised: abu bakr -> abubakr); the first is the name itself.
    With `spellings` (listed names), also the name as spelled: a customer's slip in "Djamel" is one
    letter from "djamel", but its canonical "jamal" is not where a slip in it would land."""
    base = tokens(normalize(name, individual=individual))
    canonical = canonicalize(base)
    variants: list[list[str]] = []
    for variant in merge_variants(canonical) + _abd_joined(canonical):
        variant = [canonical_token(tok) for tok in variant]
        if variant not in variants:
            variants.append(variant)
    if spellings and base != canonical:
        variants += [v for v in merge_variants(base) if v not in variants]
    return variants


def _abd_joined(toks: list[str]) -> list[list[str]]:
    """An abd- token left separate (its root a spelling canonicalize does not know: "abdul
    raahman") joined to its root as one more variant: ["abdraahman"]."""
    joined: list[str] = []
    i = 0
    while i < len(toks):
        nxt = i + 1
        if nxt < len(toks) and is_abd_link(toks[nxt]) and nxt + 1 < len(toks):
            nxt += 1
        # "abdi" alone is a common Somali given name, not a separated prefix
        if (
            is_abd_prefix(toks[i])
            and toks[i] not in ("abdi", "cabdi")
            and nxt < len(toks)
            and len(toks[nxt]) >= 4
        ):
            joined.append("abd" + toks[nxt])
            i = nxt + 1
        else:
            joined.append(toks[i])
            i += 1
    return [joined] if joined != toks else []


def normalize_id(number: str) -> str:
    """ID and passport numbers compare on letters and digits only, uppercase."""
    return "".join(ch for ch in number.upper() if ch.isalnum())
