"""The report on sending and receiving electronic documents (Điều 21.9: every six months),
for a period and the agencies matching a pattern: a titled document an office can send
upward, as XLSX, CSV or a page to print.

Every figure is defined on the report itself, and counted by its definition:

* a *delivery* is one document to one recipient (a document to four agencies is four);
* *arrived* means the recipient's system has it (status 01 or any later one);
* *arrived the same day*: it arrived on the Vietnam calendar day it was accepted;
* the *same-day rate* is arrived-the-same-day over **all** deliveries of the period — a
  failed delivery or one that never arrived counts against it, never out of it;
* *failed*: the delivery was given up (dead letter); *not arrived*: neither.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from openpyxl.styles import Font

from adapters.store.store import Store
from edxml import VIETNAM
from gateway.operate.layout import agency_name, period_bounds, period_text, save, workbook
from gateway.operate.registers import (
    INCOMING_COLUMNS,
    OUTGOING_COLUMNS,
    incoming_register,
    outgoing_register,
)

__all__ = [
    "DEFINITIONS",
    "INCOMING_COLUMNS",
    "KINDS",
    "OUTGOING_COLUMNS",
    "PeriodReport",
    "RecipientLine",
    "ReportFile",
    "incoming_register",
    "outgoing_register",
    "period_report",
    "report_file",
]

DEFINITIONS = (
    "Lượt gửi: một văn bản gửi đến một cơ quan (văn bản gửi bốn nơi là bốn lượt).",
    "Đã đến: hệ thống của nơi nhận đã nhận được (trạng thái 01 hoặc sau đó).",
    "Đến trong ngày: đã đến trong cùng ngày (giờ Việt Nam) văn bản được tiếp nhận để gửi.",
    "Tỷ lệ đến trong ngày = số lượt đến trong ngày / tổng số lượt gửi trong kỳ"
    " (lượt gửi lỗi và lượt chưa đến đều được tính vào mẫu số).",
    "Gửi lỗi: lượt gửi đã dừng, không gửi được. Chưa đến: không lỗi nhưng chưa đến.",
    "Văn bản đến: văn bản các cơ quan nhận được trong kỳ; đã vào sổ: được văn thư đăng ký.",
)


@dataclass
class RecipientLine:
    deliveries: int = 0
    arrived: int = 0
    same_day: int = 0
    failed: int = 0

    @property
    def not_arrived(self) -> int:
        return self.deliveries - self.arrived - self.failed

    def add(self, other: RecipientLine) -> None:
        self.deliveries += other.deliveries
        self.arrived += other.arrived
        self.same_day += other.same_day
        self.failed += other.failed


@dataclass
class PeriodReport:
    start: dt.date
    end: dt.date
    agency: str  # the pattern asked for
    agency_label: str = ""  # who it is for, by name
    sent: int = 0
    received: int = 0
    registered: int = 0
    refused: int = 0
    by_recipient: dict[str, RecipientLine] = field(default_factory=dict)
    by_sender: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def totals(self) -> RecipientLine:
        total = RecipientLine()
        for line in self.by_recipient.values():
            total.add(line)
        return total

    @property
    def same_day_rate(self) -> float | None:
        """Arrived the same day / all deliveries of the period (None: nothing was sent)."""
        total = self.totals
        return total.same_day / total.deliveries if total.deliveries else None

    def _named(self, code: str) -> str:
        return f"{self.names[code]} ({code})" if code in self.names else code

    def summary(self) -> list[tuple[str, str, object]]:
        """(section, item, value) of the period's figures: the report's summary table."""
        total, rate = self.totals, self.same_day_rate
        return [
            ("Văn bản đi", "số văn bản", self.sent),
            ("Văn bản đi", "lượt gửi", total.deliveries),
            ("Văn bản đi", "đã đến", total.arrived),
            ("Văn bản đi", "đến trong ngày", total.same_day),
            ("Văn bản đi", "gửi lỗi", total.failed),
            ("Văn bản đi", "chưa đến", total.not_arrived),
            ("Văn bản đi", "tỷ lệ đến trong ngày", f"{rate:.1%}" if rate is not None else "—"),
            ("Văn bản đến", "số văn bản", self.received),
            ("Văn bản đến", "đã vào sổ", self.registered),
            ("Văn bản đến", "từ chối tiếp nhận", self.refused),
        ]

    def rows(self) -> list[tuple[str, str, object]]:
        """(section, item, value): the flat form CSV is made of."""
        rows: list[tuple[str, str, object]] = [
            ("Kỳ báo cáo", "từ ngày", self.start.strftime("%d/%m/%Y")),
            ("Kỳ báo cáo", "đến ngày", self.end.strftime("%d/%m/%Y")),
            ("Kỳ báo cáo", "cơ quan", self.agency_label or self.agency),
            *self.summary(),
        ]
        for code, line in sorted(self.by_recipient.items()):
            rows += [
                ("Theo nơi nhận", f"{self._named(code)}: {item}", value)
                for item, value in (
                    ("lượt gửi", line.deliveries),
                    ("đến trong ngày", line.same_day),
                    ("gửi lỗi", line.failed),
                    ("chưa đến", line.not_arrived),
                )
            ]
        rows += [("Theo nơi gửi", self._named(k), v) for k, v in sorted(self.by_sender.items())]
        rows += [("Lỗi gửi", k, v) for k, v in self.failures.most_common()]
        rows += [("Định nghĩa", str(n), text) for n, text in enumerate(DEFINITIONS, start=1)]
        return rows

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("Mục", "Khoản", "Giá trị"))
        writer.writerows(self.rows())
        return out.getvalue()

    def recipient_table(self) -> list[tuple[object, ...]]:
        """One row per recipient, then the totals: the report's main table."""
        lines = [
            (self._named(code), *_figures(line)) for code, line in sorted(self.by_recipient.items())
        ]
        return [*lines, ("Tổng cộng", *_figures(self.totals))]

    def xlsx(self) -> bytes:
        book, sheet = workbook("Báo cáo")
        for line in (_TITLE, self.agency_label, period_text(self)):
            sheet.append([line])
        sheet["A1"].font = Font(bold=True, size=14)
        sheet.append([])
        for section, item, value in self.summary():
            sheet.append([f"{section}: {item}", value])
        sheet.append([])
        sheet.append(_TABLE_HEAD)
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for row in self.recipient_table():
            sheet.append(list(row))
        sheet.append([])
        for text in DEFINITIONS:
            sheet.append([text])
        sheet.column_dimensions["A"].width = 48
        return save(book)

    def html(self) -> str:
        def table(head: tuple[str, ...], body: Sequence[tuple[object, ...]]) -> str:
            cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in body
            )
            return f"<table><tr>{cells}</tr>{rows}</table>"

        summary = [(f"{section}: {item}", value) for section, item, value in self.summary()]
        senders = [(self._named(k), v) for k, v in sorted(self.by_sender.items())]
        definitions = "".join(f"<li>{html.escape(text)}</li>" for text in DEFINITIONS)
        return (
            '<!doctype html><html lang="vi"><meta charset="utf-8"><title>Báo cáo</title>'
            "<style>@page{size:A4;margin:15mm}body{font-family:'Times New Roman',serif}"
            "h1,.sub{text-align:center;margin:.2em}table{border-collapse:collapse;margin:.6em 0}"
            "td,th{border:1px solid #000;padding:3px 6px}</style>"
            f"<h1>{html.escape(_TITLE)}</h1>"
            f'<p class="sub">{html.escape(self.agency_label)}</p>'
            f'<p class="sub">{html.escape(period_text(self))}</p>'
            f"<h2>Tổng hợp</h2>{table(('Khoản', 'Giá trị'), summary)}"
            f"<h2>Văn bản đi, theo nơi nhận</h2>{table(_TABLE_HEAD, self.recipient_table())}"
            f"<h2>Văn bản đến, theo nơi gửi</h2>{table(('Nơi gửi', 'Số văn bản'), senders)}"
            f"<h2>Cách tính</h2><ol>{definitions}</ol></html>"
        )


