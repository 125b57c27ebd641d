"""Reports (Điều 21.9: every six months) and the registers of Nghị định 30 (Phụ lục IV).

``period_report`` counts, for a period and the agencies matching a pattern: documents sent
and received, deliveries by recipient and by state, the share of deliveries that "arrived"
(status 01 or later) the day they were sent, and the failures by cause. It comes out as CSV,
XLSX (openpyxl) or a printable HTML page.

``outgoing_register`` and ``incoming_register`` are the 10-column books of ND30 (I.2 and
VI.2) for a date range, as XLSX: the gateway fills what it knows and leaves the paper-only
columns (ký nhận, số lượng bản) blank for the clerk.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from adapters.store.schema import deliveries, delivery_events, messages
from adapters.store.store import Store
from edxml import VIETNAM

__all__ = ["PeriodReport", "incoming_register", "outgoing_register", "period_report"]

OUTGOING_COLUMNS = (
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung",
    "Người ký",
    "Nơi nhận văn bản",
    "Đơn vị, người nhận bản lưu",
    "Số lượng bản",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
)
INCOMING_COLUMNS = (
    "Ngày đến",
    "Số đến",
    "Tác giả",
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu",
    "Đơn vị hoặc người nhận",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
)


@dataclass
class PeriodReport:
    start: dt.date
    end: dt.date
    agency: str
    sent: int = 0
    received: int = 0
    by_recipient: Counter[str] = field(default_factory=Counter)
    by_sender: Counter[str] = field(default_factory=Counter)
    by_state: Counter[str] = field(default_factory=Counter)
    arrived_same_day: int = 0
    arrived: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def on_time_rate(self) -> float | None:
        return self.arrived_same_day / self.arrived if self.arrived else None

    def rows(self) -> list[tuple[str, str, Any]]:
        """(section, key, value): the one table CSV, XLSX and HTML are made of."""
        rate = self.on_time_rate
        rows: list[tuple[str, str, Any]] = [
            ("Kỳ báo cáo", "từ", self.start.isoformat()),
            ("Kỳ báo cáo", "đến", self.end.isoformat()),
            ("Kỳ báo cáo", "cơ quan", self.agency),
            ("Tổng", "văn bản đi", self.sent),
            ("Tổng", "văn bản đến", self.received),
            ("Tổng", "tỷ lệ đến trong ngày", f"{rate:.1%}" if rate is not None else "—"),
        ]
        rows += [("Theo nơi nhận", k, v) for k, v in sorted(self.by_recipient.items())]
        rows += [("Theo nơi gửi", k, v) for k, v in sorted(self.by_sender.items())]
        rows += [("Theo trạng thái", k, v) for k, v in sorted(self.by_state.items())]
        rows += [("Lỗi gửi", k, v) for k, v in self.failures.most_common()]
        return rows

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("Mục", "Khoản", "Giá trị"))
        writer.writerows(self.rows())
        return out.getvalue()

    def xlsx(self) -> bytes:
        book, sheet = _sheet("Báo cáo", ("Mục", "Khoản", "Giá trị"))
        for row in self.rows():
            sheet.append(row)
        return _save(book)

    def html(self) -> str:
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row) + "</tr>"
            for row in self.rows()
        )
        return (
            '<!doctype html><html lang="vi"><meta charset="utf-8"><title>Báo cáo</title>'
            "<style>body{font-family:serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px}@media print{a{display:none}}</style>"
            f"<h1>Báo cáo gửi, nhận văn bản điện tử {self.start} – {self.end}</h1>"
            f"<table><tr><th>Mục</th><th>Khoản</th><th>Giá trị</th></tr>{body}</table></html>"
        )


def _sheet(title: str, header: Sequence[str]) -> tuple[Workbook, Worksheet]:
    """A workbook whose first sheet is ``title`` with a bold ``header`` row."""
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    return book, sheet


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _like(pattern: str) -> str:
    return pattern.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period in Vietnam days, as UTC instants (the store keeps UTC)."""
    begin = dt.datetime.combine(start, dt.time(), VIETNAM)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), VIETNAM)
    return begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)


