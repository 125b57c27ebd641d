"""Every text a user sees comes from the catalogue (texts.json), in both languages.

Literal keys in the templates and every value of the families the pages look up by prefix
(states, urgencies, roles, refusals, errors) are checked here; a key missing at run time
raises ``MissingText``, which the suite turns into a failure on whichever page asked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.delivery.states import DeliveryState
from gateway.http.dashboard.errors import _KNOWN
from gateway.http.dashboard.pages import MissingText, words
from gateway.http.dashboard.received import _ACTIONS, _ERRORS

DASHBOARD = Path(__file__).resolve().parents[2] / "gateway" / "http" / "dashboard"
TEXTS = json.loads((DASHBOARD / "texts.json").read_text(encoding="utf-8"))
LITERAL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*\)""")


def _template_keys() -> set[str]:
    found: set[str] = set()
    for template in (DASHBOARD / "templates").glob("*.html"):
        found |= set(LITERAL.findall(template.read_text(encoding="utf-8")))
    return found


FAMILIES = {
    *(f"s_{state.value}" for state in DeliveryState),
    *(f"in_{state}" for state in ("accepted", "rejected", "recalled", "recall_requested")),
    *(f"priority_{level}" for level in range(5)),
    *(f"role_{role}" for role in ("viewer", "clerk", "admin")),
    *(f"err_{error}" for error in _ERRORS),
    *(f"http_{status}" for status in _KNOWN),
    *(f"act_{name}" for name in _ACTIONS),
    *(f"probed_{outcome}" for outcome in ("ok", "failed", "unknown")),
    "login_wrong",
    "login_locked",
    "login_too_many",
    "password_wrong",
    "password_short",
    "password_mismatch",
}


def test_both_languages_have_the_same_words() -> None:
    assert set(TEXTS["vi"]) == set(TEXTS["en"])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_key_the_pages_use_is_in_the_catalogue(lang: str) -> None:
    missing = (_template_keys() | FAMILIES) - set(TEXTS[lang])
    assert not missing, f"{lang}: {sorted(missing)}"


def test_a_missing_key_is_a_warning_the_suite_fails_on() -> None:
    with pytest.warns(MissingText, match="no vi text for 'no_such_key'"):
        assert words("vi")("no_such_key") == "no_such_key"


def test_timeline_details_of_every_shape_read_in_vietnamese() -> None:
    """The store's own detail texts (made here by the store's own functions, so a change of
    their shape fails this) become the catalogue's sentences; the destination's words stay."""
    import datetime as dt

    from adapters.store.store import AttemptOutcome
    from gateway.http.dashboard.timeline import event_detail

    t = words("vi")
    later = dt.datetime(2026, 11, 25, 8, 0, 30, tzinfo=dt.UTC)
    shown = [
        event_detail(AttemptOutcome.sent("d", 1, "axis-9").detail, t),
        event_detail(AttemptOutcome.retry("d", 2, "HTTP 503", later).detail, t),
        event_detail(AttemptOutcome.failed("d", 3, "unknown recipient agencies").detail, t),
        event_detail("requeued", t),
        event_detail("recall requested: Ban hành nhầm", t),
        event_detail("Đã vào sổ", t),  # a recipient's own words
    ]
    assert shown == [
        "Lần gửi 1: trục đã nhận (mã axis-9) ",
        "Lần gửi 2 lỗi: «HTTP 503»; gửi lại lúc 25/11/2026 15:00:30",
        "Lần gửi 3 thất bại: «unknown recipient agencies»",
        "Đưa lại vào hàng đợi",
        "Yêu cầu thu hồi: Ban hành nhầm",
        "Đã vào sổ",
    ]
