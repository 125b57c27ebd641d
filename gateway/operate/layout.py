"""What the reports and the registers share: the period in Vietnam days, the agency they are
for by name, and an XLSX workbook to fill."""

from __future__ import annotations

import datetime as dt
import io
from typing import Protocol

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from edxml import VIETNAM

__all__ = ["agency_name", "period_bounds", "period_text", "save", "workbook"]


class _Period(Protocol):
    @property
    def start(self) -> dt.date: ...
    @property
    def end(self) -> dt.date: ...


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period in Vietnam days, as UTC instants (the store keeps UTC): [start, end + 1)."""
    begin = dt.datetime.combine(start, dt.time(), VIETNAM)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), VIETNAM)
    return begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)


def period_text(period: _Period) -> str:
    return f"từ ngày {period.start:%d/%m/%Y} đến ngày {period.end:%d/%m/%Y}"


def agency_name(names: dict[str, str], pattern: str) -> str:
    """The agency a report is for: its name and code, or what the pattern covers."""
    if pattern in names:
        return f"{names[pattern]} ({pattern})"
    if pattern in ("*", ""):
        return "Tất cả các cơ quan của cổng"
    return f"Các cơ quan có mã {pattern}"


def workbook(title: str) -> tuple[Workbook, Worksheet]:
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title[:31]  # Excel's limit on a sheet's name
    return book, sheet


def save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
