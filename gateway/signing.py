"""Which key signs which agency's packages (Điều 5.2: every exchanged package is signed).

The gateway signs each outgoing package — documents it builds from a QLVB's record, and the
status packages it answers with — using the sending agency's key and certificate chain. An
agency without a key configured gets its packages sent unsigned unless ``required``, in
which case acceptance refuses them with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import edxml
from edxml import SigningIdentity

__all__ = ["MissingSigningKey", "Signers", "iter_sign_outgoing", "sign_outgoing"]


class MissingSigningKey(Exception):
    def __init__(self, organ_id: str) -> None:
        super().__init__(f"no signing key is configured for {organ_id} (Điều 5.2)")
        self.organ_id = organ_id


@dataclass
class Signers:
    identities: Mapping[str, SigningIdentity] = field(default_factory=dict)
    required: bool = False

    def sign(self, package: bytes, organ_id: str) -> bytes:
        """The package signed as ``organ_id`` (unchanged when no key is configured for it
        and a signature is not required)."""
        return b"".join(self.iter_sign(package, organ_id))

    def iter_sign(
        self, package: bytes, organ_id: str, *, slot: edxml.SignatureSlot | None = None
    ) -> Iterable[bytes]:
        """``sign`` in pieces, for a package written straight to a file: the signed copy of a
        large package is never held whole beside the unsigned one. ``MissingSigningKey`` is
        raised here, before any piece. ``slot``: learnt while the package was built
        (``edxml.SignableBuild``), so it is not parsed again."""
        identity = self.identities.get(organ_id)
        if identity is None:
            if self.required:
                raise MissingSigningKey(organ_id)
            return (package,)
        return edxml.iter_sign(package, identity.key, identity.chain, slot=slot)


def sign_outgoing(signers: Signers, package: bytes, organ_id: str) -> bytes:
    """The package signed as ``organ_id``: the only place an outgoing package is signed
    (the outbound door, and the dispatcher for a status stored waiting for its signature).
    ``MissingSigningKey`` when a signature is required and no key is configured."""
    return signers.sign(package, organ_id)


def iter_sign_outgoing(
    signers: Signers, package: bytes, organ_id: str, *, slot: edxml.SignatureSlot | None = None
) -> Iterable[bytes]:
    """``sign_outgoing`` in pieces (a document the outbound door stores as it is signed)."""
    return signers.iter_sign(package, organ_id, slot=slot)
