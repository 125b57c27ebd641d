"""Two trust sets, a policy per signature kind: the specialised CA ("bcy", the session's dev
PKI) for agencies and packages, a public CA ("neac", a second PKI) for persons only."""

from __future__ import annotations

import asyncio

import pytest

import edxml
from devtools.devca import DevPki, Issued, make_dev_pki
from edxml import SigningIdentity
from edxml.pdf import sign_pdf, verify_pdf
from tests import pki as certificates
from tests.factories import PDF, document


@pytest.fixture(scope="module")
def public_ca() -> DevPki:
    return make_dev_pki(base_url="http://127.0.0.1:9")


def store_of(pki: DevPki) -> edxml.TrustStore:
    return edxml.TrustStore(
        roots=(pki.root.certificate,), intermediates=(pki.intermediate.certificate,)
    )


@pytest.fixture(scope="module")
def policy(pki: DevPki, public_ca: DevPki) -> edxml.TrustPolicy:
    return edxml.TrustPolicy(
        sets={"bcy": store_of(pki), "neac": store_of(public_ca)},
        kinds={"package": ("bcy",), "agency": ("bcy",), "person": ("bcy", "neac")},
    )


def signed_package(pki: DevPki, issued: Issued) -> bytes:
    return edxml.sign(edxml.build(document()), issued.key, pki.chain(issued))


def chain_check(result: object) -> edxml.Check:
    checks = result.checks  # type: ignore[attr-defined]
    return next(check for check in checks if check.name == "trusted-chain")


def test_a_package_signed_under_the_specialised_ca_names_its_set(
    pki: DevPki, policy: edxml.TrustPolicy
) -> None:
    result = edxml.verify(signed_package(pki, pki.agencies["000.00.01.H42"]), policy)
    assert result.trusted
    assert "(trust set 'bcy')" in chain_check(result).detail


def test_a_package_signed_under_a_public_ca_is_refused_with_the_set_named(
    public_ca: DevPki, policy: edxml.TrustPolicy
) -> None:
    result = edxml.verify(signed_package(public_ca, public_ca.agencies["000.00.01.H42"]), policy)
    assert not result.trusted
    assert not result.accepted
    detail = chain_check(result).detail
    assert "trust set 'neac'" in detail
    assert "package signatures may not use" in detail
    assert "allowed: bcy" in detail


def test_a_certificate_of_no_set_is_simply_untrusted(policy: edxml.TrustPolicy) -> None:
    root, signer = certificates.foreign()
    package = edxml.sign(edxml.build(document()), signer.key, [signer.certificate])
    assert "no chain to a trusted root" in chain_check(edxml.verify(package, policy)).detail
    assert root.certificate not in policy.everything.roots


def test_a_policy_naming_an_unknown_set_or_kind_is_refused(pki: DevPki) -> None:
    with pytest.raises(ValueError, match="unknown trust set 'neac'"):
        edxml.TrustPolicy(sets={"bcy": store_of(pki)}, kinds={"person": ("neac",)})
    with pytest.raises(ValueError, match="unknown signature kind"):
        edxml.TrustPolicy(sets={"bcy": store_of(pki)}, kinds={"seal": ("bcy",)})


async def test_on_a_pdf_each_kind_uses_its_own_sets(
    pki: DevPki, public_ca: DevPki, policy: edxml.TrustPolicy
) -> None:
    """A person of the public CA may sign; an agency seal of the public CA may not."""

    def identity(ca: DevPki, issued: Issued) -> SigningIdentity:
        return SigningIdentity(key=issued.key, chain=tuple(ca.chain(issued)))

    person = await sign_pdf(
        PDF, identity(public_ca, public_ca.signers["Nguyễn Văn An"]), field_name="Person"
    )
    sealed_here = await sign_pdf(person, identity(pki, pki.agencies["000.00.01.H42"]))
    sealed_public = await sign_pdf(person, identity(public_ca, public_ca.agencies["000.00.01.H42"]))
    here = await verify_pdf(sealed_here, trust=policy)
    assert [s.signer.kind for s in here.signatures if s.signer] == ["person", "agency"]
    assert all(chain_check(s).state is edxml.CheckState.PASS for s in here.signatures)
    assert "'neac'" in chain_check(here.signatures[0]).detail
    assert "'bcy'" in chain_check(here.signatures[1]).detail
    public = await verify_pdf(sealed_public, trust=policy)
    person_check, seal_check = (chain_check(s) for s in public.signatures)
    assert person_check.state is edxml.CheckState.PASS
    assert seal_check.state is edxml.CheckState.FAIL
    assert "agency signatures may not use" in seal_check.detail
    assert not public.agency_signed


def test_one_bare_store_still_trusts_every_kind(pki: DevPki) -> None:
    result = edxml.verify(signed_package(pki, pki.agencies["000.00.01.H42"]), store_of(pki))
    assert result.trusted


def test_the_pdf_fixture_is_unsigned() -> None:
    assert asyncio.run(verify_pdf(PDF, trust=None)).signatures == ()
