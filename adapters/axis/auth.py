"""The axis' "XroadVnpt" HMAC headers (spec 3.2), as the official SDK (SDKVXP 2.0.1) sends them.

Pure functions of the fields, the secret and the clock: no I/O. What the captured SDK
requests show (the captured requests, which override the written spec):

* every field is sent again with the prefix ``XroadVnpt-`` (``Content-Type`` too);
* ``XroadVnpt-sign-header-key`` lists the field names in the SDK's map order, ``;``-joined;
* ``XroadVnpt-sign-header`` is the compact JSON object of the prefixed fields in that order;
* ``XroadVnpt-hash-header`` is the lower-case hex HMAC-SHA256, keyed with the secret's UTF-8
  bytes, over the exact sign-header string (a server verifies the string it received);
* ``timestamp`` is ``ddMMyyyy'T'HHmmss+SSSS``, the last part the milliseconds on 4 digits;
* ``hash-file`` is the SHA-256 of the file as hex **without zero padding per byte**.

We send a fresh timestamp per request (the SDK reuses one per client object).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence

from adapters.json_input import parse_json
from edxml import VIETNAM

__all__ = [
    "PREFIX",
    "SDK_HEADERS",
    "VIETNAM",
    "AuthError",
    "SignedFields",
    "hash_file",
    "java_hashmap_order",
    "parse_sdk_timestamp",
    "sdk_timestamp",
    "sign_fields",
    "verify_signature",
    "vietnam_now",
]

PREFIX = "XroadVnpt-"
#: What the SDK adds to every request besides the signed fields.
SDK_HEADERS = (("User-Agent", "JAVASDKAgent/1.0.0 XRoad/VPCP"), ("XroadVnpt-version", "3.0.201608"))


class AuthError(Exception):
    """A request's XroadVnpt signature is missing, malformed or wrong."""


def vietnam_now() -> dt.datetime:
    """Now on the Vietnam wall clock (naive, as the SDK's timestamps are)."""
    return dt.datetime.now(VIETNAM).replace(tzinfo=None)


def sdk_timestamp(now: dt.datetime) -> str:
    """``25112024T013355+0123``: the SDK's ``ddMMyyyy'T'HHmmss+SSSS`` (SSSS = milliseconds)."""
    return f"{now:%d%m%Y}T{now:%H%M%S}+{now.microsecond // 1000:04d}"


def parse_sdk_timestamp(text: str) -> dt.datetime:
    """The Vietnam wall-clock time of an SDK timestamp; ``ValueError`` if it is none."""
    stamp = dt.datetime.strptime(text[:15], "%d%m%YT%H%M%S")
    return stamp.replace(microsecond=int(text[16:20]) * 1000 % 1_000_000)


@functools.lru_cache(maxsize=256)  # the header names: a handful, hashed at every call
def java_string_hash(text: str) -> int:
    """``String.hashCode()`` of Java: the SDK's header map is ordered by it."""
    value = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        value = (31 * value + int(unit, 16)) & 0xFFFFFFFF
    return value


def java_hashmap_order(keys: Iterable[str]) -> list[str]:
    """The order in which a ``java.util.HashMap`` holding ``keys`` (put in this order)
    iterates them: by bucket (``hash ^ hash >>> 16`` masked by the table size, which doubles
    past three quarters full), then by insertion within a bucket."""
    listed = list(dict.fromkeys(keys))
    size = 16
    while len(listed) > size * 3 // 4:
        size *= 2
    buckets: dict[int, list[str]] = {}
    for key in listed:
        spread = java_string_hash(key)
        spread ^= spread >> 16
        buckets.setdefault(spread & (size - 1), []).append(key)
    return [key for bucket in sorted(buckets) for key in buckets[bucket]]


