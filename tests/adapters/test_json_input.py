"""JSON from outside: a value, or one ValueError with a reason; never another exception."""

from __future__ import annotations

import json

import pytest

from adapters.json_input import parse_json


def test_a_record_reads_as_the_standard_library_reads_it() -> None:
    body = '{"a": [1, 2.5, true, null], "b": "Nội dung", "c": {"d": -7}}'
    assert (
        parse_json(body)
        == parse_json(body.encode())
        == {
            "a": [1, 2.5, True, None],
            "b": "Nội dung",
            "c": {"d": -7},
        }
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": NaN}', "unexpected character"),
        (b"\xff", "UTF-8"),
        (b"", "empty"),
        (b'{"a": 1', "end of data"),
        ('"\\ud800"', "surrogate"),
    ],
)
def test_what_is_not_json_is_one_value_error_with_a_reason(body: bytes | str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_json(body)


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"a": "\xc3\xa9"}',  # UTF-8 with the byte order mark Windows writes
        '{"a": "é"}'.encode("utf-16"),  # with its byte order mark
        '{"a": "é"}'.encode("utf-16-le"),
        '{"a": "é"}'.encode("utf-32-be"),
    ],
)
def test_bytes_in_the_encodings_the_standard_library_reads(body: bytes) -> None:
    assert parse_json(body) == json.loads(body) == {"a": "é"}
