"""Agency keys where agencies keep them: USB tokens and HSMs, through PKCS#11 (python-pkcs11).

The Government's specialised CA issues agency keys on tokens; the private key never leaves
them. A key is named by a PKCS#11 URI (RFC 7512)::

    pkcs11:token=VP%20UBND;object=agency?module-path=/usr/lib/softhsm/libsofthsm2.so

(``id`` may name it instead of ``object``, percent-encoded bytes). The PIN comes from the
environment variable the settings name, never from the URI or a file of settings.

The signer interface: a signing key is a ``cryptography`` private key — the ABCs
``rsa.RSAPrivateKey`` and ``ec.EllipticCurvePrivateKey``, of which only ``sign``,
``public_key`` and ``key_size`` (and ``curve``) are used. A file key is one; ``TokenRsaKey`` and
``TokenEcKey`` are one whose ``sign`` asks the token; a remote signing service (hash sent,
the holder approves, the signature comes back) is one whose ``sign`` waits for the holder.
XMLDSig (``edxml.sign``) and PDF signing (``edxml.pdf``) take any of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as _padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key
from pkcs11.util.rsa import encode_rsa_public_key

from adapters.errors import ConfigurationError

__all__ = [
    "Pkcs11Uri",
    "TokenEcKey",
    "TokenRsaKey",
    "TokenStatus",
    "open_token_key",
    "token_certificate",
    "token_status",
]

_MECHANISMS = {
    ("rsa", "sha256"): Mechanism.SHA256_RSA_PKCS,
    ("rsa", "sha384"): Mechanism.SHA384_RSA_PKCS,
    ("rsa", "sha512"): Mechanism.SHA512_RSA_PKCS,
}


@dataclass(frozen=True, slots=True)
class Pkcs11Uri:
    """What a ``pkcs11:`` URI names: the token, the key object, the module to load."""

    token: str | None
    label: str | None
    key_id: bytes | None
    module: Path

    @classmethod
    def parse(cls, uri: str, *, default_module: Path | None = None) -> Pkcs11Uri:
        if not uri.startswith("pkcs11:"):
            raise ConfigurationError(f"not a PKCS#11 URI (RFC 7512): {uri!r}")
        path, _, query = uri[len("pkcs11:") :].partition("?")
        attributes = {}
        for item in filter(None, path.split(";")):
            name, _, value = item.partition("=")
            attributes[name] = urllib.parse.unquote_to_bytes(value)
        options = urllib.parse.parse_qs(query)
        if "pin-value" in options:
            raise ConfigurationError(
                "a PIN in the URI would be a secret in the settings: use pin_env"
            )
        module = options.get("module-path", [None])[0] or (
            str(default_module) if default_module else None
        )
        if not module:
            raise ConfigurationError(f"{uri}: no module-path (the token's PKCS#11 library)")
        if "object" not in attributes and "id" not in attributes:
            raise ConfigurationError(f"{uri}: name the key by object= (its label) or id=")
        text = {k: v.decode("utf-8") for k, v in attributes.items() if k != "id"}
        return cls(
            token=text.get("token"),
            label=text.get("object"),
            key_id=attributes.get("id"),
            module=Path(module),
        )


@dataclass
class _Token:
    """One logged-in session; PKCS#11 sessions are not for two threads at once."""

    session: Any
    token_label: str
    lock: threading.Lock = field(default_factory=threading.Lock)


def _digest_name(algorithm: object) -> str:
    if isinstance(algorithm, Prehashed):
        raise ValueError("a token signs data, not a digest computed elsewhere")
    name = getattr(algorithm, "name", "")
    if name not in ("sha256", "sha384", "sha512"):
        raise ValueError(f"unsupported digest for the token: {name or algorithm!r}")
    return str(name)


class TokenRsaKey(rsa.RSAPrivateKey):
    """An RSA key on a token: ``sign`` is done by the token (PKCS#1 v1.5)."""

    def __init__(self, token: _Token, key: Any, public: rsa.RSAPublicKey, label: str) -> None:
        self._token, self._key, self._public, self.label = token, key, public, label

    def sign(self, data: bytes, padding: _padding.AsymmetricPadding, algorithm: Any) -> bytes:
        if not isinstance(padding, _padding.PKCS1v15):
            raise ValueError("the token signs with PKCS#1 v1.5 only")
        mechanism = _MECHANISMS["rsa", _digest_name(algorithm)]
        with self._token.lock:
            return bytes(self._key.sign(data, mechanism=mechanism))

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def decrypt(self, ciphertext: bytes, padding: _padding.AsymmetricPadding) -> bytes:
        raise NotImplementedError("a signing key on a token does not decrypt")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise NotImplementedError("a key on a token cannot be exported")

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise NotImplementedError("a key on a token cannot be exported")

    def __copy__(self) -> TokenRsaKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenRsaKey:
        return self  # one token object: a copy would be a second session on it


