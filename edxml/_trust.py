"""Trust in a signer's certificate: the checks of Thông tư 41/2017 Điều 7 (and NĐ 130/2018
Điều 79), each reported on its own: the chain reaches a trusted root, the certificate was
valid at signing time, it is not revoked, its key usage allows signing.

Pure: certificates, CRLs and OCSP responses come in as objects. Fetching them over HTTP,
with caching and timeouts, is ``adapters/revocation.py``; it answers through the same
``RevocationChecker`` protocol and the same CRL/OCSP validation code here.

Certificate profiles of Vietnamese CAs are older than the Web PKI's, so the chain is built
with permissive extension policies (a CA needs only BasicConstraints) and key usage is a
separate, named check rather than a reason the chain "does not exist".
"""

from __future__ import annotations

from ._assess import assess_certificate
from ._certificates import (
    VIETNAM,
    CertificateInfo,
    Check,
    CheckState,
    TrustStore,
    describe_certificate,
    matches_identity,
)
from ._revocation import (
    OfflineRevocation,
    RevocationChecker,
    RevocationState,
    RevocationStatus,
    StaticRevocation,
    crl_status,
    ocsp_status,
)

__all__ = [
    "VIETNAM",
    "CertificateInfo",
    "Check",
    "CheckState",
    "OfflineRevocation",
    "RevocationChecker",
    "RevocationState",
    "RevocationStatus",
    "StaticRevocation",
    "TrustStore",
    "assess_certificate",
    "crl_status",
    "describe_certificate",
    "matches_identity",
    "ocsp_status",
]
