"""Reading a document submission (``POST /documents``): the record and its files, as received.

A submission is JSON (the record, files as ``data_base64``) or multipart (the record in part
``record``, each file a part of its own). Files are streamed to a scratch folder, never into
the blob store: a refused request leaves nothing behind, and only the package that is built
from them is stored. ``digest`` is the SHA-256 of what was really received — the JSON body,
or the record part and every file part's name and bytes — so an ``Idempotency-Key`` reused
for a different request of the same length is told apart.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

import edxml
from adapters.json_input import parse_json
from gateway.http.api.problems import ApiProblem, FieldProblem

__all__ = ["Submission", "parse_body", "read_submission"]

_CHUNK = 1024 * 1024


class Submission:
    """The record, and ``digest``: the SHA-256 (hex) of what was received, hashed only when
    asked (an ``Idempotency-Key`` needs it; a megabyte of JSON is not hashed for nothing)."""

    __slots__ = ("_body", "_digest", "record")

    def __init__(
        self, record: dict[str, Any], *, body: bytes = b"", digest: str | None = None
    ) -> None:
        self.record = record
        self._body, self._digest = body, digest

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = hashlib.sha256(self._body).hexdigest()
        return self._digest


def parse_body(data: bytes | str, field: str = "body") -> Any:
    """A JSON value from outside, or a 400 problem naming ``field`` (deep nesting included)."""
    try:
        return parse_json(data)
    except ValueError as exc:
        raise ApiProblem(
            400, f"the {field} is not JSON", [FieldProblem(field, "json", str(exc))]
        ) from None


async def read_submission(request: web.Request, scratch_root: Path) -> Submission:
    """The submission; a multipart body's files pass through a scratch folder made under
    ``scratch_root`` for the reading only (a JSON body needs none)."""
    if request.content_type == "application/json":
        body = await request.read()
        return Submission(_object(parse_body(body), "body"), body=body)
    if request.content_type.startswith("multipart/"):
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=scratch_root) as scratch:
            return await _multipart(request, Path(scratch))
    raise ApiProblem(415, "send application/json or multipart/form-data")


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiProblem(
            400, "the record is a JSON object", [FieldProblem(field, "json", "not an object")]
        )
    return value


async def _multipart(request: web.Request, scratch: Path) -> Submission:
    """The record part, and each file part streamed to ``scratch`` and attached."""
    reader = await request.multipart()
    digest = hashlib.sha256()
    record: dict[str, Any] | None = None
    files: dict[str, Path] = {}
    aliases: dict[str, Path] = {}
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "record":
            text = await part.text()
            digest.update(b"record\0" + text.encode())
            record = _object(parse_body(text, "record"), "record")
            continue
        name = part.filename or part.name or "file"
        path = scratch / f"part-{len(files)}"
        file_digest = await _stream_to(path, _bounded(part, name))
        digest.update(b"file\0" + name.encode() + b"\0" + file_digest.encode())
        files.setdefault(name, path)
        # some clients percent-encode a non-ASCII file name in the part's header
        aliases.setdefault(urllib.parse.unquote(name), path)
    if record is None:
        raise ApiProblem(
            400,
            "the multipart body has no part named record",
            [FieldProblem("record", "required", "missing")],
        )
    record["attachments"] = _attach(record.get("attachments"), files, aliases)
    return Submission(record, digest=digest.hexdigest())


async def _bounded(part: BodyPartReader, name: str) -> AsyncIterator[bytes]:
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > edxml.MAX_ATTACHMENT_BYTES:
            raise ApiProblem(
                413,
                "a file is larger than 50 MB (Điều 8.4)",
                [FieldProblem(f"files[{name}]", "Điều 8.4", f"{name} is over 50 MB")],
            )
        yield chunk


async def _stream_to(path: Path, chunks: AsyncIterator[bytes]) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        async for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _attach(attachments: Any, files: dict[str, Path], aliases: dict[str, Path]) -> list[Any]:
    """The record's attachments with each uploaded file's bytes in ``data``."""
    if attachments is None:
        attachments = [
            {"content_id": f"file-{n + 1}", "name": name} for n, name in enumerate(files)
        ]
    if not isinstance(attachments, list):
        raise ApiProblem(
            400, "attachments is a list", [FieldProblem("attachments", "type", "not a list")]
        )
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            continue
        name = str(attachment.pop("file", attachment.get("name")))
        uploaded = files.get(name) or aliases.get(name)
        if uploaded is not None and "data_base64" not in attachment:
            attachment["data"] = uploaded.read_bytes()
            attachment.setdefault("name", name)
        elif "data_base64" not in attachment:
            raise ApiProblem(
                400,
                "an attachment has no file",
                [
                    FieldProblem(
                        f"attachments[{index}]", "required", "no uploaded part and no data_base64"
                    )
                ],
            )
    return attachments
