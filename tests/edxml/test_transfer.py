"""The spec-1.6 attachment codec: base64 of a one-entry ZIP, streamed both ways."""

from __future__ import annotations

import base64
import binascii
import io
import os
import string
import zipfile
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edxml import AttachmentError, AttachmentTooLargeError
from edxml._base64 import decode_strict, encode
from edxml._transfer import PayloadDecoder, encode_attachment


def _decode(text: bytes, pieces: int = 7, **limits: int) -> bytes:
    decoder = PayloadDecoder(**limits)
    step = max(1, len(text) // pieces)
    for start in range(0, len(text), step):
        decoder.feed(text[start : start + step].decode("ascii"))
    return decoder.close().data


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 1000, 786_432, 786_433, 3_000_001])
def test_encode_then_decode_in_arbitrary_pieces(size: int) -> None:
    data = os.urandom(size)
    text = b"".join(encode_attachment(data, ".pdf"))
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(text, validate=True)))
    assert archive.testzip() is None
    assert archive.read(archive.namelist()[0]) == data
    for pieces in (1, 3, 97):
        assert _decode(text, pieces) == data


def test_the_entry_is_named_uuid_dot_extension() -> None:
    text = b"".join(encode_attachment(b"x", ".docx"))
    decoder = PayloadDecoder()
    decoder.feed(text.decode())
    payload = decoder.close()
    assert payload.zipped
    assert payload.entry_name is not None
    assert payload.entry_name.endswith(".docx")
    assert len(payload.entry_name) == 36 + 5


def test_raw_payloads_are_passed_through() -> None:
    decoder = PayloadDecoder()
    decoder.feed(base64.b64encode(b"%PDF-1.7 raw").decode())
    payload = decoder.close()
    assert (payload.data, payload.zipped) == (b"%PDF-1.7 raw", False)
    tiny = PayloadDecoder()
    tiny.feed("QQ==")
    assert tiny.close().data == b"A"


def test_deflate64_and_other_methods_fall_back_to_zipfile() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("a.pdf", b"bzip2 payload " * 100)
    assert _decode(base64.b64encode(archive.getvalue())) == b"bzip2 payload " * 100


def test_limits_apply_to_raw_and_zipped_payloads() -> None:
    with pytest.raises(AttachmentTooLargeError):
        _decode(base64.b64encode(b"x" * 101), max_bytes=100)
    with pytest.raises(AttachmentTooLargeError):
        _decode(b"".join(encode_attachment(b"x" * 101, ".pdf")), max_bytes=100)
    assert _decode(b"".join(encode_attachment(b"x" * 100, ".pdf")), max_bytes=100) == b"x" * 100


def test_a_zip_without_its_central_directory_is_truncated() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.pdf", b"abc" * 100)
    raw = archive.getvalue()
    cut = raw.index(b"PK\x01\x02")
    with pytest.raises(AttachmentError, match="truncated"):
        _decode(base64.b64encode(raw[:cut]))


def test_already_compressed_formats_go_at_deflate_level_0_and_the_rest_compressed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PDF's bulk does not compress: DEFLATE level 6 spent ~40 ms per MB on it for nothing.
    It goes at level 0 (a copy, still the DEFLATE method the official reader expects, which
    the conformance suite reads back); a text file is compressed as before."""
    import edxml
    from edxml import _build_wire
    from tests.factories import document

    levels: dict[str, int] = {}

    def recording(data: bytes, extension: str, *, compresslevel: int = 6) -> Iterator[bytes]:
        levels[extension] = compresslevel
        return encode_attachment(data, extension, compresslevel=compresslevel)

    monkeypatch.setattr(_build_wire, "encode_attachment", recording)
    noise, text = os.urandom(200_000), b"van ban " * 25_000
    files = (
        edxml.Attachment(content_id="a", name="cong_van.pdf", data=noise),
        edxml.Attachment(content_id="b", name="bang.xlsx", data=noise),
        edxml.Attachment(content_id="c", name="ghi_chu.txt", data=text),
    )
    package = edxml.parse(edxml.build(document(attachments=files)))
    assert isinstance(package, edxml.DocumentPackage)
    assert [a.data for a in package.attachments] == [noise, noise, text]
    assert levels == {".pdf": 0, ".xlsx": 0, ".txt": 6}
    stored = zipfile.ZipFile(
        io.BytesIO(base64.b64decode(b"".join(recording(text, ".pdf", compresslevel=0))))
    )
    (entry,) = stored.infolist()
    assert entry.compress_type == zipfile.ZIP_DEFLATED
    assert entry.compress_size > entry.file_size  # stored blocks: nothing was compressed


_BASE64_ISH = st.text(alphabet=string.ascii_letters + string.digits + "+/= \n\r-_é.", max_size=24)


@settings(max_examples=400, deadline=None)
@given(_BASE64_ISH)
@example("0000=")  # found by this test: binascii's strict mode accepts it
@example("QUJD==")
@example("QQ==QQ==")
def test_the_fast_base64_refuses_what_the_standard_strict_mode_refuses(text: str) -> None:
    """A record's data_base64 and a package's attachments are decoded with the SIMD codec:
    what it accepts, ``binascii``'s strict mode accepts with the same bytes. It refuses one
    thing more: padding after a complete group (``QUJD=``), which RFC 4648 does not allow
    and which the streaming decoder of packages already refused."""
    try:
        expected: bytes | None = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        expected = None
    try:
        got: bytes | None = decode_strict(text)
    except (binascii.Error, ValueError):
        got = None
    if got is None and expected is not None:
        # padding after a whole group
        assert text.endswith("=")
        assert len(text.rstrip("=")) % 4 == 0
    else:
        assert got == expected


def test_padding_after_a_complete_group_is_refused_as_packages_refuse_it() -> None:
    with pytest.raises(binascii.Error):
        decode_strict("QUJD=")
    decoder = PayloadDecoder()
    decoder.feed("QUJD=")
    with pytest.raises(AttachmentError, match="base64"):
        decoder.close()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 57, 1_000_003])
def test_the_fast_base64_encodes_as_the_standard_one(size: int) -> None:
    data = os.urandom(size)
    assert encode(data) == base64.b64encode(data)
    assert encode(memoryview(data)[1:]) == base64.b64encode(data[1:])
