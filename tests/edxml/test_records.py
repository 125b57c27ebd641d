"""Records: the JSON form of packages (edxml.from_record / edxml.to_record)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import edxml
from edxml._cli import _load_record
from tests.factories import EXAMPLES, document, sample, status


@pytest.mark.parametrize("package", [document(), status()], ids=["document", "status"])
def test_record_round_trip_through_json(package: edxml.Package) -> None:
    record = json.loads(json.dumps(edxml.to_record(package, include_data=True), ensure_ascii=False))
    assert edxml.from_record(record) == package


def test_sample_with_signature_round_trips_through_a_record() -> None:
    package = edxml.parse(sample("edoc_update.edxml"))
    assert edxml.from_record(edxml.to_record(package, include_data=True)) == package


def test_records_for_reading_show_size_and_digest_not_bytes() -> None:
    (attachment,) = edxml.to_record(document())["attachments"]
    assert set(attachment) == {
        "content_id",
        "name",
        "content_type",
        "description",
        "media_type",
        "size",
        "sha256",
    }
    assert attachment["media_type"] == "application/pdf"


def test_the_example_record_builds_a_valid_package() -> None:
    record = _load_record(EXAMPLES / "record.json")  # what the CLI does with "path"
    package = edxml.from_record(record, now=dt.datetime(2026, 11, 25, 8, 0, 0, 123))
    assert isinstance(package, edxml.DocumentPackage)
    assert package.trace_headers == (
        edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=dt.datetime(2026, 11, 25, 8)),
    )
    assert package.attachments[0].content_id == "05-ubnd-vp-1"
    assert edxml.validate(package) == []


def test_dates_in_either_form_and_defaults() -> None:
    record = edxml.to_record(document(attachments=()))
    record["promulgation"]["date"] = "2026/11/25"
    record["attachments"] = [{"name": "x.pdf", "data_base64": "JVBERg=="}]
    package = edxml.from_record(record)
    assert isinstance(package, edxml.DocumentPackage)
    assert package.promulgation.date == dt.date(2026, 11, 25)
    (attachment,) = package.attachments
    assert attachment.data == b"%PDF"
    assert attachment.content_type == "application/zip"
    assert len(attachment.content_id) == 36  # a fresh UUID


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda r: r.pop("subject"), "subject", "required"),
        (lambda r: r.update(subjet="typo"), "", "unknown field"),
        (
            lambda r: r["recipients"].append({"organ_name": "x"}),
            "recipients[1].organ_id",
            "required",
        ),
        (lambda r: r["promulgation"].update(date="31/02/2026"), "promulgation.date", "calendar"),
        (lambda r: r.update(steering_type="one"), "steering_type", "whole number"),
        (lambda r: r.update(steering_type=True), "steering_type", "boolean"),
        (lambda r: r.update(recipients={"organ_id": "x"}), "recipients", "a list"),
        (
            lambda r: r["attachments"].append({"name": "x.pdf", "data_base64": "!!"}),
            "attachments[1].data_base64",
            "base64",
        ),
        (
            lambda r: r["attachments"].append({"name": "x.pdf", "data": "text"}),
            "attachments[1].data",
            "data_base64",
        ),
    ],
)
def test_bad_records_name_the_field(change: object, path: str, message: str) -> None:
    record = edxml.to_record(document(), include_data=True)
    change(record)  # type: ignore[operator]
    with pytest.raises(edxml.RecordError, match=message) as caught:
        edxml.from_record(record)
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)


def test_a_record_is_an_object() -> None:
    with pytest.raises(edxml.RecordError, match="JSON object"):
        edxml.from_record([])  # type: ignore[arg-type]
