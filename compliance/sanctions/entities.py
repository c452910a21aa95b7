"""What a sanctions list holds, independent of its source format."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ListedDate:
    """A date of birth as lists give it: a full date, or a year (possibly a range of years)."""

    year: int
    month: int | None = None
    day: int | None = None
    to_year: int | None = None  # "1958 to 1960", or UN BETWEEN

    def matches(self, year: int, month: int, day: int) -> bool:
        if self.to_year is not None:
            return self.year <= year <= self.to_year
        if self.year != year:
            return False
        if self.month is not None and self.month != month:
            return False
        return self.day is None or self.day == day

    def __str__(self) -> str:
        if self.to_year is not None:
            return f"{self.year}-{self.to_year}"
        if self.month is None:
            return str(self.year)
        if self.day is None:
            return f"{self.year}-{self.month:02d}"
        return f"{self.year}-{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class ListedId:
    kind: str  # "Passport", "National ID No.", ...
    number: str  # as listed
    country: str = ""


@dataclass(frozen=True, slots=True)
class CryptoAddress:
    ticker: str  # XBT, ETH, USDT, TRX, ...
    address: str


@dataclass(slots=True)
class ListedEntity:
    """One listed party. `source_id` is unique within `source` (OFAC ent_num, UN DATAID)."""

    source: str  # "ofac" | "un" | "crypto"
    source_id: str
    name: str
    entity_type: str = "individual"  # individual | entity | vessel | aircraft | address
    aliases: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    dates_of_birth: list[ListedDate] = field(default_factory=list)
    ids: list[ListedId] = field(default_factory=list)
    crypto: list[CryptoAddress] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    remarks: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "source_id": self.source_id,
            "name": self.name,
            "entity_type": self.entity_type,
            "aliases": self.aliases,
            "programs": self.programs,
            "dates_of_birth": [[d.year, d.month, d.day, d.to_year] for d in self.dates_of_birth],
            "ids": [[i.kind, i.number, i.country] for i in self.ids],
            "crypto": [[c.ticker, c.address] for c in self.crypto],
            "countries": self.countries,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ListedEntity:
        def lst(key: str) -> list[object]:
            value = data.get(key) or []
            assert isinstance(value, list)
            return value

        return cls(
            source=str(data["source"]),
            source_id=str(data["source_id"]),
            name=str(data["name"]),
            entity_type=str(data.get("entity_type", "individual")),
            aliases=[str(a) for a in lst("aliases")],
            programs=[str(p) for p in lst("programs")],
            dates_of_birth=[ListedDate(*d) for d in lst("dates_of_birth")],  # type: ignore[misc]
            ids=[ListedId(*i) for i in lst("ids")],  # type: ignore[misc]
            crypto=[CryptoAddress(*c) for c in lst("crypto")],  # type: ignore[misc]
            countries=[str(c) for c in lst("countries")],
        )


@dataclass(frozen=True, slots=True)
class LineError:
    """One problem in one list file, with the (1-based) line it starts on."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"
