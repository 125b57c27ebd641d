"""A timeline event's detail in the user's words.

The store writes each event's detail in a few fixed shapes ("attempt 2 failed: …; next at
…"); here each shape becomes the catalogue's sentence in the user's language, with what it
carries (an attempt number, a time, the destination's own error, quoted as it said it). A
detail of no known shape (a status' description, a recipient's text) is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from edxml import VIETNAM

__all__ = ["event_detail"]

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"attempt (?P<n>\d+), remote id (?P<remote>\S+?)(?:: (?P<note>.*))?\Z"), "ev_sent"),
    (re.compile(r"attempt (?P<n>\d+)(?:: (?P<note>found at the destination))?\Z"), "ev_attempt"),
    (
        re.compile(r"attempt (?P<n>\d+) failed: (?P<error>.*?); next at (?P<next>\S+)\Z", re.S),
        "ev_retry",
    ),
    (re.compile(r"attempt (?P<n>\d+): the previous attempt did not reach .*\Z"), "ev_not_reached"),
    (re.compile(r"attempt (?P<n>\d+): the previous attempt may have arrived.*\Z"), "ev_may_twice"),
    (re.compile(r"attempt (?P<n>\d+): (?P<error>.*)\Z", re.S), "ev_failed"),
    (re.compile(r"requeued\Z"), "ev_requeued"),
    (re.compile(r"recall requested: (?P<reason>.*)\Z", re.S), "ev_recall"),
    (re.compile(r"update sent: (?P<reason>.*)\Z", re.S), "ev_update"),
    (re.compile(r"replaced by (?P<document>[^:]+): (?P<reason>.*)\Z", re.S), "ev_replaced"),
)


def _local(moment: str) -> str:
    try:
        when = dt.datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S")


def event_detail(detail: str | None, t: Callable[[str], str]) -> str:
    """``detail`` in the words ``t`` gives (a key per shape, ``{n}``-style fields)."""
    if not detail:
        return ""
    for pattern, key in _SHAPES:
        found = pattern.match(detail)
        if found is None:
            continue
        fields = {name: value or "" for name, value in found.groupdict().items()}
        if "next" in fields:
            fields["next"] = _local(fields["next"])
        return t(key).format_map(fields)
    return detail