_TITLE = "BÁO CÁO TÌNH HÌNH GỬI, NHẬN VĂN BẢN ĐIỆN TỬ"
_TABLE_HEAD = ("Nơi nhận", "Lượt gửi", "Đã đến", "Đến trong ngày", "Gửi lỗi", "Chưa đến", "Tỷ lệ")


def _figures(line: RecipientLine) -> tuple[object, ...]:
    rate = f"{line.same_day / line.deliveries:.1%}" if line.deliveries else "—"
    return (line.deliveries, line.arrived, line.same_day, line.failed, line.not_arrived, rate)


def _same_day(accepted: dt.datetime | None, arrived: dt.datetime | None) -> bool:
    if accepted is None or arrived is None:
        return False
    return accepted.astimezone(VIETNAM).date() == arrived.astimezone(VIETNAM).date()


async def period_report(
    store: Store, start: dt.date, end: dt.date, agency: str = "*"
) -> PeriodReport:
    names = await store.agency_names()
    report = PeriodReport(start, end, agency, agency_name(names, agency), names=names)
    bounds = period_bounds(start, end)
    outcomes = await store.delivery_outcomes(agency, *bounds)
    report.sent = len({delivery["message_id"] for delivery in outcomes})  # each has one or more
    for delivery in outcomes:
        line = report.by_recipient.setdefault(delivery["recipient"], RecipientLine())
        line.deliveries += 1
        if delivery["arrived_at"] is not None:
            line.arrived += 1
            line.same_day += _same_day(delivery["created_at"], delivery["arrived_at"])
        elif delivery["state"] == "failed":
            line.failed += 1
            report.failures[(delivery["last_error"] or "?").split(";")[0][:120]] += 1
    for document in await store.received_documents(agency, *bounds):
        report.received += 1
        report.by_sender[document["sender"]] += 1
        report.registered += document["incoming_number"] is not None
        report.refused += document["inbound_state"] == "rejected" or (
            document["reported_status"] == "02"
        )
    return report


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HTML = "text/html; charset=utf-8"
#: What ``report_file`` makes: the report as XLSX, CSV or a page to print, and each
#: register as XLSX or a page to print.
KINDS = (
    "xlsx",
    "csv",
    "html",
    "register-out",
    "register-in",
    "register-out-html",
    "register-in-html",
)


