"""Text forms of edXML values: written strictly, read leniently (spec 1.7 and 6.3).

Dates are written ``yyyy/MM/dd`` and timestamps ``yyyy/MM/dd HH:mm:ss`` (local time, no
zone), as the VNPT ``DateUtils`` does. Real senders also emit ``dd/MM/yyyy``, ISO dates, a
time part inside a date field, and empty elements, so the readers accept those. A reader
returns ``None`` for an empty value and raises ``ValueError`` with a short reason otherwise;
the parser turns that into a ``FieldValueError`` that names the element and line.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "VIETNAM",
    "format_bool",
    "format_date",
    "format_timestamp",
    "read_bool",
    "read_date",
    "read_int",
    "read_timestamp",
    "vietnam_now",
]

#: Vietnam time (ICT, UTC+7): edXML timestamps are local time without a zone (spec 1.7).
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")


def vietnam_now() -> dt.datetime:
    """Now on the Vietnam wall clock, to the second and without a zone: an edXML timestamp."""
    return dt.datetime.now(VIETNAM).replace(tzinfo=None, microsecond=0)


_INT_RE = re.compile(r"[+-]?[0-9]+\Z")

# year-first (2020/10/30, 2020-10-30) or day-first (30/10/2020, 30-10-2020), optionally
# followed by a time (" 17:19:16", "T17:19:16", with fractions or a zone we drop).
_DATE_RE = re.compile(
    r"""^(?:(?P<y1>\d{4})[/-](?P<m1>\d{1,2})[/-](?P<d1>\d{1,2})
        |(?P<d2>\d{1,2})[/-](?P<m2>\d{1,2})[/-](?P<y2>\d{4}))
        (?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\.\d+)?
           (?:Z|[+-]\d{2}:?\d{2})?)?$""",
    re.VERBOSE,
)


def format_date(value: dt.date) -> str:
    # Not strftime: it does not zero-pad years below 1000 on every platform.
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(value: dt.datetime) -> str:
    return f"{format_date(value)} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def format_bool(value: bool) -> str:
    return "true" if value else "false"


def _match(text: str) -> tuple[dt.date, dt.time | None]:
    match = _DATE_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date (expected yyyy/MM/dd)")
    parts = match.groupdict()
    year, month, day = (
        (parts["y1"], parts["m1"], parts["d1"])
        if parts["y1"]
        else (parts["y2"], parts["m2"], parts["d2"])
    )
    try:
        day_value = dt.date(int(year), int(month), int(day))
        time_value = (
            dt.time(int(parts["H"]), int(parts["M"]), int(parts["S"] or 0)) if parts["H"] else None
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid calendar date or time ({exc})") from None
    return day_value, time_value


def read_date(text: str | None) -> dt.date | None:
    """Read a date field; a time part, if any, is dropped."""
    text = (text or "").strip()
    if not text:
        return None
    return _match(text)[0]


def read_timestamp(text: str | None) -> dt.datetime | None:
    """Read a timestamp field; a bare date reads as midnight."""
    text = (text or "").strip()
    if not text:
        return None
    day, time = _match(text)
    return dt.datetime.combine(day, time or dt.time())


def read_int(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    # int() alone would also take "1_000" and non-ASCII digits.
    if not _INT_RE.match(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text, 10)


def read_bool(text: str | None) -> bool | None:
    text = (text or "").strip().lower()
    if not text:
        return None
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    raise ValueError(f"{text!r} is not true/false")
