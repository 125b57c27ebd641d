"""What the inbound pipeline decides about a package, and what it knows of a checked one."""

from __future__ import annotations

from dataclasses import dataclass

import edxml

__all__ = ["DEFAULT_FATAL_RULES", "Checked", "InboundResult"]


@dataclass(frozen=True, slots=True)
class InboundResult:
    message_id: str | None
    outcome: str  # accepted | rejected | duplicate | status | recall
    reasons: tuple[str, ...] = ()


#: The default fatal rules: an attachment whose payload cannot be read, or that the
#: manifest names and the package does not carry (the document is not all there).
DEFAULT_FATAL_RULES = frozenset({"attachment.payload", "attachment.manifest"})


@dataclass(frozen=True, slots=True)
class Checked:
    """A received document once read and checked: what every copy of it shares."""

    package: edxml.DocumentPackage
    data: bytes
    ref: str
    reasons: list[str]
    checks: dict[str, object]
    signature_sound: bool
