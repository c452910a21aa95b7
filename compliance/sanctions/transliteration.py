"""Transliteration-equivalence classes for Arabic, Somali and Swahili names.

The same name reaches us spelled many ways: Mohamed / Muhammad / Maxamed (Somali orthography, where
x is the Arabic ḥ and c the ʿayn), Hussein / Husayn, Abdirahman / Abdul Rahman / Cabdiraxmaan,
Yusuf / Yusuph (Swahili), Athman / Osman / Uthman. Jaro-Winkler scores many of these pairs below the
candidate cutoff (mohamed ~ muhammad is 0.77), so the index never proposes them. Every token is
mapped to one canonical spelling per class, on the listed names and on the query alike, before
indexing and scoring: equivalent spellings become the same token.

Compounds with abd- ("servant of") are joined and canonicalised: "abdul rahman", "abd al rahman",
"abdirahman" and "abderrahmane" all become "abdrahman".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

# canonical spelling -> the other spellings seen in lists and in Kenyan registries
CLASSES: dict[str, tuple[str, ...]] = {
    # given names, Arabic origin, with Somali (x/c) and Swahili spellings
    "muhammad": (
        "mohamed",
        "mohammed",
        "mohamad",
        "mohammad",
        "muhammed",
        "muhamad",
        "muhamed",
        "mohamet",
        "mohammod",
        "mouhamed",
        "mouhammad",
        "muhammet",
        "mehmet",
        "mohd",
        "muhd",
        "mohmed",
        "mahomed",
        "maxamed",
        "maxammed",
        "mahamed",
        "mohummed",
        "mohamedi",
    ),
    "mahmud": ("mahmoud", "mahmood", "mehmood", "mohamud", "mahamud", "mehmud", "maxamuud", "mohamoud"),
    "ahmad": ("ahmed", "ahmet", "ahmat", "ahamed", "ahamad", "axmed", "axmad"),
    "husayn": (
        "hussein",
        "hussain",
        "husain",
        "hussien",
        "husein",
        "hossein",
        "hosein",
        "houssein",
        "husen",
        "hussen",
        "huseyin",
        "xuseen",
        "xuseyn",
    ),
    "hasan": ("hassan", "hassen", "hasen", "hassane", "xasan", "xassan"),
    "abdullah": (
        "abdallah",
        "abdullahi",
        "abdalla",
        "abdulla",
        "abdillahi",
        "abdillah",
        "abdulahi",
        "abdallahi",
        "abdellah",
        "abdulah",
        "cabdullaahi",
        "cabdullahi",
        "abdullaahi",
        "abdille",
        "abdillaahi",
    ),
    "yusuf": (
        "yousef",
        "yousif",
        "yusef",
        "youssef",
        "yousuf",
        "yussuf",
        "yusif",
        "yousouf",
        "yusuph",
        "yuusuf",
        "youssouf",
        "yusufu",
    ),
    "umar": ("omar", "omer", "umer", "omari", "cumar", "oumar"),
    "usama": ("osama", "ousama", "usamah", "osamah", "oussama"),
    "ibrahim": ("ebrahim", "ibraheem", "ibrahem", "ebraheem", "ibrahima", "brahim", "ibraim", "ibraahim"),
    "ismail": ("ismael", "ismaeel", "esmail", "ismahil", "ismayil", "ismaaciil"),
    "sulayman": (
        "suleiman",
        "sulaiman",
        "suleyman",
        "soliman",
        "soleiman",
        "sleiman",
        "selemani",
        "sulemani",
        "suleman",
        "sleman",
    ),
    "uthman": (
        "othman",
        "osman",
        "usman",
        "uthmaan",
        "ousmane",
        "athman",
        "athmani",
        "athumani",
        "cismaan",
        "cusmaan",
        "osmaan",
        "othmane",
    ),
    "khalid": ("khaled", "khaleed", "xaalid"),
    "khalil": ("khaleel",),
    "mustafa": ("mustapha", "moustafa", "mostafa", "mustafah", "mustefa", "mustafe"),
    "abubakr": ("abubakar", "aboubakar", "abubaker", "abubakari", "boubacar", "aboubakr", "abubakir"),
    "ali": ("aly", "cali", "alii"),
    "said": ("saeed", "saed", "saied", "saiid", "siciid", "saidi"),
    "salim": ("saleem", "selim", "salimu"),
    "rashid": ("rasheed", "rachid", "rashed", "rasheid", "rashidi"),
    "hamid": ("hameed", "hamed", "xamid"),
    "qasim": ("kasim", "qassim", "kassim", "gasim", "qasem", "kassem", "qassem", "kasimu"),
    "jafar": ("jaafar", "jafaar", "jaffar", "djafar"),
    "hamza": ("hamzah", "xamza", "hamze"),
    "bashir": ("basheer", "bachir", "bashiir"),
    "nur": ("noor", "nuur", "nour", "nuru"),
    "adan": ("aden", "aadan", "cadan"),
    "farah": ("faarax", "farax"),
    "hirsi": ("hersi", "xirsi", "hirsiy"),
    "ramadan": ("ramadhan", "ramadhani", "ramazan", "ramadani"),
    "khamis": ("hamisi", "khamisi", "hamis"),
    "shaban": ("shabani", "chaabane", "shaaban", "shabaan"),
    "musa": ("mussa", "moussa", "mousa", "muusa"),
    "isa": ("issa", "eissa", "ciise", "iisa"),
    "yahya": ("yahaya", "yahia", "yehia", "yahye"),
    "idris": ("idriss", "edris", "idrisa", "idiris"),
    "salih": ("saleh", "swaleh", "swalehe", "saalax", "salehe"),
    "taha": ("twaha", "toha", "daaha"),
    "zubayr": ("zubeir", "zubair", "zubeyr", "zuber", "zubeiri"),
    "juma": ("jumaa", "jumah"),
    "fatima": ("fatuma", "fatma", "faduma", "fatumah", "fadumo", "fatimah", "faadumo"),
    "khadija": ("khadijah", "hadija", "kadija", "khadidja", "xadiijo", "hadijah"),
    "aisha": ("aysha", "aicha", "ayesha", "aishah", "caasha"),
    "zaynab": ("zainab", "zeinab", "zainabu", "seynab"),
    "maryam": ("mariam", "mariamu", "maryan", "mariyam"),
    "amina": ("aminah", "ameena", "aamina"),
    "halima": ("halimah", "xaliimo", "halimo"),
    "ayub": ("ayoub", "ayoob", "ayyub", "ayuub"),
    "yaqub": ("yakub", "yacoub", "yakubu", "yaqoob", "yacqub"),
    "anwar": ("anouar", "anuar"),
    "jamal": ("gamal", "djamel", "jamaal", "jamel"),
    "nasir": ("nasser", "naser", "nassir", "naasir"),
    "walid": ("waleed", "oualid"),
    "zakariya": ("zakaria", "zakariyya", "zacharia", "zakariye", "sakariye"),
    "sharif": ("shareef", "cherif", "shariff", "shariif"),
    "shaykh": ("sheikh", "shaikh", "sheik", "cheikh", "sheekh", "shekh"),
    "haji": ("hajji", "hadji", "xaaji", "xaji"),
    "mahdi": ("mehdi", "mahadi"),
    "ghulam": ("gholam", "golam"),
    "hafiz": ("hafez", "hafeez"),
    "muhsin": ("mohsen", "mohsin", "muhsen"),
    "jabir": ("jaber",),
    "tariq": ("tarek", "tarik", "tareq"),
    "faisal": ("faysal", "faycal", "feisal", "faisel"),
    "kamal": ("kamel",),
    "adil": ("adel", "caadil"),
    "karim": ("kareem",),
    "khalifa": ("khalifah", "xalif"),
    "habib": ("habeeb",),
    "mansur": ("mansour", "mansoor"),
    "nabil": ("nabeel",),
    "hashim": ("hashem", "xaashi", "hashimu"),
    "ubayd": ("obaid", "ubaid", "obeid", "abeid", "ubeid"),
    "abbas": ("abas", "cabaas"),
    # particles
    "al": ("el", "ul"),
    "bin": ("ben", "ibn", "bn", "ibin"),
    "bint": ("binti", "bte"),
    "abu": ("abou", "abo", "aboo"),
}

# The second half of abd- compounds ("servant of the Merciful"): canonical root -> spellings.
ABD_ROOTS: dict[str, tuple[str, ...]] = {
    "rahman": ("rahman", "rehman", "rahmane", "rahmaan", "raxmaan", "raxman", "rahaman", "rahmani"),
    "qadir": ("qadir", "kadir", "qader", "kader", "gadir", "kadiri"),
    "aziz": ("aziz", "azeez", "aziiz", "cazis", "asis"),
    "karim": ("karim", "kareem", "kariim"),
    "salam": ("salam", "salaam", "salem", "salami"),
    "wahhab": ("wahab", "wahhab", "wahaab", "wahab"),
    "nasir": ("nasir", "nasser", "naser", "nassir", "nasiir", "naasir"),
    "fattah": ("fatah", "fattah", "fataah", "fitah"),
    "razzaq": ("razak", "razaq", "rizak", "rizaq", "razzaq", "razzak", "risaaq", "rizaaq"),
    "majid": ("majid", "majeed", "majiid", "majed"),
    "latif": ("latif", "lateef", "latiif"),
    "hakim": ("hakim", "hakeem", "xakiim"),
    "hamid": ("hamid", "hameed", "xamiid", "hamed"),
    "jalil": ("jalil", "jaleel"),
    "malik": ("malik", "malek", "maalik"),
    "ghani": ("ghani", "gani", "ghany"),
    "wali": ("weli",),
    "jabbar": ("jabbar", "jabar"),
    "rashid": ("rashid", "rasheed", "rashiid"),
    "rauf": ("rauf", "raouf", "rauuf"),
    "halim": ("halim", "haleem", "xaliim"),
    "kafi": ("kafi", "kaafi"),
    "shakur": ("shakur", "shakoor", "shukur"),
    "mutalib": ("mutalib", "muttalib", "mutallib"),
    "samad": ("samad", "samed", "samat"),
    "nur": ("nur", "noor", "nuur"),
    "llah": ("llah", "lah", "llahi", "lahi", "allah", "ullah", "illah", "ullahi", "illahi", "allahi"),
}
# How abd- is written before its root, longest first (abdur-rahman, abdi-rahman, cabdi-raxmaan).
ABD_PREFIXES = (
    "abdul",
    "abdel",
    "abdal",
    "abdil",
    "abdol",
    "abdur",
    "abder",
    "abdar",
    "abdus",
    "abdes",
    "abdir",
    "cabdul",
    "cabdi",
    "cabd",
    "abdi",
    "abdu",
    "abde",
    "abda",
    "abd",
)
# Particles between a separate abd- token and its root: "abd al rahman", "abdul ar rahman".
ABD_LINKS = frozenset({"al", "el", "ul", "ar", "ur", "er", "as", "us", "an", "ad", "ud"})

_CANONICAL: dict[str, str] = {}
for _canonical, _variants in CLASSES.items():
    for _variant in (_canonical, *_variants):
        _CANONICAL.setdefault(_variant, _canonical)
_ROOT: dict[str, str] = {}
for _root, _spellings in ABD_ROOTS.items():
    for _spelling in (_root, *_spellings):
        _ROOT.setdefault(_spelling, _root)
_ABD_TOKENS = frozenset(ABD_PREFIXES)
# The first letters a canonical token may have had as written (djamel -> jamal: d, g, j), so that an
# initial still meets it after canonicalisation.
_INITIALS: dict[str, frozenset[str]] = {}
for _canonical, _variants in CLASSES.items():
    _INITIALS[_canonical] = frozenset(v[0] for v in (_canonical, *_variants))
for _root in ABD_ROOTS:
    _INITIALS["abd" + _root] = frozenset("ac")
_INITIALS["abdullah"] = _INITIALS["abdullah"] | {"c"}


def initials_of(token: str) -> frozenset[str]:
    """Letters an initial for this (canonical) token may be written with."""
    return _INITIALS.get(token) or frozenset(token[:1])


def is_abd_prefix(token: str) -> bool:
    return token in _ABD_TOKENS


def is_abd_link(token: str) -> bool:
    return token in ABD_LINKS


def _abd_compound(root: str) -> str:
    canonical_root = _ROOT[root]
    return "abdullah" if canonical_root == "llah" else "abd" + canonical_root


def _split_abd(token: str) -> str | None:
    """'abdirahman' -> 'abdrahman', 'abdulkadir' -> 'abdqadir'; None if not an abd- compound."""
    if not token.startswith(("abd", "cabd")) or token in _CANONICAL:  # abdullah: a class of its own
        return None
    for prefix in ABD_PREFIXES:
        if token.startswith(prefix) and (rest := token[len(prefix) :]) in _ROOT:
            return _abd_compound(rest)
    return None


# A token one slip away from a spelling of the commonest listed names ("mohuammed", "mohamemd")
# joins its class: once canonicalised, the listed side no longer holds the spelling the slip was
# made from. Only these classes: elsewhere one letter often separates two names (shaban, shabaab).
SLIP_CLASSES = ("muhammad", "ahmad", "abdullah", "ibrahim", "husayn", "mustafa", "mahmud", "ismail", "yusuf")
SLIP_MIN_LENGTH = 6
SLIP_MIN_SIMILARITY = 0.93
_MEMBERS_BY_LETTER: dict[str, list[str]] = {}
for _canonical in SLIP_CLASSES:
    for _member in (_canonical, *CLASSES[_canonical]):
        if len(_member) >= SLIP_MIN_LENGTH - 1:
            _MEMBERS_BY_LETTER.setdefault(_member[0], []).append(_member)


@lru_cache(maxsize=100_000)
def canonical_token(token: str) -> str:
    """One token's canonical spelling (unchanged when it belongs to no class)."""
    if (found := _CANONICAL.get(token)) is not None:
        return found
    if (compound := _split_abd(token)) is not None:
        return compound
    nisba = token[-1] in "iy" and token[:-1] in _CANONICAL  # mohammadi, husseini: family names
    if len(token) >= SLIP_MIN_LENGTH and not nisba and (members := _MEMBERS_BY_LETTER.get(token[0])):
        best = process.extractOne(
            token, members, scorer=JaroWinkler.similarity, score_cutoff=SLIP_MIN_SIMILARITY
        )
        if best is not None:
            return _CANONICAL[best[0]]
    return token


def canonicalize(toks: Sequence[str]) -> list[str]:
    """Map every token to its canonical spelling and join separated abd- compounds
    (["abdul", "rahman"] -> ["abdrahman"], ["abd", "al", "rahman"] -> ["abdrahman"])."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok in _ABD_TOKENS and i + 1 < len(toks):
            nxt = i + 1
            if toks[nxt] in ABD_LINKS and nxt + 1 < len(toks):
                nxt += 1
            root = toks[nxt] if toks[nxt] in _ROOT else canonical_token(toks[nxt])  # xamid -> hamid
            if root in _ROOT:
                out.append(_abd_compound(root))
                i = nxt + 1
                continue
        out.append(canonical_token(tok))
        i += 1
    return out
