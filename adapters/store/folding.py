"""Text folded for search: lower case, without diacritics, ``đ`` as ``d``.

A clerk types "lien thong" or "Liên Thông" and means the same words; Unicode decomposition
(NFD) splits each Vietnamese letter into its base letter and its marks, and the marks are
dropped. ``đ`` is a letter of its own, not a ``d`` with a mark, so it is mapped by hand.
Rows keep the folded text of what is searched (``messages.search_text``), and the query is
folded the same way, so one plain ``LIKE`` serves SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Protocol

__all__ = ["fold", "folded_pattern", "search_text"]


class _Searchable(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def sender(self) -> str: ...


class _Addressed(Protocol):
    @property
    def recipient(self) -> str: ...


_LETTERS = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """``"Sở Thông tin, ĐỒNG Nai"`` -> ``"so thong tin, dong nai"``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def folded_pattern(text: str) -> str:
    """The ``LIKE`` pattern (escape ``\\``) of a folded substring search."""
    escaped = fold(text.strip()).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def search_text(message: _Searchable, recipients: Iterable[_Addressed] = ()) -> str:
    """What a message is found by: number/notation, subject, DocumentId, the agencies' codes."""
    parts = [message.code, message.subject, message.document_id, message.sender]
    parts.extend(recipient.recipient for recipient in recipients)
    return fold(" ".join(parts))
