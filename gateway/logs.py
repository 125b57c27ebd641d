"""Structured logs: one JSON object per line, with the message and delivery ids when known.

``log_format: json`` (the default for the service) makes every line machine-readable for
the province's log collector; ``text`` is for a terminal. Code attaches ids with
``extra={"message_id": ..., "delivery_id": ...}``; the formatter carries them as fields.
Nothing else from the record is added: no document contents, no secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

__all__ = ["JsonFormatter", "configure_logging"]

_IDS = ("message_id", "delivery_id", "remote_id", "client_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _IDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, form: str) -> None:
    handler = logging.StreamHandler()
    if form == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
