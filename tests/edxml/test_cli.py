"""``python -m edxml``: inspect, validate, extract, build; exit codes 0 / 1 / 2."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import edxml
from edxml._cli import main
from tests.factories import EXAMPLES, PDF, SAMPLES, document


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def test_inspect_a_document() -> None:
    code, out = run("inspect", str(SAMPLES / "edoc_update.edxml"))
    assert code == 0
    for expected in (
        "Sender:      000.00.00.G22  Văn phòng Chính phủ",
        "000.00.00.H14  UBND Tỉnh Cao Bằng",
        "Number:      7816/VPCP-TTĐT",
        "Subject:     V/v kết nối, liên thông phần mềm quản lý văn bản",
        "Business:    2 update (cập nhật) of 000.00.00.G22,2014/02/30,7806/VPCP-TTĐT",
        "cid:209  1896_QD-TTg_m_294779.doc  388,347 bytes",
    ):
        assert expected in out


def test_inspect_a_status_package() -> None:
    code, out = run("inspect", str(SAMPLES / "status_cancellation_13.edxml"))
    assert code == 0
    assert "Status:        13 Lấy lại / thu hồi" in out
    assert "Reported by:   000.00.00.G22" in out


def test_inspect_json_is_the_record(tmp_path: Path) -> None:
    code, out = run("inspect", str(SAMPLES / "edoc_new.edxml"), "--json")
    assert code == 0
    record = json.loads(out)
    assert record["kind"] == "document"
    assert record["recipients"][0]["organ_id"] == "28.22.H17"
    assert record["attachments"][0]["size"] == 388_347
    assert record["promulgation"]["date"] == "2019-01-16"


def test_validate_exit_codes() -> None:
    code, out = run("validate", str(SAMPLES / "edoc_update.edxml"))
    assert (code, out.strip()) == (0, f"{SAMPLES / 'edoc_update.edxml'}: valid")
    code, out = run("validate", str(SAMPLES / "edoc_new.edxml"))
    lines = out.strip().splitlines()
    assert code == 1
    assert len(lines) == 3
    assert lines[0].startswith(
        f"{SAMPLES / 'edoc_new.edxml'}:18: MessageHeader/To[1]/OrganId: '28.22.H17'"
    )
    assert lines[0].endswith("[agency-id; Điều 9; QĐ 28/2018 Điều 10.2a; QĐ 20/2020 Điều 4]")


def test_validate_reports_unreadable_files_as_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.edxml"
    broken.write_bytes(b"<edXML><unclosed>")
    code, out = run("validate", str(broken))
    assert code == 1
    assert "not well-formed" in out
    assert "[xml.malformed" in out


def test_missing_files_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("inspect", "/nonexistent.edxml")[0] == 2
    assert run("validate", "/nonexistent.edxml")[0] == 2
    assert "cannot read /nonexistent.edxml" in capsys.readouterr().err


def test_inspect_of_a_non_package_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.edxml"
    path.write_bytes(b"<html/>")
    assert run("inspect", str(path))[0] == 2
    assert "expected edXML" in capsys.readouterr().err


def test_extract_writes_safe_unique_names(tmp_path: Path) -> None:
    attachments = (
        edxml.Attachment(content_id="1", name="../../Công văn số 5.pdf", data=PDF),
        edxml.Attachment(content_id="2", name="Công văn số 5.pdf", data=b"second"),
    )
    package_path = tmp_path / "in.edxml"
    package_path.write_bytes(edxml.build(document(attachments=attachments)))
    code, _ = run("extract", str(package_path), str(tmp_path / "out"))
    assert code == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["Cong_van_so_5-2.pdf", "Cong_van_so_5.pdf"]
    assert (tmp_path / "out" / "Cong_van_so_5.pdf").read_bytes() == PDF
    assert not list(tmp_path.glob("*.pdf"))  # nothing escaped the target


def test_extract_of_the_sample(tmp_path: Path) -> None:
    code, _ = run("extract", str(SAMPLES / "edoc_new.edxml"), str(tmp_path))
    assert code == 0
    assert (tmp_path / "1896_QD-TTg_m_294779.doc").stat().st_size == 388_347


def test_build_the_example_record(tmp_path: Path) -> None:
    output = tmp_path / "sub" / "example.edxml"
    code, out = run("build", str(EXAMPLES / "record.json"), "-o", str(output))
    assert code == 0
    assert "000.00.01.H42,2026/11/25,05/UBND-VP" in out
    package = edxml.parse(output.read_bytes())
    assert isinstance(package, edxml.DocumentPackage)
    assert package.attachments[0].data == PDF
    assert package.attachments[0].name == "05_UBND-VP_trien_khai_lien_thong.pdf"
    assert edxml.validate(output.read_bytes()) == []


def test_build_refuses_an_invalid_record_unless_forced(tmp_path: Path) -> None:
    record = json.loads((EXAMPLES / "record.json").read_text(encoding="utf-8"))
    record["code"]["number"] = "5"
    record["attachments"][0]["path"] = str(
        EXAMPLES / "files" / "05_UBND-VP_trien_khai_lien_thong.pdf"
    )
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    output = tmp_path / "out.edxml"
    code, out = run("build", str(path), "-o", str(output))
    assert code == 1
    assert "[code-number" in out
    assert "not written" in out
    assert not output.exists()
    assert not list(tmp_path.glob(".out.edxml.*"))
    code, _ = run("build", str(path), "-o", str(output), "--force")
    assert code == 1
    assert output.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON record"),
        ("[]", "a record is a JSON object"),
        ('{"subject": "x"}', "required"),
    ],
)
def test_bad_records_are_exit_2(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text(content, encoding="utf-8")
    assert run("build", str(path), "-o", str(tmp_path / "o.edxml"))[0] == 2
    assert message in capsys.readouterr().err


def test_a_missing_attachment_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(EXAMPLES / "record.json", tmp_path / "record.json")
    assert run("build", str(tmp_path / "record.json"), "-o", str(tmp_path / "o.edxml"))[0] == 2
    assert "attachments[0]: cannot read" in capsys.readouterr().err


def test_python_dash_m_edxml_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edxml", "validate", str(SAMPLES / "status.edxml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip().endswith("status.edxml: valid")