class SdkHeaderMap:
    """The header map one SDK service object keeps for its whole life.

    The SDK puts each call's fields into one ``HashMap`` and signs and sends all of it, so
    a field set by an earlier call (``hash-file``, ``from``, ``docId``, ``status``) is sent —
    and signed — again by later calls, in the map's own order. Reproducing that map is what
    makes each of our requests the SDK's, byte for byte (the captured vectors)."""

    def __init__(self, system_id: str) -> None:
        # The SDK's constructor puts these two first (their place within a bucket is theirs).
        self._values: dict[str, str] = {"systemid": system_id, "timestamp": ""}

    def sign(
        self, fields: Sequence[tuple[str, str]], *, timestamp: str, content_type: str, secret: str
    ) -> list[tuple[str, str]]:
        """Put this call's fields, then the signed headers of the whole map."""
        self._values["Content-Type"] = content_type
        for name, value in fields:
            self._values[name] = value
        self._values["timestamp"] = timestamp
        ordered = java_hashmap_order(self._values)
        return sign_fields([(name, self._values[name]) for name in ordered], secret=secret)


def hash_file(data: bytes, sha256: bytes | None = None) -> str:
    """SHA-256 as the SDK writes it: each byte in hex without zero padding (``sha256``: the
    digest of ``data`` when the caller knows it already)."""
    digest = hashlib.sha256(data).digest() if sha256 is None else sha256
    return "".join(format(byte, "x") for byte in digest)


def _sign_header(fields: Sequence[tuple[str, str]]) -> str:
    # Gson's compact form: no spaces, non-ASCII kept as is, standard JSON escapes.
    return json.dumps(
        {PREFIX + name: value for name, value in fields}, separators=(",", ":"), ensure_ascii=False
    )


def _mac(secret: str, signed: str) -> str:
    return hmac.new(secret.encode("utf-8"), signed.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_fields(fields: Sequence[tuple[str, str]], *, secret: str) -> list[tuple[str, str]]:
    """The headers for one request: each field prefixed, then key list, sign-header and HMAC.

    ``fields`` are in the order they are signed, e.g. ``systemid``, ``servicetype``,
    ``messagetype``, ``from``, ``timestamp``, ``Content-Type``. Values must be ASCII (HTTP
    header values; spec pitfall 7).
    """
    for name, value in fields:
        if not value.isascii() or "\n" in value or "\r" in value:
            raise ValueError(f"header field {name} must be one line of ASCII")
    signed = _sign_header(fields)
    return [
        *((PREFIX + name, value) for name, value in fields),
        (f"{PREFIX}sign-header-key", ";".join(name for name, _ in fields)),
        (f"{PREFIX}sign-header", signed),
        (f"{PREFIX}hash-header", _mac(secret, signed)),
    ]


class SignedFields(Mapping[str, str]):
    """The fields a verified request signed (names without the prefix), read-only."""

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def verify_signature(headers: Mapping[str, str], secret_for: Mapping[str, str]) -> SignedFields:
    """Check a request's XroadVnpt signature; return the fields it signed.

    ``headers`` is case-insensitive in practice (aiohttp's CIMultiDict); ``secret_for`` maps a
    system id to its secret. The HMAC is checked over the sign-header string as received (key
    order is the sender's business); the signed fields must then agree with the headers sent.
    """
    signed = headers.get(f"{PREFIX}sign-header")
    mac = headers.get(f"{PREFIX}hash-header")
    if not signed or not mac:
        raise AuthError("the request is not signed (XroadVnpt-sign-header and -hash-header)")
    try:
        decoded = parse_json(signed)
    except ValueError:
        raise AuthError("XroadVnpt-sign-header is not a JSON object") from None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise AuthError("XroadVnpt-sign-header is not a JSON object of strings")
    fields = {key[len(PREFIX) :]: value for key, value in decoded.items() if key.startswith(PREFIX)}
    system_id = fields.get("systemid")
    if system_id is None or system_id not in secret_for:
        raise AuthError(f"unknown system id {system_id!r}")
    if not hmac.compare_digest(_mac(secret_for[system_id], signed), mac.lower()):
        raise AuthError("XroadVnpt-hash-header does not match the signed headers (wrong secret?)")
    for name, value in fields.items():
        sent = headers.get(PREFIX + name)
        if sent is not None and sent != value:
            raise AuthError(f"header XroadVnpt-{name} differs from what was signed")
    timestamp = fields.get("timestamp", "")
    if (
        len(timestamp) != 20
        or timestamp[8] != "T"
        or timestamp[15] != "+"
        or not timestamp.replace("T", "").replace("+", "").isdigit()
    ):
        raise AuthError(f"timestamp {timestamp!r} is not ddMMyyyyTHHmmss+SSSS")
    return SignedFields(fields)
