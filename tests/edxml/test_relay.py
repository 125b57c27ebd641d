"""append_trace_header: the hub's TraceHeader goes after the last one, bytes otherwise kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import edxml
from tests.factories import document, sample

WHEN = dt.datetime(2026, 11, 25, 10, 0, 5)


def _organ_ids(data: bytes) -> list[str]:
    return [trace.organ_id for trace in edxml.parse(data).trace_headers]


@pytest.mark.parametrize("name", ["edoc_new.edxml", "edoc_replacement.edxml", "status.edxml"])
def test_appended_after_the_existing_traces(name: str) -> None:
    original = sample(name)
    relayed = edxml.append_trace_header(original, "000.00.00.G22", WHEN)
    assert _organ_ids(relayed) == [*_organ_ids(original), "000.00.00.G22"]
    assert edxml.parse(relayed).trace_headers[-1].timestamp == WHEN
    assert len(relayed) - len(original) < 200  # only the new element was added
    assert edxml.validate(relayed) == edxml.validate(original)


def test_a_status_package_without_a_trace_list_gets_one() -> None:
    original = sample("status_inbox_01.edxml")
    assert b"TraceHeaderList" not in original
    relayed = edxml.append_trace_header(original, "000.00.00.G22", WHEN)
    assert _organ_ids(relayed) == ["000.00.00.G22"]
    assert edxml.validate(relayed) == []


def test_an_empty_trace_list_is_filled() -> None:
    original = edxml.build(document(trace_headers=(), business=None))
    with_empty = original.replace(
        b"</edXML:MessageHeader>", b"</edXML:MessageHeader><edXML:TraceHeaderList/>", 1
    )
    assert _organ_ids(edxml.append_trace_header(with_empty, "000.00.00.G22", WHEN)) == [
        "000.00.00.G22"
    ]
    opened = with_empty.replace(
        b"<edXML:TraceHeaderList/>", b"<edXML:TraceHeaderList></edXML:TraceHeaderList>"
    )
    assert _organ_ids(edxml.append_trace_header(opened, "000.00.00.G22", WHEN)) == ["000.00.00.G22"]


def test_a_built_package_keeps_its_bussiness_block_last() -> None:
    relayed = edxml.append_trace_header(edxml.build(document()), "000.00.00.G22", WHEN)
    parsed = edxml.parse(relayed)
    assert [t.organ_id for t in parsed.trace_headers] == ["000.00.01.H42", "000.00.00.G22"]
    assert parsed.business == document().business
    assert edxml.validate(relayed) == []


def test_not_a_package() -> None:
    with pytest.raises(edxml.StructureError, match="edXMLHeader"):
        edxml.append_trace_header(b"<edXML/>", "000.00.00.G22", WHEN)
    with pytest.raises(edxml.StructureError, match="MessageHeader"):
        edxml.append_trace_header(b"<a><edXMLHeader></edXMLHeader></a>", "000.00.00.G22", WHEN)


@pytest.mark.parametrize(
    "original",
    [sample("edoc_new.edxml"), sample("status_inbox_01.edxml"), edxml.build(document())],
    ids=["sample", "status without a trace list", "built"],
)
def test_remove_is_the_exact_inverse_of_append(original: bytes) -> None:
    relayed = edxml.append_trace_header(original, "000.00.00.G22", WHEN)
    assert edxml.remove_trace_header(relayed, "000.00.00.G22") == original
    assert edxml.remove_trace_header(relayed, "000.00.00.G10") is None  # someone else's
    assert edxml.remove_trace_header(b"<x/>", "000.00.00.G22") is None


def test_a_signature_verifies_again_once_the_hubs_trace_is_removed(pki: Any) -> None:
    agency = pki.agencies["000.00.01.H42"]
    signed = edxml.sign(edxml.build(document()), agency.key, pki.chain(agency))
    relayed = edxml.append_trace_header(signed, "000.00.00.G22", WHEN)
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    assert not edxml.verify(relayed, trust).valid  # the enveloped signature covers the trace list
    restored = edxml.remove_trace_header(relayed, "000.00.00.G22")
    assert restored == signed
    assert edxml.verify(restored, trust).valid
