"""The XMLDSig profile's vocabulary: canonicalisation, digest and signature methods, the
verification policy and its result."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ._errors import EdxmlError
from ._trust import (
    CertificateInfo,
    Check,
    CheckState,
)
from ._xml import (
    EDXML_NS,
    LEGACY_NS,
    XMLDSIG_NS,
)

__all__ = [
    "C14nMethod",
    "DigestMethod",
    "SignatureMethod",
    "SignatureSlot",
    "SigningError",
    "VerifyPolicy",
    "VerifyResult",
]


#: Packages up to this size are digested by lxml; larger ones by the streaming canonicaliser.
SMALL_DOCUMENT_BYTES = 256 * 1024

_OURS = frozenset({EDXML_NS, LEGACY_NS, ""})
_ENVELOPED = f"{XMLDSIG_NS}enveloped-signature"
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class SignatureSlot:
    """What signing a package needs from its bytes, learnt while they were written
    (``SignableBuild``) instead of by parsing them again: the SHA-256 of the exclusive
    canonical document as it will be sent, the byte offset of ``</edXMLHeader>`` where the
    signature goes, the whitespace written around it (part of the signed document), and the
    size of the bytes it was learnt from (bytes of another size are refused)."""

    digest: bytes
    insert_at: int
    before: str
    after: str
    size: int


class C14nMethod(enum.StrEnum):
    C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    C14N_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"

    @property
    def exclusive(self) -> bool:
        return self.value.startswith("http://www.w3.org/2001/10/xml-exc-c14n#")

    @property
    def with_comments(self) -> bool:
        return self.value.endswith("#WithComments")


class DigestMethod(enum.StrEnum):
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

    @property
    def hashlib_name(self) -> str:
        return self.name.lower()


class SignatureMethod(enum.StrEnum):
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"

    @property
    def hash(self) -> hashes.HashAlgorithm:
        return _HASHES[self.name.split("_")[1]]

    @property
    def is_ecdsa(self) -> bool:
        return self.name.startswith("ECDSA")


_HASHES: dict[str, hashes.HashAlgorithm] = {
    "SHA1": hashes.SHA1(),  # noqa: S303 - verifying legacy signatures; the policy flags it
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
_WEAK = frozenset(
    {DigestMethod.SHA1.value, SignatureMethod.RSA_SHA1.value, SignatureMethod.ECDSA_SHA1.value}
)


class SigningError(EdxmlError, ValueError):
    """The package cannot be signed with what was given (key and certificate do not match...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyPolicy:
    """What a package signature must satisfy to be accepted.

    ``on_failure="flag"`` accepts whatever fails and keeps the findings (real traffic carries
    unverifiable signatures today, spec 6.6); ``"reject"`` refuses it. Revocation
    ``"hard-fail"`` rejects an unknown status too, ``"soft-fail"`` accepts it flagged.
    """

    require_signature: bool = True
    require_trusted_chain: bool = True
    require_validity_period: bool = True
    require_key_usage: bool = True
    revocation: Literal["hard-fail", "soft-fail", "off"] = "soft-fail"
    allow_sha1: bool = True  # accepted, flagged as weak
    on_failure: Literal["reject", "flag"] = "reject"

    def accepts(self, checks: Sequence[Check]) -> bool:
        """Whether these checks satisfy the policy: every required one passed or only warned.

        Used for package and PDF signatures alike, so both read the same way.
        """
        if self.on_failure == "flag":
            return True
        optional = {
            name
            for name, required in (
                ("trusted-chain", self.require_trusted_chain),
                ("validity-period", self.require_validity_period),
                ("key-usage", self.require_key_usage),
                ("revocation", self.revocation != "off"),
            )
            if not required
        }
        for item in checks:
            if item.name in optional or item.state in (CheckState.PASS, CheckState.WARN):
                continue
            if (
                item.state == CheckState.UNKNOWN
                and item.name == "revocation"
                and self.revocation == "soft-fail"
            ):
                continue
            return False
        return True


DEFAULT_POLICY = VerifyPolicy()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Each check of a package signature, the policy's verdict, and who signed."""

    checks: tuple[Check, ...]
    accepted: bool
    signer: CertificateInfo | None = None
    chain: tuple[x509.Certificate, ...] = ()
    #: When the certificate was judged: a validated signature timestamp's time, otherwise
    #: the time of validation (ETSI EN 319 102-1); ``signing_time_source`` says which.
    signing_time: dt.datetime | None = None
    signing_time_source: str = ""
    #: What the signer claims (its TraceHeader): reported, never trusted.
    claimed_signing_time: dt.datetime | None = None
    signature_method: str | None = None
    digest_method: str | None = None

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)

    def _passed(self, name: str) -> bool:
        return self.check(name).state in (CheckState.PASS, CheckState.WARN)

    @property
    def present(self) -> bool:
        return self._passed("present")

    @property
    def valid(self) -> bool:
        """Cryptographically valid: the digest matches and the signature value verifies."""
        return self._passed("integrity")

    @property
    def trusted(self) -> bool:
        return self._passed("trusted-chain")

    @property
    def flagged(self) -> tuple[Check, ...]:
        """Checks that did not plainly pass."""
        return tuple(item for item in self.checks if item.state != CheckState.PASS)
