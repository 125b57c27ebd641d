"""The streaming canonicaliser gives exactly lxml's C14N 1.0 / Exclusive C14N 1.0 bytes."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

import edxml
from edxml._c14n import Canonicalizer
from edxml._xml import parse_xml
from tests.edxml.test_properties import documents
from tests.factories import ALL_SAMPLES, document, sample


def streamed(data: bytes, *, exclusive: bool) -> bytes:
    out = io.BytesIO()
    parse_xml(data, observer=Canonicalizer(out.write, exclusive=exclusive), decode_payloads=False)
    return out.getvalue()


def reference(data: bytes, *, exclusive: bool) -> bytes:
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
    tree = etree.ElementTree(etree.fromstring(data[data.index(b"<?xml") :], parser))
    return etree.tostring(tree, method="c14n", exclusive=exclusive, with_comments=False)


@pytest.mark.parametrize("exclusive", [True, False], ids=["exc-c14n", "c14n"])
@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_samples(name: str, exclusive: bool) -> None:
    assert streamed(sample(name), exclusive=exclusive) == reference(
        sample(name), exclusive=exclusive
    )


TRICKY = """<?xml version="1.0" encoding="UTF-8"?>
<?before root?>
<!-- a comment -->
<r:root xmlns:r="urn:r" xmlns="urn:default" xmlns:unused="urn:unused"
        b="2" a='1 &amp; &lt;&quot;&#9;&#10;&#13;'>
  <child xmlns:x="urn:x" x:attr="v" attr="w">text &amp; &lt; &gt; &#13; ]]&gt;
    <![CDATA[<cdata> & ]]></child>
  <plain xmlns="">no namespace<deeper/></plain>
  <x:same xmlns:x="urn:x" xmlns:y="urn:y"><x:inner xmlns:x="urn:x"/><y:used/></x:same>
  <r:empty/><?pi inside?><!-- inner comment -->
  <e xml:lang="vi" xmlns:z="urn:z" z:b="1" z:a="2" a="3">Tiếng Việt có dấu ₫</e>
</r:root>
<?after root?>
""".encode()


@pytest.mark.parametrize("exclusive", [True, False], ids=["exc-c14n", "c14n"])
def test_namespaces_attributes_escapes_cdata_pis(exclusive: bool) -> None:
    assert streamed(TRICKY, exclusive=exclusive) == reference(TRICKY, exclusive=exclusive)


@pytest.mark.parametrize("exclusive", [True, False], ids=["exc-c14n", "c14n"])
def test_a_large_payload_is_written_in_pieces(exclusive: bool) -> None:
    attachment = edxml.Attachment(content_id="a", name="big.pdf", data=os.urandom(1_500_000))
    data = edxml.build(document(attachments=(attachment,)))
    pieces: list[bytes] = []
    parse_xml(
        data, observer=Canonicalizer(pieces.append, exclusive=exclusive), decode_payloads=False
    )
    assert len(pieces) >= 5  # written as it streams, not as one string at the end
    assert b"".join(pieces) == reference(data, exclusive=exclusive)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_packages(package: edxml.DocumentPackage) -> None:
    data = edxml.build(package)
    assert streamed(data, exclusive=True) == reference(data, exclusive=True)
    assert streamed(data, exclusive=False) == reference(data, exclusive=False)
