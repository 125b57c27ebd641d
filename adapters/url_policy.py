"""Where the gateway may send HTTP requests a client asked for (webhooks): an SSRF guard.

A client registers a URL and the gateway POSTs to it, so without a guard any client could
make the gateway reach loopback, the private network or the database's port. ``UrlPolicy``
says what is allowed: its schemes, host names that are trusted whatever they resolve to,
and networks that may be reached; any other destination must be a public (global) address.

It is applied twice: to the URL when it is registered, and to every connection when a
request is sent — ``GuardedResolver`` filters what a name resolves to at connection time
(so a name that later resolves elsewhere, DNS rebinding, is caught), and ``check_url`` is
called again on each redirect's target.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

__all__ = ["BlockedUrl", "GuardedResolver", "UrlPolicy"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedUrl(ValueError):
    """The URL or the address it leads to is not allowed by the settings."""


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    schemes: frozenset[str] = frozenset({"https"})
    #: Host names (shell patterns, ``qlvb.*.gov.vn``) allowed whatever they resolve to.
    hosts: tuple[str, ...] = ()
    #: Networks that may be reached although not public (the province's LAN).
    networks: tuple[Network, ...] = field(default=())

    @classmethod
    def of(
        cls, *, schemes: Sequence[str], hosts: Sequence[str], networks: Sequence[str]
    ) -> UrlPolicy:
        """From settings; ``ValueError`` naming a network that is not one."""
        return cls(
            frozenset(s.lower() for s in schemes),
            tuple(h.lower() for h in hosts),
            tuple(ipaddress.ip_network(n, strict=False) for n in networks),
        )

    def trusted_host(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host.lower(), pattern) for pattern in self.hosts)

    def address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks) or ip.is_global

    def check_url(self, url: str) -> URL:
        """The parsed URL if its scheme and (literal) address are allowed; ``BlockedUrl``."""
        parsed = URL(url)
        if parsed.scheme.lower() not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            raise BlockedUrl(f"the scheme {parsed.scheme or '(none)'!r} is not allowed ({allowed})")
        host = parsed.raw_host or ""
        if not host:
            raise BlockedUrl("the URL has no host")
        if self.trusted_host(host):
            return parsed
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return parsed  # a name: its addresses are checked when it is resolved
        if not self.address_allowed(host.strip("[]")):
            raise BlockedUrl(f"{host} is not an address the settings allow")
        return parsed

    async def check_resolved(self, url: str) -> None:
        """``check_url``, and every address a host name resolves to now (at registration)."""
        parsed = self.check_url(url)
        host = parsed.raw_host or ""
        if self.trusted_host(host):
            return
        resolver = GuardedResolver(self)
        try:
            await resolver.resolve(host, parsed.port or 0)
        finally:
            await resolver.close()


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver with every address the policy does not allow taken out."""

    def __init__(self, policy: UrlPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            found = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise BlockedUrl(f"{host} does not resolve: {exc}") from None
        if self._policy.trusted_host(host):
            return found
        allowed = [entry for entry in found if self._policy.address_allowed(entry["host"])]
        if not allowed:
            addresses = ", ".join(sorted({entry["host"] for entry in found}))
            raise BlockedUrl(f"{host} resolves to {addresses}, which the settings do not allow")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
