"""Reports (Điều 21.9) and the ND30 registers: counts, same-day arrival, XLSX, the CLI."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from adapters.store.directory import ListedAgency
from adapters.store.store import NewDelivery, NewMessage, Store
from gateway.cli.main import main
from gateway.operate.reports import (
    INCOMING_COLUMNS,
    OUTGOING_COLUMNS,
    incoming_register,
    outgoing_register,
    period_report,
)

DAY = dt.date(2026, 11, 25)
TAY_NINH = "000.00.11.H53"


async def _seed(store: Store) -> list[str]:
    """A document to four agencies: one arrives that day, one fails, two never arrive; three
    received documents: two registered (numbers 1 and 2), one refused."""
    await store.replace_axis_agencies(
        [ListedAgency("000.00.00.G22", "Văn phòng Chính phủ"), ListedAgency(TAY_NINH, "Tây Ninh")]
    )
    recipients = ["000.00.00.G22", TAY_NINH, "000.00.00.G10", "000.00.00.G11"]
    _, (a, b, _c, _d) = await store.accept(
        NewMessage(
            direction="out",
            document_id="000.00.01.H42,2026/11/25,05/UBND-VP",
            sender="000.00.01.H42",
            code="05/UBND-VP",
            subject="V/v triển khai",
            package_ref="0" * 64,
            package_size=1,
            document_type="Công văn",
            signer="Chánh Văn phòng Nguyễn Văn An",
            document_date=DAY,
            copies=2,
        ),
        [NewDelivery(r, "axis") for r in recipients],
    )
    jobs = {job.delivery_id: job for job in await store.claim_due(10, lease_seconds=60)}
    for job in jobs.values():
        if job.delivery_id != b:
            await store.mark_sent(job.delivery_id, job.attempt, "x")
    await store.move(a, "sent", "arrived", source="status:01", status_code="01")
    await store.mark_failed(b, jobs[b].attempt, "refused: unknown recipient agencies; HTTP 400")
    received = []
    for number in (1, 2, 3):
        message_id, _ = await store.accept(
            NewMessage(
                direction="in",
                document_id=f"000.00.00.G22,2026/11/24,0{number}/VPCP",
                sender="000.00.00.G22",
                code=f"0{number}/VPCP",
                subject="Báo cáo",
                package_ref="0" * 64,
                package_size=1,
                document_type="Công văn",
                document_date=DAY - dt.timedelta(days=1),
            ),
            [],
            deliver=False,
        )
        state = "rejected" if number == 2 else "accepted"
        recipient = "000.00.12.H42" if number == 3 else "000.00.01.H42"
        await store.set_inbound(message_id, state=state, recipient=recipient)
        if state == "accepted":
            await store.register_incoming(message_id, 2026)
        received.append(message_id)
    return received


async def test_the_period_report_counts_every_figure_by_its_definition(store: Store) -> None:
    await _seed(store)  # the store's clock says 2026-11-25 08:00 UTC = 15:00 in Vietnam
    report = await period_report(store, DAY, DAY, "*.H42")
    assert (report.sent, report.received, report.registered, report.refused) == (1, 3, 2, 1)
    total = report.totals
    assert (total.deliveries, total.arrived, total.same_day, total.failed) == (4, 1, 1, 1)
    assert total.not_arrived == 2
    assert report.same_day_rate == 0.25  # one of four, not one of the one that arrived
    assert report.failures == {"refused: unknown recipient agencies": 1}
    assert "tỷ lệ đến trong ngày,25.0%" in report.csv()
    table = report.recipient_table()
    assert table[-1] == ("Tổng cộng", 4, 1, 1, 1, 2, "25.0%")
    assert ("Tây Ninh (000.00.11.H53)", 1, 0, 0, 1, 0, "0.0%") in table
    sheet = load_workbook(io.BytesIO(report.xlsx())).active
    assert sheet is not None
    assert sheet["A1"].value == "BÁO CÁO TÌNH HÌNH GỬI, NHẬN VĂN BẢN ĐIỆN TỬ"
    assert sheet["A3"].value == "từ ngày 25/11/2026 đến ngày 25/11/2026"
    page = report.html()
    assert "Tỷ lệ đến trong ngày = số lượt đến trong ngày / tổng số lượt gửi" in page
    assert "Văn phòng Chính phủ (000.00.00.G22)" in page
    empty = await period_report(store, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2))
    assert (empty.sent, empty.same_day_rate) == (0, None)


async def test_the_nd30_registers_follow_the_decree(store: Store) -> None:
    await _seed(store)
    outgoing = load_workbook(
        io.BytesIO((await outgoing_register(store, DAY, DAY, "*.H42")).xlsx())
    ).active
    incoming = load_workbook(
        io.BytesIO((await incoming_register(store, DAY, DAY, "*.H42")).xlsx())
    ).active
    assert outgoing is not None
    assert incoming is not None
    assert outgoing["A1"].value == "SỔ ĐĂNG KÝ VĂN BẢN ĐI"
    assert incoming["A1"].value == "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"
    assert incoming["A3"].value.startswith("Năm 2026")
    assert [c.value for c in outgoing[4]] == list(OUTGOING_COLUMNS)
    assert [c.value for c in incoming[4]] == list(INCOMING_COLUMNS)
    assert outgoing["A5"].value == "(1)"
    row = [c.value for c in outgoing[6]]
    assert row[0] == "05/UBND-VP"
    assert row[1] == dt.datetime(2026, 11, 25)  # a real date cell
    assert outgoing["B6"].number_format == "DD/MM/YYYY"
    assert row[2] == "Công văn V/v triển khai"  # Tên loại and trích yếu
    assert row[3] == "Chánh Văn phòng Nguyễn Văn An"  # Người ký
    assert "Văn phòng Chính phủ" in row[4]  # recipients by name
    assert row[6] == 2  # Số lượng bản
    numbers = [incoming.cell(row=r, column=2).value for r in range(6, incoming.max_row + 1)]
    assert numbers == [1, 1]  # each agency's register: registered ones only, refused not
    office = load_workbook(
        io.BytesIO((await incoming_register(store, DAY, DAY, "000.00.12.H42")).xlsx())
    ).active
    assert office is not None
    assert office["B6"].value == 1  # the number does not change with the filter
    assert office["C6"].value == "Văn phòng Chính phủ"
    printable = (await outgoing_register(store, DAY, DAY, "*.H42")).html()
    assert "size:A4 landscape" in printable
    assert "<th>(10)</th>" in printable


def test_the_report_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDXML_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    out = tmp_path / "bao-cao.xlsx"
    assert main(["report", "--from", "2026-06-01", "--to", "2026-11-30", "-o", str(out)]) == 0
    assert load_workbook(out).active is not None
    assert main(["report", "--from", "2026-06-01", "--to", "2026-05-30", "-o", str(out)]) == 2
    assert "before" in capsys.readouterr().out
