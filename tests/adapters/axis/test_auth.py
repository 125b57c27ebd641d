"""XroadVnpt HMAC headers: byte for byte what the official SDK sent (known-answer tests)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from adapters.axis.auth import AuthError, hash_file, sdk_timestamp, sign_fields, verify_signature
from tests.factories import FIXTURES

VECTORS = FIXTURES / "vectors"
SECRET = "test-secret-for-vectors"  # the SDK's configuration when the vectors were captured
SHARED = Path(__file__).resolve().parents[4] / "shared" / "vectors"


def captured() -> list[dict[str, object]]:
    return [json.loads(line) for line in (VECTORS / "sdk_capture.jsonl").read_text().splitlines()]


def test_the_vectors_are_the_captured_ones() -> None:
    digest, _ = (VECTORS / "SHA256SUMS").read_text().split()
    assert hashlib.sha256((VECTORS / "sdk_capture.jsonl").read_bytes()).hexdigest() == digest
    if SHARED.is_dir():
        assert (VECTORS / "sdk_capture.jsonl").read_bytes() == (
            SHARED / "sdk_capture.jsonl"
        ).read_bytes()
    assert [r["path"] for r in captured()] == [
        "/sendEdoc",
        "/getReceivedEdocList",
        "/getEdoc",
        "/updateStatus",
        "/getSentEdocList",
        "/getAgenciesList",
    ]


@pytest.mark.parametrize("request_index", range(6))
def test_our_headers_are_the_sdks_byte_for_byte(request_index: int) -> None:
    record = captured()[request_index]
    headers = dict(record["headers"])  # type: ignore[arg-type]
    names = headers["XroadVnpt-sign-header-key"].split(";")
    fields = [(name, headers[f"XroadVnpt-{name}"]) for name in names]
    ours = dict(sign_fields(fields, secret=SECRET))
    for name in ("XroadVnpt-sign-header-key", "XroadVnpt-sign-header", "XroadVnpt-hash-header"):
        assert ours[name] == headers[name], name


@pytest.mark.parametrize("request_index", range(6))
def test_every_captured_request_verifies(request_index: int) -> None:
    headers = dict(captured()[request_index]["headers"])  # type: ignore[arg-type]
    fields = verify_signature(headers, {"00.42.W00": SECRET})
    assert fields["systemid"] == "00.42.W00"


def test_hash_file_is_unpadded_hex_of_the_file_without_the_sdks_crlf() -> None:
    record = captured()[0]
    body = base64.b64decode(record["body_b64"])  # type: ignore[arg-type]
    assert body.endswith(b"\r\n")
    assert hash_file(body[:-2]) == dict(record["headers"])["XroadVnpt-hash-file"]  # type: ignore[arg-type]
    assert len(hash_file(body[:-2])) < 64  # bytes below 0x10 lose their leading zero


def test_timestamp_format() -> None:
    assert sdk_timestamp(dt.datetime(2024, 11, 25, 1, 33, 55, 123_456)) == "25112024T013355+0123"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.update({"XroadVnpt-hash-header": "0" * 64}), "does not match"),
        (
            lambda h: h.update(
                {"XroadVnpt-sign-header": h["XroadVnpt-sign-header"].replace("edoc", "stat")}
            ),
            "does not match",
        ),
        (lambda h: h.update({"XroadVnpt-messagetype": "status"}), "differs from what was signed"),
        (lambda h: h.pop("XroadVnpt-hash-header"), "not signed"),
        (lambda h: h.update({"XroadVnpt-sign-header": "not json"}), "not a JSON object"),
    ],
)
def test_tampering_is_refused(change: object, message: str) -> None:
    headers = dict(captured()[1]["headers"])  # type: ignore[arg-type]
    change(headers)  # type: ignore[operator]
    with pytest.raises(AuthError, match=message):
        verify_signature(headers, {"00.42.W00": SECRET})


def test_wrong_secret_unknown_system_and_bad_timestamp() -> None:
    headers = dict(captured()[1]["headers"])  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="wrong secret"):
        verify_signature(headers, {"00.42.W00": "another secret"})
    with pytest.raises(AuthError, match="unknown system id"):
        verify_signature(headers, {"00.53.W00": SECRET})
    fields = [
        ("systemid", "00.42.W00"),
        ("timestamp", "2026-11-25 02:02:52"),
        ("Content-Type", "application/json"),
    ]
    with pytest.raises(AuthError, match="timestamp"):
        verify_signature(dict(sign_fields(fields, secret=SECRET)), {"00.42.W00": SECRET})


def test_round_trip_and_ascii_only() -> None:
    fields = [
        ("systemid", "00.42.W00"),
        ("servicetype", "eDoc"),
        ("messagetype", "status"),
        ("from", "000.00.01.H42"),
        ("timestamp", sdk_timestamp(dt.datetime.now())),
        ("Content-Type", "application/json"),
    ]
    signed = verify_signature(dict(sign_fields(fields, secret="s")), {"00.42.W00": "s"})
    assert dict(signed) == dict(fields)
    with pytest.raises(ValueError, match="ASCII"):
        sign_fields([("to", "Văn phòng")], secret="s")
