"""Signing keys from PEM or PKCS#12 files.

A key's password comes from an environment variable or a file (a Docker/Kubernetes secret
mount), never from the configuration file itself, and it is never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from adapters.errors import ConfigurationError
from adapters.trust import load_certificates

__all__ = ["SigningIdentity", "load_signing_identity", "read_password"]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and its certificate chain (signer's certificate first)."""

    key: SigningKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]


def read_password(*, env: str | None = None, file: Path | None = None) -> bytes | None:
    """The password named by an environment variable or held in a file; None if neither."""
    if env and file:
        raise ConfigurationError(
            "give the key password by environment variable or by file, not both"
        )
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigurationError(f"environment variable {env} (the key password) is not set")
        return value.encode("utf-8")
    if file:
        try:
            return file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the password file {file}: {exc.strerror}"
            ) from exc
    return None


def _check(key: object, path: Path) -> SigningKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{path}: signing keys are RSA or ECDSA, not {type(key).__name__}")
    return key


def load_signing_identity(
    key: Path,
    *,
    certificate: Path | None = None,
    password_env: str | None = None,
    password_file: Path | None = None,
) -> SigningIdentity:
    """From a PKCS#12 file (``.p12``/``.pfx``: key, certificate and chain in one), or from a
    PEM key and a PEM certificate file holding the chain (signer first)."""
    password = read_password(env=password_env, file=password_file)
    try:
        data = key.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {key}: {exc.strerror}") from exc
    if key.suffix.lower() in {".p12", ".pfx"}:
        try:
            loaded = pkcs12.load_pkcs12(data, password)
        except ValueError as exc:
            raise ConfigurationError(
                f"{key}: cannot open the PKCS#12 file (wrong password?)"
            ) from exc
        if loaded.key is None or loaded.cert is None:
            raise ConfigurationError(f"{key}: the PKCS#12 file holds no key and certificate")
        chain = (loaded.cert.certificate, *(extra.certificate for extra in loaded.additional_certs))
        return SigningIdentity(key=_check(loaded.key, key), chain=chain)
    try:
        private = load_pem_private_key(data, password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"{key}: cannot read the private key (wrong or missing password?)"
        ) from exc
    if certificate is None:
        raise ConfigurationError(f"{key}: a PEM key needs its certificate file too")
    chain = tuple(load_certificates(certificate))
    return SigningIdentity(key=_check(private, key), chain=chain)
