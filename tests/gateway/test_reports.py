"""Reports (Điều 21.9) and the ND30 registers: counts, same-day arrival, XLSX, the CLI."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from adapters.store.schema import messages
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


async def _seed(store: Store) -> None:
    _, (a, b) = await store.accept(
        NewMessage(
            direction="out",
            document_id="000.00.01.H42,2026/11/25,05/UBND-VP",
            sender="000.00.01.H42",
            code="05/UBND-VP",
            subject="V/v triển khai",
            package_ref="0" * 64,
            package_size=1,
        ),
        [NewDelivery("000.00.00.G22", "axis"), NewDelivery("000.00.00.H53", "axis")],
    )
    jobs = {job.delivery_id: job for job in await store.claim_due(10, lease_seconds=60)}
    await store.mark_sent(a, jobs[a].attempt, "x")
    await store.move(a, "sent", "arrived", source="status:01", status_code="01")
    await store.mark_failed(b, jobs[b].attempt, "refused: unknown recipient agencies; HTTP 400")
    for number in (1, 2):
        message_id, _ = await store.accept(
            NewMessage(
                direction="in",
                document_id=f"000.00.00.G22,2026/11/24,0{number}/VPCP",
                sender="000.00.00.G22",
                code=f"0{number}/VPCP",
                subject="Báo cáo",
                package_ref="0" * 64,
                package_size=1,
            ),
            [],
            deliver=False,
        )
        async with store.engine.begin() as connection:
            await connection.execute(
                messages.update()
                .where(messages.c.id == message_id)
                .values(recipient="000.00.01.H42", inbound_state="accepted")
            )


async def test_the_period_report(store: Store) -> None:
    await _seed(store)  # the store's clock says 2026-11-25 08:00 UTC = 15:00 in Vietnam
    report = await period_report(store, DAY, DAY, "*.H42")
    assert (report.sent, report.received) == (1, 2)
    assert report.by_state == {"arrived": 1, "failed": 1}
    assert report.by_recipient == {"000.00.00.G22": 1, "000.00.00.H53": 1}
    assert report.on_time_rate == 1.0
    assert report.failures == {"refused: unknown recipient agencies": 1}
    assert "tỷ lệ đến trong ngày,100.0%" in report.csv()
    sheet = load_workbook(io.BytesIO(report.xlsx())).active
    assert sheet is not None
    assert sheet["A1"].value == "Mục"
    assert "<table>" in report.html()
    empty = await period_report(store, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2))
    assert (empty.sent, empty.on_time_rate) == (0, None)


async def test_the_nd30_registers(store: Store) -> None:
    await _seed(store)
    outgoing = load_workbook(io.BytesIO(await outgoing_register(store, DAY, DAY, "*.H42"))).active
    incoming = load_workbook(io.BytesIO(await incoming_register(store, DAY, DAY, "*.H42"))).active
    assert outgoing is not None and incoming is not None  # noqa: PT018
    assert [c.value for c in outgoing[1]] == list(OUTGOING_COLUMNS)
    assert [c.value for c in incoming[1]] == list(INCOMING_COLUMNS)
    assert outgoing["A2"].value == "05/UBND-VP"
    assert outgoing["E2"].value == "000.00.00.G22, 000.00.00.H53"
    assert [incoming["B2"].value, incoming["B3"].value] == [1, 2]  # số đến, consecutive


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
