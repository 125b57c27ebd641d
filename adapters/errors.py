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

__all__ = ["AdapterError", "ConfigurationError", "RemoteServiceError", "TransportError"]


class AdapterError(Exception):
    """Root of everything the adapters raise."""


class ConfigurationError(AdapterError):
    """A configured file or value is missing, unreadable or of the wrong kind."""


class TransportError(AdapterError):
    """The remote side was unreachable or answered badly; retrying later may help."""


class RemoteServiceError(AdapterError):
    """A remote service refused or failed one operation.

    ``transient`` is the retry verdict the dispatcher reads (STYLE 9): each adapter declares a
    transient subclass (also a ``TransportError``) and a permanent one. ``code`` is the
    service's own error code when it gave one; ``http_status`` the HTTP status, if any.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        http_status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.http_status = http_status
        self.code = code
