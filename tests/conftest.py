"""Shared fixtures: one development PKI per test session (RSA key generation is slow)."""

from __future__ import annotations

import pytest

from edxml.devca import DevPki, make_dev_pki


@pytest.fixture(scope="session")
def pki() -> DevPki:
    return make_dev_pki(base_url="http://127.0.0.1:9")  # tests that fetch make their own
