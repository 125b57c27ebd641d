"""``edxml-gateway evidence verify|export|seal``: the evidence log from a shell.

``verify`` appends what is new, then walks the chain (all of it, or ``--from``/``--to``
sequence numbers) and names the first broken entry (exit 1). ``export`` writes the entries
of a period (Vietnam days) as one archive for the records office. ``seal`` signs the head
now. Each is audited.
"""

from __future__ import annotations

import argparse
import datetime as dt

from adapters.blobs import BlobStore
from gateway.config import GatewaySettings
from gateway.operate.evidence import (
    append_new,
    export_evidence,
    http_timestamper,
    seal_evidence,
    verify_evidence,
)
from gateway.operate.layout import period_bounds
from gateway.runtime import Runtime

__all__ = ["run_evidence_command"]


async def run_evidence_command(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    async with Runtime(settings) as runtime:
        store, blobs = runtime.store, BlobStore(settings.data_dir / "blobs")
        appended = await append_new(store)
        if arguments.evidence_command == "seal":
            tsa = settings.evidence.tsa_url
            sealed = await seal_evidence(
                store,
                runtime.signers,
                settings.evidence.seal_agency,
                timestamper=http_timestamper(tsa) if tsa else None,
            )
            await store.audit("cli", "evidence.seal", str(sealed), None)
            print(f"evidence: {appended} entries appended; sealed up to {sealed or 'nothing new'}")
            return 0
        if arguments.evidence_command == "export":
            try:
                start = dt.date.fromisoformat(arguments.start)
                end = dt.date.fromisoformat(arguments.end)
            except ValueError:
                print("evidence export: --from and --to are dates, YYYY-MM-DD")
                return 2
            count = await export_evidence(
                store, blobs, *period_bounds(start, end), arguments.output
            )
            await store.audit("cli", "evidence.export", str(arguments.output), f"{count} entries")
            print(f"evidence: {count} entries from {start} to {end} in {arguments.output}")
            return 0 if count else 1
        report = await verify_evidence(
            store, blobs, arguments.first, arguments.last, timestamps=runtime.inbound.timestamps
        )
        await store.audit("cli", "evidence.verify", None, report.problem or "ok")
        if report.ok:
            print(f"evidence: {report.entries} entries and {report.seals} seals verified")
            return 0
        print(f"evidence: BROKEN: {report.problem}")
        return 1
