"""A labelled set for measuring screening quality, generated deterministically from the loaded lists.

Positives are listed individuals (OFAC SDN and UN primary names) written the way customers and
clerks write them: a middle name dropped, a transliteration (a spelling from the equivalence classes,
or a rule-based respelling the classes do not know: ou/u, ee/i, kh/k, q/k, doubled letters, ...), the
first given name as an initial, two typing edits. Each positive is labelled with the entity it must
find. Negatives are common Kenyan names across communities (the shipped corpus), combined the way
each community names people (Somali: own, father's and grandfather's names; Coastal: given name
and father's name; others: given, sometimes a second, and family name).

Recall at review: the share of positives whose entity is among the matches at review or above.
False positives at alert: the share of negatives screened alert or block.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from compliance.sanctions.entities import ListedEntity
from compliance.sanctions.loader import SanctionsList
from compliance.sanctions.normalize import normalize, tokens
from compliance.sanctions.screening import Outcome, Subject, screen
from compliance.sanctions.transliteration import CLASSES, is_abd_link, is_abd_prefix
from compliance.sanctions.weights import CORPUS_FILE, kenyan_names

PERTURBATIONS = ("drop_middle", "transliteration", "initial", "two_edits")
FLAGGED = (Outcome.REVIEW, Outcome.ALERT, Outcome.BLOCK)
ALERTED = (Outcome.ALERT, Outcome.BLOCK)
# Respellings seen across Arabic, Somali and Swahili romanisations (applied once, to one token).
RESPELLINGS = (
    ("ou", "u"),
    ("u", "ou"),
    ("ee", "i"),
    ("ei", "ai"),
    ("ai", "ei"),
    ("i", "ee"),
    ("y", "i"),
    ("i", "y"),
    ("e", "i"),
    ("kh", "k"),
    ("q", "k"),
    ("ph", "f"),
    ("dh", "d"),
    ("th", "t"),
    ("j", "dj"),
    ("a", "aa"),
    ("ss", "s"),
    ("mm", "m"),
    ("dd", "d"),
    ("ll", "l"),
)
_SIBLINGS: dict[str, list[str]] = {}
for _canonical, _variants in CLASSES.items():
    _members = [_canonical, *_variants]
    for _member in _members:
        _SIBLINGS[_member] = [m for m in _members if m != _member]
_SHAPES = {  # community -> how its names are put together (name pools below)
    "somali": ("somali", "somali", "somali"),
    "swahili_coastal": ("swahili_coastal", "swahili_coastal"),
}


@dataclass(frozen=True)
class LabelledName:
    name: str
    kind: str  # one of PERTURBATIONS, or "negative:<community>"
    entity_key: str = ""  # the listed entity a positive must find; "" for a negative

    @property
    def positive(self) -> bool:
        return bool(self.entity_key)


def _listed_tokens(entity: ListedEntity) -> list[str]:
    """The listed name's words, an abd- compound ("abd al aziz") kept as one name."""
    words = tokens(normalize(entity.name, individual=True))
    units: list[str] = []
    i = 0
    while i < len(words):
        nxt = i + 1
        if nxt < len(words) and is_abd_link(words[nxt]) and nxt + 1 < len(words):
            nxt += 1
        if is_abd_prefix(words[i]) and nxt < len(words):
            units.append(" ".join(words[i : nxt + 1]))
            i = nxt + 1
        else:
            units.append(words[i])
            i += 1
    return units


def _eligible(entities: Sequence[ListedEntity]) -> list[ListedEntity]:
    found = []
    for entity in entities:
        if entity.entity_type != "individual" or entity.source not in ("ofac", "un"):
            continue
        toks = _listed_tokens(entity)
        if len(toks) >= 2 and all(t.replace(" ", "").isalpha() and t.isascii() for t in toks):
            found.append(entity)
    return found


def _edit(token: str, rng: random.Random) -> str:
    """One typing slip away from the first letter: substitute, delete, insert or transpose."""
    i = rng.randrange(1, len(token))
    kind = rng.choice(("sub", "del", "ins", "swap"))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "sub":
        return token[:i] + letter + token[i + 1 :]
    if kind == "del":
        return token[:i] + token[i + 1 :]
    if kind == "ins":
        return token[:i] + letter + token[i:]
    if i + 1 < len(token):
        return token[:i] + token[i + 1] + token[i] + token[i + 2 :]
    return token[:i] + letter


def _respell(token: str, rng: random.Random) -> str | None:
    rules = [(a, b) for a, b in RESPELLINGS if a in token[1:]]
    if not rules:
        return None
    old, new = rng.choice(rules)
    at = token.index(old, 1)
    return token[:at] + new + token[at + len(old) :]


def perturb(toks: list[str], kind: str, rng: random.Random) -> list[str] | None:
    """The listed name's tokens written another way, or None when `kind` does not apply."""
    toks = list(toks)
    if kind == "drop_middle":
        if len(toks) < 3:
            return None
        del toks[rng.randrange(1, len(toks) - 1)]
        return toks
    if kind == "initial":
        if len(toks[0]) < 2:
            return None
        return [toks[0][0], *toks[1:]]
    if kind == "two_edits":
        # one slip in each of two names, or two in one name of 8+ letters
        long_enough = [i for i, t in enumerate(toks) if len(t) >= 4 and " " not in t]
        if len(long_enough) >= 2:
            for i in rng.sample(long_enough, 2):
                toks[i] = _edit(toks[i], rng)
            return toks
        longer = [i for i in long_enough if len(toks[i]) >= 8]
        if not longer:
            return None
        toks[longer[0]] = _edit(_edit(toks[longer[0]], rng), rng)
        return toks
    if kind == "transliteration":
        order = list(range(len(toks)))
        rng.shuffle(order)
        known = [i for i in order if toks[i] in _SIBLINGS and " " not in toks[i]]
        if known and rng.random() < 0.5:
            i = known[0]
            toks[i] = rng.choice(_SIBLINGS[toks[i]])
            return toks
        for i in sorted(order, key=lambda i: -len(toks[i])):
            if len(toks[i]) >= 4 and " " not in toks[i] and (respelt := _respell(toks[i], rng)) is not None:
                toks[i] = respelt
                return toks
        return None
    raise ValueError(f"unknown perturbation {kind!r}")


