"""What the axis client speaks in: its configuration, its errors (transient or permanent),
and the items the axis lists (received, sent, agencies)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from adapters.errors import (
    ConfigurationError,
    RemoteServiceError,
    TransportError,
)

__all__ = [
    "Agency",
    "AxisConfig",
    "AxisError",
    "AxisPermanentError",
    "AxisTransientError",
    "ReceivedItem",
    "SentItem",
]


MessageType = Literal["edoc", "status"]
AckStatus = Literal["done", "fail", "processing"]
_JSON = "application/json"
_OCTETS = "application/octet-stream"
#: Operations of the SDK's AgencyServiceImp; the others are KnobstickServiceImp's.
_AGENCY_OPERATIONS = frozenset(
    {
        "getAgenciesList",
        "getAgenciesListQD20",
        "getSynchronizeUnit",
        "registerAgency",
        "deleteAgency",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AxisConfig:
    """How to reach the axis. The secret comes from the environment, never a config file."""

    base_url: str
    system_id: str
    secret: str = field(repr=False)
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_connections: int = 10  # the SDK allows at most 10 (spec 3.1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str = "EDXML_AXIS_") -> AxisConfig:
        """``EDXML_AXIS_URL``, ``_SYSTEM_ID``, ``_SECRET`` (required) and ``_TIMEOUT``,
        ``_MAX_CONNECTIONS`` (optional). A missing or malformed one is a ConfigurationError
        that names the variable, never its value."""
        missing = [
            f"{prefix}{key}"
            for key in ("URL", "SYSTEM_ID", "SECRET")
            if not environ.get(f"{prefix}{key}")
        ]
        if missing:
            raise ConfigurationError(f"set {', '.join(missing)} to reach the axis")
        try:
            timeout = float(environ.get(f"{prefix}TIMEOUT", "60"))
            connections = int(environ.get(f"{prefix}MAX_CONNECTIONS", "10"))
        except ValueError:
            raise ConfigurationError(
                f"{prefix}TIMEOUT and {prefix}MAX_CONNECTIONS must be numbers"
            ) from None
        if not 1 <= connections <= 10:
            raise ConfigurationError(f"{prefix}MAX_CONNECTIONS must be 1..10 (the axis allows 10)")
        return cls(
            base_url=environ[f"{prefix}URL"],
            system_id=environ[f"{prefix}SYSTEM_ID"],
            secret=environ[f"{prefix}SECRET"],
            timeout_seconds=timeout,
            max_connections=connections,
        )


class AxisError(RemoteServiceError):
    """The axis refused or failed an operation; ``code`` is its ``ErrorCode``."""


class AxisTransientError(AxisError, TransportError):
    """Network error, timeout, HTTP 5xx or 429: the dispatcher retries with backoff."""

    transient = True


class AxisPermanentError(AxisError):
    """Authentication refused, the package rejected, or another answer retrying cannot change."""


@dataclass(frozen=True, slots=True)
class ReceivedItem:
    doc_id: str
    service_type: str
    message_type: str
    sender: str
    receivers: str
    status: str
    created: str = ""
    updated: str = ""
    status_description: str = ""


@dataclass(frozen=True, slots=True)
class SentItem:
    doc_id: str
    receiver_doc_id: str
    receiver: str
    send_status: str
    receive_status: str
    title: str = ""
    notation: str = ""
    sent: str = ""
    received: str = ""


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    id: str = ""
    parent: str = ""
    mail: str = ""
    code102: str = ""
