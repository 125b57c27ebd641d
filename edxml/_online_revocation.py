"""Revocation over HTTP: OCSP first, the CRL when OCSP cannot answer; cached, with timeouts.

Checking a certificate's revocation is part of verifying a signature (Thông tư 41/2017
Điều 7). The locations come from the certificate itself (AuthorityInformationAccess for
OCSP, CRLDistributionPoints for the CRL). Answers are validated by ``edxml`` (issuer
signature, freshness) through ``StaticRevocation``; this module only fetches and caches.

It is synchronous on purpose: signature verification is CPU-bound and runs in a worker
thread or process (never on the event loop), where a blocking fetch with a timeout is fine.
Offline mode answers "unknown: offline" rather than pretending all is well; an unreachable
responder answers "unknown" with the reason.
"""

from __future__ import annotations

import datetime as dt
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from ._trust import (
    OfflineRevocation,
    RevocationState,
    RevocationStatus,
    StaticRevocation,
)

__all__ = ["DEFAULT_REVOCATION_CONFIG", "HttpRevocationChecker", "RevocationConfig"]

Fetch = Callable[[str, bytes | None, str | None], bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationConfig:
    timeout_seconds: float = 5.0
    offline: bool = False
    use_ocsp: bool = True
    use_crl: bool = True
    max_crl_bytes: int = 20 * 1024 * 1024
    #: How long an answer without nextUpdate is reused.
    default_cache_seconds: int = 3600


DEFAULT_REVOCATION_CONFIG = RevocationConfig()


class _Unreachable(Exception):
    pass


def _urls(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    ocsp_urls: list[str] = []
    crl_urls: list[str] = []
    try:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        ).value
        ocsp_urls = [
            item.access_location.value
            for item in access
            if item.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(item.access_location, x509.UniformResourceIdentifier)
        ]
    except x509.ExtensionNotFound:
        pass
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_urls = [
            name.value
            for point in points
            for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)
        ]
    except x509.ExtensionNotFound:
        pass
    web = ("http://", "https://")  # never file://, ftp:// or ldap:// from a certificate
    return [u for u in ocsp_urls if u.startswith(web)], [u for u in crl_urls if u.startswith(web)]


class HttpRevocationChecker:
    """``edxml.RevocationChecker`` that fetches OCSP responses and CRLs over HTTP."""

    def __init__(
        self, config: RevocationConfig = DEFAULT_REVOCATION_CONFIG, *, fetch: Fetch | None = None
    ) -> None:
        self._config = config
        self._fetch = fetch or self._http
        self._lock = threading.Lock()
        self._crls: dict[str, tuple[dt.datetime, x509.CertificateRevocationList]] = {}
        self._ocsp: dict[tuple[int, bytes], tuple[dt.datetime, ocsp.OCSPResponse]] = {}
        self.fetches = 0  # network round trips made (the tests check caching with it)

    def _http(self, url: str, body: bytes | None, content_type: str | None) -> bytes:
        request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310 - http(s) only, checked in _urls
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self._config.timeout_seconds) as response:  # noqa: S310
                return bytes(response.read(self._config.max_crl_bytes + 1))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise _Unreachable(f"{url} is unreachable ({getattr(exc, 'reason', exc)})") from exc

    def _get(self, url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        with self._lock:
            self.fetches += 1
        data = self._fetch(url, body, content_type)
        if len(data) > self._config.max_crl_bytes:
            raise _Unreachable(f"{url} answered more than {self._config.max_crl_bytes:,} bytes")
        return data

    def _until(self, next_update: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        default = now + dt.timedelta(seconds=self._config.default_cache_seconds)
        return min(next_update, default) if next_update else default

    def _ocsp_response(
        self, url: str, certificate: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
    ) -> ocsp.OCSPResponse:
        key = (certificate.serial_number, issuer.public_bytes(Encoding.DER))
        with self._lock:
            cached = self._ocsp.get(key)
        if cached and cached[0] > now:
            return cached[1]
        cert_id_hash = hashes.SHA1()  # noqa: S303 - the CertID hash OCSP responders expect
        request = (
            ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, cert_id_hash).build()
        )
        try:
            response = ocsp.load_der_ocsp_response(
                self._get(url, request.public_bytes(Encoding.DER), "application/ocsp-request")
            )
        except ValueError as exc:
            raise _Unreachable(f"{url} did not answer with an OCSP response ({exc})") from exc
        if response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL:
            with self._lock:
                self._ocsp[key] = (self._until(response.next_update_utc, now), response)
        return response

    def _crl(self, url: str, now: dt.datetime) -> x509.CertificateRevocationList:
        with self._lock:
            cached = self._crls.get(url)
        if cached and cached[0] > now:
            return cached[1]
        data = self._get(url)
        try:
            crl = (
                x509.load_der_x509_crl(data)
                if not data.startswith(b"-----")
                else x509.load_pem_x509_crl(data)
            )
        except ValueError as exc:
            raise _Unreachable(f"{url} did not answer with a CRL ({exc})") from exc
        with self._lock:
            self._crls[url] = (self._until(crl.next_update_utc, now), crl)
        return crl

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        if self._config.offline:
            return OfflineRevocation().status(certificate, issuer)
        now = dt.datetime.now(dt.UTC)
        ocsp_urls, crl_urls = _urls(certificate)
        problems: list[str] = []
        if self._config.use_ocsp:
            for url in ocsp_urls:
                try:
                    response = self._ocsp_response(url, certificate, issuer, now)
                except _Unreachable as exc:
                    problems.append(str(exc))
                    continue
                found = StaticRevocation(
                    ocsp_responses=(response,), at=now, fallback=_Nothing()
                ).status(certificate, issuer)
                if found.state != RevocationState.UNKNOWN:
                    return found
                problems.append(f"OCSP: {found.detail}")
        if self._config.use_crl:
            for url in crl_urls:
                try:
                    crl = self._crl(url, now)
                except _Unreachable as exc:
                    problems.append(str(exc))
                    continue
                found = StaticRevocation(crls=(crl,), at=now, fallback=_Nothing()).status(
                    certificate, issuer
                )
                if found.state != RevocationState.UNKNOWN:
                    return found
                problems.append(f"CRL: {found.detail}")
        if not ocsp_urls and not crl_urls:
            return RevocationStatus(
                RevocationState.UNKNOWN, "none", "the certificate names no OCSP or CRL location"
            )
        return RevocationStatus(
            RevocationState.UNKNOWN, "network", "; ".join(problems) or "no answer"
        )


class _Nothing:
    """Fallback that says a fetched answer did not cover the certificate."""

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        return RevocationStatus(
            RevocationState.UNKNOWN, "none", "the answer does not cover this certificate"
        )
