"""The adapters' exception tree: what talking to the outside can raise.

::

    AdapterError                    root of every adapter failure
    ├── ConfigurationError          a file or setting we were pointed at is missing or unreadable
    ├── TransportError              the other side could not be reached or answered badly
    │   (retryable: the caller may try again later)
    └── RemoteServiceError          a remote service failed one operation (``transient`` says
        ├── AxisError ...           whether retrying may help; the transient subclasses are
        └── SoapHubError ...        also TransportErrors)

Each adapter maps its driver's exceptions to these at its edge (``raise ... from exc``).
"""

from __future__ import annotations

import datetime as dt
import email.utils

import aiohttp

__all__ = [
    "AIOHTTP_NEVER_CONNECTED",
    "GATEWAY_STATUSES",
    "AdapterError",
    "ConfigurationError",
    "RemoteServiceError",
    "TransportError",
    "outcome_unknown",
    "retry_after_seconds",
]


class AdapterError(Exception):
    """Root of everything the adapters raise."""


class ConfigurationError(AdapterError):
    """A configured file or value is missing, unreadable or of the wrong kind."""


class TransportError(AdapterError):
    """The remote side was unreachable or answered badly; retrying later may help."""


class RemoteServiceError(AdapterError):
    """A remote service refused or failed one operation.

    ``transient`` is the retry verdict the dispatcher reads (each adapter declares a transient
    subclass, also a ``TransportError``, and a permanent one). ``code`` is the service's own
    error code when it gave one; ``http_status`` the HTTP status, if any.

    ``in_doubt`` says the request may have been carried out although no answer came back
    (a timeout or a dropped connection after the request was written, a gateway timeout):
    sending it again could make a copy, so the dispatcher first asks the destination.
    ``retry_after`` is the wait the service asked for (``Retry-After``), in seconds.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        http_status: int | None = None,
        code: str | None = None,
        in_doubt: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.http_status = http_status
        self.code = code
        self.in_doubt = in_doubt
        self.retry_after = retry_after


#: HTTP answers that come from a gateway in front of the service, not from the service: the
#: request may have been carried out behind it (502 Bad Gateway, 504 Gateway Timeout).
GATEWAY_STATUSES = frozenset({502, 504})

#: aiohttp's failures that happen before a request is on the wire: nothing was carried out.
AIOHTTP_NEVER_CONNECTED: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
)


def outcome_unknown(error: BaseException, never_connected: tuple[type[BaseException], ...]) -> bool:
    """Whether a request that failed with ``error`` may still have been carried out.

    A connection that was never made (``never_connected``: refused, DNS, TLS, a connect
    timeout — each driver names its own) carried nothing; any other transport failure, such
    as a read timeout or a connection dropped after the request was written, leaves the
    outcome unknown.
    """
    return not isinstance(error, (ConnectionRefusedError, *never_connected))


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
