"""Who may sign for an agency: the certificate identities of each OrganId.

A package's signature proves only that a trusted certificate signed it; Điều 5.2 wants the
signature of the sending agency. Each agency's identities — ``UID=MNS:<budget code>``,
``OU=…``, ``CN=…``, ``SERIAL=…`` (``edxml.matches_identity``) — come from the settings
(``agency_identities``) and from the agencies directory, where an operator records them
(``edxml-gateway directory identity CODE IDENTITY…``). The inbound pipeline checks the
package signer against them, and binds a PDF's agency seal to the document's issuer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import edxml
from adapters.store.store import Store

__all__ = ["identities_of", "set_identities", "signer_binding"]


async def identities_of(
    store: Store, organ_id: str, configured: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """The identities that may sign for ``organ_id``: the settings', then the directory's."""
    listed = await store.recorded_identities(organ_id)
    return tuple(dict.fromkeys([*configured.get(organ_id, ()), *listed]))


async def set_identities(store: Store, organ_id: str, identities: Sequence[str]) -> None:
    """Record ``organ_id``'s identities in the directory (kept across synchronisations)."""
    await store.record_identities(organ_id, identities)


def signer_binding(
    signer: edxml.CertificateInfo | None, organ_id: str, identities: Sequence[str]
) -> tuple[bool | None, str]:
    """Whether ``signer`` may sign for ``organ_id``: True, False, or None when nothing is
    known of the agency's certificates (then nothing can be bound)."""
    if signer is None:
        return None, "no signer certificate"
    if not identities:
        return None, f"no certificate identity is recorded for {organ_id}"
    if any(edxml.matches_identity(signer, identity) for identity in identities):
        return True, f"{signer.common_name} signs for {organ_id}"
    return False, (
        f"the signer {signer} is not one of {organ_id}'s certificates ({', '.join(identities)})"
    )
