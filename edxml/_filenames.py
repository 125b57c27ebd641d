"""Attachment file names and formats under the provincial regulation (Điều 8.3, 8.4).

Allowed formats are those of Thông tư 39/2017 as restated for exchange: text,
office documents, PDF, spreadsheets and common images. A conforming name is 1-50 ASCII
letters, digits, ``.``, ``-`` or ``_`` and does not start with a dot.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ALLOWED_EXTENSIONS",
    "MAX_FILENAME_LENGTH",
    "extension_problem",
    "filename_problem",
    "safe_filename",
]

ALLOWED_EXTENSIONS = frozenset(
    {
        "txt",
        "rtf",
        "doc",
        "docx",
        "odt",
        "pdf",
        "csv",
        "xls",
        "xlsx",
        "ods",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "tif",
        "tiff",
    }
)
MAX_FILENAME_LENGTH = 50
_ALLOWED_LIST = ", ".join(sorted(ALLOWED_EXTENSIONS))

_CONFORMING = re.compile(r"[A-Za-z0-9._-]+\Z")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\w{1,10}\Z")
_REPEATS = re.compile(r"([._-])[._-]+")
# Letters that NFD does not decompose into a base letter plus marks.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def filename_problem(name: str) -> str | None:
    """Why ``name`` breaks Điều 8.4, or ``None`` when it conforms."""
    if not name:
        return "the file has no name"
    if len(name) > MAX_FILENAME_LENGTH:
        return f"file name {name!r} is {len(name)} characters long (at most {MAX_FILENAME_LENGTH})"
    if not _CONFORMING.match(name):
        bad = "".join(sorted({char for char in name if not _CONFORMING.match(char)}))
        return (
            f"file name {name!r} contains {bad!r}: only ASCII letters, digits, '.', '-' and "
            "'_' are allowed (edxml.safe_filename makes a conforming name)"
        )
    if name.startswith("."):
        return f"file name {name!r} starts with a dot"
    return None


def extension_problem(name: str) -> str | None:
    """Why the format of ``name`` is not allowed (Điều 8.3), or ``None``."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"file {name!r} has no extension; allowed formats: {_ALLOWED_LIST}"
    if extension.lower() not in ALLOWED_EXTENSIONS:
        return f"format .{extension} of {name!r} is not allowed; allowed: {_ALLOWED_LIST}"
    return None


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _clean(text: str) -> str:
    text = _NOT_ALLOWED.sub("_", _ascii(text).replace(" ", "_"))
    return _REPEATS.sub(r"\1", text)


def safe_filename(name: str) -> str:
    """A conforming name for ``name``: diacritics stripped (đ→d), spaces→``_``, other
    characters outside ``[A-Za-z0-9._-]`` replaced, the extension kept, at most 50 characters.

    >>> safe_filename("Công văn số 05 về đề án.pdf")
    'Cong_van_so_05_ve_de_an.pdf'
    """
    stem, dot, extension = name.strip().rpartition(".")
    if not dot or not _EXTENSION.match(extension):  # "../etc/passwd" has no extension
        stem, extension = name.strip(), ""
    extension = _clean(extension).strip("._-")
    suffix = f".{extension}" if extension else ""
    if len(suffix) > MAX_FILENAME_LENGTH // 2:
        suffix = suffix[: MAX_FILENAME_LENGTH // 2]
    stem = _clean(stem).strip("._-") or "file"
    stem = stem[: MAX_FILENAME_LENGTH - len(suffix)].rstrip("._-") or "file"
    return stem + suffix
