"""``validate`` and ``check``: every problem of a package; they never raise on bad data.

``check(bytes)`` reads and validates in one pass and returns the package with its problems
(what an inbound pipeline needs: the verdict and the model, without decoding twice).

From bytes, the order is: safe parse (malformed, unsafe, undecodable attachments), XSD on
the tree, reading the model, then the business rules, whose problems get source lines
from the paths recorded while reading. From a model: the XSD check on the tree the
builder would write, then the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._build import package_tree
from ._errors import (
    AttachmentError,
    AttachmentTooLargeError,
    DocumentError,
    EdxmlError,
    MalformedXmlError,
    UnsafeXmlError,
)
from ._model import DocumentPackage, Package, StatusPackage
from ._parse import extract
from ._problems import Problem
from ._rules import check_rules
from ._schema import schema_problems
from ._xml import DEFAULT_LIMITS, LEGACY_NS, ParseLimits, Source, parse_xml

__all__ = ["CheckResult", "check", "is_valid", "validate"]


def _from_error(error: DocumentError) -> Problem:
    if isinstance(error, MalformedXmlError):
        rule = "xml.malformed"
    elif isinstance(error, UnsafeXmlError):
        rule = "xml.unsafe"
    elif isinstance(error, AttachmentError):
        rule = (
            "attachment.size"
            if isinstance(error, AttachmentTooLargeError)
            else "attachment.payload"
        )
    else:  # StructureError, FieldValueError: an element is missing or unreadable
        rule = "structure"
    return Problem(
        rule=rule, message=error.reason, path=error.path or error.element, line=error.line
    )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``check`` found: the package (``None`` if it could not be read) and its problems."""

    package: Package | None
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: (problem.line or 0, problem.path or ""))


def check(source: Source, *, limits: ParseLimits = DEFAULT_LIMITS) -> CheckResult:
    """Read and validate package bytes (or a binary file object) in one pass."""
    package, problems = _check_bytes(source, limits)
    return CheckResult(package=package, problems=tuple(_sorted(problems)))


def _check_bytes(source: Source, limits: ParseLimits) -> tuple[Package | None, list[Problem]]:
    try:
        parsed = parse_xml(source, limits=limits)
    except DocumentError as error:
        return None, [_from_error(error)]
    problems: list[Problem] = []
    if parsed.leading_junk:
        problems.append(
            Problem(
                rule="xml.leading-junk",
                message=f"{len(parsed.leading_junk)} stray bytes before the XML declaration "
                f"({parsed.leading_junk[:20]!r})",
                line=1,
            )
        )
    legacy = parsed.root.tag.startswith(f"{{{LEGACY_NS}}}")
    if legacy:
        problems.append(
            Problem(
                rule="xml.legacy-namespace",
                message=f"the package uses the old e-doc namespace {LEGACY_NS}; QCVN 102:2016 "
                "packages use http://www.mic.gov.vn/TBT/QCVN_102_2016",
                line=parsed.root.sourceline,
            )
        )
    else:
        problems.extend(schema_problems(parsed.root))
    try:
        package, seen = extract(parsed)
    except DocumentError as error:
        if not any(problem.rule == "xsd" for problem in problems):
            problems.append(_from_error(error))
        return None, problems
    problems.extend(seen.notes)
    for problem in check_rules(
        package, on_wire=True, max_attachment_bytes=limits.max_attachment_bytes
    ):
        line = seen.lines.get(problem.path or "") or _nearest_line(problem.path, seen.lines)
        problems.append(
            Problem(rule=problem.rule, message=problem.message, path=problem.path, line=line)
        )
    return package, problems


def _nearest_line(path: str | None, lines: dict[str, int]) -> int | None:
    """The line of the closest recorded ancestor (a missing element points at its parent)."""
    while path and "/" in path:
        path = path.rsplit("/", 1)[0]
        if path in lines:
            return lines[path]
    return None


def _validate_model(package: DocumentPackage | StatusPackage, limits: ParseLimits) -> list[Problem]:
    try:
        tree = package_tree(package)
    except EdxmlError as error:
        return [Problem(rule="structure", message=str(error))]
    return schema_problems(tree) + check_rules(
        package, on_wire=False, max_attachment_bytes=limits.max_attachment_bytes
    )


def validate(
    package_or_bytes: DocumentPackage | StatusPackage | Source,
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> list[Problem]:
    """Every problem of a package (model, bytes, or a binary file object); ``[]`` when valid.

    Never raises on bad data: what cannot even be parsed comes back as a problem too.
    """
    if isinstance(package_or_bytes, DocumentPackage | StatusPackage):
        return _sorted(_validate_model(package_or_bytes, limits))
    return list(check(package_or_bytes, limits=limits).problems)


def is_valid(package_or_bytes: DocumentPackage | StatusPackage | Source) -> bool:
    return not validate(package_or_bytes)
