"""Signed POST bodies: what a receiver of our webhooks and alerts checks.

``X-Edxml-Signature: sha256=<hex>`` is the HMAC-SHA256 of ``<timestamp>.<body>`` with the
receiver's secret, ``X-Edxml-Timestamp`` the Unix seconds signed: a captured body cannot be
replayed later under a new timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["sign_body", "signed_headers"]


def sign_body(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, event: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "X-Edxml-Event": event,
        "X-Edxml-Timestamp": str(timestamp),
        "X-Edxml-Signature": sign_body(secret, body, timestamp),
    }
