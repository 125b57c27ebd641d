"""Reading JSON that arrives from outside: every malformed input is one ``ValueError``.

``json.loads`` raises ``RecursionError`` on deeply nested input (``[[[[…``), which a server
would answer with a 500; here it is a ``ValueError`` like any other malformed body, so each
front door answers it as bad input (400).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["parse_json", "text_of"]


def parse_json(data: bytes | str) -> Any:
    """The JSON value of ``data``; ``ValueError`` (with a readable reason) if it is none."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8: {exc.reason}") from None


def text_of(item: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` that ``item`` holds, as text ("" when none): a remote
    service's answer, whose fields may be missing, null or numbers."""
    for name in names:
        value = item.get(name)
        if value is not None:
            return str(value)
    return ""
