"""The inbound pipeline: what happens to a package the axis (or a hub) brings us.

    hardened parse -> XSD + rules -> package signature (policy) -> is the recipient ours?
    -> duplicate? -> store -> automatic 01 to the sender (Điều 21.2c), or 02 with the reason
    (Điều 21.2b) -> the local QLVB's inbox (and webhooks)

* A package that cannot be read at all is refused to the poller (acknowledged ``fail``):
  there is no sender to answer.
* Each of our agencies a document is addressed to gets its own copy and answers its own 01:
  the one the source names (the axis' ``to``), or every agency of ours in ``To``.
* A duplicate — the same DocumentId, sender and recipient as a document we accepted — is
  recorded as seen and not handed to the QLVB again, and the status we gave is sent again
  (the sender may not have got it). A duplicate of one we rejected is processed again. An
  update, replacement or recall (business type 1-3) of a document we hold is a new item,
  linked to the original.
* An item its source delivers again (the same source and id) is recognised and changes
  nothing, whatever route brought it (the axis, a hub, our own local delivery).
* A status package about our own document moves its delivery (``apply_status``). A status 13
  about a document we received marks it ``recalled``, keeps the request, and answers 15.
* The rejection reasons, the signature findings and the rules broken are kept with the
  message (``checks``), for the dashboard and the QLVB.

Statuses we answer go out through the outbound door like any outgoing package, signed there
with the recipient agency's key. A status we owe is never dropped: when no key can sign it yet it
is stored all the same, marked as waiting for its signature, and the dispatcher signs it
before sending (retrying, visibly, until a key is configured; an alert says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import edxml
from adapters.axis.client import ReceivedItem
from adapters.axis.poller import Handover, HandoverRejected
from adapters.blobs import BlobStore
from adapters.store.store import NewDelivery, NewMessage, Store
from edxml import vietnam_now
from gateway.delivery.routing import RoutingTable
from gateway.inbound.checks import pdf_signatures, signature_sound, verify_received
from gateway.inbound.identities import identities_of, signer_binding
from gateway.inbound.results import DEFAULT_FATAL_RULES, Checked, InboundResult
from gateway.inbound.statuses import apply_status
from gateway.outbound.accept import AcceptanceError, register_facts
from gateway.outbound.door import Outbound
from gateway.signing import Signers

__all__ = ["DEFAULT_FATAL_RULES", "InboundPipeline", "InboundResult"]

log = logging.getLogger(__name__)


@dataclass
class InboundPipeline:
    store: Store
    blobs: BlobStore
    routing: RoutingTable
    own_agencies: Sequence[str]  # OrganId patterns of the agencies we receive for
    signers: Signers = field(default_factory=Signers)
    #: Trust sets and which kind of signature may use which (a bare store: one set for all)
    trust: edxml.TrustStore | edxml.TrustPolicy | None = None
    #: Revocation answers (CRLs of the trust folders); without it, revocation is "unknown"
    revocation: edxml.RevocationChecker | None = None
    policy: edxml.VerifyPolicy = field(
        default_factory=lambda: edxml.VerifyPolicy(on_failure="flag")
    )
    answer_statuses: bool = True
    listeners: list[Callable[[InboundResult], None]] = field(default_factory=list)
    #: Rules whose breach makes a received document unusable: answered 02. Any other
    #: finding is kept as a warning and the document is accepted (01).
    fatal_rules: frozenset[str] = DEFAULT_FATAL_RULES
    #: Validates signature timestamps (trusted TSAs); without it, judged at reception.
    timestamps: edxml.TimestampValidator | None = None
    #: OrganId -> the certificate identities that may sign for it (with the directory's)
    identities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: A package signed by a certificate that is not the sending agency's: "reject" (02) or
    #: "flag" (accepted, with the finding)
    signer_policy: Literal["reject", "flag"] = "flag"
    #: A recall (13) of a document we hold: "clerk" keeps it waiting for a clerk's 15 or 16
    #: (the dashboard, or the QLVB through the API); "automatic" agrees (15) at once.
    recall_answer: Literal["clerk", "automatic"] = "clerk"

    def ours(self, organ_id: str) -> bool:
        return edxml.matches_agency(organ_id, self.own_agencies)

    def handover(self, source: str = "axis") -> Handover:
        async def handover(item: ReceivedItem, data: bytes) -> None:
            await self.receive(data, source=source, remote_id=item.doc_id, recipient=item.receivers)

        return handover

    async def receive(
        self, data: bytes, *, source: str, remote_id: str, recipient: str | None = None
    ) -> InboundResult:
        """Take one item in; ``recipient`` is the agency the source delivered it to."""
        if await self.store.inbound_seen(source, remote_id):
            return InboundResult(None, "duplicate")  # the same item again: nothing to do
        try:
            checked = await asyncio.to_thread(edxml.check, data)
        except edxml.EdxmlError as exc:
            raise HandoverRejected(f"unreadable package: {exc}") from None
        package = checked.package
        if package is None and any(p.rule in self.fatal_rules for p in checked.problems):
            # Its files cannot be read, but its header can: the sender is told why (02).
            with contextlib.suppress(edxml.EdxmlError):
                package = await asyncio.to_thread(edxml.parse, data, attachments=False)
        if package is None:
            reasons = "; ".join(p.message for p in checked.problems) or "unreadable"
            raise HandoverRejected(f"unreadable package: {reasons}")
        if isinstance(package, edxml.StatusPackage):
            results = [await self._status(package, data, source, remote_id)]
        else:
            results = await self._document(
                package, checked.problems, data, source=source, remote_id=remote_id, named=recipient
            )
        for result in results:
            for listener in self.listeners:
                listener(result)
        return results[0]

    # -- documents -------------------------------------------------------------------------------

    def _targets(self, package: edxml.DocumentPackage, named: str | None) -> list[str]:
        """Which of our agencies get a copy: the one the source delivered it to, if it is
        ours; otherwise every agency of ours the package is addressed to."""
        if named and self.ours(named.strip()):
            return [named.strip()]
        return list(dict.fromkeys(o.organ_id for o in package.recipients if self.ours(o.organ_id)))

    async def _document(
        self,
        package: edxml.DocumentPackage,
        problems: Sequence[edxml.Problem],
        data: bytes,
        *,
        source: str,
        remote_id: str,
        named: str | None,
    ) -> list[InboundResult]:
        targets = self._targets(package, named)
        # What real senders emit and the official reader tolerates is a warning on the
        # document; only a rule the policy marks as fatal (by default: an attachment that
        # cannot be read, or is missing) earns a 02.
        reasons = [f"{p.rule}: {p.message}" for p in problems if p.rule in self.fatal_rules]
        warnings = [f"{p.rule}: {p.message}" for p in problems if p.rule not in self.fatal_rules]
        checks: dict[str, object] = {"rules": reasons, "warnings": warnings}
        signature, relayed_by = await self._verify(package, data)
        signed: dict[str, object] = {
            "present": signature.present,
            "valid": signature.valid,
            "accepted": signature.accepted,
            "signer": str(signature.signer) if signature.signer else None,
            "findings": [f"{c.name}: {c.state.value}: {c.detail}" for c in signature.flagged],
            "hub_trace_removed": relayed_by,
            # recorded at reception: the document stays provably "valid when received"
            "judged_at": signature.signing_time,
            "judged_by": signature.signing_time_source,
            "claimed_signing_time": signature.claimed_signing_time,
        }
        checks["signature"] = signed
        if not signature.accepted:
            failed = [f"{c.name}: {c.detail}" for c in signature.flagged if c.state == "fail"]
            reasons.append(
                "the package signature does not satisfy the policy"
                + (f" ({'; '.join(failed)})" if failed else "")
            )
        sender_identities = await identities_of(
            self.store, package.sender.organ_id, self.identities
        )
        bound, binding = signer_binding(
            signature.signer, package.sender.organ_id, sender_identities
        )
        signed["signer_bound"], signed["signer_binding"] = bound, binding
        if bound is False:  # Điều 5.2: the sending agency's own signature
            (reasons if self.signer_policy == "reject" else warnings).append(f"signer: {binding}")
        checks["pdf_signatures"] = await self._pdf_checks(package, sender_identities)
        if not targets:  # delivered to us by mistake: answered 02 as the addressee
            first = (named or "").strip() or (
                package.recipients[0].organ_id if package.recipients else ""
            )
            targets = [first] if first else []
            reasons.append(f"none of the recipients is an agency of ours ({first})")
        checks["reasons"] = reasons
        found = Checked(
            package,
            data,
            await asyncio.to_thread(self.blobs.put, data),
            reasons,
            checks,
            signature_sound(signature),
        )
        results = []
        for index, recipient in enumerate(targets or [""]):
            # one inbound record per copy: the source's id, then one per further agency
            item_id = remote_id if index == 0 else f"{remote_id}#{recipient}"
            results.append(await self._copy(found, source, item_id, recipient))
        return results

    async def _copy(
        self, found: Checked, source: str, remote_id: str, recipient: str
    ) -> InboundResult:
        """Store (or recognise) the copy for ``recipient`` and answer 01/02 from it."""
        package, data, ref, reasons = found.package, found.data, found.ref, found.reasons
        document_id = package.document_id or edxml.document_id_of(package)
        sender = package.sender.organ_id
        business_type = package.business.doc_type if package.business else 0
        if not reasons:
            earlier = await self.store.accepted_copy(
                document_id, sender, recipient, business_type, None if business_type == 0 else ref
            )
            if earlier is not None:
                await self.store.record_inbound(
                    source, remote_id, message_type="edoc", outcome="duplicate", detail=earlier
                )
                await self._answer_again(document_id, recipient)
                return InboundResult(earlier, "duplicate")
        state = "rejected" if reasons else "accepted"
        priority = package.other_info.priority if package.other_info else None
        message_id, _ = await self.store.accept(
            NewMessage(
                direction="in",
                document_id=document_id,
                sender=sender,
                code=str(package.code),
                subject=package.subject,
                business_type=business_type,
                priority=priority or 0,
                due_date=package.due_date,
                package_ref=ref,
                package_size=len(data),
                **register_facts(package),
            ),
            [],
            source=source,
            deliver=False,
            inbound=(source, remote_id),
        )
        original = (
            await self.store.accepted_copy(document_id, sender, recipient, 0, None)
            if business_type
            else None
        )
        await self.store.set_inbound(
            message_id,
            recipient=recipient or None,
            state=state,
            checks=found.checks,
            signature_failed=not found.signature_sound,
            original_id=original,
        )
        if self.answer_statuses and recipient:
            code = "02" if reasons else "01"
            description = "; ".join(reasons) if reasons else "Đã đến"
            await self._answer(package, recipient, code, description)
        return InboundResult(message_id, state, tuple(reasons))

    async def _verify(
        self, package: edxml.DocumentPackage, data: bytes
    ) -> tuple[edxml.VerifyResult, str | None]:
        return await verify_received(
            package,
            data,
            trust=self.trust,
            policy=self.policy,
            revocation=self.revocation,
            timestamps=self.timestamps,
        )

    async def _pdf_checks(
        self, package: edxml.DocumentPackage, issuer: Sequence[str]
    ) -> dict[str, object]:
        return await pdf_signatures(package, issuer, trust=self.trust, revocation=self.revocation)

    async def _answer_again(self, document_id: str, reporter: str) -> None:
        """The sender sent a document again, perhaps because our status never reached it:
        the last status we sent about it goes out once more (the same signed package)."""
        found = await self.store.last_status_sent(document_id, reporter)
        if found is None:
            return
        row, waiting, recipients = found
        if waiting:
            return  # it has not gone yet: it will
        await self.store.accept(
            NewMessage(
                direction="out",
                document_id=row["document_id"],
                sender=row["sender"],
                code=row["code"],
                subject=row["subject"],
                message_type="status",
                status_code=row["status_code"],
                package_ref=row["package_ref"],
                package_size=row["package_size"],
                needs_signature=row["needs_signature"],
            ),
            [NewDelivery(r, self.routing.destination_for(r) or "") for r in recipients],
            source="inbound:duplicate",
        )

    async def _answer(
        self, document: edxml.DocumentPackage, reporter: str, code: str, description: str
    ) -> None:
        """Send a status about ``document`` from our agency ``reporter`` to its sender."""
        status = edxml.StatusPackage(
            sender=edxml.Organization(organ_id=reporter),
            response_for=edxml.ResponseFor(
                organ_id=document.sender.organ_id,
                code=str(document.code),
                promulgation_date=document.promulgation.date,
                document_id=document.document_id or edxml.document_id_of(document),
            ),
            status_code=code,
            description=description[:1000],
            timestamp=vietnam_now(),
        )
        await self.send_status(status)

    async def send_status(self, status: edxml.StatusPackage) -> str | None:
        """Send a status we owe. Without a key to sign it, it is stored all the same and
        waits for its signature (the dispatcher signs it before sending; an alert says so)."""
        outbound = Outbound(self.store, self.blobs, self.routing, self.signers)
        try:
            # One of ours owes it (waits for its signature without a key); for a document
            # misaddressed to us we cannot speak, and without a key it is not sent.
            accepted = await outbound.submit(status, owed=self.ours(status.sender.organ_id))
        except AcceptanceError as exc:
            log.warning(
                "status %s to %s not sent: %s",
                status.status_code,
                status.response_for.organ_id,
                exc,
            )
            return None
        return accepted.message_id

    # -- statuses --------------------------------------------------------------------------------

    async def _status(
        self, status: edxml.StatusPackage, data: bytes, source: str, remote_id: str
    ) -> InboundResult:
        ref = await asyncio.to_thread(self.blobs.put, data)
        message_id, _ = await self.store.accept(
            NewMessage(
                direction="in",
                document_id=status.response_for.document_id or "",
                sender=status.sender.organ_id,
                code=status.response_for.code or "",
                subject=status.description or "",
                message_type="status",
                status_code=status.status_code,
                package_ref=ref,
                package_size=len(data),
            ),
            [],
            source=source,
            deliver=False,
            inbound=(source, remote_id),
        )
        await self.store.set_inbound(
            message_id, recipient=status.response_for.organ_id, state="status"
        )
        if status.status_code == "13":
            return await self._recalled(status, message_id)
        await apply_status(self.store, status)
        return InboundResult(message_id, "status")

    async def _recalled(self, request: edxml.StatusPackage, request_id: str) -> InboundResult:
        """The sender takes back a document it sent us (status 13)."""
        document_id = request.response_for.document_id or ""
        automatic = self.recall_answer == "automatic"
        recalled = await self.store.recall_received(
            document_id,
            request.sender.organ_id,
            request_id,
            request.description,
            state="recalled" if automatic else "recall_requested",
        )
        if recalled and automatic and self.answer_statuses:
            answer = edxml.StatusPackage(
                sender=edxml.Organization(organ_id=request.response_for.organ_id),
                response_for=edxml.ResponseFor(
                    organ_id=request.sender.organ_id,
                    code=request.response_for.code,
                    promulgation_date=request.response_for.promulgation_date,
                    document_id=document_id,
                ),
                status_code="15",
                description="Đồng ý thu hồi",
                timestamp=vietnam_now(),
            )
            await self.send_status(answer)
        return InboundResult(request_id, "recall", () if recalled else ("no such document",))
