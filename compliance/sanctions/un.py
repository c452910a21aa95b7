"""UN Security Council consolidated list (XML) loader, with lxml."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from compliance.sanctions.entities import LineError, ListedDate, ListedEntity, ListedId

NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


def _text(element: etree._Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def _dates(element: etree._Element) -> list[ListedDate]:
    dates: list[ListedDate] = []
    for dob in element.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        date, year = _text(dob, "DATE"), _text(dob, "YEAR")
        from_year, to_year = _text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")
        if len(date) >= 10 and date[:4].isdigit():
            dates.append(ListedDate(int(date[:4]), int(date[5:7]), int(date[8:10])))
        elif year.isdigit():
            dates.append(ListedDate(int(year)))
        elif from_year.isdigit() and to_year.isdigit():
            dates.append(ListedDate(int(from_year), to_year=int(to_year)))
    return dates


def _ids(element: etree._Element) -> list[ListedId]:
    found: list[ListedId] = []
    for doc in element.findall("INDIVIDUAL_DOCUMENT"):
        number = _text(doc, "NUMBER")
        if number:
            found.append(ListedId(_text(doc, "TYPE_OF_DOCUMENT"), number, _text(doc, "ISSUING_COUNTRY")))
    return found


def _aliases(element: etree._Element, tag: str) -> list[str]:
    names: list[str] = []
    for alias in element.findall(tag):
        names += [n.strip() for n in _text(alias, "ALIAS_NAME").split(";") if n.strip()]
    return names


def _entity(
    element: etree._Element, individual: bool, file: str, errors: list[LineError]
) -> ListedEntity | None:
    line = element.sourceline or 0
    data_id = _text(element, "DATAID")
    if not data_id.isdigit():
        errors.append(LineError(file, line, f"{element.tag} without a numeric DATAID"))
        return None
    parts = NAME_PARTS if individual else NAME_PARTS[:1]
    name = " ".join(p for tag in parts if (p := _text(element, tag)))
    if not name:
        errors.append(LineError(file, line, f"{element.tag} {data_id} has no FIRST_NAME"))
        return None
    prefix = "INDIVIDUAL" if individual else "ENTITY"
    countries = [
        v.text.strip() for v in element.findall("NATIONALITY/VALUE") if v.text and v.text.strip()
    ] + [c for addr in element.findall(f"{prefix}_ADDRESS") if (c := _text(addr, "COUNTRY"))]
    return ListedEntity(
        source="un",
        source_id=data_id,
        name=name,
        entity_type="individual" if individual else "entity",
        aliases=_aliases(element, f"{prefix}_ALIAS"),
        programs=[p for p in [_text(element, "UN_LIST_TYPE")] if p],
        dates_of_birth=_dates(element) if individual else [],
        ids=_ids(element) if individual else [],
        countries=countries,
        remarks=_text(element, "COMMENTS1")[:2000],
    )


def load_un(path: Path, errors: list[LineError]) -> list[ListedEntity]:
    """Parse consolidated.xml. XML syntax errors and structural problems go to `errors`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        errors.append(LineError(path.name, exc.lineno or 0, f"XML syntax: {exc.msg}"))
        return []
    if root.tag != "CONSOLIDATED_LIST":
        errors.append(
            LineError(path.name, root.sourceline or 1, f"root is <{root.tag}>, not CONSOLIDATED_LIST")
        )
        return []
    entities: list[ListedEntity] = []
    for element in root.iterfind("INDIVIDUALS/INDIVIDUAL"):
        if (entity := _entity(element, True, path.name, errors)) is not None:
            entities.append(entity)
    for element in root.iterfind("ENTITIES/ENTITY"):
        if (entity := _entity(element, False, path.name, errors)) is not None:
            entities.append(entity)
    if not entities and not errors:
        errors.append(LineError(path.name, root.sourceline or 1, "no INDIVIDUAL or ENTITY records"))
    return entities
