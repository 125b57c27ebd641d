"""Reading JSON that arrives from outside: every malformed input is one ``ValueError``.

``json.loads`` raises ``RecursionError`` on deeply nested input (``[[[[…``), which a server
would answer with a 500; here it is a ``ValueError`` like any other malformed body, so each
front door answers it as bad input (400).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_json"]


def parse_json(data: bytes | str) -> Any:
    """The JSON value of ``data``; ``ValueError`` (with a readable reason) if it is none."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8: {exc.reason}") from None
