"""The gateway's tests share the adapters' simulated axis."""

from tests.adapters.conftest import simulator  # noqa: F401 (a fixture, re-exported)

from .harness import gateways  # noqa: F401 (a fixture, re-exported)
