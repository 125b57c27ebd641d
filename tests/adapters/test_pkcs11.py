"""Keys on a real PKCS#11 token (SoftHSM2): XMLDSig and PDF signatures made by the token,
verified independently; the gateway's settings, /readyz-style status and the errors."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import edxml
from adapters.errors import ConfigurationError
from adapters.pkcs11 import (
    Pkcs11Uri,
    TokenEcKey,
    TokenRsaKey,
    open_token_key,
    token_certificate,
    token_status,
)
from devtools.devca import DevPki
from edxml import SigningIdentity
from edxml.pdf import sign_pdf, verify_pdf
from gateway.config import SigningKeySettings
from tests.factories import PDF, document
from tests.softhsm import make_token, uri, write_conf

TOKEN, PIN = "VP UBND Ninh Binh", "123456"
OFFICE = "000.00.01.H42"


@pytest.fixture(scope="module")
def token(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token holding the Office's RSA key (with its certificate) and a
    person's EC key; SOFTHSM2_CONF points at it for this module."""
    conf = write_conf(tmp_path_factory.mktemp("softhsm"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        keys = {"agency": pki.agencies[OFFICE], "binh": pki.signers["Trần Thị Bình"]}
        make_token(conf, TOKEN, PIN, keys, with_certificates=True)
        yield uri(TOKEN, "agency")


def test_an_xmldsig_signature_made_by_the_token_verifies_here_and_in_xmlsec1(
    token: str, pki: DevPki, tmp_path: Path
) -> None:
    key = open_token_key(token, pin_env="PIN", environ={"PIN": PIN})
    assert isinstance(key, TokenRsaKey)
    office = pki.agencies[OFFICE]
    signed = edxml.sign(edxml.build(document()), key, pki.chain(office))
    trust = edxml.TrustStore(roots=(pki.root.certificate,))
    assert edxml.verify(signed, trust).accepted
    path, roots = tmp_path / "signed.edxml", tmp_path / "root.pem"
    path.write_bytes(signed)
    roots.write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    done = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--trusted-pem",
            str(roots),
            "--enabled-reference-uris",
            "empty",
            str(path),
        ],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_pdf_signatures_made_by_the_token_rsa_and_ecdsa(token: str, pki: DevPki) -> None:
    agency = open_token_key(token, pin_env="PIN", environ={"PIN": PIN})
    person = open_token_key(
        token.replace("object=agency", "object=binh"), pin_env="PIN", environ={"PIN": PIN}
    )
    assert isinstance(person, TokenEcKey)
    signer = pki.signers["Trần Thị Bình"]
    first = await sign_pdf(
        PDF, SigningIdentity(person, tuple(pki.chain(signer))), field_name="SignerSignature"
    )
    both = await sign_pdf(
        first,
        SigningIdentity(agency, tuple(pki.chain(pki.agencies[OFFICE]))),
        number_notation="05/UBND-VP",
    )
    result = await verify_pdf(
        both,
        trust=edxml.TrustStore(roots=(pki.root.certificate,)),
        issuer_identities=("OU=000.00.01.H42",),
    )
    assert [report.accepted for report in result.signatures] == [True, True]
    assert result.legal_value, result.legal_value_problems


def test_the_gateway_loads_a_token_key_from_its_settings_and_reports_it(
    token: str, pki: DevPki
) -> None:
    settings = SigningKeySettings(pkcs11_uri=token, pin_env="TOKEN_PIN")
    identity = settings.load({"TOKEN_PIN": PIN})
    assert identity.chain[0] == pki.agencies[OFFICE].certificate  # from the token itself
    assert isinstance(identity.key, TokenRsaKey)
    assert token_certificate(identity.key) == identity.chain[0]
    status = token_status(identity.key, identity.chain[0])
    assert (status.token, status.label, status.logged_in, status.key_found) == (
        TOKEN,
        "agency",
        True,
        True,
    )


def test_mistakes_are_named_and_the_pin_never_shown(token: str) -> None:
    with pytest.raises(ConfigurationError, match="set TOKEN_PIN") as missing:
        open_token_key(token, pin_env="TOKEN_PIN", environ={})
    with pytest.raises(ConfigurationError, match="refused") as wrong:
        open_token_key(token, pin_env="TOKEN_PIN", environ={"TOKEN_PIN": "999999"})
    assert "999999" not in str(wrong.value) + str(missing.value)
    with pytest.raises(ConfigurationError, match="no private key"):
        open_token_key(token.replace("agency", "nobody"), pin_env="P", environ={"P": PIN})
    with pytest.raises(ConfigurationError, match="pin_env"):
        Pkcs11Uri.parse(f"{token}&pin-value=123456")
    with pytest.raises(ConfigurationError, match="module-path"):
        Pkcs11Uri.parse("pkcs11:token=x;object=y")
    with pytest.raises(ValueError, match="exactly one"):
        SigningKeySettings(key=Path("k.pem"), pkcs11_uri=token, pin_env="P")
    uri = Pkcs11Uri.parse("pkcs11:token=A%20B;id=%01%02?module-path=/lib/x.so")
    assert (uri.token, uri.label, uri.key_id, uri.module) == (
        "A B",
        None,
        b"\x01\x02",
        Path("/lib/x.so"),
    )
