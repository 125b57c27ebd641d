"""Operator alerts: raised, grown and resolved from the store; told by e-mail (a real SMTP
server) and webhook (a real HTTP server), kept pending while a sink is down; shown on the
dashboard; run by the workers."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

import edxml
from adapters.signed_posts import sign_body
from adapters.store.store import NewDelivery, Store
from devtools.devca import DevPki
from edxml import SigningIdentity
from gateway.cli.main import main
from gateway.config import AlertSettings, AlertWebhookSettings, GatewaySettings, SmtpSettings
from gateway.delivery.routing import Route
from gateway.http.dashboard.accounts import create_user
from gateway.operate.alerts import (
    EmailSink,
    WebhookSink,
    active_alerts,
    evaluate,
    notify_pending,
    sinks_from_settings,
)
from gateway.runtime import Runtime
from gateway.signing import Signers
from tests.adapters.store.test_store import _message
from tests.backends import Clock
from tests.factories import document

SETTINGS = AlertSettings(destination_failures=2)
SMTP_PASSWORD = "smtp-mat-khau-bi-mat"


async def _failing(store: Store, clock: Clock, route: str, count: int) -> list[str]:
    """``count`` deliveries to ``route`` whose first attempt failed and wait on a retry."""
    _, ids = await store.accept(
        _message(), [NewDelivery(f"000.00.00.G{n:02d}", route) for n in range(count)]
    )
    jobs = await store.claim_due(count, lease_seconds=60)
    for job in jobs:
        await store.mark_retry(job.delivery_id, 1, "HTTP 503 from the axis", clock.now)
    return ids


async def test_destination_dead_letters_and_certificates_rise_and_resolve(
    store: Store, clock: Clock, pki: DevPki
) -> None:
    assert await evaluate(store, Signers(), SETTINGS, clock.now) == []
    ids = await _failing(store, clock, "axis", 2)
    (raised,) = await evaluate(store, Signers(), SETTINGS, clock.now)
    assert (raised.key, raised.change) == ("destination:axis", "raised")
    assert "Trục liên thông quốc gia" in raised.text("vi")  # the destination by its name
    assert "HTTP 503" in raised.text("en")
    assert await evaluate(store, Signers(), SETTINGS, clock.now) == []  # told once

    # both give up: dead letters appear, then grow; the destination is still failing
    clock.advance(60)
    jobs = await store.claim_due(5, lease_seconds=60)
    assert sorted(job.delivery_id for job in jobs) == sorted(ids)
    for job, expected in zip(jobs, (("raised", 1), ("grown", 2)), strict=True):
        await store.mark_failed(job.delivery_id, job.attempt, "HTTP 503 from the axis")
        changes = await evaluate(store, Signers(), SETTINGS, clock.now)
        assert {(c.key, c.change, c.params["count"]) for c in changes} == {
            ("dead_letters", *expected)
        }
    assert [a.key for a in await active_alerts(store)] == ["destination:axis", "dead_letters"]

    # one goes through after a requeue: the destination works, the dead letters shrink
    clock.advance(60)
    assert await store.requeue(ids[0])
    (job,) = await store.claim_due(5, lease_seconds=60)
    await store.mark_sent(job.delivery_id, job.attempt, "doc-1")
    changes = await evaluate(store, Signers(), SETTINGS, clock.now)
    assert [(c.key, c.change) for c in changes] == [("destination:axis", "resolved")]
    assert changes[0].text("vi").startswith("Đã hết")
    # a smaller count is remembered: failing again is growth, told again
    clock.advance(60)
    _, more = await store.accept(_message(), [NewDelivery("000.00.00.G99", "soap")])
    (job,) = await store.claim_due(5, lease_seconds=60)
    await store.mark_failed(job.delivery_id, 1, "refused")
    changes = await evaluate(store, Signers(), SETTINGS, clock.now)
    assert [(c.key, c.change, c.params) for c in changes] == [
        ("dead_letters", "grown", {"count": 2, "previous": 1})
    ]
    for delivery_id in (ids[1], more[0]):
        assert await store.requeue(delivery_id)
    changes = await evaluate(store, Signers(), SETTINGS, clock.now)
    assert [(c.key, c.change) for c in changes] == [("dead_letters", "resolved")]

    # a certificate within the warning window (the dev PKI's last a few years)
    issued = pki.agencies["000.00.01.H42"]
    signers = Signers({"000.00.01.H42": SigningIdentity(issued.key, tuple(pki.chain(issued)))})
    near = AlertSettings(certificate_days=100_000)
    (expiring,) = await evaluate(store, signers, near, clock.now)
    assert expiring.key == "certificate:000.00.01.H42"
    assert f"{expiring.params['days']} ngày" in expiring.text("vi")
    assert await evaluate(store, signers, SETTINGS, clock.now) == [
        dataclasses.replace(expiring, change="resolved")
    ]


# -- the sinks -------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd) received, and who logged in."""

    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("canhbao", SMTP_PASSWORD))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=_free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hook:
    """A real HTTP server receiving alert webhooks; answers ``status``."""

    url: str = ""
    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    received = Hook()

    async def take(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = int(request.headers["X-Edxml-Timestamp"])
        assert request.headers["X-Edxml-Signature"] == sign_body("hook-secret", body, timestamp)
        assert request.headers["X-Edxml-Event"] == "alerts"
        if received.status == 200:
            received.bodies.append(json.loads(body))
        return web.Response(status=received.status)

    app = web.Application()
    app.router.add_post("/alerts", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    received.url = f"http://{host}:{port}/alerts"
    try:
        yield received
    finally:
        await runner.cleanup()


def _smtp(mailbox: Mailbox) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=mailbox.port,
        security="none",
        username="canhbao",
        password_env="EDXML_SMTP_PASSWORD",
        sender="gateway@ninhbinh.gov.vn",
        to=("vanhanh@ninhbinh.gov.vn", "truc@ninhbinh.gov.vn"),
    )


async def test_email_and_webhook_are_told_once_and_retried_while_a_sink_is_down(
    store: Store, clock: Clock, mailbox: Mailbox, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    settings = AlertSettings(
        destination_failures=2,
        smtp=_smtp(mailbox),
        webhook=AlertWebhookSettings(url=hook.url, secret_env="EDXML_ALERT_SECRET"),
    )
    environ = {"EDXML_SMTP_PASSWORD": SMTP_PASSWORD, "EDXML_ALERT_SECRET": "hook-secret"}
    sinks = sinks_from_settings(settings, environ)
    assert [type(s) for s in sinks] == [EmailSink, WebhookSink]
    assert SMTP_PASSWORD not in repr(sinks)
    assert "hook-secret" not in repr(sinks)

    await _failing(store, clock, "axis", 2)
    await evaluate(store, Signers(), settings, clock.now)
    hook.status = 500  # the operator's webhook is down: the e-mail goes, the change stays
    with caplog.at_level(logging.WARNING, logger="gateway.operate.alerts"):
        assert await notify_pending(store, sinks) == 0
    assert "webhook" in caplog.text
    assert "HTTP 500" in caplog.text
    assert len(mailbox.messages) == 1
    hook.status = 200
    assert await notify_pending(store, sinks) == 1
    assert await notify_pending(store, sinks) == 0  # nothing more to tell
    assert len(mailbox.messages) == 2
    assert len(hook.bodies) == 1

    mail = mailbox.messages[-1]
    assert mail["To"] == "vanhanh@ninhbinh.gov.vn, truc@ninhbinh.gov.vn"
    assert "axis" in str(mail["Subject"])
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Điểm đến Trục liên thông quốc gia đang lỗi" in text
    assert "Destination the national axis is failing" in text
    assert mailbox.logins[-1] == ("canhbao", SMTP_PASSWORD)
    (told,) = hook.bodies[0]["alerts"]
    assert (told["key"], told["change"], told["params"]["failing"]) == (
        "destination:axis",
        "raised",
        2,
    )
    assert told["text_en"].startswith("Destination the national axis is failing")

    # a wrong SMTP password: refused, pending kept, the password never logged
    # (aiosmtpd holds the line after a 535 while smtplib tries its next mechanism: a short
    # timeout keeps the test quick; the outcome is the same)
    impatient = settings.model_copy(
        update={"smtp": _smtp(mailbox).model_copy(update={"timeout_seconds": 1.0})}
    )
    wrong = sinks_from_settings(impatient, {**environ, "EDXML_SMTP_PASSWORD": "sai-mat-khau"})
    clock.advance(60)
    await store.requeue((await _failing(store, clock, "soap", 1))[0])
    _, dead = await store.accept(_message(), [NewDelivery("000.00.00.G77", "soap")])
    (job,) = [j for j in await store.claim_due(5, lease_seconds=60) if j.delivery_id == dead[0]]
    await store.mark_failed(job.delivery_id, 1, "refused")
    assert [c.key for c in await evaluate(store, Signers(), settings, clock.now)] == [
        "dead_letters"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.operate.alerts"):
        assert await notify_pending(store, wrong) == 0
    assert "email" in caplog.text
    assert "sai-mat-khau" not in caplog.text
    assert await notify_pending(store, sinks) == 1


async def test_the_workers_raise_and_tell_and_the_dashboard_shows_it(
    tmp_path: Path, hook: Hook
) -> None:
    """The whole path: a route whose hub does not answer -> retries -> an alert from the
    workers' own loop -> the webhook, and the banner on the dashboard."""
    dead_port = _free_port()
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        routes=(Route(pattern="*", destination="hub"),),
        rest_endpoints={
            "hub": {"url": f"http://127.0.0.1:{dead_port}/", "token_env": "EDXML_HUB_TOKEN"}
        },
        signature_required=False,
        pdf_signature_policy="off",
        alerts=AlertSettings(
            interval_seconds=0.2,
            destination_failures=2,
            webhook=AlertWebhookSettings(url=hook.url, secret_env="EDXML_ALERT_SECRET"),
        ),
    )
    environ = {"EDXML_HUB_TOKEN": "hub-token", "EDXML_ALERT_SECRET": "hook-secret"}
    async with Runtime(settings, environ) as runtime:
        ref = runtime.blobs.put(edxml.build(document()))
        await runtime.store.accept(
            _message(package_ref=ref),
            [NewDelivery(f"000.00.00.G{n:02d}", "hub") for n in (1, 2)],
        )
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:
            for _ in range(200):
                if hook.bodies:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await workers
        (told,) = hook.bodies[0]["alerts"]
        assert (told["key"], told["change"]) == ("destination:hub", "raised")

        await create_user(
            runtime.store,
            username="binhtt.vp",
            full_name="Trần Thanh Bình",
            unit="VP",
            role="viewer",
            agencies=["*"],
            password="mat-khau-dai-du",
        )
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of an IP address
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                base = f"http://{host}:{port}/dashboard"
                async with http.get(f"{base}/login") as page:
                    html = await page.text()
                assert 'id="alerts"' not in html  # nothing before logging in
                csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                async with http.post(
                    f"{base}/login",
                    data={"csrf": csrf, "username": "binhtt.vp", "password": "mat-khau-dai-du"},
                ) as answer:
                    html = await answer.text()
                assert 'id="alerts"' in html
                assert "Điểm đến hub đang lỗi" in html
                async with http.get(f"{base}/?lang=en") as answer:
                    html = await answer.text()
                assert "Destination hub is failing" in html
        finally:
            await runner.cleanup()


async def test_the_alerts_command(
    tmp_path: Path,
    mailbox: Mailbox,
    hook: Hook,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "signature_required": False,
                "alerts": {
                    "smtp": _smtp(mailbox).model_dump(mode="json"),
                    "webhook": {"url": hook.url, "secret_env": "EDXML_ALERT_SECRET"},
                },
            }
        )
    )
    monkeypatch.setenv("EDXML_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("EDXML_ALERT_SECRET", "hook-secret")

    def run(*args: str) -> tuple[int, str]:
        code = main([*args, "--config", str(config)])
        return code, capsys.readouterr().out

    code, out = await asyncio.to_thread(run, "alerts", "--test")
    assert code == 0, out
    assert out.splitlines() == ["ok   email", "ok   webhook"]
    assert "Thử kênh cảnh báo" in str(mailbox.messages[-1]["Subject"])
    assert hook.bodies[-1]["alerts"][0]["kind"] == "test"
    assert SMTP_PASSWORD not in out

    code, out = await asyncio.to_thread(run, "check-config")
    assert code == 0, out
    assert f"ok   smtp: 127.0.0.1:{mailbox.port} (none), 2 recipients" in out.splitlines()
    monkeypatch.setenv("EDXML_SMTP_PASSWORD", "sai-mat-khau")
    impatient = tmp_path / "impatient.yaml"  # aiosmtpd holds the line after a refusal
    values = yaml.safe_load(config.read_text())
    values["alerts"]["smtp"]["timeout_seconds"] = 1
    impatient.write_text(yaml.safe_dump(values))
    assert await asyncio.to_thread(main, ["check-config", "--config", str(impatient)]) == 1
    out = capsys.readouterr().out
    assert "FAIL smtp" in out
    assert "sai-mat-khau" not in out
    monkeypatch.setenv("EDXML_SMTP_PASSWORD", SMTP_PASSWORD)

    code, out = await asyncio.to_thread(run, "migrate")
    assert code == 0, out
    code, out = await asyncio.to_thread(run, "alerts")
    assert (code, out.strip()) == (0, "no alert in force")

    settings = GatewaySettings(data_dir=tmp_path / "data")
    async with Runtime(settings) as runtime:
        _, (dead,) = await runtime.store.accept(_message(), [NewDelivery("000.00.00.G22", "axis")])
        (job,) = await runtime.store.claim_due(5, lease_seconds=60)
        await runtime.store.mark_failed(dead, job.attempt, "refused by the axis")
    code, out = await asyncio.to_thread(run, "alerts", "--check")
    assert code == 1
    assert "raised: 1 failed deliveries need an operator" in out
    assert "1 changes told to the sinks" in out
    assert hook.bodies[-1]["alerts"][0]["key"] == "dead_letters"
    code, out = await asyncio.to_thread(run, "alerts")
    assert code == 1
    assert "dead_letters" in out
