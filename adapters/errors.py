"""The adapters' exception tree: what talking to the outside can raise.

::

    AdapterError                    root of every adapter failure
    ├── ConfigurationError          a file or setting we were pointed at is missing or unreadable
    └── TransportError              the other side could not be reached or answered badly
        (retryable: the caller may try again later)

Each adapter maps its driver's exceptions to these at its edge (``raise ... from exc``).
"""

from __future__ import annotations

__all__ = ["AdapterError", "ConfigurationError", "TransportError"]


class AdapterError(Exception):
    """Root of everything the adapters raise."""


class ConfigurationError(AdapterError):
    """A configured file or value is missing, unreadable or of the wrong kind."""


class TransportError(AdapterError):
    """The remote side was unreachable or answered badly; retrying later may help."""
