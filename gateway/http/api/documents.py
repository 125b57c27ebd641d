"""Documents out: submitting one (built, sealed, checked, signed, stored, queued), reading
it and its package, listing them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import tempfile
from pathlib import Path
from typing import IO, Any

from aiohttp import web

import edxml
from adapters.store.api_reads import Page
from edxml.pdf import PdfSignatureError, is_signed, sign_pdf, verify_pdf
from gateway.http.api.clients import ApiClient
from gateway.http.api.context import (
    CLIENT,
    CONTEXT,
    ApiContext,
    accepted_response,
    message_json,
    own_message,
    query_flag,
    query_limit,
    query_offset,
    query_since,
    record_problem,
    refusal_problem,
    require_agency,
)
from gateway.http.api.problems import ApiProblem, FieldProblem
from gateway.http.api.submission import read_submission
from gateway.outbound.accept import AcceptanceError
from gateway.outbound.model_build import build_checked

__all__ = ["get_document", "get_package", "list_documents", "post_document"]

#: A package up to this size is built in memory; a larger one in a scratch file.
_BUILT_IN_MEMORY = 8 * 1024 * 1024


class _Spool:
    """Where a package is built: its pieces kept as they come, joined once, up to ``limit``
    bytes; past that, a scratch file in ``folder``. A large package is written to the file
    while the record's files are held and read back once they are let go: a large
    attachment is in memory once at a time (the file, then the package; the signed copy
    goes to the blob store piece by piece)."""

    def __init__(self, limit: int, folder: Path) -> None:
        self._limit, self._folder = limit, folder
        self._pieces: list[bytes] = []
        self._size = 0
        self._file: IO[bytes] | None = None

    @property
    def in_memory(self) -> bool:
        return self._file is None

    def write(self, piece: bytes) -> int:
        if self._file is not None:
            return self._file.write(piece)
        self._pieces.append(bytes(piece))
        self._size += len(piece)
        if self._size > self._limit:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 (the spool closes it)
                dir=self._folder, prefix=".build-"
            )
            self._file.writelines(self._pieces)
            self._pieces = []
        return len(piece)

    def read(self) -> bytes:
        if self._file is None:
            return b"".join(self._pieces)
        self._file.seek(0)
        return self._file.read()

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pieces = []
        if self._file is not None:
            self._file.close()


async def _check_pdfs(context: ApiContext, package: edxml.DocumentPackage) -> list[FieldProblem]:
    if context.pdf_policy == "off":
        return []
    problems = []
    for index, attachment in enumerate(package.attachments):
        if attachment.data is None or not attachment.data.startswith(b"%PDF"):
            continue
        field = f"attachments[{index}]"
        try:
            report = await verify_pdf(
                attachment.data, trust=context.trust, revocation=context.inbound.revocation
            )
        except PdfSignatureError as exc:
            problems.append(FieldProblem(field, "pdf.signature", str(exc)))
            continue
        if not report.signatures:
            problems.append(
                FieldProblem(field, "pdf.signature", f"{attachment.name} is not signed")
            )
        elif context.pdf_policy == "valid" and not any(s.accepted for s in report.signatures):
            problems.append(
                FieldProblem(field, "pdf.signature", f"no signature of {attachment.name} verifies")
            )
    return problems


async def _sealed(context: ApiContext, package: edxml.DocumentPackage) -> edxml.DocumentPackage:
    """Each unsigned PDF signed as the sending agency, with the stamp Phụ lục I gives an
    attached file (its number/notation and the time, 10 pt, top-right of page 1)."""
    identity = context.signers.identities.get(package.sender.organ_id)
    if identity is None:
        return package  # nothing to seal with: the PDF policy and Điều 5.2 decide
    attachments = []
    for index, attachment in enumerate(package.attachments):
        data = attachment.data
        if data is not None and data.startswith(b"%PDF"):
            try:
                if not await asyncio.to_thread(is_signed, data):  # pyhanko reads the file
                    data = await sign_pdf(data, identity, number_notation=str(package.code))
            except PdfSignatureError as exc:
                raise ApiProblem(
                    422,
                    "an attached PDF cannot be signed",
                    [FieldProblem(f"attachments[{index}]", "pdf.signature", str(exc))],
                ) from None
        attachments.append(dataclasses.replace(attachment, data=data))
    return dataclasses.replace(package, attachments=tuple(attachments))


async def post_document(request: web.Request) -> web.StreamResponse:
    """Build, sign, check, store and queue a document; ``?resend=true`` sends a DocumentId
    again on purpose. An ``Idempotency-Key`` makes the client's retry answer the first 202."""
    context, client = request.app[CONTEXT], request[CLIENT]
    key = request.headers.get("Idempotency-Key")
    resend = query_flag(request, "resend")
    async with context.submissions:  # the body is read only when its turn comes
        return await _post_document(request, context, client, key, resend)


