"""Trust folders and signing keys: what operators point the gateway at, and their mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from devtools.devca import DevPki
from edxml import KeyMaterialError, load_signing_identity, load_trust_store, read_password


def test_a_folder_of_pem_and_der_certificates(pki: DevPki, tmp_path: Path) -> None:
    (tmp_path / "root.der").write_bytes(pki.root.certificate.public_bytes(Encoding.DER))
    (tmp_path / "intermediate.crt").write_bytes(
        pki.intermediate.certificate.public_bytes(Encoding.PEM)
    )
    (tmp_path / "notes.txt").write_text("ignored: not a certificate suffix")
    store = load_trust_store(tmp_path)
    assert store.roots == (pki.root.certificate,)
    assert store.intermediates == (pki.intermediate.certificate,)


def test_trust_folder_mistakes_are_errors(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="does not exist"):
        load_trust_store(tmp_path / "missing")
    (tmp_path / "only-intermediate.pem").write_bytes(
        pki.intermediate.certificate.public_bytes(Encoding.PEM)
    )
    with pytest.raises(KeyMaterialError, match="no root"):
        load_trust_store(tmp_path)
    (tmp_path / "broken.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(KeyMaterialError, match=r"broken\.pem is not a certificate"):
        load_trust_store(tmp_path)


def test_pem_key_with_its_chain_and_an_encrypted_pem(pki: DevPki, tmp_path: Path) -> None:
    agency = pki.agencies["000.00.01.H42"]
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in pki.chain(agency)))
    plain = tmp_path / "key.pem"
    plain.write_bytes(agency.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    identity = load_signing_identity(plain, certificate=chain)
    assert identity.chain == tuple(pki.chain(agency))
    assert "PrivateKey" not in repr(identity)  # keys never reach logs through a repr
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        agency.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"s3cret")
        )
    )
    secret = tmp_path / "password"
    secret.write_bytes(b"s3cret\n")
    assert (
        load_signing_identity(locked, certificate=chain, password_file=secret).chain[0]
        == agency.certificate
    )
    with pytest.raises(KeyMaterialError, match="wrong or missing password"):
        load_signing_identity(locked, certificate=chain)
    with pytest.raises(KeyMaterialError, match="needs its certificate"):
        load_signing_identity(plain)


def test_pkcs12_bundles(pki: DevPki, tmp_path: Path) -> None:
    person = pki.signers["Nguyễn Văn An"]
    bundle = tmp_path / "person.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"person",
            person.key,
            person.certificate,
            [pki.intermediate.certificate],
            BestAvailableEncryption(b"pw"),
        )
    )
    secret = tmp_path / "pw"
    secret.write_text("pw")
    identity = load_signing_identity(bundle, password_file=secret)
    assert identity.chain == (person.certificate, pki.intermediate.certificate)
    secret.write_text("wrong")
    with pytest.raises(KeyMaterialError, match="wrong password"):
        load_signing_identity(bundle, password_file=secret)


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_password() is None
    monkeypatch.setenv("GATEWAY_KEY_PASSWORD", "from-env")
    assert read_password(env="GATEWAY_KEY_PASSWORD") == b"from-env"
    with pytest.raises(KeyMaterialError, match="not set"):
        read_password(env="NO_SUCH_VARIABLE_FOR_SURE")
    with pytest.raises(KeyMaterialError, match="not both"):
        read_password(env="GATEWAY_KEY_PASSWORD", file=tmp_path / "x")
    with pytest.raises(KeyMaterialError, match="cannot read the password file"):
        read_password(file=tmp_path / "missing")
