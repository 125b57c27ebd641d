"""Each business rule: a conforming case passes, a breaking case is named, with its basis."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

import edxml
from tests.factories import document, rules_of, status


def test_the_factories_are_valid() -> None:
    assert edxml.validate(document()) == []
    assert edxml.validate(status()) == []
    assert edxml.validate(edxml.build(document())) == []
    assert edxml.is_valid(status())


def test_every_problem_names_a_known_rule_with_a_basis() -> None:
    package = document(
        code=edxml.Code(number="5", notation="ubnd vp"),
        other_info=edxml.OtherInfo(priority=9),
        steering_type=7,
        recipients=(edxml.Organization(organ_id="nope"),),
    )
    problems = edxml.validate(package)
    assert len(problems) == 5
    for problem in problems:
        assert problem.rule in edxml.RULES
        assert problem.basis
        assert problem.path
        assert f"[{problem.rule}; {problem.basis}]" in str(problem)


@pytest.mark.parametrize("number", ["01", "05", "09", "10", "7816", "100"])
def test_conforming_numbers(number: str) -> None:
    assert edxml.validate(document(code=edxml.Code(number=number, notation="UBND-VP"))) == []


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("5", "leading 0"),
        ("0", "leading 0"),
        ("00", "leading 0"),
        ("010", "leading 0"),
        ("74fass22", "Arabic digits"),
        ("١٢", "Arabic digits"),
        ("12a", "Arabic digits"),
    ],
)
def test_numbers_per_nghi_dinh_30(number: str, reason: str) -> None:
    (problem,) = edxml.validate(document(code=edxml.Code(number=number, notation="UBND-VP")))
    assert problem.rule == "code-number"
    assert reason in problem.message
    assert problem.path == "MessageHeader/Code/CodeNumber"
    assert "Nghị định 30/2020" in problem.basis


@pytest.mark.parametrize(
    "notation", ["UBND-VP", "QĐ-UBND", "VPCP-TTĐT", "TTr-UBND", "QĐ-TTg", "BC-STC", "HĐND"]
)
def test_conforming_notations(notation: str) -> None:
    assert edxml.validate(document(code=edxml.Code(number="05", notation=notation))) == []


@pytest.mark.parametrize(
    ("notation", "reason"),
    [
        ("ubnd-vp", "upper case"),
        ("UBND VP", "spaces"),
        ("UBND,VP", "commas"),
        ("UBND/VP", "'/'"),
        ("UBND--VP", "empty group"),
        ("UBND-", "empty group"),
        ("UBND_VP", "letters and digits"),
    ],
)
def test_notations_per_nghi_dinh_30(notation: str, reason: str) -> None:
    (problem,) = edxml.validate(
        document(code=edxml.Code(number="05", notation=notation), document_id=None)
    )
    assert problem.rule == "code-notation"
    assert reason in problem.message


def test_document_id_shape() -> None:
    good = ["000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", "000.00.00.G22,2014/02/30,7806/VPCP-TTĐT"]
    for document_id in good:  # the date is not checked as a calendar date (spec 6.3)
        assert edxml.validate(document(document_id=document_id)) == []
    bad = [
        "0b3c5e0e-7a4f-4a53-9a8f-5d7c1a2b3c4d",
        "000.00.00.G22,30/09/2015,7816/VPCP",
        "nope,2015/09/30,7816/VPCP",
        "000.00.00.G22,2015/09/30,7816",
    ]
    for document_id in bad:
        problems = edxml.validate(document(document_id=document_id))
        assert rules_of(problems) == {"document-id"}, document_id


def test_agency_id_forms() -> None:
    assert edxml.agency_id_form("000.00.00.G22") is edxml.AgencyIdForm.LEGACY
    assert edxml.agency_id_form("H42.01.02") is edxml.AgencyIdForm.QD20
    assert edxml.agency_id_form("G12.26.03.A1B2C3") is edxml.AgencyIdForm.QD20
    assert edxml.agency_id_form("H42." + "1" * 31) is edxml.AgencyIdForm.QD20  # 35 characters
    for value in [
        "H42." + "1" * 32,
        "28.22.H17",
        "h42.01",
        "H42",
        "H42.01.",
        "000.00.00.G2",
        "00.42.W00 ",
    ]:
        assert edxml.agency_id_form(value) is None, value
        assert not edxml.is_agency_id(value)


def test_every_agency_id_of_a_document_is_checked() -> None:
    bad = "BAD"
    package = document(
        sender=edxml.Organization(organ_id=bad),
        recipients=(edxml.Organization(organ_id="000.00.00.G22"), edxml.Organization(organ_id=bad)),
        response_for=(
            edxml.ResponseFor(organ_id=bad, document_id="000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"),
        ),
        document_id="000.00.00.G22,2026/11/25,05/UBND-VP",
    )
    paths = {p.path for p in edxml.validate(package) if p.rule == "agency-id"}
    assert paths == {
        "MessageHeader/From/OrganId",
        "MessageHeader/To[2]/OrganId",
        "MessageHeader/ResponseFor[1]/OrganId",
    }


@pytest.mark.parametrize(("priority", "ok"), [(0, True), (4, True), (5, False), (-1, False)])
def test_priority(priority: int, ok: bool) -> None:
    problems = edxml.validate(document(other_info=edxml.OtherInfo(priority=priority)))
    assert (problems == []) is ok
    if not ok:
        assert rules_of(problems) == {"priority"}


@pytest.mark.parametrize(("steering", "ok"), [(0, True), (1, True), (3, True), (4, False)])
def test_steering_type(steering: int, ok: bool) -> None:
    assert (edxml.validate(document(steering_type=steering)) == []) is ok


def test_due_date_before_promulgation() -> None:
    problems = edxml.validate(document(due_date=dt.date(2026, 11, 24)))
    assert rules_of(problems) == {"date.order"}


@pytest.mark.parametrize("code", ["01", "02", "03", "04", "05", "06", "13", "15", "16"])
def test_known_status_codes(code: str) -> None:
    assert edxml.validate(status(status_code=code, description="lý do")) == []


@pytest.mark.parametrize("code", ["07", "14", "1", "99", "done"])
def test_unknown_status_codes(code: str) -> None:
    package = status(status_code=code)
    assert package.status is None
    assert rules_of(edxml.validate(package)) == {"status-code"}


@pytest.mark.parametrize("code", ["02", "13", "16"])
def test_refusals_and_recalls_carry_a_reason(code: str) -> None:
    assert rules_of(edxml.validate(status(status_code=code, description=" "))) == {"status.reason"}
    assert edxml.validate(status(status_code=code, description="Sai nơi nhận")) == []


def test_a_status_names_its_document() -> None:
    package = status(response_for=edxml.ResponseFor(organ_id="000.00.01.H42", code="05/UBND-VP"))
    assert rules_of(edxml.validate(package)) == {"structure"}


def test_response_for_code_is_number_slash_notation() -> None:
    response = dataclasses.replace(status().response_for, code="05")
    (problem,) = edxml.validate(status(response_for=response))
    assert problem.rule == "document-id"
    assert problem.path == "MessageHeader/ResponseFor/Code"


def _business(**fields: object) -> edxml.Business:
    return edxml.Business(**{"doc_type": 0, **fields})  # type: ignore[arg-type]


REFERENCED = "000.00.01.H42,2026/11/20,04/UBND-VP"


@pytest.mark.parametrize(
    ("business", "response_for", "problem"),
    [
        (_business(doc_type=1, document_id=REFERENCED), (), None),
        (
            _business(doc_type=1),
            (edxml.ResponseFor(organ_id="000.00.01.H42", document_id=REFERENCED),),
            None,
        ),
        (_business(doc_type=1), (), "names the revoked document"),
        (
            _business(
                doc_type=2,
                document_id=REFERENCED,
                document_info=edxml.BusinessDocumentInfo(document_info=1),
            ),
            (),
            None,
        ),
        (_business(doc_type=2, document_id=REFERENCED), (), "carries BussinessDocumentInfo"),
        (
            _business(doc_type=2, document_info=edxml.BusinessDocumentInfo(document_info=1)),
            (),
            "names the updated",
        ),
        (
            _business(
                doc_type=2,
                document_id=REFERENCED,
                document_info=edxml.BusinessDocumentInfo(document_receiver=1),
            ),
            (),
            "needs a ReceiverList",
        ),
        (
            _business(
                doc_type=2,
                document_id=REFERENCED,
                document_info=edxml.BusinessDocumentInfo(
                    document_receiver=1,
                    receivers=(edxml.Receiver(organ_id="000.00.00.H14", receiver_type=2),),
                ),
            ),
            (),
            "ReceiverType is 0 (removed) or 1 (added)",
        ),
        (
            _business(
                doc_type=3,
                replacements=(
                    edxml.ReplacementInfo(document_id=REFERENCED, organ_ids=("000.00.00.G22",)),
                ),
            ),
            (),
            None,
        ),
        (_business(doc_type=3), (), "lists the replaced documents"),
        (
            _business(doc_type=3, replacements=(edxml.ReplacementInfo(document_id=REFERENCED),)),
            (),
            "lists the agencies",
        ),
        (
            _business(doc_type=0, document_info=edxml.BusinessDocumentInfo()),
            (),
            "belongs to updates",
        ),
        (
            _business(
                doc_type=0,
                replacements=(
                    edxml.ReplacementInfo(document_id=REFERENCED, organ_ids=("000.00.00.G22",)),
                ),
            ),
            (),
            "belongs to replacements",
        ),
        (_business(doc_type=5), (), "is not 0, 1, 2 or 3"),
        (_business(doc_type=0, paper=2), (), "Paper is 0 or 1"),
    ],
)
def test_business_consistency(
    business: edxml.Business, response_for: tuple[edxml.ResponseFor, ...], problem: str | None
) -> None:
    package = document(business=business, response_for=response_for)
    problems = edxml.validate(package)
    if problem is None:
        assert problems == []
    else:
        assert rules_of(problems) == {"business"}
        assert any(problem in p.message for p in problems), problems
    # the same verdict when the package has gone over the wire
    assert rules_of(edxml.validate(edxml.build(package))) == rules_of(problems)


def test_attachment_rules_name_the_manifest_entry() -> None:
    attachments = (
        edxml.Attachment(content_id="a", name="ok.pdf", data=b"%PDF"),
        edxml.Attachment(content_id="a", name="Tờ trình.docx", data=b"x"),
        edxml.Attachment(content_id="c", name="missing.pdf"),
    )
    problems = edxml.validate(document(attachments=attachments))
    assert {(p.rule, p.path) for p in problems} == {
        ("attachment.manifest", "edXMLBody/edXMLManifest/Reference[2]"),
        ("attachment.filename", "edXMLBody/edXMLManifest/Reference[2]/AttachmentName"),
        ("attachment.payload", "edXMLBody/edXMLManifest/Reference[3]"),
    }


def test_a_carried_file_missing_from_the_manifest_is_read_and_reported() -> None:
    wire = edxml.build(document())
    data = wire.replace(
        b"<edXML:ContentId>cid:a1</edXML:ContentId>", b"<edXML:ContentId>cid:zz</edXML:ContentId>"
    )
    package = edxml.parse(data)
    assert isinstance(package, edxml.DocumentPackage)
    assert [(a.content_id, a.data is None) for a in package.attachments] == [
        ("zz", True),
        ("a1", False),
    ]
    assert {p.rule for p in edxml.validate(data)} == {"attachment.manifest", "attachment.payload"}


def test_validate_never_raises_on_a_broken_model() -> None:
    (problem,) = edxml.validate(document(subject="nul \x00 inside"))
    assert problem.rule == "structure"
    assert "Subject" in problem.message


def test_check_gives_the_package_and_its_problems_in_one_pass() -> None:
    wire = edxml.build(document(code=edxml.Code(number="5", notation="UBND-VP")))
    result = edxml.check(wire)
    assert result.package == edxml.parse(wire)
    assert [p.rule for p in result.problems] == ["code-number"]
    assert not result.valid
    assert list(result.problems) == edxml.validate(wire)
    assert edxml.check(edxml.build(document())).valid


def test_check_of_unreadable_bytes_has_no_package() -> None:
    result = edxml.check(b"<edXML>")
    assert result.package is None
    assert [p.rule for p in result.problems] == ["xml.malformed"]