async def _post_document(
    request: web.Request, context: ApiContext, client: ApiClient, key: str | None, resend: bool
) -> web.StreamResponse:
    submission = await read_submission(request, context.blobs.root)
    if key:
        request_hash = hashlib.sha256(f"{submission.digest}|{resend}".encode()).hexdigest()
        claimed, message_id = await context.store.claim_request(
            client.id, key, request_hash, ttl_seconds=context.idempotency_seconds
        )
        if claimed == "conflict":
            raise ApiProblem(422, "this Idempotency-Key was used for another request")
        if claimed == "replay":
            if message_id is None:
                raise ApiProblem(
                    409, "the first request with this Idempotency-Key is still running"
                )
            view = await context.store.message(message_id, events=False)
            assert view is not None
            return accepted_response(request, view.id, view.document_id, replay=True)
    renamed = conforming_names(submission.record)
    try:
        message_id, document_id = await _submit(
            context,
            client,
            submission.record,
            resend=resend,
            idempotency=(client.id, key) if key else None,
        )
    except BaseException:
        if key:
            await context.store.settle_request(client.id, key, None)
        raise
    return accepted_response(request, message_id, document_id, renamed=renamed)


def conforming_names(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Give each attachment whose name breaks Điều 8.4 (diacritics, spaces, over 50
    characters) the conforming name ``edxml.safe_filename`` makes, in place; what was
    renamed, for the answer to say so. A format that is not allowed (Điều 8.3) is left for
    the checks to refuse: renaming cannot make it allowed."""
    renamed = []
    attachments = record.get("attachments")
    for index, attachment in enumerate(attachments if isinstance(attachments, list) else []):
        name = attachment.get("name") if isinstance(attachment, dict) else None
        if not isinstance(name, str) or edxml.filename_problem(name) is None:
            continue
        fixed = edxml.safe_filename(name)
        if edxml.extension_problem(fixed) is None:
            attachment["name"] = fixed
            renamed.append({"attachment": index, "from": name, "to": fixed, "rule": "Điều 8.4"})
    return renamed


async def _submit(
    context: ApiContext,
    client: ApiClient,
    record: dict[str, Any],
    *,
    resend: bool,
    idempotency: tuple[str, str] | None,
) -> tuple[str, str]:
    try:
        package = edxml.from_record(record, now=edxml.vietnam_now())
    except edxml.EdxmlError as exc:
        raise record_problem(exc) from None
    _let_go_of_files(record)
    if not isinstance(package, edxml.DocumentPackage):
        raise ApiProblem(
            422,
            "a document record has no status_code",
            [FieldProblem("status_code", "record", "use /inbox/{id}/status")],
        )
    require_agency(client, package.sender.organ_id, "sender.organ_id")
    if context.seal_unsigned_pdfs:
        package = await _sealed(context, package)
    pdf_problems = await _check_pdfs(context, package)
    if pdf_problems:
        raise ApiProblem(422, "an attached PDF does not satisfy the signature policy", pdf_problems)
    with _Spool(_BUILT_IN_MEMORY, context.blobs.root) as built:
        try:
            checked = await build_checked(package, built)
        except edxml.EdxmlError as exc:
            raise record_problem(exc) from None
        del package
        data = built.read() if built.in_memory else await asyncio.to_thread(built.read)
    try:
        accepted = await context.outbound.submit(
            data,
            client_id=client.id,
            may_send_as=client.may_act_for,
            resend=resend,
            idempotency=idempotency,
            built_from=checked,
        )
    except AcceptanceError as exc:
        raise refusal_problem(exc, "the document was not accepted") from None
    return accepted.message_id, accepted.document_id


def _let_go_of_files(record: dict[str, Any]) -> None:
    """The files of a record (an upload's bytes, or base64 text in JSON), once the model
    holds their bytes: not kept for the rest of the request beside the package built."""
    attachments = record.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict):
            attachment.pop("data", None)
            attachment.pop("data_base64", None)


async def get_document(request: web.Request) -> web.StreamResponse:
    view = await own_message(request, direction="out")
    names = await request.app[CONTEXT].store.agency_names()
    return web.json_response(message_json(view, names))


async def get_package(request: web.Request) -> web.StreamResponse:
    view = await own_message(request, direction=request.query.get("direction", "out"))
    data = await request.app[CONTEXT].blobs.read(view.package_ref)
    return web.Response(
        body=data,
        content_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{view.id}.edxml"'},
    )


async def list_documents(request: web.Request) -> web.StreamResponse:
    context, client = request.app[CONTEXT], request[CLIENT]
    page = Page(query_limit(request), query_offset(request), query_since(request))
    ids = await context.store.document_ids(
        client.agencies,
        page,
        state=request.query.get("state"),
        recipient=request.query.get("recipient"),
    )
    items = []
    names = await context.store.agency_names()
    for message_id in ids:
        view = await context.store.message(message_id, events=False)
        if view is not None:
            items.append(message_json(view, names))
    return web.json_response({"items": items, "count": len(items)})
