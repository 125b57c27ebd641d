"""The registers of Nghị định 30/2020 (Phụ lục IV): the outgoing register (sổ đăng ký văn
bản đi, I.2) and the incoming register (sổ đăng ký văn bản đến, VI.2), for a period and the
agencies matching a pattern, as XLSX and as a page to print.

Laid out as the decree's template: the register's title, year and agency, the ten columns
with their numbers (1)…(10), one row per document with real date cells, widths that fit an
A4 page in landscape. The incoming register lists the documents a clerk registered, under
the number they were given (Điều 22: it runs through the year per agency and never changes,
whatever the filter); a document refused at reception is never registered, so never
numbered. The paper-only columns (ký nhận) stay blank for the clerk.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from adapters.store.store import Store
from edxml import VIETNAM
from gateway.operate.layout import agency_name, period_bounds, period_text, save, workbook

__all__ = [
    "INCOMING_COLUMNS",
    "OUTGOING_COLUMNS",
    "Register",
    "incoming_register",
    "outgoing_register",
]

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
_OUTGOING_WIDTHS = (16, 12, 44, 22, 34, 16, 9, 12, 10, 18)
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
_INCOMING_WIDTHS = (12, 8, 28, 16, 12, 44, 22, 12, 10, 18)
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_DATE = "DD/MM/YYYY"


@dataclass(frozen=True)
class Register:
    title: str
    agency: str  # who keeps it, by name
    start: dt.date
    end: dt.date
    columns: Sequence[str]
    widths: Sequence[int]
    rows: Sequence[Sequence[Any]]

    def xlsx(self) -> bytes:
        book, sheet = workbook(self.title.capitalize())
        last = get_column_letter(len(self.columns))
        lines = (self.title, self.agency, f"Năm {self.end.year} — {period_text(self)}")
        for number, text in enumerate(lines, start=1):
            sheet.merge_cells(f"A{number}:{last}{number}")
            cell = sheet.cell(row=number, column=1, value=text)
            cell.font = Font(bold=number == 1, size=14 if number == 1 else 12)
            cell.alignment = Alignment(horizontal="center")
        sheet.append(list(self.columns))
        sheet.append([f"({n})" for n in range(1, len(self.columns) + 1)])
        for row in self.rows:
            sheet.append(list(row))
        for column, width in enumerate(self.widths, start=1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        wrap = Alignment(wrap_text=True, vertical="top")
        for line in sheet.iter_rows(min_row=4, max_row=sheet.max_row):
            for item in line:
                item.border, item.alignment = _BOX, wrap
                if isinstance(item.value, dt.date):
                    item.number_format = _DATE
        for item in sheet[4]:
            item.font = Font(bold=True)
            item.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.print_title_rows = "4:5"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        return save(book)

    def html(self) -> str:
        def cell(value: Any) -> str:
            if isinstance(value, dt.date):
                value = value.strftime("%d/%m/%Y")
            return f"<td>{html.escape('' if value is None else str(value))}</td>"

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        numbers = "".join(f"<th>({n})</th>" for n in range(1, len(self.columns) + 1))
        body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in self.rows)
        return (
            f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{self.title}</title>'
            "<style>@page{size:A4 landscape;margin:12mm}body{font-family:'Times New Roman',serif}"
            "h1,p{text-align:center;margin:.2em}table{border-collapse:collapse;width:100%;"
            "margin-top:1em}td,th{border:1px solid #000;padding:3px 5px;vertical-align:top;"
            "font-size:12px}thead{display:table-header-group}</style>"
            f"<h1>{html.escape(self.title)}</h1><p>{html.escape(self.agency)}</p>"
            f"<p>Năm {self.end.year} — {html.escape(period_text(self))}</p>"
            f"<table><thead><tr>{head}</tr><tr>{numbers}</tr></thead>"
            f"<tbody>{body}</tbody></table></html>"
        )


def _local_day(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(VIETNAM).date() if moment else None


async def outgoing_register(
    store: Store, start: dt.date, end: dt.date, agency: str = "*"
) -> Register:
    """The outgoing register: every document the agencies sent in the period."""
    names = await store.agency_names()
    rows = []
    for document in await store.sent_documents(agency, *period_bounds(start, end)):
        failed = [code for code, state in document["recipients"] if state == "failed"]
        recipients = [names.get(code, code) for code, _ in document["recipients"]]
        rows.append(
            (
                document["code"],
                document["document_date"],
                f"{document['document_type']} {document['subject']}".strip(),
                document["signer"],
                "; ".join(recipients),
                "",
                document["copies"],
                _local_day(document["created_at"]),
                "",
                "Gửi lỗi: " + ", ".join(failed) if failed else "Gửi qua hệ thống",
            )
        )
    title = "SỔ ĐĂNG KÝ VĂN BẢN ĐI"
    keeper = agency_name(names, agency)
    return Register(title, keeper, start, end, OUTGOING_COLUMNS, _OUTGOING_WIDTHS, rows)


async def incoming_register(
    store: Store, start: dt.date, end: dt.date, agency: str = "*"
) -> Register:
    """The incoming register: the documents registered (vào sổ) in the period, by number."""
    names = await store.agency_names()
    rows = []
    for document in await store.registered_incoming(agency, *period_bounds(start, end)):
        notes = []
        if document["inbound_state"] not in (None, "accepted"):
            notes.append({"recalled": "Đã thu hồi"}.get(document["inbound_state"], ""))
        if document["handling_due"]:
            notes.append(f"Hạn xử lý {document['handling_due']:%d/%m/%Y}")
        rows.append(
            (
                _local_day(document["created_at"]),
                document["incoming_number"],
                names.get(document["sender"], document["sender"]),
                document["code"],
                document["document_date"],
                f"{document['document_type']} {document['subject']}".strip(),
                document["assigned_to"] or "",
                "",
                "",
                "; ".join(note for note in notes if note),
            )
        )
    title = "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"
    keeper = agency_name(names, agency)
    return Register(title, keeper, start, end, INCOMING_COLUMNS, _INCOMING_WIDTHS, rows)
