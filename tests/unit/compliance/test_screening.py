from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from compliance.sanctions.loader import SanctionsList
from compliance.sanctions.screening import Outcome, Subject, screen

LABELLED = Path(__file__).parent / "data" / "screening_labelled.csv"


def labelled_rows() -> list[dict[str, str]]:
    with LABELLED.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def subject(row: dict[str, str]) -> Subject:
    dob = date.fromisoformat(row["date_of_birth"]) if row["date_of_birth"] else None
    return Subject(name=row["name"], date_of_birth=dob, id_number=row["id_number"])


@pytest.mark.parametrize("row", labelled_rows(), ids=lambda r: f"{r['expected']}:{r['name']}")
def test_labelled_set(full_lists: SanctionsList, row: dict[str, str]) -> None:
    result = screen(full_lists, subject(row))
    expected = row["expected"]
    if expected == "block":
        assert result.outcome is Outcome.BLOCK, result.to_dict()
    elif expected == "flag":
        assert result.outcome in (Outcome.REVIEW, Outcome.ALERT), result.to_dict()
    elif expected == "not_block":
        assert result.outcome is not Outcome.BLOCK, result.to_dict()
    else:
        assert result.outcome is Outcome.CLEAR, result.to_dict()


def test_precision_and_recall_of_blocks(full_lists: SanctionsList) -> None:
    rows = labelled_rows()
    blocked = [r for r in rows if screen(full_lists, subject(r)).outcome is Outcome.BLOCK]
    should = [r for r in rows if r["expected"] == "block"]
    assert all(r["expected"] == "block" for r in blocked)  # precision 1.0
    assert len(blocked) == len(should)  # recall 1.0


def test_result_explains_itself(full_lists: SanctionsList) -> None:
    result = screen(full_lists, Subject(name="Ayman al-Zawahiri", date_of_birth=date(1951, 6, 19)))
    top = result.to_dict()["matches"][0]
    assert top["reason"] == "name+dob"
    assert top["dob_match"] is True
    assert top["entity"] in {"ofac:2676", "un:111923"}
    assert top["programs"]


def test_dob_mismatch_lowers_but_does_not_clear_an_exact_name(full_lists: SanctionsList) -> None:
    result = screen(full_lists, Subject(name="Joaquin Guzman Loera", date_of_birth=date(1970, 1, 1)))
    assert result.outcome is Outcome.ALERT
    assert result.score == pytest.approx(0.9)


@pytest.mark.parametrize(
    "address",
    [
        "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h",  # XBT in sdn.csv remarks
        "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1",  # ETH list
        "0x01E2919679362DFBC9EE1644BA9C6DA6D6245BB1",  # EVM: case-insensitive
        "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",  # TRX list
    ],
)
def test_crypto_address_hits_block(full_lists: SanctionsList, address: str) -> None:
    result = screen(full_lists, Subject(address=address))
    assert result.outcome is Outcome.BLOCK
    assert result.matches[0].reason.startswith("address:")


def test_clean_address_is_clear(full_lists: SanctionsList) -> None:
    assert (
        screen(full_lists, Subject(address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")).outcome
        is Outcome.CLEAR
    )


def test_id_hit_needs_compatible_country(full_lists: SanctionsList) -> None:
    assert screen(full_lists, Subject(id_number="1372584")).outcome is Outcome.BLOCK
    assert screen(full_lists, Subject(id_number="1372584", id_country="Uganda")).outcome is Outcome.CLEAR


def test_full_lists_size(full_lists: SanctionsList) -> None:
    summary = full_lists.summary()
    assert summary["names_and_aliases"] > 20_000
    assert summary["crypto_addresses"] > 600


@pytest.mark.parametrize("name", ["Kony", "Zawahiri", "Guzman", "Soleimani"])
def test_single_token_closed_form_matches_the_full_name_score(full_lists: SanctionsList, name: str) -> None:
    from compliance.sanctions.normalize import name_variants
    from compliance.sanctions.scoring import name_score

    for hit in full_lists.index.search(name, min_score=0.5):
        individual = hit.entity.entity_type == "individual"
        names = [hit.matched_name] + ([hit.entity.name] if not hit.alias else []) + hit.entity.aliases
        full = max(
            name_score(name_variants(name)[0], variant, full_lists.index.token_similarity)
            for display in names
            for variant in name_variants(display, individual=individual)
        )
        assert hit.score == pytest.approx(full, abs=1e-9)
