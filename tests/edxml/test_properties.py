"""Property: any valid model (Vietnamese text included) survives build -> parse unchanged."""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edxml

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
)
ALPHABET = VIETNAMESE + VIETNAMESE.upper() + string.digits + " .,;:/()-–“”'\"&<>%\n\t"

text = st.text(alphabet=ALPHABET, max_size=60)
optional_text = st.none() | text
digits = st.integers(min_value=0, max_value=999)
agency_id = st.builds(
    lambda a, b, c, letter, n: f"{a:03d}.{b:02d}.{c:02d}.{letter}{n:02d}",
    digits,
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from("AGHK"),
    st.integers(0, 99),
)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))
timestamps = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda value: value.replace(microsecond=0)
)
organization = st.builds(
    edxml.Organization,
    organ_id=agency_id,
    organization_in_charge=optional_text,
    organ_name=optional_text,
    organ_address=optional_text,
    email=st.none() | st.emails(),
    telephone=optional_text,
    fax=optional_text,
    website=st.none() | st.from_regex(r"[a-z]{2,10}\.gov\.vn", fullmatch=True),
)
token = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,20}", fullmatch=True)
document_id = st.builds(
    lambda organ, day, n: f"{organ},{day:%Y/%m/%d},{n:02d}/UBND-VP",
    agency_id,
    dates,
    st.integers(1, 9999),
)
staff = st.none() | st.builds(
    edxml.StaffInfo,
    department=optional_text,
    staff=optional_text,
    email=st.none() | st.emails(),
    mobile=st.none() | st.from_regex(r"0[0-9]{9}", fullmatch=True),
)
response_for = st.builds(
    edxml.ResponseFor,
    organ_id=agency_id,
    code=st.none() | st.just("05/UBND-VP"),
    promulgation_date=st.none() | dates,
    document_id=st.none() | document_id,
)
business = st.none() | st.builds(
    edxml.Business,
    doc_type=st.integers(0, 3),
    document_id=st.none() | document_id,
    reason=optional_text,
    paper=st.none() | st.integers(0, 1),
    staff=staff,
    document_info=st.none()
    | st.builds(
        edxml.BusinessDocumentInfo,
        document_info=st.none() | st.integers(0, 1),
        document_receiver=st.none() | st.integers(0, 1),
        receivers=st.lists(
            st.builds(edxml.Receiver, organ_id=agency_id, receiver_type=st.integers(0, 1)),
            max_size=3,
        ).map(tuple),
    ),
    replacements=st.lists(
        st.builds(
            edxml.ReplacementInfo,
            document_id=document_id,
            organ_ids=st.lists(agency_id, max_size=3).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
)
attachment = st.builds(
    edxml.Attachment,
    content_id=token,
    name=st.from_regex(r"[A-Za-z0-9_-]{1,40}\.(pdf|docx|xlsx|png)", fullmatch=True),
    data=st.binary(max_size=3000),
    content_type=st.sampled_from(["application/zip", "application/pdf"]),
    description=optional_text,
)
documents = st.builds(
    edxml.DocumentPackage,
    sender=organization,
    recipients=st.lists(organization, min_size=1, max_size=4).map(tuple),
    document_id=st.none() | document_id,
    code=st.builds(
        edxml.Code,
        number=st.integers(1, 99999).map(lambda n: f"{n:02d}"),
        notation=st.sampled_from(["UBND-VP", "QĐ-UBND", "VPCP-TTĐT"]),
    ),
    promulgation=st.builds(edxml.PromulgationInfo, place=optional_text, date=dates),
    document_type=st.builds(
        edxml.DocumentType,
        type=st.integers(0, 30),
        type_detail=st.none() | st.integers(0, 9),
        type_name=text,
    ),
    subject=text,
    content=optional_text,
    signer=st.none()
    | st.builds(
        edxml.SignerInfo, competence=optional_text, position=optional_text, full_name=optional_text
    ),
    due_date=st.none() | dates,
    to_places=st.lists(text, max_size=3).map(tuple),
    other_info=st.none()
    | st.builds(
        edxml.OtherInfo,
        priority=st.none() | st.integers(0, 4),
        sphere_of_promulgation=optional_text,
        typer_notation=optional_text,
        promulgation_amount=st.none() | st.integers(0, 500),
        page_amount=st.none() | st.integers(0, 500),
        direction=st.none() | st.booleans(),
        appendixes=st.lists(text, max_size=3).map(tuple),
        reply_fors=optional_text,
        reference_codes=optional_text,
    ),
    response_for=st.lists(response_for, max_size=2).map(tuple),
    steering_type=st.none() | st.integers(0, 3),
    response_for_tasks=st.lists(token, max_size=2).map(tuple),
    application_type=optional_text,
    trace_headers=st.lists(
        st.builds(edxml.TraceHeader, organ_id=agency_id, timestamp=timestamps), max_size=3
    ).map(tuple),
    business=business,
    attachments=st.lists(attachment, max_size=3, unique_by=lambda a: a.content_id).map(tuple),
)
statuses = st.builds(
    edxml.StatusPackage,
    sender=organization,
    response_for=response_for,
    status_code=st.sampled_from([code.value for code in edxml.StatusCode]),
    timestamp=timestamps,
    staff=staff,
    description=optional_text,
    trace_headers=st.lists(
        st.builds(edxml.TraceHeader, organ_id=agency_id, timestamp=timestamps), max_size=2
    ).map(tuple),
)


def _expected(package: edxml.Package) -> edxml.Package:
    """What the wire gives back: the DocumentId is written even when the model left it out,
    and every attachment says application/zip (it is zipped, and the official reader unzips
    only what says so)."""
    import dataclasses

    if not isinstance(package, edxml.DocumentPackage):
        return package
    zipped = tuple(
        dataclasses.replace(a, content_type="application/zip") for a in package.attachments
    )
    return dataclasses.replace(
        package,
        document_id=package.document_id or edxml.document_id_of(package),
        attachments=zipped,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_documents_round_trip(package: edxml.DocumentPackage) -> None:
    assert edxml.parse(edxml.build(package)) == _expected(package)


@settings(max_examples=100, deadline=None)
@given(statuses)
def test_status_packages_round_trip(package: edxml.StatusPackage) -> None:
    assert edxml.parse(edxml.build(package)) == package


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_the_xsd_accepts_whatever_the_builder_writes(package: edxml.DocumentPackage) -> None:
    problems = edxml.validate(edxml.build(package))
    assert not [p for p in problems if p.rule in {"xsd", "xml.malformed", "structure.cardinality"}]
