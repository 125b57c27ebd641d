"""The one outbound door: every package that leaves the gateway is signed here, or refused.

Điều 5.2 wants every exchanged package signed. Documents from the REST API, packages a QLVB
hands the VDXP facade, recalls, updates, replacements and their status 13, the automatic
01/02, the statuses a QLVB reports: all of them pass ``Outbound.submit``, which checks them
(``accept_package``), signs what is not signed yet with the sending agency's key, and
stores and queues them. A package that already carries a signature (a QLVB that signs
itself) keeps it. Without a key, ``signature_required`` refuses the package with the reason;
a status we owe is stored all the same and waits for its signature, which the dispatcher
adds with ``sign_outgoing`` — the same signing, in one piece — before it leaves.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import Store
from gateway.delivery.routing import RoutingTable
from gateway.outbound.accept import DEFAULT_MAX_RECIPIENTS, Accepted, accept_package
from gateway.outbound.model_build import CheckedModel, build_checked
from gateway.signing import Signers, iter_sign_outgoing

__all__ = ["Outbound"]


@dataclass
class Outbound:
    """``await outbound.submit(package_bytes, client_id=..., ...)`` -> ``Accepted``."""

    store: Store
    blobs: BlobStore
    routing: RoutingTable
    signers: Signers = field(default_factory=Signers)
    max_recipients: int | None = DEFAULT_MAX_RECIPIENTS
    wake: asyncio.Event | None = None  # tells the outbox relay / workers there is new work

    async def submit(
        self,
        package: bytes | edxml.Package,
        *,
        client_id: str | None = None,
        may_send_as: Callable[[str], bool] | None = None,
        resend: bool = False,
        idempotency: tuple[str, str] | None = None,
        owed: bool = False,
        limit_recipients: bool = True,
        built_from: CheckedModel | None = None,
    ) -> Accepted:
        """Check, sign, store and queue ``package``; ``AcceptanceError`` with every reason.

        ``owed``: a status we must send whatever happens (01, 02, 15): without a key it is
        stored waiting for its signature instead of refused. ``limit_recipients=False`` for
        operations on a document already accepted (a recall goes to whoever has it).
        ``built_from``: the model the caller built ``package`` from, checked (not parsed back),
        and where its signature goes (not parsed to be signed either). A model given as
        ``package`` (a package we make: a recall, a status, an update) is built here so."""
        if not isinstance(package, bytes):
            package, built_from = await _built(package)
        slot = built_from.slot if built_from is not None else None
        accepted = await accept_package(
            self.store,
            self.blobs,
            self.routing,
            package,
            client_id=client_id,
            may_send_as=may_send_as,
            max_recipients=self.max_recipients if limit_recipients else None,
            resend=resend,
            idempotency=idempotency,
            sign=lambda data, organ: iter_sign_outgoing(self.signers, data, organ, slot=slot),
            owed=owed,
            built_from=built_from,
        )
        if self.wake is not None:
            self.wake.set()
        return accepted


async def _built(package: edxml.Package) -> tuple[bytes, CheckedModel]:
    """A model's bytes, checked as a model and built learning where its signature goes."""
    out = io.BytesIO()
    checked = await build_checked(package, out)
    return out.getvalue(), checked
