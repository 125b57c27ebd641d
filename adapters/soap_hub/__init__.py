"""The legacy e-doc SOAP hub (spec 3.4): zeep client, SwA framing, shared envelope details."""

from adapters.soap_hub.client import (
    HubOrganization,
    SoapHubClient,
    SoapHubConfig,
    SoapHubError,
    SoapHubPermanentError,
    SoapHubTransientError,
    Trace,
)

__all__ = [
    "HubOrganization",
    "SoapHubClient",
    "SoapHubConfig",
    "SoapHubError",
    "SoapHubPermanentError",
    "SoapHubTransientError",
    "Trace",
]
