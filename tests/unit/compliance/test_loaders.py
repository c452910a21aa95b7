from __future__ import annotations

from pathlib import Path

import pytest

from compliance.errors import MalformedListFile
from compliance.sanctions import registry
from compliance.sanctions.entities import ListedEntity
from compliance.sanctions.loader import SanctionsList, load_path
from compliance.sanctions.ofac import parse_date

SDN_OK = (
    '100,"DOE, John",individual,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 01 Feb 1970; Passport A1234567 (Kenya); Digital Currency Address - XBT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT."\r\n'
    '101,"ACME TRADING LTD.",-0- ,"IRAN",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Digital Currency Address - ETH 0xAbC0000000000000000000000000000000000001; alt. Digital Curr"\r\n'
    "\x1a"
)
ALT_OK = '100,1,"aka","DOE, Johnny",-0- \r\n'
ADD_OK = '100,1,"Moi Avenue","Nairobi","Kenya",-0- \r\n'
COMMENTS_OK = '101,"ency Address - ETH 0xdef0000000000000000000000000000000000002."\r\n'

UN_OK = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-01-01T00:00:00Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>900</DATAID><FIRST_NAME>JANE</FIRST_NAME><SECOND_NAME>ROE</SECOND_NAME>
      <UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Janet Roe; J. Roe</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1975-05-06</DATE></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>P998877</NUMBER></INDIVIDUAL_DOCUMENT>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY><DATAID>901</DATAID><FIRST_NAME>ROE HOLDINGS</FIRST_NAME><UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE></ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"""


def write_set(
    root: Path, *, sdn: str = SDN_OK, un: str = UN_OK, crypto: str = "TXYZ1234567890abcdefghijkLMNOP\n"
) -> Path:
    (root / "ofac").mkdir(parents=True)
    (root / "un").mkdir()
    (root / "crypto").mkdir()
    (root / "ofac" / "sdn.csv").write_text(sdn, encoding="utf-8", newline="")
    (root / "ofac" / "alt.csv").write_text(ALT_OK, encoding="utf-8", newline="")
    (root / "ofac" / "add.csv").write_text(ADD_OK, encoding="utf-8", newline="")
    (root / "ofac" / "sdn_comments.csv").write_text(COMMENTS_OK, encoding="utf-8", newline="")
    (root / "un" / "consolidated.xml").write_text(un, encoding="utf-8")
    (root / "crypto" / "sanctioned_addresses_TRX.txt").write_text(crypto, encoding="utf-8")
    return root


def by_key(lists: SanctionsList) -> dict[str, ListedEntity]:
    return {e.key: e for e in lists.entities}


def test_loads_ofac_un_and_crypto(tmp_path: Path) -> None:
    lists = load_path(write_set(tmp_path))
    entities = by_key(lists)
    doe = entities["ofac:100"]
    assert doe.aliases == ["DOE, Johnny"]
    assert doe.countries == ["Kenya"]
    assert [str(d) for d in doe.dates_of_birth] == ["1970-02-01"]
    assert [(i.number, i.country) for i in doe.ids] == [("A1234567", "Kenya")]
    assert [c.address for c in doe.crypto] == ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]
    acme = entities["ofac:101"]
    # the second address only exists once sdn_comments.csv continues the Remarks
    assert {c.address.lower() for c in acme.crypto} == {
        "0xabc0000000000000000000000000000000000001",
        "0xdef0000000000000000000000000000000000002",
    }
    jane = entities["un:900"]
    assert jane.name == "JANE ROE"
    assert jane.aliases == ["Janet Roe", "J. Roe"]
    assert [str(d) for d in jane.dates_of_birth] == ["1975-05-06"]
    assert entities["un:901"].entity_type == "entity"
    assert lists.index.lookup_address("txyz1234567890ABCDEFGHIJKlmnop")
    assert lists.summary()["crypto_addresses"] == 4


def test_parse_date_forms() -> None:
    assert str(parse_date("01 Feb 1970")) == "1970-02-01"
    assert str(parse_date("Feb 1970")) == "1970-02"
    assert str(parse_date("circa 1960")) == "1960"
    assert str(parse_date("1958 to 1960")) == "1958-1960"
    assert parse_date("sometime") is None


@pytest.mark.parametrize(
    ("sdn", "expected"),
    [
        (
            SDN_OK.replace('-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB', '-0- ,"DOB', 1),
            "sdn.csv:1: expected 12 columns, found 6",
        ),
        (SDN_OK.replace("101,", "10x,", 1), "sdn.csv:2: ent_num is not a number"),
        (SDN_OK.replace("\x1a", "") + SDN_OK.split("\r\n")[0] + "\r\n", "sdn.csv:3: duplicate ent_num 100"),
        ('100,"",individual' + ",-0- " * 9 + "\r\n", "sdn.csv:1: SDN_Name is empty"),
    ],
    ids=["columns", "ent_num", "duplicate", "empty-name"],
)
def test_malformed_sdn_rejected_with_line_numbers(tmp_path: Path, sdn: str, expected: str) -> None:
    with pytest.raises(MalformedListFile) as info:
        load_path(write_set(tmp_path, sdn=sdn))
    assert expected in str(info.value)


def test_malformed_un_xml_rejected_with_line_number(tmp_path: Path) -> None:
    broken = UN_OK.replace("</FIRST_NAME><SECOND_NAME>", "<SECOND_NAME>", 1)
    with pytest.raises(MalformedListFile) as info:
        load_path(write_set(tmp_path, un=broken))
    assert "consolidated.xml:" in str(info.value)
    assert info.value.errors[0].line > 1


def test_un_record_without_dataid_rejected(tmp_path: Path) -> None:
    broken = UN_OK.replace("<DATAID>900</DATAID>", "")
    with pytest.raises(MalformedListFile) as info:
        load_path(write_set(tmp_path, un=broken))
    assert "consolidated.xml:4: INDIVIDUAL without a numeric DATAID" in str(info.value)


def test_malformed_address_list_rejected(tmp_path: Path) -> None:
    with pytest.raises(MalformedListFile) as info:
        load_path(write_set(tmp_path, crypto="TXYZ1234567890abcdefghijkLMNOP\nnot an address!\n"))
    assert "sanctioned_addresses_TRX.txt:2: not a TRX address" in str(info.value)


def test_previous_list_stays_in_force_after_a_bad_load(tmp_path: Path) -> None:
    good = load_path(write_set(tmp_path / "good"))
    registry.swap(good)
    try:
        with pytest.raises(MalformedListFile):
            candidate = load_path(write_set(tmp_path / "bad", crypto="bad line\n"))
            registry.swap(candidate)
        assert registry.current() is good
    finally:
        registry.clear()


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MalformedListFile, match="no such file"):
        load_path(tmp_path / "nope")


def test_entity_round_trips_through_dict(tmp_path: Path) -> None:
    for entity in load_path(write_set(tmp_path)).entities:
        again = ListedEntity.from_dict(entity.to_dict())
        assert again.to_dict() == entity.to_dict()


def test_non_utf8_bytes_rejected_with_line(tmp_path: Path) -> None:
    root = write_set(tmp_path)
    (root / "ofac" / "alt.csv").write_bytes(ALT_OK.encode() + b'100,2,"aka","D\xe9OE",-0- \r\n')
    with pytest.raises(MalformedListFile, match=r"alt.csv:2: not UTF-8"):
        load_path(root)
