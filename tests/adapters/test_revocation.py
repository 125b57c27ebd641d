"""Revocation checked over real HTTP against the dev CRL/OCSP server on a loopback port."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

import edxml
from devtools.devca import DevPki, make_dev_pki
from devtools.revocation_server import REQUESTS_KEY, make_revocation_app
from edxml import HttpRevocationChecker, RevocationConfig


class Served:
    def __init__(self, pki: DevPki, app: web.Application) -> None:
        self.pki = pki
        self.app = app

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.app[REQUESTS_KEY]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The server runs in its own thread and event loop; the checker under test is sync."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    pki = make_dev_pki(base_url=f"http://127.0.0.1:{port}")
    app = make_revocation_app(pki)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()

    async def start() -> None:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert ready.wait(10)
    yield Served(pki, app)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_good_by_ocsp_over_http(served: Served) -> None:
    pki = served.pki
    agency = pki.agencies["000.00.01.H42"]
    checker = HttpRevocationChecker()
    before = len(served.requests)
    status = checker.status(agency.certificate, pki.intermediate.certificate)
    assert status.state == edxml.RevocationState.GOOD
    assert status.source == "ocsp"
    assert served.requests[before:] == [("ocsp", format(agency.certificate.serial_number, "X"))]


def test_revoked_by_ocsp_over_http(served: Served) -> None:
    status = HttpRevocationChecker().status(
        served.pki.revoked.certificate, served.pki.intermediate.certificate
    )
    assert status.state == edxml.RevocationState.REVOKED
    assert status.source == "ocsp"


def test_revoked_by_crl_over_http_and_cached(served: Served) -> None:
    checker = HttpRevocationChecker(RevocationConfig(use_ocsp=False))
    before = len(served.requests)
    for _ in range(3):
        status = checker.status(served.pki.revoked.certificate, served.pki.intermediate.certificate)
        assert status.state == edxml.RevocationState.REVOKED
        assert status.source == "crl"
    assert served.requests[before:] == [("crl", "intermediate")]  # fetched once, then cached
    assert checker.fetches == 1


def test_verify_end_to_end_with_http_revocation(served: Served) -> None:
    pki = served.pki
    now = dt.datetime.now(edxml.VIETNAM).replace(tzinfo=None, microsecond=0)
    from tests.factories import document

    data = edxml.build(
        document(trace_headers=(edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=now),))
    )
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    checker = HttpRevocationChecker()
    good = edxml.verify(
        edxml.sign(
            data, pki.agencies["000.00.01.H42"].key, pki.chain(pki.agencies["000.00.01.H42"])
        ),
        trust=trust,
        revocation=checker,
    )
    assert good.check("revocation").state == edxml.CheckState.PASS
    assert good.accepted
    bad = edxml.verify(
        edxml.sign(data, pki.revoked.key, pki.chain(pki.revoked)), trust=trust, revocation=checker
    )
    assert bad.check("revocation").state == edxml.CheckState.FAIL
    assert not bad.accepted


def test_an_unreachable_responder_is_unknown_not_good(served: Served) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead_port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    pki = make_dev_pki(base_url=f"http://127.0.0.1:{dead_port}")
    status = HttpRevocationChecker(RevocationConfig(timeout_seconds=2)).status(
        pki.agencies["000.00.01.H42"].certificate, pki.intermediate.certificate
    )
    assert status.state == edxml.RevocationState.UNKNOWN
    assert "unreachable" in status.detail


def test_offline_mode_never_fetches(served: Served) -> None:
    checker = HttpRevocationChecker(RevocationConfig(offline=True))
    status = checker.status(served.pki.revoked.certificate, served.pki.intermediate.certificate)
    assert (status.state, status.source) == (edxml.RevocationState.UNKNOWN, "offline")
    assert checker.fetches == 0


def test_unknown_certificates_get_an_unsuccessful_ocsp_answer(served: Served) -> None:
    from tests import pki as certificates

    _, stranger = certificates.foreign()
    status = HttpRevocationChecker().status(
        stranger.certificate, served.pki.intermediate.certificate
    )
    assert status.state == edxml.RevocationState.UNKNOWN
