"""What the simulated axis holds: a package as sent, and each delivery of it to a recipient
agency with its acknowledgement and last reported status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = [
    "Delivery",
    "Sent",
]


_STATUS_MEANING = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận",
    "04": "Phân công xử lý",
    "05": "Đang xử lý",
    "06": "Hoàn thành",
    "13": "Lấy lại / thu hồi",
    "15": "Đồng ý cập nhật / thu hồi",
    "16": "Từ chối cập nhật / thu hồi",
}
_ACK_MEANING = {
    "pending": "Chờ nhận",
    "processing": "Đang nhận",
    "done": "Đã nhận",
    "fail": "Nhận lỗi",
}


def _clock_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(slots=True)
class Sent:
    """One package as sent: the sender's ``docId`` and what the hub learnt from it."""

    doc_id: str
    message_type: str
    system_id: str
    sender: str  # the ``from`` field
    origin: str  # the package's From/OrganId
    package: bytes  # as relayed, with the hub's TraceHeader
    document_id: str
    title: str
    notation: str
    created: dt.datetime


@dataclass(slots=True)
class Delivery:
    """One recipient's copy: listed to the recipient's system until it acknowledges it."""

    doc_id: str  # the receiver's docId
    sent: Sent
    to: str
    system_id: str
    created: dt.datetime
    updated: dt.datetime
    ack: str = "pending"  # pending | processing | done | fail
    status_code: str = ""  # the last edXML status the recipient reported for it
    duplicated: bool = False  # the duplicate_rate fault hit it already (once per delivery)

    @property
    def listed(self) -> bool:
        return self.ack in ("pending", "processing")
