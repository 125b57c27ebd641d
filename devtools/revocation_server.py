"""A CRL and OCSP server for the development PKI (``devtools.devca``): an aiohttp app.

``GET /crl/<ca>.crl`` answers the CA's CRL (DER); ``POST /ocsp`` answers an OCSP request
(RFC 6960, DER over HTTP) with a response the PKI's delegated responder signs. Tests run it
on a loopback port to prove that revocation really is checked over HTTP; the demo can too.
"""

from __future__ import annotations

from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from devtools.devca import DevPki

__all__ = ["PKI_KEY", "REQUESTS_KEY", "make_revocation_app"]

PKI_KEY = web.AppKey("pki", DevPki)
REQUESTS_KEY = web.AppKey("requests", list)  # (kind, detail) of every request served


async def _crl(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    request.app[REQUESTS_KEY].append(("crl", name))
    crl = request.app[PKI_KEY].crls.get(name)
    if crl is None:
        raise web.HTTPNotFound(text=f"no CRL named {name}")
    return web.Response(body=crl.public_bytes(Encoding.DER), content_type="application/pkix-crl")


async def _ocsp(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        question = ocsp.load_der_ocsp_request(body)
    except ValueError:
        answer = ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        )
    else:
        request.app[REQUESTS_KEY].append(("ocsp", format(question.serial_number, "X")))
        certificate = request.app[PKI_KEY].find(question.serial_number)
        if certificate is None:
            answer = ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            )
        else:
            answer = request.app[PKI_KEY].ocsp_response(certificate)
    return web.Response(
        body=answer.public_bytes(Encoding.DER), content_type="application/ocsp-response"
    )


def make_revocation_app(pki: DevPki) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)  # OCSP requests are tiny
    app[PKI_KEY] = pki
    app[REQUESTS_KEY] = []
    app.router.add_get("/crl/{name}.crl", _crl)
    app.router.add_post("/ocsp", _ocsp)
    return app