async def period_report(
    store: Store, start: dt.date, end: dt.date, agency: str = "*"
) -> PeriodReport:
    report = PeriodReport(start, end, agency)
    begin, finish = _bounds(start, end)
    like = _like(agency)
    async with store.engine.connect() as connection:
        in_period = sa.and_(messages.c.created_at >= begin, messages.c.created_at < finish)
        report.sent = int(
            await connection.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    in_period,
                    messages.c.direction == "out",
                    messages.c.message_type == "edoc",
                    messages.c.sender.like(like, escape="\\"),
                )
            )
            or 0
        )
        received = await connection.execute(
            sa.select(messages.c.sender).where(
                in_period,
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                messages.c.recipient.like(like, escape="\\"),
            )
        )
        for row in received:
            report.received += 1
            report.by_sender[row.sender] += 1
        rows = await connection.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.recipient,
                deliveries.c.state,
                deliveries.c.last_error,
                messages.c.created_at,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(
                in_period,
                messages.c.direction == "out",
                messages.c.message_type == "edoc",
                messages.c.sender.like(like, escape="\\"),
            )
        )
        sent_at: dict[str, dt.datetime] = {}
        for row in rows:
            report.by_recipient[row.recipient] += 1
            report.by_state[row.state] += 1
            if row.state == "failed":
                report.failures[(row.last_error or "?").split(";")[0][:120]] += 1
            sent_at[row.id] = row.created_at
        if sent_at:
            arrivals = await connection.execute(
                sa.select(
                    delivery_events.c.delivery_id, sa.func.min(delivery_events.c.at).label("at")
                )
                .where(
                    delivery_events.c.delivery_id.in_(list(sent_at)),
                    delivery_events.c.to_state.in_(
                        ("arrived", "accepted", "rejected", "assigned", "processing", "done")
                    ),
                )
                .group_by(delivery_events.c.delivery_id)
            )
            for row in arrivals:
                report.arrived += 1
                when = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
                created = sent_at[row.delivery_id]
                created = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
                if when.astimezone(VIETNAM).date() == created.astimezone(VIETNAM).date():
                    report.arrived_same_day += 1
    return report


def _local_date(value: dt.datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(VIETNAM).strftime("%d/%m/%Y")


async def outgoing_register(store: Store, start: dt.date, end: dt.date, agency: str = "*") -> bytes:
    """The outgoing register (sổ đăng ký văn bản đi, ND30 Phụ lục IV I.2) as XLSX."""
    begin, finish = _bounds(start, end)
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(messages)
                .where(
                    messages.c.direction == "out",
                    messages.c.message_type == "edoc",
                    messages.c.created_at >= begin,
                    messages.c.created_at < finish,
                    messages.c.sender.like(_like(agency), escape="\\"),
                )
                .order_by(messages.c.created_at)
            )
        ).all()
        recipients: dict[str, list[str]] = {}
        if rows:
            for delivery in await connection.execute(
                sa.select(deliveries.c.message_id, deliveries.c.recipient).where(
                    deliveries.c.message_id.in_([r.id for r in rows])
                )
            ):
                recipients.setdefault(delivery.message_id, []).append(delivery.recipient)
    book, sheet = _sheet("Sổ văn bản đi", OUTGOING_COLUMNS)
    for row in rows:
        document_date = row.document_id.split(",")[1] if row.document_id.count(",") >= 2 else ""
        sheet.append(
            (
                row.code,
                document_date,
                row.subject,
                "",
                ", ".join(sorted(recipients.get(row.id, []))),
                "",
                "",
                _local_date(row.created_at),
                "",
                "gửi qua hệ thống",
            )
        )
    return _save(book)


async def incoming_register(store: Store, start: dt.date, end: dt.date, agency: str = "*") -> bytes:
    """The incoming register (sổ đăng ký văn bản đến, ND30 Phụ lục IV VI.2) as XLSX.

    The số đến runs through the year in order of arrival (Điều 22), counted from 1 January.
    """
    begin, finish = _bounds(start, end)
    year_start, _ = _bounds(dt.date(start.year, 1, 1), start)
    async with store.engine.connect() as connection:
        before = int(
            await connection.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    messages.c.direction == "in",
                    messages.c.message_type == "edoc",
                    messages.c.created_at >= year_start,
                    messages.c.created_at < begin,
                    messages.c.recipient.like(_like(agency), escape="\\"),
                )
            )
            or 0
        )
        rows = (
            await connection.execute(
                sa.select(messages)
                .where(
                    messages.c.direction == "in",
                    messages.c.message_type == "edoc",
                    messages.c.created_at >= begin,
                    messages.c.created_at < finish,
                    messages.c.recipient.like(_like(agency), escape="\\"),
                )
                .order_by(messages.c.created_at)
            )
        ).all()
    book, sheet = _sheet("Sổ văn bản đến", INCOMING_COLUMNS)
    for number, row in enumerate(rows, start=before + 1):
        document_date = row.document_id.split(",")[1] if row.document_id.count(",") >= 2 else ""
        note = "" if row.inbound_state in (None, "accepted") else row.inbound_state
        sheet.append(
            (
                _local_date(row.created_at),
                number,
                row.sender,
                row.code,
                document_date,
                row.subject,
                row.recipient or "",
                "",
                "",
                note,
            )
        )
    return _save(book)
