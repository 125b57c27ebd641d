"""Business rules on the model: what the XSD cannot say. Each problem names its rule (see
``_problems.RULES`` for the legal basis) and the short path of the element concerned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ._filenames import extension_problem, filename_problem
from ._ids import is_agency_id, split_document_id
from ._model import (
    Attachment,
    Business,
    BusinessDocType,
    DocumentPackage,
    Package,
    ResponseFor,
    StatusCode,
    StatusPackage,
)
from ._problems import Problem
from ._transfer import MAX_ATTACHMENT_BYTES

__all__ = ["check_rules"]

_CODE_NUMBER = re.compile(r"(?:0[1-9]|[1-9][0-9]+)\Z")
# Nghị định 30 Phụ lục III writes these abbreviations in mixed case; every other group
# of a notation is upper case.
_MIXED_CASE_ABBREVIATIONS = frozenset({"TTr", "QyĐ", "CTr", "TrS", "TTg"})
_PRIORITIES = range(0, 5)
_STEERING_TYPES = range(0, 4)
_STATUS_CODES = frozenset(code.value for code in StatusCode)
_STATUS_NEEDING_REASON = frozenset(
    {StatusCode.REJECTED, StatusCode.RECALL_REQUESTED, StatusCode.CHANGE_REJECTED}
)
_MANIFEST = "edXMLBody/edXMLManifest/Reference"

_Found = Iterator[Problem]


def _problem(rule: str, message: str, path: str) -> Problem:
    return Problem(rule=rule, message=message, path=path)


def _agency_id(value: str, path: str) -> _Found:
    if not is_agency_id(value):
        yield _problem(
            "agency-id",
            f"{value!r} is not an agency id (LLL.LL.LL.XNN, e.g. 000.00.00.H42, or the "
            "QĐ 20/2020 form of at most 35 characters A-Z 0-9 '.')",
            path,
        )


def _document_id(value: str | None, path: str) -> _Found:
    if value is None:
        return
    parts = split_document_id(value)
    if parts is None:
        yield _problem(
            "document-id",
            f"{value!r} is not <OrganId>,<yyyy/MM/dd>,<number>/<notation>",
            path,
        )
    elif not is_agency_id(parts.organ_id):
        yield _problem("document-id", f"{value!r} does not start with an agency id", path)


def _code_number(value: str, path: str) -> _Found:
    if _CODE_NUMBER.match(value):
        return
    if value.isascii() and value.isdigit():
        reason = "numbers below 10 are written with a leading 0 (05), and start at 01"
    else:
        reason = "the number is written in Arabic digits only"
    yield _problem("code-number", f"number {value!r}: {reason}", path)


def _code_notation(value: str, path: str) -> _Found:
    if re.search(r"[\s,/]", value):
        yield _problem(
            "code-notation",
            f"notation {value!r} must not contain spaces, commas or '/'",
            path,
        )
        return
    for group in value.split("-"):
        if not group:
            yield _problem(
                "code-notation", f"notation {value!r} has an empty group between '-'", path
            )
            return
        if not group.isalnum():
            yield _problem(
                "code-notation",
                f"notation {value!r}: groups are letters and digits joined by '-'",
                path,
            )
            return
        if group != group.upper() and group not in _MIXED_CASE_ABBREVIATIONS:
            yield _problem("code-notation", f"notation {value!r} is written in upper case", path)
            return


def _response_for(item: ResponseFor, path: str) -> _Found:
    yield from _agency_id(item.organ_id, f"{path}/OrganId")
    yield from _document_id(item.document_id, f"{path}/DocumentId")
    if item.code is not None and not re.fullmatch(r"[^/\s]+/[^/\s]+", item.code):
        yield _problem(
            "document-id",
            f"ResponseFor/Code {item.code!r} is the combined number/notation, e.g. 7816/VPCP-TTĐT",
            f"{path}/Code",
        )


def _business(business: Business, package: DocumentPackage) -> _Found:
    path = "TraceHeaderList/Bussiness"
    yield from _document_id(business.document_id, f"{path}/DocumentId")
    kind = business.doc_type
    if kind not in set(BusinessDocType):
        yield _problem(
            "business", f"BussinessDocType {kind} is not 0, 1, 2 or 3", f"{path}/BussinessDocType"
        )
        return
    if business.paper not in (None, 0, 1):
        yield _problem("business", f"Paper is 0 or 1, not {business.paper}", f"{path}/Paper")
    if kind == BusinessDocType.REVOKE and not (
        business.document_id or any(item.document_id for item in package.response_for)
    ):
        yield _problem(
            "business",
            "a revocation (type 1) names the revoked document in Bussiness/DocumentId "
            "or ResponseFor/DocumentId",
            path,
        )
    if kind == BusinessDocType.UPDATE:
        if not business.document_id:
            yield _problem(
                "business", "an update (type 2) names the updated document in DocumentId", path
            )
        if business.document_info is None:
            yield _problem("business", "an update (type 2) carries BussinessDocumentInfo", path)
    elif business.document_info is not None:
        yield _problem(
            "business",
            f"BussinessDocumentInfo belongs to updates (type 2), not type {kind}",
            f"{path}/BussinessDocumentInfo",
        )
    if business.document_info is not None:
        yield from _document_info(business, f"{path}/BussinessDocumentInfo")
    if kind == BusinessDocType.REPLACE:
        yield from _replacements(business, f"{path}/ReplacementInfoList")
    elif business.replacements:
        yield _problem(
            "business",
            f"ReplacementInfoList belongs to replacements (type 3), not type {kind}",
            f"{path}/ReplacementInfoList",
        )


def _document_info(business: Business, path: str) -> _Found:
    info = business.document_info
    assert info is not None
    for name, flag in (
        ("DocumentInfo", info.document_info),
        ("DocumentReceiver", info.document_receiver),
    ):
        if flag not in (None, 0, 1):
            yield _problem("business", f"{name} is 0 or 1, not {flag}", f"{path}/{name}")
    if info.document_receiver == 1 and not info.receivers:
        yield _problem(
            "business",
            "DocumentReceiver=1 (recipients changed) needs a ReceiverList with the changes",
            f"{path}/ReceiverList",
        )
    for index, receiver in enumerate(info.receivers, start=1):
        here = f"{path}/ReceiverList/Receiver[{index}]"
        yield from _agency_id(receiver.organ_id, f"{here}/OrganId")
        if receiver.receiver_type not in (0, 1):
            yield _problem(
                "business",
                f"ReceiverType is 0 (removed) or 1 (added), not {receiver.receiver_type}",
                f"{here}/ReceiverType",
            )


def _replacements(business: Business, path: str) -> _Found:
    if not business.replacements:
        yield _problem(
            "business",
            "a replacement (type 3) lists the replaced documents in ReplacementInfoList",
            path,
        )
    for index, item in enumerate(business.replacements, start=1):
        here = f"{path}/ReplacementInfo[{index}]"
        if not item.document_id:
            yield _problem("business", "ReplacementInfo names the replaced DocumentId", here)
        else:
            yield from _document_id(item.document_id, f"{here}/DocumentId")
        if not item.organ_ids:
            yield _problem("business", "ReplacementInfo lists the agencies that received it", here)
        for position, organ_id in enumerate(item.organ_ids, start=1):
            yield from _agency_id(organ_id, f"{here}/OrganIdList/OrganId[{position}]")


def _attachments(attachments: tuple[Attachment, ...], max_bytes: int) -> _Found:
    seen: set[str] = set()
    for index, attachment in enumerate(attachments, start=1):
        here = f"{_MANIFEST}[{index}]"
        if attachment.content_id in seen:
            yield _problem(
                "attachment.manifest", f"content id cid:{attachment.content_id} is used twice", here
            )
        seen.add(attachment.content_id)
        if reason := filename_problem(attachment.name):
            yield _problem("attachment.filename", reason, f"{here}/AttachmentName")
        if reason := extension_problem(attachment.name):
            yield _problem("attachment.extension", reason, f"{here}/AttachmentName")
        if attachment.data is None:
            yield _problem(
                "attachment.payload",
                f"cid:{attachment.content_id} is listed in the manifest, "
                "but the package does not carry it",
                here,
            )
        elif len(attachment.data) > max_bytes:
            yield _problem(
                "attachment.size",
                f"{attachment.name!r} is {len(attachment.data):,} bytes; "
                f"each file is at most {max_bytes:,}",
                here,
            )


def _document(package: DocumentPackage, *, on_wire: bool, max_attachment_bytes: int) -> _Found:
    header = "MessageHeader"
    yield from _agency_id(package.sender.organ_id, f"{header}/From/OrganId")
    if not package.recipients:
        yield _problem("structure.cardinality", "the package has no recipient (To)", f"{header}/To")
    for index, recipient in enumerate(package.recipients, start=1):
        yield from _agency_id(recipient.organ_id, f"{header}/To[{index}]/OrganId")
    if package.document_id is None and on_wire:
        yield _problem("structure", "DocumentId is missing", f"{header}/DocumentId")
    yield from _document_id(package.document_id, f"{header}/DocumentId")
    if not package.code.number and not package.code.notation:
        yield _problem("code-number", "the package has no Code (số và ký hiệu)", f"{header}/Code")
    else:
        yield from _code_number(package.code.number, f"{header}/Code/CodeNumber")
        yield from _code_notation(package.code.notation, f"{header}/Code/CodeNotation")
    if not package.subject.strip():
        yield _problem("structure", "Subject (trích yếu) is empty", f"{header}/Subject")
    if not package.document_type.type_name.strip():
        yield _problem(
            "structure", "DocumentType/TypeName is empty", f"{header}/DocumentType/TypeName"
        )
    if package.signer is None:
        yield _problem("structure", "SignerInfo is missing", f"{header}/SignerInfo")
    if package.due_date is not None and package.due_date < package.promulgation.date:
        yield _problem(
            "date.order",
            f"DueDate {package.due_date:%Y/%m/%d} is before PromulgationDate "
            f"{package.promulgation.date:%Y/%m/%d}",
            f"{header}/DueDate",
        )
    priority = package.other_info.priority if package.other_info else None
    if priority is not None and priority not in _PRIORITIES:
        yield _problem(
            "priority", f"Priority {priority} is not 0-4", f"{header}/OtherInfo/Priority"
        )
    if package.steering_type is not None and package.steering_type not in _STEERING_TYPES:
        yield _problem(
            "steering-type",
            f"SteeringType {package.steering_type} is not 0-3",
            f"{header}/SteeringType",
        )
    for index, item in enumerate(package.response_for, start=1):
        yield from _response_for(item, f"{header}/ResponseFor[{index}]")
    if not package.trace_headers:
        yield _problem("trace-header", "the package carries no TraceHeader", "TraceHeaderList")
    if package.business is not None:
        yield from _business(package.business, package)
    yield from _attachments(package.attachments, max_attachment_bytes)


def _status(package: StatusPackage) -> _Found:
    header = "MessageHeader"
    yield from _agency_id(package.sender.organ_id, f"{header}/From/OrganId")
    yield from _response_for(package.response_for, f"{header}/ResponseFor")
    if not package.response_for.document_id:
        yield _problem(
            "structure",
            "ResponseFor/DocumentId is missing: "
            "the sender cannot tell which document this is about",
            f"{header}/ResponseFor/DocumentId",
        )
    if package.status_code not in _STATUS_CODES:
        yield _problem(
            "status-code",
            f"StatusCode {package.status_code!r} is not one of {', '.join(sorted(_STATUS_CODES))}",
            f"{header}/StatusCode",
        )
    elif package.status in _STATUS_NEEDING_REASON and not (package.description or "").strip():
        yield _problem(
            "status.reason",
            f"status {package.status_code} needs its reason in Description",
            f"{header}/Description",
        )


def check_rules(
    package: Package, *, on_wire: bool, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES
) -> list[Problem]:
    """All business-rule problems of ``package``.

    ``on_wire`` says the model was read from bytes, so an absent ``DocumentId`` is missing
    (a model for ``build`` may leave it to be generated).
    """
    if isinstance(package, StatusPackage):
        return list(_status(package))
    return list(_document(package, on_wire=on_wire, max_attachment_bytes=max_attachment_bytes))
