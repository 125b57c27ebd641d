"""What the LGSP client is configured with, what it answers and what it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adapters.errors import RemoteServiceError, TransportError

__all__ = [
    "LgspAgency",
    "LgspConfig",
    "LgspError",
    "LgspPermanentError",
    "LgspStatus",
    "LgspTransientError",
]

#: ``PUT /vanbans/{docId}``: the state the receiving unit reports for an inbox item.
LgspStatus = Literal["INITIAL", "PROCESSING", "DONE", "FAIL"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LgspConfig:
    """One platform: where it is, the client credentials of our application on its API
    manager (OAuth2 client credentials), and our unit's secret identifier that every call
    carries besides the bearer token."""

    base_url: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    unit_secret: str = field(repr=False)
    #: The API's base path on the platform (the published provincial example's)
    api_path: str = "/truclienthong/v1.0.0"
    token_path: str = "/token"  # noqa: S105 (a path)
    #: The header that carries ``unit_secret``
    secret_header: str = "secret"  # noqa: S105 (a header's name)
    #: A token is renewed this long before it expires (or at half its life, if shorter)
    refresh_margin_seconds: float = 60.0
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_connections: int = 10


class LgspError(RemoteServiceError):
    """The platform refused or failed an operation; ``code`` is its ``errorCode``."""


class LgspTransientError(LgspError, TransportError):
    """Network error, timeout, HTTP 5xx, 429 or the API manager's throttling: retry later."""

    transient = True


class LgspPermanentError(LgspError):
    """Our credentials refused, the package rejected, or another answer retrying cannot change."""


@dataclass(frozen=True, slots=True)
class LgspAgency:
    """A unit of ``GET /donvilienthongs``: ``id, code, name, pid``."""

    code: str
    name: str
    id: str = ""
    parent: str = ""
