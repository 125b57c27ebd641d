"""Text forms of dates, timestamps, numbers and flags: written strictly, read leniently."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edxml._values import (
    format_date,
    format_timestamp,
    read_bool,
    read_date,
    read_int,
    read_timestamp,
)


def test_formats() -> None:
    assert format_date(dt.date(2015, 9, 3)) == "2015/09/03"
    assert format_date(dt.date(999, 1, 2)) == "0999/01/02"
    assert format_timestamp(dt.datetime(2018, 9, 28, 7, 5, 1)) == "2018/09/28 07:05:01"


@given(st.dates())
def test_dates_round_trip(value: dt.date) -> None:
    assert read_date(format_date(value)) == value


@given(st.datetimes())
def test_timestamps_round_trip_to_the_second(value: dt.datetime) -> None:
    assert read_timestamp(format_timestamp(value)) == value.replace(microsecond=0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2018/09/28 17:25:11", dt.datetime(2018, 9, 28, 17, 25, 11)),
        ("2018-09-28T17:25:11", dt.datetime(2018, 9, 28, 17, 25, 11)),
        ("2018-09-28T17:25:11.123+07:00", dt.datetime(2018, 9, 28, 17, 25, 11)),
        ("28/09/2018 17:25", dt.datetime(2018, 9, 28, 17, 25)),
        ("2018/09/28", dt.datetime(2018, 9, 28)),
    ],
)
def test_lenient_timestamps(text: str, value: dt.datetime) -> None:
    assert read_timestamp(text) == value


@pytest.mark.parametrize(
    "text", ["2014/02/30", "2018/13/01", "yesterday", "18/9/28", "2018/09/28 25:00"]
)
def test_bad_dates_say_why(text: str) -> None:
    with pytest.raises(ValueError, match=r"date|time"):
        read_timestamp(text)


def test_empty_values_read_as_none() -> None:
    assert read_date("") is None
    assert read_date(None) is None
    assert read_timestamp("  ") is None
    assert read_int("") is None
    assert read_bool(None) is None


def test_numbers_and_flags() -> None:
    assert read_int(" 42 ") == 42
    assert read_int("-1") == -1
    for bad in ["1_000", "٣", "4.0", "x"]:
        with pytest.raises(ValueError, match="whole number"):
            read_int(bad)
    assert read_bool("true") is True
    assert read_bool("FALSE") is False
    assert read_bool("1") is True
    with pytest.raises(ValueError, match="true/false"):
        read_bool("yes")
