"""One exception tree for the adapters: each remote adapter declares retryable vs fatal."""

from __future__ import annotations

import pytest

from adapters.axis.client import AxisClient, AxisPermanentError, AxisTransientError
from adapters.errors import AdapterError, RemoteServiceError, TransportError
from adapters.ministry_rest import MinistryRestClient, RestPermanentError, RestTransientError
from adapters.soap_hub import SoapHubClient, SoapHubPermanentError, SoapHubTransientError


@pytest.mark.parametrize(
    ("client", "transient", "permanent"),
    [
        (AxisClient, AxisTransientError, AxisPermanentError),
        (SoapHubClient, SoapHubTransientError, SoapHubPermanentError),
        (MinistryRestClient, RestTransientError, RestPermanentError),
    ],
)
def test_each_remote_adapter_declares_its_retry_verdicts(
    client: type, transient: type[RemoteServiceError], permanent: type[RemoteServiceError]
) -> None:
    assert client.retryable_errors == (transient,)
    assert client.fatal_errors == (permanent,)
    for error in (transient, permanent):
        assert issubclass(error, RemoteServiceError)
        assert issubclass(error, AdapterError)
    assert issubclass(transient, TransportError)
    assert not issubclass(permanent, TransportError)
    failure = transient("down", operation="op", http_status=503, code="503")
    assert (failure.transient, str(failure), failure.http_status, failure.code) == (
        True,
        "op: down",
        503,
        "503",
    )
    assert permanent("no", operation="op").transient is False
