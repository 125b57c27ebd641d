"""What VNPT's EdXML102 reader — the parser QLVB products embed — reads from our packages.

Every package we build, and every real sample we re-build, must be read by it exactly as the
original: sender, recipients, DocumentId, code, subject, and each attachment's name and
bytes. Before, an attachment whose ContentType was anything but ``application/zip`` was
handed over as the ZIP we had wrapped it in, under the PDF's name.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import edxml
from tests.factories import EXAMPLES, PDF, SAMPLES, document, organization, status

from .conftest import Peer

ALL = sorted(SAMPLES.glob("*.edxml"))


def _ours(package: edxml.Package) -> dict[str, Any]:
    """What EdXML102 should report for ``package``, from our model."""
    if isinstance(package, edxml.StatusPackage):
        return {
            "kind": "status",
            "from": package.sender.organ_id,
            "statusCode": package.status_code,
            "responseForOrganId": package.response_for.organ_id,
            "responseForDocumentId": package.response_for.document_id,
        }
    return {
        "kind": "edoc",
        "from": package.sender.organ_id,
        "to": [o.organ_id for o in package.recipients],
        "documentId": package.document_id or edxml.document_id_of(package),
        "codeNumber": package.code.number,
        "codeNotation": package.code.notation,
        "subject": package.subject,
        "attachments": [
            (a.name, hashlib.sha256(a.data).hexdigest())
            for a in package.attachments
            if a.data is not None
        ],
    }


def _theirs(read: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in read, read
    if read["kind"] == "status":
        keys = ("kind", "from", "statusCode", "responseForOrganId", "responseForDocumentId")
        return {key: read.get(key) for key in keys}
    keys = ("kind", "from", "to", "documentId", "codeNumber", "codeNotation", "subject")
    found = {key: read.get(key) for key in keys}
    found["attachments"] = [(a["name"], a["sha256"]) for a in read["attachments"]]
    return found


def test_every_real_sample_rebuilt_is_read_as_the_original(peer: Peer, tmp_path: Path) -> None:
    rebuilt = []
    for sample in ALL:
        path = tmp_path / sample.name
        path.write_bytes(edxml.build(edxml.parse(sample.read_bytes())))
        rebuilt.append(path)
    originals = peer.read(*ALL)
    again = peer.read(*rebuilt)
    for sample, original, copy in zip(ALL, originals, again, strict=True):
        if "error" in original:  # the official reader refuses it (junk before <?xml): ours
            expected = _ours(edxml.parse(sample.read_bytes()))
        else:
            expected = _theirs(original)
        assert _theirs(copy) == expected, sample.name


def _files() -> tuple[edxml.Attachment, ...]:
    """Files of the kinds agencies exchange (Điều 8.3), the PDF declared as itself."""
    return (
        edxml.Attachment(
            content_id="cv", name="05_UBND-VP.pdf", data=PDF, content_type="application/pdf"
        ),
        edxml.Attachment(
            content_id="bang",
            name="bang_tong_hop.xlsx",
            data=b"PK\x03\x04 an xlsx is a zip itself" + bytes(range(256)) * 40,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        edxml.Attachment(
            content_id="anh", name="so_do.png", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 5000
        ),
        edxml.Attachment(content_id="rong", name="ghi_chu.txt", data=b""),
    )


def _packages() -> dict[str, edxml.Package]:
    record = json.loads((EXAMPLES / "record.json").read_text())
    for attachment in record["attachments"]:
        path = EXAMPLES / attachment.pop("path")
        attachment.setdefault("name", path.name)
        attachment["data_base64"] = base64.b64encode(path.read_bytes()).decode()
    example = edxml.from_record(record, now=dt.datetime(2026, 11, 25, 8, 30))
    relayed = edxml.from_edoc(*_edoc_parts(document(attachments=_files()[:2])))
    built: dict[str, edxml.Package] = {
        "factory-document": document(),
        "example-record": example,
        "four-kinds-of-file": document(attachments=_files()),
        "two-recipients": document(
            recipients=(organization("000.00.00.G22"), organization("000.00.12.H42"))
        ),
        "soap-relay": relayed,  # a SOAP hub's e-doc turned into edXML (from_edoc)
    }
    for code in ("01", "02", "03", "04", "05", "06", "13", "15", "16"):
        built[f"status-{code}"] = status(status_code=code, description=f"trạng thái {code}")
    return built


def _edoc_parts(package: edxml.DocumentPackage) -> tuple[Any, ...]:
    message = edxml.to_edoc(package)
    files = {f.content_id: f.data for f in message.attachments if f.data is not None}
    return message.headers, message.manifest, files


@pytest.mark.parametrize("name", sorted(_packages()))
def test_every_package_we_build_is_read_as_we_built_it(
    peer: Peer, tmp_path: Path, name: str
) -> None:
    package = _packages()[name]
    path = tmp_path / f"{name}.edxml"
    path.write_bytes(edxml.build(package))
    (read,) = peer.read(path)
    assert _theirs(read) == _ours(package)
    if isinstance(package, edxml.DocumentPackage) and package.attachments:
        assert {a["contentType"] for a in read["attachments"]} == {"application/zip"}


def test_what_we_build_from_a_parsed_pdf_sender_stays_readable(peer: Peer, tmp_path: Path) -> None:
    """A sender that declares its (raw, unzipped) PDF as application/pdf: relayed by us, the
    official reader still gets the PDF, not a ZIP named .pdf."""
    raw = edxml.build(document())
    declared = raw.replace(
        b"<ContentType>application/zip</ContentType>", b"<ContentType>application/pdf</ContentType>"
    )
    parsed = edxml.parse(declared)
    assert isinstance(parsed, edxml.DocumentPackage)
    assert parsed.attachments[0].content_type == "application/pdf"
    path = tmp_path / "relayed.edxml"
    path.write_bytes(edxml.build(dataclasses.replace(parsed)))
    (read,) = peer.read(path)
    assert read["attachments"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