def positives(entities: Sequence[ListedEntity], count: int, *, seed: int = 12) -> list[LabelledName]:
    """`count` perturbed listed names, an equal share per perturbation."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    pool = _eligible(entities)
    found: list[LabelledName] = []
    for k, kind in enumerate(PERTURBATIONS):
        want = count // len(PERTURBATIONS) + (1 if k < count % len(PERTURBATIONS) else 0)
        made = 0
        while made < want:
            entity = rng.choice(pool)
            toks = perturb(_listed_tokens(entity), kind, rng)
            if toks is None or toks == _listed_tokens(entity):
                continue
            name = " ".join(word.capitalize() for unit in toks for word in unit.split())
            found.append(LabelledName(name, kind, entity.key))
            made += 1
    return found


def _pools() -> dict[str, list[str]]:
    """Community -> its names, from the shipped corpus file (names as written there)."""
    text = resources.files("compliance.sanctions").joinpath("data", CORPUS_FILE).read_text("utf-8")
    pools: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("name\t"):
            continue
        name, _tab, community = line.partition("\t")
        pools[community.strip()].append(name.strip())
    return dict(pools)


def negatives(count: int, *, seed: int = 12) -> list[LabelledName]:
    """`count` common Kenyan names, the same number from each community."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    pools = _pools()
    kenyan_names()  # the weights' view of the same corpus; fail here, not mid-run, if it is missing
    christian = pools.pop("christian_given")
    swahili_given = pools.pop("swahili_given")
    communities = sorted(pools)
    found: list[LabelledName] = []
    for n in range(count):
        community = communities[n % len(communities)]
        pool = pools[community]
        if community in _SHAPES:
            parts = [rng.choice(pools[p]) for p in _SHAPES[community]][: rng.choice((2, 3))]
        else:
            given = rng.choice(christian + swahili_given) if rng.random() < 0.5 else rng.choice(pool)
            middle = [rng.choice(pool)] if rng.random() < 0.3 else []
            parts = [given, *middle, rng.choice(pool)]
        if len(set(parts)) < len(parts):
            parts = list(dict.fromkeys(parts))
        found.append(LabelledName(" ".join(parts), f"negative:{community}"))
    return found


def labelled_set(
    entities: Sequence[ListedEntity], *, positive_count: int, negative_count: int, seed: int = 12
) -> list[LabelledName]:
    return positives(entities, positive_count, seed=seed) + negatives(negative_count, seed=seed)


@dataclass
class Evaluation:
    recall_review: float  # positives whose entity is matched at review or above
    flagged_any: float  # positives screened review or above, whichever entity
    fp_alert: float  # negatives screened alert or block
    fp_review: float  # negatives screened review or above
    recall_by_kind: dict[str, float] = field(default_factory=dict)
    fp_alert_by_community: dict[str, float] = field(default_factory=dict)
    misses: list[LabelledName] = field(default_factory=list)
    false_alerts: list[tuple[LabelledName, str]] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    composition: dict[str, int] = field(default_factory=dict)


def evaluate(lists: SanctionsList, labelled: Sequence[LabelledName]) -> Evaluation:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    flagged = 0
    misses: list[LabelledName] = []
    false_alerts: list[tuple[LabelledName, str]] = []
    negatives_alerted: Counter[str] = Counter()
    negatives_flagged = 0
    wall: list[float] = []
    cpu: list[float] = []
    for item in labelled:
        t0, c0 = time.perf_counter(), time.thread_time()
        result = screen(lists, Subject(name=item.name))
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
        totals[item.kind] += 1
        if item.positive:
            flagged += result.outcome in FLAGGED
            if any(m.entity_key == item.entity_key and m.outcome in FLAGGED for m in result.matches):
                hits[item.kind] += 1
            else:
                misses.append(item)
        else:
            negatives_flagged += result.outcome in FLAGGED
            if result.outcome in ALERTED:
                negatives_alerted[item.kind] += 1
                false_alerts.append((item, result.matches[0].listed_name))
    positive_kinds = [k for k in totals if not k.startswith("negative:")]
    negative_kinds = [k for k in totals if k.startswith("negative:")]
    n_pos = sum(totals[k] for k in positive_kinds)
    n_neg = sum(totals[k] for k in negative_kinds)
    return Evaluation(
        recall_review=sum(hits.values()) / n_pos if n_pos else 1.0,
        flagged_any=flagged / n_pos if n_pos else 1.0,
        fp_alert=sum(negatives_alerted.values()) / n_neg if n_neg else 0.0,
        fp_review=negatives_flagged / n_neg if n_neg else 0.0,
        recall_by_kind={k: hits[k] / totals[k] for k in sorted(positive_kinds)},
        fp_alert_by_community={
            k.split(":", 1)[1]: negatives_alerted[k] / totals[k] for k in sorted(negative_kinds)
        },
        misses=misses,
        false_alerts=false_alerts,
        wall_ms=wall,
        cpu_ms=cpu,
        composition=dict(sorted(totals.items())),
    )
