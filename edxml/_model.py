"""The typed model of edXML packages (QCVN 102:2016 flavour; spec sections 1.2-1.7 and 2).

Python names are clean; the wire spellings (``Bussiness``, ``TyperNotation``,
``OrganAdd``...) live only in the builder and parser. Every class is a frozen, keyword-only
dataclass with tuples for repeated elements, so models compare by value (the round-trip
tests rely on that) and can be shared between tasks without copying.

``None`` means "the element is absent"; an empty string means "present but empty" (real
senders emit ``<edXML:OrganAdd/>``), and the builder writes exactly what the model says.
"""

from __future__ import annotations

import datetime as dt
import enum
import mimetypes
from dataclasses import dataclass, field

__all__ = [
    "Attachment",
    "Business",
    "BusinessDocType",
    "BusinessDocumentInfo",
    "Code",
    "DocumentPackage",
    "DocumentType",
    "Organization",
    "OtherInfo",
    "Package",
    "Priority",
    "PromulgationInfo",
    "Receiver",
    "ReceiverType",
    "ReplacementInfo",
    "ResponseFor",
    "Signature",
    "SignerInfo",
    "StaffInfo",
    "StatusCode",
    "StatusPackage",
    "SteeringType",
    "TraceHeader",
]


class BusinessDocType(enum.IntEnum):
    """``Bussiness/BussinessDocType`` (spec 1.3)."""

    NEW = 0  # văn bản mới
    REVOKE = 1  # thu hồi
    UPDATE = 2  # cập nhật
    REPLACE = 3  # thay thế


class ReceiverType(enum.IntEnum):
    """``Receiver/ReceiverType`` in an update's receiver list (spec 1.3)."""

    REMOVED = 0
    ADDED = 1


class Priority(enum.IntEnum):
    """``OtherInfo/Priority`` (spec 1.4; độ khẩn, Nghị định 30 Phụ lục I III.2.b)."""

    NORMAL = 0  # thường
    URGENT = 1  # khẩn
    VERY_URGENT = 2  # thượng khẩn
    FLASH = 3  # hỏa tốc
    FLASH_SCHEDULED = 4  # hỏa tốc hẹn giờ


class SteeringType(enum.IntEnum):
    """``SteeringType`` (spec 1.4). 0 is seen in traffic the axis accepted: "not steering"."""

    UNSPECIFIED = 0
    NOT_STEERING = 1
    STEERING = 2  # chỉ đạo
    STEERING_REPORT = 3  # báo cáo chỉ đạo


class StatusCode(enum.StrEnum):
    """Status codes of the status package (spec 2.1); the value is the wire text."""

    ARRIVED = "01"  # đã đến
    REJECTED = "02"  # từ chối tiếp nhận
    ACCEPTED = "03"  # đã tiếp nhận
    ASSIGNED = "04"  # phân công xử lý
    PROCESSING = "05"  # đang xử lý
    DONE = "06"  # hoàn thành
    RECALL_REQUESTED = "13"  # lấy lại / thu hồi (sent by the original sender)
    CHANGE_ACCEPTED = "15"  # đồng ý cập nhật / lấy lại
    CHANGE_REJECTED = "16"  # từ chối cập nhật / lấy lại

    @property
    def meaning(self) -> str:
        """Vietnamese label used in the official samples' descriptions."""
        return _STATUS_MEANINGS[self]


