"""`edxml-gateway send RECORD.json` and `edxml-gateway status ID`: the REST API from a shell.

They talk to a running gateway (``--url``, default http://127.0.0.1:8080) with an API key
from ``--key``, ``EDXML_API_KEY`` or, for the demo, ``demo-data/api-key.txt``. A record's
attachments name their files by ``path`` (relative to the record), as for ``edxml build``;
the files are sent as multipart parts, streamed, with a progress bar on a terminal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aiohttp

from gateway.operate import progress
from gateway.operate.progress import CountingReader

__all__ = ["api_key", "run_send", "run_status"]


class CommandError(Exception):
    """A message for the user; the command exits 2."""


def api_key(explicit: str | None) -> str:
    key = explicit or os.environ.get("EDXML_API_KEY")
    demo = Path("demo-data/api-key.txt")
    if not key and demo.exists():
        key = demo.read_text(encoding="utf-8").strip()
    if not key:
        raise CommandError("give the API key: --key, EDXML_API_KEY, or run `make run` first")
    return key


def _problem(status: int, body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return f"HTTP {status}: {body[:300]}"
    lines = [f"HTTP {status}: {data.get('title', '')}"]
    lines += [f"  {p['field']}: {p['message']} ({p['rule']})" for p in data.get("problems", [])]
    return "\n".join(lines)


async def run_send(
    record_path: Path, url: str, key: str, *, resend: bool = False
) -> dict[str, Any]:
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read {record_path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{record_path} is not JSON: {exc}") from None
    form = aiohttp.FormData()
    handles: list[CountingReader] = []
    uploaded = progress.bar("sending", None)
    try:
        for index, attachment in enumerate(record.get("attachments") or []):
            if isinstance(attachment, dict) and "path" in attachment:
                file = record_path.parent / attachment.pop("path")
                try:
                    handle = CountingReader(file, uploaded)
                except OSError as exc:
                    raise CommandError(
                        f"attachments[{index}]: cannot read {file}: {exc.strerror}"
                    ) from None
                uploaded.total = (uploaded.total or 0) + file.stat().st_size
                handles.append(handle)
                attachment.setdefault("name", file.name)
                # the part's name is ASCII: a file name in Vietnamese travels in the record
                attachment["file"] = f"file-{index}"
                form.add_field("file", handle, filename=attachment["file"])
        form.add_field(
            "record", json.dumps(record, ensure_ascii=False), content_type="application/json"
        )
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http,
            http.post(
                f"{url.rstrip('/')}/api/v1/documents",
                data=form,
                params={"resend": "true"} if resend else None,
            ) as response,
        ):
            body = await response.text()
            if response.status != 202:
                raise CommandError(_problem(response.status, body))
            return dict(json.loads(body))
    except aiohttp.ClientError as exc:
        raise CommandError(f"cannot reach the gateway at {url}: {exc}") from None
    finally:
        uploaded.close()
        for handle in handles:
            handle.close()


async def run_status(message_id: str, url: str, key: str) -> str:
    try:
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http,
            http.get(f"{url.rstrip('/')}/api/v1/documents/{message_id}") as response,
        ):
            body = await response.text()
            if response.status != 200:
                raise CommandError(_problem(response.status, body))
    except aiohttp.ClientError as exc:
        raise CommandError(f"cannot reach the gateway at {url}: {exc}") from None
    document = json.loads(body)
    lines = [f"{document['code']}  {document['document_id']}", f"  {document['subject']}"]
    for delivery in document["deliveries"]:
        code = f" ({delivery['status_code']})" if delivery["status_code"] else ""
        error = f" — {delivery['last_error']}" if delivery["last_error"] else ""
        named = f" {delivery['recipient_name']}" if delivery.get("recipient_name") else ""
        lines.append(
            f"  {delivery['recipient']:<16}{named}: {delivery['state']}{code}, "
            f"{delivery['attempts']} attempt(s){error}"
        )
    return "\n".join(lines)
