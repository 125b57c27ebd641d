"""The VDXP-compatible facade: the axis API under ``/vdxp/``, answered from our own store.

A QLVB product that embeds the official axis SDK points its ``service.endpoint`` at
``<gateway>/vdxp`` and works unchanged: the protocol (HMAC headers, the SDK's quirks, the
envelope) is ``adapters.axis.server`` — the same code the simulator runs — and this module
is only the backend: ``sendEdoc`` goes through our outbound pipeline (``accept_package``),
``getReceivedEdocList``/``getEdoc``/``updateStatus`` read and acknowledge our inbound store,
``getSentEdocList`` shows our deliveries. Each facade system has a secret (from the
environment) and the agencies it may act for.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import edxml
from adapters.axis.server import AxisRefusal, Caller
from adapters.blobs import BlobStore
from adapters.store.schema import agencies, deliveries, inbox_acks, messages
from adapters.store.store import Store, utc_now
from gateway.delivery.routing import RoutingTable
from gateway.outbound.accept import DEFAULT_MAX_RECIPIENTS, AcceptanceError
from gateway.outbound.door import Outbound
from gateway.signing import Signers

__all__ = ["FacadeSystem", "VdxpBackend"]

_ACK = {"done": "done", "fail": "fail", "processing": "processing"}


@dataclass(frozen=True, slots=True)
class FacadeSystem:
    system_id: str
    secret: str
    agencies: tuple[str, ...]  # OrganId patterns

    def may_act_for(self, organ_id: str) -> bool:
        return edxml.matches_agency(organ_id, self.agencies)


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


class VdxpBackend:
    """An ``AxisBackend`` over the gateway's store (see ``adapters.axis.server``)."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        routing: RoutingTable,
        systems: Mapping[str, FacadeSystem],
        wake: asyncio.Event | None = None,
        *,
        signers: Signers | None = None,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
        replay_window_seconds: float = 24 * 3600,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._systems = dict(systems)
        # What a QLVB hands over leaves through the one door: signed there if it is not.
        self._outbound = Outbound(
            store, blobs, routing, signers or Signers(), max_recipients=max_recipients, wake=wake
        )
        self._replay_window_seconds = replay_window_seconds

    def secret_for(self, system_id: str) -> str | None:
        system = self._systems.get(system_id)
        return None if system is None else system.secret

    def _system(self, caller: Caller) -> FacadeSystem:
        return self._systems[caller.system_id]

    def _client_id(self, caller: Caller) -> str:
        return f"vdxp:{caller.system_id}"

    async def send(
        self,
        caller: Caller,
        package: bytes,
        *,
        message_type: str,
        sender: str,
        to: list[str] | None,
    ) -> str:
        """``sendEdoc``: through the outbound door, with the calling system's right to send
        for the package's From checked before anything is stored. The very same signed
        request again (a replay, or the SDK's own retry) answers the first DocId and stores
        nothing: the request's signature is its idempotency key while its timestamp is fresh.
        """
        system = self._system(caller)
        if not system.may_act_for(sender):
            raise AxisRefusal(
                403, "403", f"from={sender} is not an agency of system {caller.system_id}"
            )
        client_id = self._client_id(caller)
        key = f"sendEdoc:{caller.signature}"
        claimed, earlier = await self._store.claim_request(
            client_id,
            key,
            hashlib.sha256(package).hexdigest(),
            ttl_seconds=2 * self._replay_window_seconds,
        )
        if claimed == "replay" and earlier is not None:
            return earlier
        if claimed != "new":
            raise AxisRefusal(409, "409", "this very request is being processed already")
        try:
            accepted = await self._outbound.submit(
                package,
                client_id=client_id,
                may_send_as=system.may_act_for,
                idempotency=(client_id, key),
            )
        except AcceptanceError as exc:
            await self._store.settle_request(client_id, key, None)
            if any(p.rule == "auth.sender" for p in exc.problems):
                raise AxisRefusal(403, "403", str(exc)) from None
            raise AxisRefusal(409 if exc.conflict else 400, "422", str(exc)) from None
        except BaseException:
            await self._store.settle_request(client_id, key, None)
            raise
        return accepted.message_id

    def _inbound(self, caller: Caller, message_type: str) -> sa.Select[Any]:
        system = self._system(caller)
        patterns = [p.replace("*", "%").replace("?", "_") for p in system.agencies]
        return (
            sa.select(messages, inbox_acks.c.acked_at)
            .select_from(
                messages.outerjoin(
                    inbox_acks,
                    sa.and_(
                        inbox_acks.c.message_id == messages.c.id,
                        inbox_acks.c.client_id == self._client_id(caller),
                    ),
                )
            )
            .where(
                messages.c.direction == "in",
                messages.c.message_type == message_type,
                sa.or_(*(messages.c.recipient.like(p) for p in patterns)),
            )
            .order_by(messages.c.priority.desc(), messages.c.created_at)
        )

    async def received(self, caller: Caller, message_type: str) -> list[dict[str, Any]]:
        query = self._inbound(caller, message_type).where(inbox_acks.c.acked_at.is_(None))
        async with self._store.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            {
                "docId": row.id,
                "serviceType": "eDoc",
                "messageType": row.message_type,
                "created_time": _time(row.created_at),
                "updated_time": _time(row.created_at),
                "from": row.sender,
                "to": row.recipient,
                "status": "pending",
                "status_desc": row.inbound_state or "",
            }
            for row in rows
        ]

    async def _owned(self, caller: Caller, doc_id: str) -> Any:
        async with self._store.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(messages).where(messages.c.id == doc_id, messages.c.direction == "in")
                )
            ).first()
        if row is None or not self._system(caller).may_act_for(row.recipient or ""):
            raise AxisRefusal(404, "404", f"no document {doc_id} for system {caller.system_id}")
        return row

    async def get(self, caller: Caller, doc_id: str) -> bytes:
        row = await self._owned(caller, doc_id)
        return await self._blobs.read(row.package_ref)

    async def update_status(self, caller: Caller, doc_id: str, status: str) -> None:
        row = await self._owned(caller, doc_id)
        if status == "processing":
            return  # stays listed
        try:
            async with self._store.engine.begin() as connection:
                await connection.execute(
                    inbox_acks.insert().values(
                        message_id=row.id, client_id=self._client_id(caller), acked_at=utc_now()
                    )
                )
        except sa.exc.IntegrityError:
            pass  # acknowledged before

    async def sent(self, caller: Caller, message_type: str, doc_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(
                messages,
                deliveries.c.id.label("delivery_id"),
                deliveries.c.recipient.label("to_code"),
                deliveries.c.state,
                deliveries.c.status_code.label("last_status"),
                deliveries.c.updated_at,
            )
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == message_type,
                messages.c.client_id == self._client_id(caller),
            )
        )
        if doc_id:
            query = query.where(sa.or_(messages.c.id == doc_id, deliveries.c.id == doc_id))
        async with self._store.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            {
                "serviceType": "eDoc",
                "messageType": row.message_type,
                "senderDocId": row.id,
                "receiverDocId": row.delivery_id,
                "fromCode": row.sender,
                "toCode": row.to_code,
                "title": row.subject,
                "notation": row.code,
                "sentTime": _time(row.created_at),
                "receivedTime": _time(row.updated_at)
                if row.state not in ("queued", "sending", "retry_wait")
                else "",
                "sendStatus": row.state,
                "sendStatusDesc": row.state,
                "receiveStatus": row.last_status or "",
                "receiveStatusDesc": row.last_status or "",
            }
            for row in rows
        ]

    async def count(self, caller: Caller, message_type: str) -> int:
        return len(await self.received(caller, message_type))

    async def agencies(
        self, caller: Caller, *, qd20: bool, level: int | None
    ) -> list[dict[str, Any]]:
        async with self._store.engine.connect() as connection:
            rows = (await connection.execute(sa.select(agencies))).all()
        return [
            {
                "id": r.code,
                "pid": r.parent or "",
                "code": r.code,
                "name": r.name,
                "mail": "",
                "code102": r.code,
            }
            for r in rows
        ]

    async def synchronize_units(self, caller: Caller) -> list[dict[str, Any]]:
        return await self.agencies(caller, qd20=False, level=None)

    async def register_agency(self, caller: Caller, record: dict[str, Any]) -> None:
        raise AxisRefusal(403, "403", "the gateway's directory comes from the national axis")

    async def delete_agency(self, caller: Caller, code: str) -> None:
        raise AxisRefusal(403, "403", "the gateway's directory comes from the national axis")
