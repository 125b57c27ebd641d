"""Agency identifiers and document identifiers (spec 4; the provincial regulation's Điều 6 and 7).

Agency ids come in two forms:

* legacy QCVN 102:2016, 13 characters ``LLL.LL.LL.XNN``, the level-1 code last
  (``000.00.00.G22`` Văn phòng Chính phủ, ``000.00.00.H42`` UBND tỉnh Ninh Bình);
* QĐ 20/2020/QĐ-TTg Điều 4 (edXML OrganId since Thông tư 01/2022): at most 35 characters
  of ``0-9``, ``A-Z`` and ``.``, in dot-separated groups developed from left to right, the
  leftmost group being the level-1 code (letter + two digits, e.g. ``H42``). Only this much
  of the text could be read, so the check is that shape and no more.

The document id is ``<sender OrganId>,<yyyy/MM/dd>,<CodeNumber>/<CodeNotation>`` (every
official sample; QĐ 28/2018 Điều 10.2b says agency id + year + number). Its date is
checked for shape only: an official sample carries ``2014/02/30`` (spec 6.3).
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import re
from collections.abc import Iterable
from typing import NamedTuple

from ._values import format_date

__all__ = [
    "AgencyIdForm",
    "DocumentIdParts",
    "agency_id_form",
    "is_agency_id",
    "make_document_id",
    "matches_agency",
    "split_document_id",
]

_LEGACY = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}\Z")
_QD20 = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9A-Z]+)+\Z")
_QD20_MAX = 35
_DOCUMENT_ID = re.compile(
    r"(?P<organ_id>[^,]+),(?P<date>[0-9]{4}/[0-9]{2}/[0-9]{2}),(?P<number>[^,/]+)/(?P<notation>[^,]+)\Z"
)


class AgencyIdForm(enum.StrEnum):
    LEGACY = "legacy"  # QCVN 102:2016, LLL.LL.LL.XNN
    QD20 = "qd20"  # QĐ 20/2020/QĐ-TTg, up to 35 characters


def agency_id_form(value: str) -> AgencyIdForm | None:
    """Which form ``value`` has, or ``None`` when it is not an agency id."""
    if _LEGACY.match(value):
        return AgencyIdForm.LEGACY
    if len(value) <= _QD20_MAX and _QD20.match(value):
        return AgencyIdForm.QD20
    return None


def is_agency_id(value: str) -> bool:
    return agency_id_form(value) is not None


class DocumentIdParts(NamedTuple):
    organ_id: str
    date: str  # as written; not necessarily a real calendar date
    number: str
    notation: str


def make_document_id(organ_id: str, promulgation_date: dt.date, number: str, notation: str) -> str:
    """``000.00.00.G22,2015/09/30,7816/VPCP-TTĐT`` from its parts (spec 4.3)."""
    return f"{organ_id},{format_date(promulgation_date)},{number}/{notation}"


def split_document_id(value: str) -> DocumentIdParts | None:
    """The parts of a document id, or ``None`` when it does not have the standard shape."""
    match = _DOCUMENT_ID.match(value)
    if match is None:
        return None
    return DocumentIdParts(**match.groupdict())


def matches_agency(organ_id: str, patterns: Iterable[str]) -> bool:
    """Whether ``organ_id`` matches one of the agency ``patterns`` (``000.00.13.H42``,
    ``*.H42``: ``*`` any run, ``?`` one character), as settings, clients and users name them."""
    return any(fnmatch.fnmatchcase(organ_id, pattern) for pattern in patterns)
