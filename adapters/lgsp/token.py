"""The bearer token of an LGSP's API manager: OAuth2 client credentials (RFC 6749 4.4).

One token serves every call of the process. It is renewed shortly before it expires, so a
call never carries a token that runs out on the way, and again whenever the platform answers
401 (a token revoked early, the API manager restarted): the first caller to see the 401
drops that token and the others, holding the same one, wait for its successor instead of
each fetching their own.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

import aiohttp

from adapters.errors import retry_after_seconds
from adapters.json_input import parse_json
from adapters.lgsp.types import LgspConfig, LgspPermanentError, LgspTransientError

__all__ = ["TokenSource"]

_OPERATION = "token"
#: Without ``expires_in`` the token is taken to last this long (WSO2's default)
_DEFAULT_LIFETIME = 3600.0


def _basic(client_id: str, client_secret: str) -> str:
    """HTTP Basic for OAuth2 client credentials: each part form-encoded first (RFC 6749
    2.3.1), so a secret holding ``:`` or non-ASCII characters reaches the server intact."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float  # monotonic


class TokenSource:
    """``await tokens.bearer(session)`` → a valid access token; ``tokens.refused(value)``
    after a 401 so that the next ``bearer`` fetches a new one."""

    def __init__(self, config: LgspConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._url = config.base_url.rstrip("/") + config.token_path
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        #: Tokens fetched so far (the tests read it: one token serves many calls)
        self.fetched = 0

    async def bearer(self, session: aiohttp.ClientSession) -> str:
        async with self._lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._token = await self._fetch(session)
            return token.value

    async def renew(self, session: aiohttp.ClientSession) -> str:
        """A new token whatever the current one's age (a probe: the API manager answers)."""
        async with self._lock:
            self._token = await self._fetch(session)
            return self._token.value

    def refused(self, value: str) -> None:
        """The platform answered 401 to ``value``: forget it (if it is still the current)."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _fetch(self, session: aiohttp.ClientSession) -> _Token:
        config = self._config
        try:
            async with session.post(
                self._url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": _basic(config.consumer_key, config.consumer_secret)},
            ) as response:
                status, body = response.status, await response.read()
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Asking for a token changes nothing: it is never in doubt.
            raise LgspTransientError(
                f"the platform is unreachable ({type(exc).__name__}: {exc})", operation=_OPERATION
            ) from exc
        if status >= 500 or status == 429:
            raise LgspTransientError(
                f"HTTP {status}", operation=_OPERATION, http_status=status, retry_after=retry_after
            )
        try:
            answer = parse_json(body)
        except ValueError:
            answer = None
        if status != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
            reason = (
                answer.get("error_description") or answer.get("error")
                if isinstance(answer, dict)
                else None
            )
            raise LgspPermanentError(
                f"the platform refused our client credentials ({reason or f'HTTP {status}'}); "
                "check the consumer key and secret",
                operation=_OPERATION,
                http_status=status,
                code=str(answer.get("error")) if isinstance(answer, dict) else None,
            )
        try:
            lifetime = float(answer.get("expires_in", _DEFAULT_LIFETIME))
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME
        margin = min(config.refresh_margin_seconds, lifetime / 2)
        self.fetched += 1
        return _Token(str(answer["access_token"]), self._clock() + lifetime - margin)
