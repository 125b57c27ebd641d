"""Records: the JSON form of a package, field for field the model (README, "Records").

``from_record`` turns a decoded JSON object into a model and ``to_record`` goes back. One
generic converter walks the dataclass fields and their type hints, so a field added to the
model is at once a record field. Dates may be ISO (``2026-11-25``) or edXML
(``2026/11/25``); attachment bytes travel as ``data_base64``. Unknown fields are refused, so
a typo is an error rather than a silently missing element.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
import functools
import hashlib
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Any, get_args, get_origin, get_type_hints

from ._base64 import decode_strict, encode
from ._errors import RecordError
from ._model import Attachment, DocumentPackage, Package, StatusPackage, TraceHeader
from ._values import read_bool, read_date, read_int, read_timestamp

__all__ = ["from_record", "to_record"]


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _scalar(kind: type, value: Any, path: str) -> Any:
    if kind is str:
        if not isinstance(value, str):
            raise RecordError(f"expected text, got {type(value).__name__}", path=path)
        return value
    readers: dict[type, Any] = {
        int: read_int,
        bool: read_bool,
        dt.date: read_date,
        dt.datetime: read_timestamp,
    }
    if kind in readers:
        if isinstance(value, bool) and kind is not bool:
            raise RecordError(f"expected {kind.__name__}, got a boolean", path=path)
        if isinstance(value, int) and kind in (int, bool):
            return kind(value)
        if not isinstance(value, str):
            raise RecordError(f"expected {kind.__name__}, got {type(value).__name__}", path=path)
        try:
            result = readers[kind](value.replace("T", " ") if kind is dt.datetime else value)
        except ValueError as exc:
            raise RecordError(str(exc), path=path) from None
        if result is None:
            raise RecordError(f"expected {kind.__name__}, got an empty value", path=path)
        return result
    if kind is bytes:  # Signature.xml: the verbatim XML, as text in JSON
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise RecordError(f"expected text, got {type(value).__name__}", path=path)
    raise RecordError(f"unsupported field type {kind!r}", path=path)  # pragma: no cover


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        if value is None:
            if len(options) < len(get_args(hint)):
                return None
            raise RecordError("a value is required", path=path)
        return _convert(options[0], value, path)
    if origin is tuple:
        if not isinstance(value, list):
            raise RecordError(f"expected a list, got {type(value).__name__}", path=path)
        item_hint = get_args(hint)[0]
        return tuple(
            _convert(item_hint, item, _join(path, index)) for index, item in enumerate(value)
        )
    if dataclasses.is_dataclass(hint):
        return _dataclass(typing.cast(type, hint), value, path)
    if isinstance(hint, type) and issubclass(hint, int) and hint not in (int, bool):
        return int(_scalar(int, value, path))  # IntEnum fields hold plain ints
    if value is None:
        raise RecordError("a value is required", path=path)
    return _scalar(hint, value, path)


@functools.cache
def _shape(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A model class's resolved field types and its fields, worked out once: resolving the
    string annotations compiles each of them, which cost more than the rest of a record."""
    return get_type_hints(cls), {field.name: field for field in dataclasses.fields(cls)}


def _dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise RecordError(f"expected an object, got {type(value).__name__}", path=path)
    value = dict(value)
    if cls is Attachment:
        value = _attachment_fields(value, path)
    hints, fields = _shape(cls)
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise RecordError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}", path=path
        )
    arguments = {}
    for name, field in fields.items():
        here = _join(path, name)
        if name in value:
            arguments[name] = _convert(hints[name], value[name], here)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise RecordError("this field is required", path=here)
    return cls(**arguments)


def _attachment_fields(value: dict[str, Any], path: str) -> dict[str, Any]:
    if isinstance(value.get("data"), str):
        raise RecordError(
            "file contents go in data_base64 (or path, with the CLI)", path=_join(path, "data")
        )
    encoded = value.pop("data_base64", None)
    for derived in ("size", "sha256", "media_type"):  # what to_record adds for reading
        value.pop(derived, None)
    if encoded is not None:
        if "data" in value:
            raise RecordError("give data or data_base64, not both", path=path)
        try:
            value["data"] = decode_strict(encoded)
        except (binascii.Error, TypeError, ValueError):
            raise RecordError("not valid base64", path=_join(path, "data_base64")) from None
    value.setdefault("content_id", str(uuid.uuid4()))
    return value


def from_record(record: Mapping[str, Any], *, now: dt.datetime | None = None) -> Package:
    """The package a record describes.

    A record with ``status_code`` is a status package, otherwise a document package. When
    ``now`` is given and a document record has no ``trace_headers``, one is added for the
    sender at ``now`` (what the sending system would write).
    """
    if not isinstance(record, Mapping):
        raise RecordError(f"a record is a JSON object, not {type(record).__name__}")
    kind: type = StatusPackage if "status_code" in record else DocumentPackage
    package = _dataclass(kind, record, "")
    if isinstance(package, DocumentPackage) and not package.trace_headers and now is not None:
        package = dataclasses.replace(
            package,
            trace_headers=(
                TraceHeader(organ_id=package.sender.organ_id, timestamp=now.replace(microsecond=0)),
            ),
        )
    return typing.cast(Package, package)


def _plain(value: Any, include_data: bool) -> Any:
    if isinstance(value, Attachment):
        fields = {
            field.name: _plain(getattr(value, field.name), include_data)
            for field in dataclasses.fields(value)
            if field.name != "data"
        }
        fields["media_type"] = value.media_type
        if value.data is not None:
            fields["size"] = len(value.data)
            fields["sha256"] = hashlib.sha256(value.data).hexdigest()
            if include_data:
                fields["data_base64"] = encode(value.data).decode("ascii")
        return fields
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name), include_data)
            for field in dataclasses.fields(value)
            if getattr(value, field.name) not in (None, ())
        }
    if isinstance(value, tuple):
        return [_plain(item, include_data) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")  # the verbatim Signature XML
    return value


def to_record(package: Package, *, include_data: bool = False) -> dict[str, Any]:
    """The record of a package (JSON-ready). Attachments show ``size`` and ``sha256``; their
    bytes are included as ``data_base64`` only with ``include_data``."""
    result = _plain(package, include_data)
    assert isinstance(result, dict)
    return result
