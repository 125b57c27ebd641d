"""A ministry's own REST endpoint: the package POSTed as it is, with a bearer token.

Some ministry systems take packages directly over HTTPS instead of through the axis. No
standard exists for that face, so this adapter keeps to the plainest contract a REST
receiver can offer: ``POST <url>`` with the ``.edxml`` bytes (``application/xml``), the
recipient's OrganId in ``X-Edxml-Recipient``, ``Authorization: Bearer <token>``. A 2xx answer
took it (its JSON ``id``, if any, is the remote id); 408, 429 and 5xx may pass (transient);
any other 4xx will not (permanent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from adapters.errors import (
    AIOHTTP_NEVER_CONNECTED,
    GATEWAY_STATUSES,
    RemoteServiceError,
    TransportError,
    outcome_unknown,
    retry_after_seconds,
)
from adapters.json_input import parse_json

__all__ = ["MinistryRestClient", "MinistryRestConfig", "RestPermanentError", "RestTransientError"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MinistryRestConfig:
    url: str
    token: str = field(repr=False)
    timeout_seconds: float = 60.0


class RestTransientError(RemoteServiceError, TransportError):
    transient = True


class RestPermanentError(RemoteServiceError):
    """The endpoint refused the package or our credentials."""


class MinistryRestClient:
    retryable_errors = (RestTransientError,)
    fatal_errors = (RestPermanentError,)

    def __init__(self, config: MinistryRestConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> MinistryRestClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._config.timeout_seconds)
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, package: bytes, *, recipient: str) -> str | None:
        if self._session is None:
            raise RuntimeError("use the MinistryRestClient inside 'async with'")
        headers = {
            "Authorization": f"Bearer {self._config.token}",
            "Content-Type": "application/xml",
            "X-Edxml-Recipient": recipient,
        }
        try:
            async with self._session.post(
                self._config.url, data=package, headers=headers
            ) as answer:
                status = answer.status
                body = await answer.read()
                content_type = answer.content_type
                retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RestTransientError(
                f"the endpoint is unreachable ({type(exc).__name__}: {exc})",
                operation="POST",
                in_doubt=outcome_unknown(exc, AIOHTTP_NEVER_CONNECTED),
            ) from exc
        if 200 <= status < 300:
            if content_type == "application/json":
                try:
                    data = parse_json(body)
                except ValueError:
                    return None
                remote = data.get("id") if isinstance(data, dict) else None
                return str(remote) if remote is not None else None
            return None
        detail = body[:200].decode("utf-8", "replace")
        if status in (408, 429) or status >= 500:
            raise RestTransientError(
                f"HTTP {status}: {detail}",
                operation="POST",
                http_status=status,
                in_doubt=status in GATEWAY_STATUSES,
                retry_after=retry_after,
            )
        raise RestPermanentError(f"HTTP {status}: {detail}", operation="POST", http_status=status)
