"""Valid packages to start tests from; each test changes only what it is about."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import edxml

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "samples"
ATTACKS = FIXTURES / "attacks"
EXAMPLES = Path(__file__).parent.parent / "config" / "examples"

#: The official samples that conform to every rule. The other two (edoc_new*) really
#: break some: tests/edxml/test_samples.py names exactly which.
CLEAN_SAMPLES = sorted(
    path.name for path in SAMPLES.glob("*.edxml") if not path.name.startswith("edoc_new")
)
ALL_SAMPLES = sorted(path.name for path in SAMPLES.glob("*.edxml"))

PDF = (EXAMPLES / "files" / "05_UBND-VP_trien_khai_lien_thong.pdf").read_bytes()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def organization(organ_id: str = "000.00.01.H42", **fields: Any) -> edxml.Organization:
    defaults: dict[str, Any] = {"organ_name": "Văn phòng UBND tỉnh Ninh Bình"}
    return edxml.Organization(organ_id=organ_id, **{**defaults, **fields})


def document(**overrides: Any) -> edxml.DocumentPackage:
    """A new document (type 0) from Ninh Bình to the Government Office, one PDF attached."""
    package = edxml.DocumentPackage(
        sender=organization(),
        recipients=(organization("000.00.00.G22", organ_name="Văn phòng Chính phủ"),),
        document_id="000.00.01.H42,2026/11/25,05/UBND-VP",
        code=edxml.Code(number="05", notation="UBND-VP"),
        promulgation=edxml.PromulgationInfo(place="Ninh Bình", date=dt.date(2026, 11, 25)),
        document_type=edxml.DocumentType(type=1, type_detail=0, type_name="Công văn"),
        subject="V/v triển khai kết nối, liên thông văn bản điện tử",
        content="V/v triển khai kết nối, liên thông văn bản điện tử",
        signer=edxml.SignerInfo(
            competence="TL. CHỦ TỊCH", position="Chánh Văn phòng", full_name="Nguyễn Văn An"
        ),
        due_date=dt.date(2026, 12, 10),
        other_info=edxml.OtherInfo(priority=1, page_amount=1, direction=False),
        steering_type=1,
        trace_headers=(
            edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=dt.datetime(2026, 11, 25, 8, 30)),
        ),
        business=edxml.Business(doc_type=0, reason="Văn bản điện tử mới", paper=0),
        attachments=(
            edxml.Attachment(
                content_id="a1", name="05_UBND-VP.pdf", data=PDF, description="Công văn"
            ),
        ),
    )
    return dataclasses.replace(package, **overrides)


def status(**overrides: Any) -> edxml.StatusPackage:
    """Status 03 (accepted) from the Government Office about the document above."""
    package = edxml.StatusPackage(
        sender=organization("000.00.00.G22", organ_name="Văn phòng Chính phủ"),
        response_for=edxml.ResponseFor(
            organ_id="000.00.01.H42",
            code="05/UBND-VP",
            promulgation_date=dt.date(2026, 11, 25),
            document_id="000.00.01.H42,2026/11/25,05/UBND-VP",
        ),
        staff=edxml.StaffInfo(department="Văn thư", staff="Lê Thị Cúc"),
        status_code="03",
        description="Đã tiếp nhận, vào sổ văn bản đến",
        timestamp=dt.datetime(2026, 11, 25, 9, 15, 2),
    )
    return dataclasses.replace(package, **overrides)


def rules_of(problems: list[edxml.Problem]) -> set[str]:
    return {problem.rule for problem in problems}
