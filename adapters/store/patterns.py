"""Agency patterns (``000.00.13.H42``, ``*.H42``) matched in SQL: the same meaning as
``fnmatch`` on an OrganId, ``*`` any run and ``?`` one character, nothing else special."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["like_pattern", "matches_any"]


def like_pattern(pattern: str) -> str:
    """The LIKE pattern (escape ``\\``) of an agency pattern."""
    return pattern.replace("%", r"\%").replace("_", r"\_").replace("*", "%").replace("?", "_")


def matches_any(column: Any, patterns: Sequence[str]) -> Any:
    """``column`` matches one of ``patterns`` (none: nothing matches)."""
    return sa.or_(sa.false(), *(column.like(like_pattern(p), escape="\\") for p in patterns))
