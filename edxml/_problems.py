"""What ``validate`` reports: one ``Problem`` per finding, each naming its rule.

A rule id is stable text a caller can filter on (the inbound pipeline may, for instance,
accept a package whose only problem is ``code-number``); ``RULES`` says what each rule
checks and on which provision it rests, so every problem can cite its basis.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RULES", "Problem", "Rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    summary: str
    basis: str


_RULE_LIST = [
    Rule("xml.malformed", "the package is well-formed XML", "XML 1.0"),
    Rule(
        "xml.unsafe",
        "no DTD or entities; size and depth within limits",
        "security policy (DEVELOPERS.md)",
    ),
    Rule("xml.leading-junk", "nothing before the XML declaration", "spec 6.4"),
    Rule(
        "xml.legacy-namespace",
        "the QCVN 102:2016 namespace, not the old e-doc one",
        "spec 1.1, 6.2",
    ),
    Rule("xsd", "structure and value formats match our XSD", "QCVN 102:2016; schemas/"),
    Rule("structure", "required elements are present and readable", "QCVN 102:2016; spec 1.2, 2"),
    Rule("structure.cardinality", "single elements appear once; To at least once", "spec 1.2"),
    Rule(
        "agency-id",
        "agency ids are LLL.LL.LL.XNN or the QĐ 20/2020 form (≤ 35 chars)",
        "Điều 9; QĐ 28/2018 Điều 10.2a; QĐ 20/2020 Điều 4",
    ),
    Rule(
        "document-id",
        "DocumentId is <OrganId>,<yyyy/MM/dd>,<number>/<notation>",
        "Điều 9; QĐ 28/2018 Điều 10.2b; spec 4.3",
    ),
    Rule(
        "code-number",
        "the number is Arabic digits, zero-padded below 10",
        "Nghị định 30/2020 Phụ lục I II.3, Điều 15",
    ),
    Rule(
        "code-notation",
        "the notation is upper-case groups joined by '-', no spaces or commas",
        "Nghị định 30/2020 Phụ lục I II.3",
    ),
    Rule("date.order", "the due date is not before the promulgation date", "Điều 14.3b"),
    Rule("priority", "Priority is 0-4", "spec 1.4; Nghị định 30/2020 Phụ lục I III.2.b"),
    Rule("steering-type", "SteeringType is 0-3", "spec 1.4"),
    Rule("status-code", "StatusCode is one of 01-06, 13, 15, 16", "spec 2.1"),
    Rule(
        "status.reason",
        "a rejection or recall status carries its reason in Description",
        "QĐ 28/2018 Điều 5, 9.2; spec 2.1",
    ),
    Rule(
        "business",
        "Bussiness is consistent with its BussinessDocType",
        "spec 1.3; Nghị định 30/2020 Điều 18",
    ),
    Rule("trace-header", "a document package carries at least one TraceHeader", "spec 1.2, 1.7"),
    Rule(
        "attachment.extension",
        "attached files have an allowed format",
        "Điều 8.3; Thông tư 39/2017",
    ),
    Rule(
        "attachment.filename",
        "file names are ASCII letters, digits, '.', '-', '_', at most 50 characters",
        "Điều 8.4",
    ),
    Rule("attachment.size", "each attached file is at most 50 MB", "Điều 8.4"),
    Rule(
        "attachment.payload",
        "every file in the manifest is carried, base64 of one ZIP entry",
        "spec 1.6",
    ),
    Rule(
        "attachment.manifest",
        "every carried file is listed in the manifest, under a unique id",
        "spec 1.6",
    ),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One finding of ``validate``: which rule, what is wrong, and where.

    ``path`` is a short element path (``MessageHeader/To[2]/OrganId``); ``line`` is the
    source line when the package was validated from bytes.
    """

    rule: str
    message: str
    path: str | None = None
    line: int | None = None

    @property
    def basis(self) -> str:
        rule = RULES.get(self.rule) or RULES.get(self.rule.split(".", 1)[0])
        return rule.basis if rule else ""

    def describe(self, *, with_line: bool = True) -> str:
        """``line 18, MessageHeader/To[1]/OrganId: <message> [rule; basis]``."""
        parts = [f"line {self.line}" if with_line and self.line else "", self.path or ""]
        where = ", ".join(part for part in parts if part)
        head = f"{where}: " if where else ""
        basis = f"; {self.basis}" if self.basis else ""
        return f"{head}{self.message} [{self.rule}{basis}]"

    def __str__(self) -> str:
        return self.describe()
