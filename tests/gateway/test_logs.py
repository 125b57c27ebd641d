"""Structured logs: JSON lines with the ids, and nothing of the document."""

from __future__ import annotations

import json
import logging

from gateway.logs import JsonFormatter


def test_a_line_is_json_with_the_ids() -> None:
    record = logging.LogRecord(
        "gateway.dispatch", logging.WARNING, __file__, 1, "attempt %s failed", (2,), None
    )
    record.message_id, record.delivery_id = "m-1", "d-1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "attempt 2 failed"
    assert (line["message_id"], line["delivery_id"], line["level"]) == ("m-1", "d-1", "WARNING")
    assert set(line) == {"time", "level", "logger", "message", "message_id", "delivery_id"}