_STATUS_MEANINGS = {
    StatusCode.ARRIVED: "Đã đến",
    StatusCode.REJECTED: "Từ chối tiếp nhận",
    StatusCode.ACCEPTED: "Đã tiếp nhận",
    StatusCode.ASSIGNED: "Phân công xử lý",
    StatusCode.PROCESSING: "Đang xử lý",
    StatusCode.DONE: "Hoàn thành",
    StatusCode.RECALL_REQUESTED: "Lấy lại / thu hồi",
    StatusCode.CHANGE_ACCEPTED: "Đồng ý cập nhật, lấy lại",
    StatusCode.CHANGE_REJECTED: "Từ chối cập nhật, lấy lại",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """The organization block of ``From``, ``To`` and the status ``From``."""

    organ_id: str
    organization_in_charge: str | None = None
    organ_name: str | None = None
    organ_address: str | None = None  # wire: OrganAdd
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    """Số và ký hiệu: ``CodeNumber`` and ``CodeNotation``."""

    number: str
    notation: str

    def __str__(self) -> str:
        """The combined "số/ký hiệu" form used by ``ResponseFor/Code``, e.g. ``7816/VPCP-TTĐT``
        (empty for a package that carried no Code)."""
        if not self.number and not self.notation:
            return ""
        return f"{self.number}/{self.notation}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PromulgationInfo:
    place: str | None = None
    date: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentType:
    type: int
    type_name: str
    type_detail: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerInfo:
    competence: str | None = None
    position: str | None = None
    full_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherInfo:
    priority: int | None = None
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: tuple[str, ...] = ()
    reply_fors: str | None = None
    reference_codes: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseFor:
    """A reference to an earlier document (reply-to, revoked document, status subject)."""

    organ_id: str
    code: str | None = None  # combined "number/notation"
    promulgation_date: dt.date | None = None
    document_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceHeader:
    organ_id: str
    timestamp: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffInfo:
    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None
    department_id: str | None = None
    staff_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Receiver:
    organ_id: str
    receiver_type: int  # ReceiverType


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessDocumentInfo:
    """``BussinessDocumentInfo`` of an update (type 2): what changed."""

    document_info: int | None = None  # 1: metadata changed
    document_receiver: int | None = None  # 1: the recipient list changed
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplacementInfo:
    """One replaced document and the agencies that had received it (type 3)."""

    document_id: str
    organ_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Business:
    """``TraceHeaderList/Bussiness``: what this package does to earlier documents."""

    doc_type: int  # BusinessDocType
    document_id: str | None = None
    reason: str | None = None
    paper: int | None = None
    staff: StaffInfo | None = None
    document_info: BusinessDocumentInfo | None = None
    replacements: tuple[ReplacementInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """The package's ``Signature`` element, kept verbatim (its serialisation).

    The library does not interpret it here: signing and verification work on the package
    bytes. ``in_xmldsig_namespace`` is False for the VNPT defect of a ``Signature`` that
    inherits the edXML namespace (spec 1.5, 6.6).
    """

    xml: bytes
    in_xmldsig_namespace: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """One attached file: the manifest ``Reference`` and its ``AttachmentEncoded`` payload.

    ``data`` holds the file itself (the ZIP wrapping of spec 1.6 is a wire detail the
    builder adds and the parser removes). ``content_type`` is the ``ContentType`` a package
    was read with (``application/zip`` in the official samples, the file's own type from
    some senders); the builder always writes ``application/zip``, because it always zips and
    the official reader unzips only then. ``media_type`` is the file's own type, from its
    name. ``data`` is ``None`` when the manifest names a file that the package does not carry.
    """

    content_id: str  # without the "cid:" prefix
    name: str
    data: bytes | None = field(default=None, repr=False)
    content_type: str = "application/zip"
    description: str | None = None

    @property
    def size(self) -> int | None:
        return None if self.data is None else len(self.data)

    @property
    def media_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.name, strict=False)
        return guessed or "application/octet-stream"


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentPackage:
    """The document package (gói tin văn bản điện tử), spec 1.2.

    ``document_id`` may be left ``None``: the builder then writes
    ``<sender OrganId>,<yyyy/MM/dd>,<CodeNumber>/<CodeNotation>`` (spec 4.3).
    """

    sender: Organization  # From
    recipients: tuple[Organization, ...]  # To
    code: Code
    promulgation: PromulgationInfo
    document_type: DocumentType
    subject: str
    document_id: str | None = None
    content: str | None = None
    signer: SignerInfo | None = None
    due_date: dt.date | None = None
    to_places: tuple[str, ...] = ()
    other_info: OtherInfo | None = None
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int | None = None
    response_for_tasks: tuple[str, ...] = ()  # ResponseForTask/TaskCode
    application_type: str | None = None
    trace_headers: tuple[TraceHeader, ...] = ()
    business: Business | None = None
    signature: Signature | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusPackage:
    """The status package (gói tin trạng thái), spec 2.

    ``sender`` is who reports the status (the recipient of the document, except for 13,
    which the original sender emits); ``response_for.organ_id`` is the other party.
    """

    sender: Organization  # From
    response_for: ResponseFor
    status_code: str  # StatusCode value; kept as text so unknown codes can be reported
    timestamp: dt.datetime
    staff: StaffInfo | None = None
    description: str | None = None
    trace_headers: tuple[TraceHeader, ...] = ()
    signature: Signature | None = None

    @property
    def status(self) -> StatusCode | None:
        """The code as a ``StatusCode``, or ``None`` when it is not a known code."""
        try:
            return StatusCode(self.status_code)
        except ValueError:
            return None


Package = DocumentPackage | StatusPackage
