"""edxml.safe_filename: a conforming name (Điều 8.4) for any name a clerk types."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

import edxml
from edxml._filenames import filename_problem

CONFORMING = re.compile(r"[A-Za-z0-9._-]{1,50}\Z")


def test_vietnamese_names() -> None:
    assert edxml.safe_filename("Công văn số 05 về đề án.pdf") == "Cong_van_so_05_ve_de_an.pdf"
    assert edxml.safe_filename("Đề nghị của Sở Tài chính.docx") == "De_nghi_cua_So_Tai_chinh.docx"
    assert edxml.safe_filename("Tờ trình (bản ký số).PDF") == "To_trinh_ban_ky_so.PDF"
    assert edxml.safe_filename("Quyết định 1896/QĐ-TTg.doc") == "Quyet_dinh_1896_QD-TTg.doc"


def test_already_conforming_names_are_unchanged() -> None:
    for name in ["1896_QD-TTg_m_294779.doc", "a.pdf", "bao-cao.v2.xlsx"]:
        assert edxml.safe_filename(name) == name


def test_long_names_are_cut_to_50_keeping_the_extension() -> None:
    name = "Báo cáo tổng hợp tình hình kinh tế xã hội tháng mười một năm 2026.xlsx"
    safe = edxml.safe_filename(name)
    assert len(safe) == 50
    assert safe.endswith(".xlsx")
    assert safe.startswith("Bao_cao_tong_hop")


def test_path_tricks_and_empty_names() -> None:
    assert edxml.safe_filename("../../etc/passwd") == "etc_passwd"
    assert edxml.safe_filename(".hidden.pdf") == "hidden.pdf"
    assert edxml.safe_filename("") == "file"
    assert edxml.safe_filename("....pdf") == "file.pdf"
    assert edxml.safe_filename("văn bản") == "van_ban"


@given(st.text(max_size=120))
def test_the_result_always_conforms(name: str) -> None:
    safe = edxml.safe_filename(name)
    assert CONFORMING.match(safe), safe
    assert filename_problem(safe) is None


@given(st.text(alphabet="abcdeđêơưăâ ĐÂ_-0123456789", min_size=1, max_size=30))
def test_the_extension_is_kept(stem: str) -> None:
    assert edxml.safe_filename(f"{stem}.pdf").endswith(".pdf")