class TokenEcKey(ec.EllipticCurvePrivateKey):
    """An ECDSA key on a token: ``sign`` is done by the token, DER-encoded as X9.62."""

    def __init__(
        self, token: _Token, key: Any, public: ec.EllipticCurvePublicKey, label: str
    ) -> None:
        self._token, self._key, self._public, self.label = token, key, public, label

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise ValueError("the token signs with ECDSA only")
        # Raw ECDSA over a digest made here: tokens that lack the hashing mechanisms (SoftHSM2,
        # many smart cards) all have CKM_ECDSA, and the result is the same signature.
        name = _digest_name(signature_algorithm.algorithm)
        digest = hashlib.new(name, bytes(data)).digest()
        with self._token.lock:
            raw = bytes(self._key.sign(digest, mechanism=Mechanism.ECDSA))
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, *args: Any, **kwargs: Any) -> bytes:
        raise NotImplementedError("a signing key on a token does not exchange keys")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise NotImplementedError("a key on a token cannot be exported")

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise NotImplementedError("a key on a token cannot be exported")

    def __copy__(self) -> TokenEcKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenEcKey:
        return self


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """What /readyz and check-config say of a token key."""

    token: str
    label: str
    logged_in: bool
    key_found: bool
    certificate_not_after: dt.datetime | None


def _public_of(
    private: Any, session: Any, kind: str
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key beside ``private`` on the token (same label or id)."""
    search: dict[Any, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
    for attribute in (Attribute.ID, Attribute.LABEL):
        try:
            value = private[attribute]
        except (pkcs11.exceptions.PKCS11Error, KeyError):
            continue
        if value:
            search[attribute] = value
            break
    public = next(iter(session.get_objects(search)), None)
    if public is None:
        raise ConfigurationError("the token holds no public key beside the private key")
    der = encode_rsa_public_key(public) if kind == "rsa" else encode_ec_public_key(public)
    loaded = load_der_public_key(der)
    if not isinstance(loaded, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ConfigurationError("the token's key is neither RSA nor EC")
    return loaded


#: One logged-in session per token and process: a PKCS#11 login holds for the whole
#: application, so every key of a token shares it (and its lock).
_SESSIONS: dict[tuple[str, str], tuple[_Token, str]] = {}
_SESSIONS_LOCK = threading.Lock()


def _logged_in(module: Path, token: Any, pin: str, pin_env: str) -> _Token:
    digest = hashlib.sha256(pin.encode()).hexdigest()
    where = (str(module), str(token.label))
    refused = f"the PIN in {pin_env} is refused by token {token.label!r}"
    with _SESSIONS_LOCK:
        known = _SESSIONS.get(where)
        if known is not None:
            if not hmac.compare_digest(known[1], digest):
                raise ConfigurationError(refused)
            return known[0]
        try:
            session = token.open(user_pin=pin)
        except pkcs11.exceptions.PinIncorrect:
            raise ConfigurationError(refused) from None
        except pkcs11.exceptions.PKCS11Error as exc:
            raise ConfigurationError(
                f"cannot log in to token {token.label!r}: {type(exc).__name__}"
            ) from None
        opened = _Token(session, str(token.label))
        _SESSIONS[where] = (opened, digest)
        return opened


def open_token_key(
    uri: str, *, pin_env: str, environ: Mapping[str, str], default_module: Path | None = None
) -> TokenRsaKey | TokenEcKey:
    """Log in to the token ``uri`` names with the PIN in ``environ[pin_env]`` and find the
    key; ``ConfigurationError`` naming what is wrong (never the PIN)."""
    parsed = Pkcs11Uri.parse(uri, default_module=default_module)
    pin = environ.get(pin_env)
    if not pin:
        where = uri.split("?", maxsplit=1)[0]
        raise ConfigurationError(f"set {pin_env}: the PIN of the token for {where}")
    try:
        library = pkcs11.lib(str(parsed.module))
        token = (
            library.get_token(token_label=parsed.token)
            if parsed.token
            else next(iter(library.get_tokens()))
        )
    except (pkcs11.exceptions.PKCS11Error, StopIteration, RuntimeError, OSError) as exc:
        raise ConfigurationError(f"PKCS#11 token not found ({type(exc).__name__}: {exc})") from None
    opened = _logged_in(parsed.module, token, pin, pin_env)
    session = opened.session
    search: dict[Any, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    if parsed.label:
        search[Attribute.LABEL] = parsed.label
    if parsed.key_id:
        search[Attribute.ID] = parsed.key_id
    private = next(iter(session.get_objects(search)), None)
    if private is None:
        raise ConfigurationError(
            f"no private key {parsed.label or parsed.key_id!r} on token {token.label!r}"
        )
    kind = "rsa" if private[Attribute.KEY_TYPE] == KeyType.RSA else "ec"
    public = _public_of(private, session, kind)
    label = parsed.label or (parsed.key_id or b"").hex()
    if isinstance(public, rsa.RSAPublicKey):
        return TokenRsaKey(opened, private, public, label)
    return TokenEcKey(opened, private, public, label)


def token_certificate(key: TokenRsaKey | TokenEcKey) -> x509.Certificate | None:
    """The certificate stored beside the key on its token (same label), if any."""
    session = key._token.session
    with key._token.lock:
        found = next(
            iter(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: key.label}
                )
            ),
            None,
        )
        value = None if found is None else bytes(found[Attribute.VALUE])
    return None if value is None else x509.load_der_x509_certificate(value)


def token_status(key: TokenRsaKey | TokenEcKey, certificate: x509.Certificate) -> TokenStatus:
    """Present, logged in and the key usable (a test signature), and the certificate's end."""
    try:
        if isinstance(key, TokenRsaKey):
            key.sign(b"health check", _padding.PKCS1v15(), hashes.SHA256())
        else:
            key.sign(b"health check", ec.ECDSA(hashes.SHA256()))
        working = True
    except (pkcs11.exceptions.PKCS11Error, ValueError):
        working = False
    return TokenStatus(
        token=key._token.token_label,
        label=key.label,
        logged_in=working,
        key_found=working,
        certificate_not_after=certificate.not_valid_after_utc,
    )
