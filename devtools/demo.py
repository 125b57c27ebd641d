"""`edxml-gateway demo` (what `make run` starts): the whole gateway on a laptop, no servers.

Everything lives under the project's ``demo-data/`` folder (nothing is written outside it):
a development PKI (made once with ``python -m devtools dev-ca``), the SQLite store and the
blobs. The axis simulator runs in the same process with ``config/axis-simulator.json`` (its
codes are examples); the gateway serves Ninh Bình (system 00.42.W00, agencies ``*.H42``)
with the embedded queue, and reaches Tây Ninh (``*.H53``) through the province's LGSP (the
simulator's LGSP face) to show the second transport. A small "Government Office" robot on
the simulator's side answers the documents it receives with 01 and 03, so states move while
you watch.

On first start it seeds a few documents in different states (sent and answered, failed
because the axis does not know the recipient, urgent and overdue), received documents of
each kind a clerk meets (urgent with a due date, plain, a broken signature, a recall), an
admin account, a clerk and an API key, and prints the dashboard URL, the logins and the key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import signal
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

import edxml
from adapters.store.schema import users
from devtools.axis_simulator import AxisSimulator, load_simulator_config
from devtools.dev_ca_files import write_dev_pki
from edxml import vietnam_now
from gateway.config import AxisSettings, GatewaySettings, LgspSettings, SigningKeySettings
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.routing import Route
from gateway.http.api.clients import create_client
from gateway.http.dashboard.accounts import create_user
from gateway.outbound.accept import AcceptanceError
from gateway.outbound.door import Outbound
from gateway.runtime import Runtime
from gateway.signing import sign_outgoing

__all__ = ["run_demo"]

ROOT = Path(__file__).resolve().parent.parent
ADMIN, ADMIN_PASSWORD = "quantri.vp", "demo-mat-khau"
_SECRET_ENV = "EDXML_DEMO_AXIS_SECRET"  # noqa: S105 (a variable's name)
#: The simulator's demo LGSP secrets (config/axis-simulator.json), never real ones
_LGSP_SECRETS = {
    "EDXML_DEMO_LGSP_CONSUMER_SECRET": "demo-consumer-secret",
    "EDXML_DEMO_LGSP_UNIT_SECRET": "demo-unit-secret-ninh-binh",
}
_VPCP_SECRET = "demo-secret-vpcp"  # noqa: S105 (the simulator's demo secret for the Office)
VPCP = "000.00.00.G22"


def _keys(folder: Path) -> Path:
    keys = folder / "keys"
    if not (keys / "README.txt").exists():
        write_dev_pki(keys, "http://127.0.0.1:8642", io.StringIO(), force=True)
    return keys


def _settings(folder: Path, keys: Path, axis_url: str) -> GatewaySettings:
    signing_keys = {
        path.name.removesuffix(".p12"): SigningKeySettings(
            key=path, password_file=path.with_name(f"{path.name}.password")
        )
        for path in (keys / "agencies").glob("*.p12")
    }
    return GatewaySettings(
        data_dir=folder,
        axis=AxisSettings(
            base_url=axis_url,
            system_id="00.42.W00",
            secret_env=_SECRET_ENV,
            poll_interval_seconds=2,
        ),
        # Ninh Bình's LGSP serves the same system: the axis poller already reads its inbox
        lgsp={
            "lgsp": LgspSettings(
                base_url=axis_url,
                consumer_key="ninh-binh-qlvb",
                consumer_secret_env="EDXML_DEMO_LGSP_CONSUMER_SECRET",  # noqa: S106 (a name)
                unit_secret_env="EDXML_DEMO_LGSP_UNIT_SECRET",  # noqa: S106 (a name)
                poll=False,
            )
        },
        own_agencies=("*.H42",),
        routes=(
            Route(pattern="*.H53", destination="lgsp"),
            Route(pattern="*", destination="axis"),
        ),
        signing_keys=signing_keys,
        trust_dir=keys / "trust",
        pdf_signature_policy="off",
        retry=RetryPolicy(delays_seconds=(5, 30, 120), jitter=0.2),
        maintenance_notice=(
            "Bản trình diễn: mã định danh cơ quan là ví dụ, trục liên thông là bộ mô phỏng."
        ),
        log_level="WARNING",
    )


def _record(number: str, recipient: str, subject: str, **extra: object) -> edxml.DocumentPackage:
    record = json.loads((ROOT / "config" / "examples" / "record.json").read_text(encoding="utf-8"))
    pdf = ROOT / "config" / "examples" / record["attachments"][0].pop("path")
    record["attachments"][0].update(
        name=pdf.name, data_base64=base64.b64encode(pdf.read_bytes()).decode()
    )
    record["recipients"] = [{"organ_id": recipient}]
    record["code"] = {"number": number, "notation": "UBND-VP"}
    record["subject"] = record["content"] = subject
    record.update(extra)
    package = edxml.from_record(record, now=vietnam_now())
    assert isinstance(package, edxml.DocumentPackage)
    return package


async def _seed(runtime: Runtime) -> tuple[str, bool]:
    """Demo data on first start; returns the API key (kept in demo-data/api-key.txt) and
    whether this was the first start."""
    key_file = runtime.settings.data_dir / "api-key.txt"
    async with runtime.store.engine.connect() as connection:
        seeded = await connection.scalar(sa.select(sa.func.count()).select_from(users))
    if seeded:
        return (
            key_file.read_text(encoding="utf-8").strip()
            if key_file.exists()
            else "(see api-key.txt)"
        ), False
    await create_user(
        runtime.store,
        username=ADMIN,
        full_name="Quản trị Văn phòng",
        unit="VP",
        role="admin",
        agencies=["*.H42"],
        password=ADMIN_PASSWORD,
        by="demo",
    )
    await create_user(
        runtime.store,
        username="binhtt.vp",
        full_name="Trần Thị Bình",
        unit="VP",
        role="clerk",
        agencies=["*.H42"],
        password=ADMIN_PASSWORD,
        by="demo",
    )
    _, key = await create_client(runtime.store, "QLVB Văn phòng (demo)", ["*.H42"])
    key_file.write_text(key + "\n", encoding="utf-8")
    today = dt.date.today()
    documents = [
        _record("01", "000.00.00.G22", "V/v triển khai kết nối, liên thông văn bản điện tử"),
        _record("02", "000.00.11.H53", "V/v phối hợp cung cấp số liệu quý IV"),
        _record(
            "03",
            "000.00.00.G10",
            "V/v báo cáo tổng kết công tác năm 2026",
            promulgation={
                "place": "Ninh Bình",
                "date": (today - dt.timedelta(days=10)).isoformat(),
            },
            due_date=(today - dt.timedelta(days=3)).isoformat(),
            other_info={"priority": 1, "page_amount": 1, "direction": False},
        ),
        _record("04", "000.00.00.G99", "V/v gửi nhầm nơi nhận (cơ quan không có trên trục)"),
    ]
    outbound = Outbound(runtime.store, runtime.blobs, runtime.settings.routing, runtime.signers)
    for package in documents:
        with contextlib.suppress(AcceptanceError):
            await outbound.submit(package)
    return key, True


def _from_vpcp(number: str, subject: str, **extra: object) -> edxml.DocumentPackage:
    """A document of the Government Office to the provincial Office (the demo's inbox)."""
    extra = {
        "due_date": None,
        "other_info": {"priority": 0, "page_amount": 1, "direction": False},
        **extra,
    }
    package = _record(number, "000.00.01.H42", subject, **extra)
    return dataclasses.replace(
        package,
        sender=edxml.Organization(organ_id=VPCP, organ_name="Văn phòng Chính phủ"),
        code=edxml.Code(number=number, notation="VPCP-KGVX"),
        document_id=None,
        signer=edxml.SignerInfo(
            competence="KT. BỘ TRƯỞNG, CHỦ NHIỆM", position="Phó Chủ nhiệm", full_name="Lê Văn Bình"
        ),
    )


async def _send_received_examples(simulator: AxisSimulator, runtime: Runtime) -> None:
    """On first start, the Government Office sends the province one document of each kind a
    clerk meets: an urgent one with a due date, a plain one, one whose signature breaks on the
    way (flagged for the clerk, who may refuse it: ``inbound_signature_policy``), and one it
    then recalls (13). They arrive by the poller."""
    from adapters.axis.client import AxisClient, AxisConfig  # noqa: PLC0415

    today = dt.date.today()
    urgent = _from_vpcp(
        "1520",
        "V/v khẩn trương báo cáo tình hình thiệt hại do mưa lũ",
        due_date=(today + dt.timedelta(days=2)).isoformat(),
        other_info={"priority": 3, "page_amount": 1, "direction": False},
    )
    plain = _from_vpcp("1521", "V/v thông báo lịch làm việc của Thường trực Chính phủ")
    broken = _from_vpcp("1522", "V/v góp ý dự thảo Nghị định về văn thư điện tử")
    recalled = _from_vpcp("1523", "V/v mời họp trực tuyến (gửi nhầm, sẽ thu hồi)")
    config = AxisConfig(base_url=simulator.url, system_id=VPCP, secret=_VPCP_SECRET)
    async with AxisClient(config) as vpcp:
        for package in (urgent, plain, recalled):
            signed = sign_outgoing(runtime.signers, edxml.build(package), VPCP)
            await vpcp.send_edoc(signed, sender=VPCP)
        signed = sign_outgoing(runtime.signers, edxml.build(broken), VPCP)
        altered = signed.replace("góp ý".encode(), b"gop y", 1)  # changed after signing
        await vpcp.send_edoc(altered, sender=VPCP)
        recall = edxml.StatusPackage(
            sender=edxml.Organization(organ_id=VPCP, organ_name="Văn phòng Chính phủ"),
            response_for=edxml.ResponseFor(
                organ_id="000.00.01.H42",
                code=str(recalled.code),
                promulgation_date=recalled.promulgation.date,
                document_id=edxml.document_id_of(recalled),
            ),
            status_code="13",
            description="Gửi nhầm nơi nhận",
            timestamp=vietnam_now(),
        )
        await asyncio.sleep(6)  # the recall comes after the gateway has the document
        signed = sign_outgoing(runtime.signers, edxml.build(recall), VPCP)
        await vpcp.send_edoc(signed, sender=VPCP, message_type="status")


async def _vpcp_robot(simulator: AxisSimulator, stop: asyncio.Event) -> None:
    """The Government Office's side: documents it receives get 01, then 03."""
    from adapters.axis.client import AxisClient, AxisConfig  # noqa: PLC0415

    config = AxisConfig(base_url=simulator.url, system_id=VPCP, secret=_VPCP_SECRET)
    async with AxisClient(config) as vpcp:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                for item in await vpcp.received_list():
                    document = edxml.parse(await vpcp.get_edoc(item.doc_id))
                    await vpcp.update_status(item.doc_id, "done")
                    if not isinstance(document, edxml.DocumentPackage):
                        continue
                    for code, text in (
                        ("01", "Đã đến"),
                        ("03", "Đã tiếp nhận, vào sổ văn bản đến"),
                    ):
                        status = edxml.StatusPackage(
                            sender=edxml.Organization(
                                organ_id="000.00.00.G22", organ_name="Văn phòng Chính phủ"
                            ),
                            response_for=edxml.ResponseFor(
                                organ_id=document.sender.organ_id,
                                code=str(document.code),
                                promulgation_date=document.promulgation.date,
                                document_id=document.document_id,
                            ),
                            status_code=code,
                            description=text,
                            timestamp=vietnam_now(),
                        )
                        await vpcp.send_edoc(
                            edxml.build(status), sender="000.00.00.G22", message_type="status"
                        )
                        await asyncio.sleep(1.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2)


async def run_demo(folder: Path, host: str, port: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    keys = _keys(folder)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    os.environ[_SECRET_ENV] = "demo-secret-ninh-binh"  # the simulator's demo secret, not a real one
    os.environ.update(_LGSP_SECRETS)
    simulator_config = load_simulator_config(ROOT / "config" / "axis-simulator.json")
    async with AxisSimulator(simulator_config) as simulator:
        settings = _settings(folder, keys, simulator.url)
        async with Runtime(settings) as runtime:
            runtime.reload_on_hangup()
            key, fresh = await _seed(runtime)
            runner = web.AppRunner(runtime.web_app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            address = runner.addresses[0]
            url = f"http://{address[0]}:{address[1]}"
            print(f"edxml-gateway demo: dashboard {url}/dashboard/", flush=True)
            print(f"  log in as {ADMIN} (admin) or binhtt.vp (clerk), password {ADMIN_PASSWORD}")
            print(f"  REST API {url}/api/v1 with: Authorization: Bearer {key}")
            print(
                f"  axis simulator {simulator.url} (system 00.42.W00, secret demo-secret-ninh-binh)"
            )
            print(f"  Tây Ninh (*.H53) through the simulated LGSP: {simulator.url}/truclienthong")
            print(f"  data in {folder}/ (delete it to start afresh); Ctrl-C stops", flush=True)
            robot = asyncio.create_task(_vpcp_robot(simulator, stop))
            examples = asyncio.create_task(
                _send_received_examples(simulator, runtime) if fresh else asyncio.sleep(0)
            )
            try:
                await runtime.run_workers(stop)
            finally:
                stop.set()
                examples.cancel()
                await asyncio.gather(robot, examples, return_exceptions=True)
                await runner.cleanup()
