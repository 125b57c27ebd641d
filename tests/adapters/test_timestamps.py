"""When a package signature is judged (ETSI EN 319 102-1): at the time of validation, or at
the time a trusted RFC 3161 token proves — never at the time the signer claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

import edxml
from devtools.devca import DevPki, Issued, issue
from edxml import Rfc3161Validator
from tests import pki as certificates
from tests.factories import document

NOW = dt.datetime.now(dt.UTC)
VIETNAM = dt.timezone(dt.timedelta(hours=7))


def _tsa(issuer: Issued) -> Issued:
    return issue(
        certificates.name("Dev Time-Stamping Authority"),
        issuer=issuer,
        not_before=NOW - dt.timedelta(days=900),
        not_after=NOW + dt.timedelta(days=900),
        extended_usage=(ExtendedKeyUsageOID.TIME_STAMPING,),
    )


def _token(tsa: Issued, data: bytes, when: dt.datetime) -> bytes:
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa.certificate.public_bytes(Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        ),
        fixed_dt=when,
    )
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(data).digest(), "sha256"))
    return bytes(token.dump())


def _signed(signer: Issued, pki: DevPki, claimed: dt.datetime) -> bytes:
    """A package whose TraceHeader says ``claimed`` (Vietnam time), signed by ``signer``."""
    trace = edxml.TraceHeader(
        organ_id="000.00.01.H42", timestamp=claimed.astimezone(VIETNAM).replace(tzinfo=None)
    )
    return edxml.sign(edxml.build(document(trace_headers=(trace,))), signer.key, pki.chain(signer))


@pytest.fixture(scope="module")
def tsa(pki: DevPki) -> Issued:
    return _tsa(pki.intermediate)


@pytest.fixture
def trust(pki: DevPki) -> edxml.TrustStore:
    return edxml.TrustStore(
        roots=(pki.root.certificate,), intermediates=(pki.intermediate.certificate,)
    )


def test_an_expired_certificate_with_a_backdated_trace_header_is_refused(
    pki: DevPki, trust: edxml.TrustStore
) -> None:
    """Reproduced: a certificate that expired weeks ago signs a package whose TraceHeader
    says a day it was valid; before, the claimed time was trusted and it passed."""
    expired = certificates.expired(pki)
    claimed = NOW - dt.timedelta(days=100)
    result = edxml.verify(_signed(expired, pki, claimed), trust)
    assert result.check("validity-period").state == edxml.CheckState.FAIL
    assert not result.accepted
    assert result.signing_time_source.startswith("time of validation")
    assert result.claimed_signing_time is not None
    assert abs((result.claimed_signing_time - claimed).total_seconds()) < 1


def test_old_trace_headers_do_not_matter_to_a_signature_made_today(
    pki: DevPki, trust: edxml.TrustStore
) -> None:
    agency = pki.agencies["000.00.01.H42"]
    result = edxml.verify(_signed(agency, pki, dt.datetime(2019, 5, 17, tzinfo=dt.UTC)), trust)
    assert result.accepted
    assert result.check("validity-period").state == edxml.CheckState.PASS


def test_a_trusted_timestamp_from_when_the_certificate_was_valid(
    pki: DevPki, trust: edxml.TrustStore, tsa: Issued
) -> None:
    """A document stays provably valid after its certificate expired: the token proves the
    signature existed while it was valid, and the certificate is judged then."""
    expired = certificates.expired(pki)
    package = _signed(expired, pki, NOW - dt.timedelta(days=100))
    then = NOW - dt.timedelta(days=99)
    stamped = edxml.add_signature_timestamp(
        package, _token(tsa, edxml.signature_timestamp_input(package), then)
    )
    result = edxml.verify(stamped, trust, timestamps=Rfc3161Validator(trust))
    assert result.check("integrity").state == edxml.CheckState.PASS  # the Object is unsigned
    assert result.check("timestamp").state == edxml.CheckState.PASS
    assert result.check("validity-period").state == edxml.CheckState.PASS
    assert result.accepted
    assert result.signing_time is not None
    assert abs((result.signing_time - then).total_seconds()) < 1
    assert result.signing_time_source == "signature timestamp (Dev Time-Stamping Authority)"


def test_a_timestamp_over_other_data_proves_nothing(
    pki: DevPki, trust: edxml.TrustStore, tsa: Issued
) -> None:
    expired = certificates.expired(pki)
    package = _signed(expired, pki, NOW - dt.timedelta(days=100))
    wrong = _token(tsa, b"some other signature value", NOW - dt.timedelta(days=99))
    result = edxml.verify(
        edxml.add_signature_timestamp(package, wrong), trust, timestamps=Rfc3161Validator(trust)
    )
    assert result.check("timestamp").state == edxml.CheckState.FAIL
    assert "message imprint" in result.check("timestamp").detail
    assert not result.accepted


def test_an_untrusted_authority_or_none_configured_proves_nothing(
    pki: DevPki, trust: edxml.TrustStore
) -> None:
    root, _ = certificates.foreign()
    stranger = _tsa(root)
    expired = certificates.expired(pki)
    package = _signed(expired, pki, NOW - dt.timedelta(days=100))
    token = _token(stranger, edxml.signature_timestamp_input(package), NOW - dt.timedelta(days=99))
    stamped = edxml.add_signature_timestamp(package, token)
    refused = edxml.verify(stamped, trust, timestamps=Rfc3161Validator(trust))
    assert refused.check("timestamp").state == edxml.CheckState.FAIL
    assert "time-stamping authority" in refused.check("timestamp").detail
    assert not refused.accepted
    unknown = edxml.verify(stamped, trust)  # no validator: reported, judged now
    assert unknown.check("timestamp").state == edxml.CheckState.UNKNOWN
    assert unknown.check("validity-period").state == edxml.CheckState.FAIL
