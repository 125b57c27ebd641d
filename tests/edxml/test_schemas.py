"""Our XSDs: valid XSD 1.0, shipped as package data, and agreed on by a second engine."""

from __future__ import annotations

from importlib import resources

import pytest
import xmlschema
from lxml import etree

import edxml
from edxml._schema import SCHEMA_FILES
from edxml._xml import parse_xml
from tests.factories import ALL_SAMPLES, ATTACKS, document, sample, status


def _xmlschema(kind: str) -> xmlschema.XMLSchema10:
    with resources.as_file(resources.files("edxml.schemas") / SCHEMA_FILES[kind]) as path:
        return xmlschema.XMLSchema10(str(path))


def test_schemas_ship_inside_the_package() -> None:
    names = {entry.name for entry in resources.files("edxml.schemas").iterdir()}
    assert {"edxml-common.xsd", "edxml-document.xsd", "edxml-status.xsd"} <= names


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_xmlschema_agrees_with_lxml_on_every_sample(name: str) -> None:
    tree = etree.ElementTree(parse_xml(sample(name)).root)
    kind = "status" if name.startswith("status") else "document"
    assert _xmlschema(kind).is_valid(tree)
    assert "xsd" not in {problem.rule for problem in edxml.validate(sample(name))}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<edXML:PromulgationDate>2026/11/25<", b"<edXML:PromulgationDate>25/11/2026<"),
        (b"<edXML:Priority>1<", b"<edXML:Priority>one<"),
        (b"<edXML:Direction>false<", b"<edXML:Direction>no<"),
        (b"<edXML:Subject>", b"<edXML:Subjct>x</edXML:Subjct><edXML:Subject>"),
        (b"<edXML:Timestamp>2026/11/25 08:30:00<", b"<edXML:Timestamp>2026/11/25<"),
        (b"<edXML:OrganId>000.00.01.H42<", b"<edXML:OrganId> <"),
    ],
)
def test_both_engines_reject_the_same_breakage(old: bytes, new: bytes) -> None:
    data = edxml.build(document()).replace(old, new, 1)
    problems = edxml.validate(data)
    assert "xsd" in {problem.rule for problem in problems}
    assert all(problem.line for problem in problems)
    assert not _xmlschema("document").is_valid(etree.ElementTree(parse_xml(data).root))


def test_status_schema_rejects_a_document_body() -> None:
    data = edxml.build(status()).replace(
        b"</edXML:edXMLHeader>", b"</edXML:edXMLHeader><edXML:edXMLBody/>"
    )
    assert "xsd" in {problem.rule for problem in edxml.validate(data)}


def test_xsd_messages_are_readable() -> None:
    data = edxml.build(document()).replace(b"<edXML:Priority>1<", b"<edXML:Priority>one<", 1)
    (problem,) = [p for p in edxml.validate(data) if p.rule == "xsd"]
    assert "{http" not in problem.message
    assert "edXML:Priority" in problem.message
    assert problem.path == "MessageHeader/OtherInfo/Priority"


def test_attack_files_never_reach_a_schema() -> None:
    for path in ATTACKS.glob("*.xml"):
        assert {p.rule for p in edxml.validate(path.read_bytes())} == {"xml.unsafe"}
