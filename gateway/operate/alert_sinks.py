"""Where alerts go: e-mail (SMTP, STARTTLS) and a signed webhook, chosen by the settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

import aiohttp

from adapters.signed_posts import signed_headers
from gateway.config import AlertSettings, AlertWebhookSettings, SmtpSettings

if TYPE_CHECKING:
    from gateway.operate.alerts import AlertChange

__all__ = [
    "AlertSink",
    "EmailSink",
    "WebhookSink",
    "sinks_from_settings",
]


# -- sinks ------------------------------------------------------------------------------------


class AlertSink(Protocol):
    """Somewhere alert changes are told; raises when it could not take them."""

    name: str

    async def send(self, changes: Sequence[AlertChange]) -> None: ...


@dataclass
class EmailSink:
    """E-mail through the province's SMTP server (stdlib smtplib, in a worker thread)."""

    settings: SmtpSettings
    password: str | None = field(default=None, repr=False)
    name: str = "email"

    async def send(self, changes: Sequence[AlertChange]) -> None:
        await asyncio.to_thread(self._send, self._message(changes))

    def _message(self, changes: Sequence[AlertChange]) -> EmailMessage:
        message = EmailMessage()
        first = changes[0]
        more = f" (+{len(changes) - 1})" if len(changes) > 1 else ""
        message["Subject"] = f"[edXML gateway] {first.text('vi')}{more}"
        message["From"] = self.settings.sender
        message["To"] = ", ".join(self.settings.to)
        lines = [f"- {c.at:%Y-%m-%d %H:%M} UTC {c.text('vi')}" for c in changes]
        lines += ["", "---", ""] + [f"- {c.at:%Y-%m-%d %H:%M} UTC {c.text('en')}" for c in changes]
        message.set_content("\n".join(lines) + "\n")
        return message

    def _send(self, message: EmailMessage) -> None:
        with self._session() as server:
            server.send_message(message)

    async def check(self) -> str:
        """Connect, secure and log in without sending anything (check-config)."""
        await asyncio.to_thread(self._check)
        settings = self.settings
        return (
            f"{settings.host}:{settings.port} ({settings.security}), {len(settings.to)} recipients"
        )

    def _check(self) -> None:
        with self._session() as server:
            server.noop()

    @contextlib.contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """A connection secured as configured and logged in."""
        settings = self.settings
        context = ssl.create_default_context()
        server: smtplib.SMTP
        if settings.security == "tls":
            server = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=context
            )
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with server:
            if settings.security == "starttls":
                server.starttls(context=context)
            if settings.username:
                server.login(settings.username, self.password or "")
            yield server


@dataclass
class WebhookSink:
    """JSON POSTed to an operator's URL, with ``X-Edxml-Signature`` when a secret is set."""

    settings: AlertWebhookSettings
    secret: str | None = field(default=None, repr=False)
    name: str = "webhook"

    async def send(self, changes: Sequence[AlertChange]) -> None:
        body = json.dumps(
            {"alerts": [change.as_json() for change in changes]}, ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json", "X-Edxml-Event": "alerts"}
        if self.secret:
            headers = signed_headers(self.secret, body, "alerts")
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(self.settings.url, data=body, headers=headers) as answer,
        ):
            if answer.status >= 300:
                raise RuntimeError(f"the alert webhook answered HTTP {answer.status}")


def sinks_from_settings(settings: AlertSettings, environ: Mapping[str, str]) -> list[AlertSink]:
    """The configured sinks, their secrets read from the environment variables named."""
    sinks: list[AlertSink] = []
    if settings.smtp is not None:
        password_env = settings.smtp.password_env
        sinks.append(EmailSink(settings.smtp, environ.get(password_env) if password_env else None))
    if settings.webhook is not None:
        secret_env = settings.webhook.secret_env
        sinks.append(WebhookSink(settings.webhook, environ.get(secret_env) if secret_env else None))
    return sinks