@dataclass(frozen=True)
class ReportFile:
    data: bytes
    content_type: str
    filename: str


async def report_file(
    store: Store, kind: str, start: dt.date, end: dt.date, agency: str = "*"
) -> ReportFile:
    """The report or register ``kind`` (one of ``KINDS``) for the period and agencies: the
    one place the dashboard's downloads and the ``report`` command get it from."""
    if kind.startswith("register-"):
        outgoing = kind.startswith("register-out")
        make = outgoing_register if outgoing else incoming_register
        register = await make(store, start, end, agency)
        name = f"so-van-ban-{'di' if outgoing else 'den'}-{start}-{end}"
        if kind.endswith("-html"):
            return ReportFile(register.html().encode(), _HTML, f"{name}.html")
        return ReportFile(register.xlsx(), _XLSX, f"{name}.xlsx")
    found = await period_report(store, start, end, agency)
    name = f"bao-cao-{start}-{end}"
    if kind == "csv":  # with a BOM: Excel then reads it as UTF-8
        return ReportFile(found.csv().encode("utf-8-sig"), "text/csv", f"{name}.csv")
    if kind == "html":
        return ReportFile(found.html().encode(), _HTML, f"{name}.html")
    return ReportFile(found.xlsx(), _XLSX, f"{name}.xlsx")
