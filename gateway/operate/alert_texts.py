"""The words of the operator alerts, Vietnamese first and English second.

Each kind of alert has one sentence per language whose fields come from the alert's
parameters; a destination (``route``) is named as the user knows it, not by its key.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

__all__ = ["RESOLVED", "TEXTS", "describe"]

TEXTS: dict[str, dict[str, str]] = {
    "destination": {
        "vi": "Điểm đến {route} đang lỗi: {failing} lượt gửi chờ thử lại hoặc thất bại; "
        "lỗi gần nhất: {error}",
        "en": "Destination {route} is failing: {failing} deliveries waiting on a retry or "
        "failed; last error: {error}",
    },
    "dead_letters": {
        "vi": "{count} lượt gửi thất bại cần xử lý (trước đó {previous})",
        "en": "{count} failed deliveries need an operator (previously {previous})",
    },
    "test": {
        "vi": "Thử kênh cảnh báo của cổng edXML: nếu nhận được thư này, kênh đã hoạt động",
        "en": "A test of the edXML gateway's alert channel: if this arrived, it works",
    },
    "unsigned": {
        "vi": "{count} gói tin của {agency} chưa gửi được vì chưa có khóa ký số (Điều 5.2); "
        "cấu hình khóa ký để gửi",
        "en": "{count} packages of {agency} wait for a signature: no signing key is "
        "configured for it (Điều 5.2)",
    },
    "backup": {
        "vi": "Sao lưu hằng ngày (Điều 18.2) không đạt: {problem}",
        "en": "The daily backup (Điều 18.2) is not right: {problem}",
    },
    "poller": {
        "vi": "Bộ nhận văn bản từ {route} không hoàn thành lượt nào từ {since}: {error}",
        "en": "The poller of {route} has completed no pass since {since}: {error}",
    },
    "trust_anchor": {
        "vi": "Chứng thư tin cậy {name} hết hạn sau {days} ngày ({when}): đặt chứng thư mới vào "
        "thư mục tin cậy rồi gửi SIGHUP",
        "en": "Trusted certificate {name} expires in {days} days ({when}): put its successor in "
        "the trust folder and send SIGHUP",
    },
    "crl": {
        "vi": "Danh sách thu hồi (CRL) của {name} cần cập nhật trước {when}: tải CRL mới vào "
        "thư mục tin cậy rồi gửi SIGHUP",
        "en": "The CRL of {name} needs its update by {when}: put the new CRL in the trust "
        "folder and send SIGHUP",
    },
    "certificate": {
        "vi": "Chứng thư số ký của {agency} hết hạn sau {days} ngày ({expires})",
        "en": "The signing certificate of {agency} expires in {days} days ({expires})",
    },
}
RESOLVED = {"vi": "Đã hết: ", "en": "Resolved: "}

#: The destinations every deployment has, by the names their readers know them by
_ROUTES = {
    "vi": {
        "axis": "Trục liên thông quốc gia",
        "lgsp": "nền tảng LGSP của tỉnh",
        "local": "chuyển nội bộ",
    },
    "en": {"axis": "the national axis", "lgsp": "the provincial LGSP", "local": "local hand-over"},
}


def describe(kind: str, params: Mapping[str, Any], lang: str = "vi") -> str:
    """The alert's sentence in ``lang`` (vi or en)."""
    lang = "en" if lang == "en" else "vi"
    values = {key: params.get(key, "?") for key in _fields(TEXTS[kind][lang])}
    if "route" in values:
        values["route"] = _ROUTES[lang].get(str(values["route"]), values["route"])
    return TEXTS[kind][lang].format_map(values)


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
