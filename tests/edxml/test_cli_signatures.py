"""``python -m devtools dev-ca``, ``python -m edxml sign / verify / pdf-sign / pdf-verify`` end
to end."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

import edxml
from devtools.__main__ import main as dev_main
from edxml._cli import main
from tests.factories import EXAMPLES, PDF, sample


def pem(keys: Path, who: str) -> tuple[str, ...]:
    """``--key``/``--cert`` of a dev-ca identity such as ``agencies/000.00.01.H42``."""
    return ("--key", str(keys / f"{who}.key.pem"), "--cert", str(keys / f"{who}.chain.pem"))


def p12(keys: Path, who: str) -> tuple[str, ...]:
    """``--key``/``--password-file`` of a dev-ca identity's PKCS#12 bundle."""
    return ("--key", str(keys / f"{who}.p12"), "--password-file", str(keys / f"{who}.p12.password"))


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    out = io.StringIO()
    code = dev_main(["dev-ca", str(folder), "--force"], out=out)
    assert code == 0, out.getvalue()
    return folder


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pkg")
    code, _ = run("build", str(EXAMPLES / "record.json"), "-o", str(folder / "example.edxml"))
    assert code == 0
    return folder / "example.edxml"


def test_dev_ca_lays_out_the_pki_with_private_files(keys: Path) -> None:
    for relative in (
        "trust/root.pem",
        "trust/intermediate.pem",
        "crl/intermediate.crl",
        "ca/tsa.cert.pem",
        "agencies/000.00.01.H42.key.pem",
        "agencies/000.00.01.H42.p12",
        "signers/nguyen-van-an.chain.pem",
        "revoked/revoked.key.pem",
        "README.txt",
    ):
        assert (keys / relative).is_file(), relative
    for secret in (
        "agencies/000.00.01.H42.key.pem",
        "agencies/000.00.01.H42.p12.password",
        "ca/root.key.pem",
    ):
        assert stat.S_IMODE((keys / secret).stat().st_mode) == 0o600, secret
    assert dev_main(["dev-ca", str(keys)], out=io.StringIO()) == 2  # never overwrites by accident


def test_sign_then_verify_with_a_pem_key(keys: Path, package: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.edxml"
    code, out = run(
        "sign",
        str(package),
        *pem(keys, "agencies/000.00.01.H42"),
        "-o",
        str(signed),
    )
    assert code == 0, out
    assert "signed by" in out
    crls = ("--crl", str(keys / "crl/root.crl"), "--crl", str(keys / "crl/intermediate.crl"))
    code, out = run("verify", str(signed), "--trust", str(keys / "trust"), *crls)
    assert code == 0, out
    assert "signature ACCEPTED" in out
    for name in (
        "present",
        "integrity",
        "trusted-chain",
        "validity-period",
        "revocation",
        "key-usage",
    ):
        assert any(line.split()[:2] == [name, "pass"] for line in out.splitlines()), (name, out)
    assert "signer: Văn phòng UBND tỉnh Ninh Bình" in out


def test_sign_with_pkcs12_and_password_file_or_env(
    keys: Path, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p12 = str(keys / "signers/nguyen-van-an.p12")
    password_file = keys / "signers/nguyen-van-an.p12.password"
    code, _ = run(
        "sign",
        str(package),
        "--key",
        p12,
        "--password-file",
        str(password_file),
        "-o",
        str(tmp_path / "a.edxml"),
    )
    assert code == 0
    monkeypatch.setenv("EDXML_TEST_KEY_PASSWORD", password_file.read_text().strip())
    code, _ = run(
        "sign",
        str(package),
        "--key",
        p12,
        "--password-env",
        "EDXML_TEST_KEY_PASSWORD",
        "-o",
        str(tmp_path / "b.edxml"),
    )
    assert code == 0
    for name in ("a.edxml", "b.edxml"):
        assert run("verify", str(tmp_path / name), "--trust", str(keys / "trust"))[0] == 0


def test_a_wrong_password_is_a_clear_error(
    keys: Path,
    package: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDXML_TEST_KEY_PASSWORD", "wrong")
    code, _ = run(
        "sign",
        str(package),
        "--key",
        str(keys / "signers/nguyen-van-an.p12"),
        "--password-env",
        "EDXML_TEST_KEY_PASSWORD",
        "-o",
        str(tmp_path / "x.edxml"),
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "wrong password" in error
    assert "wrong\n" not in error  # the password itself is never printed


def test_verify_rejects_revoked_tampered_and_dummy_signatures(
    keys: Path, package: Path, tmp_path: Path
) -> None:
    revoked = tmp_path / "revoked.edxml"
    run(
        "sign",
        str(package),
        *pem(keys, "revoked/revoked"),
        "-o",
        str(revoked),
    )
    code, out = run(
        "verify",
        str(revoked),
        "--trust",
        str(keys / "trust"),
        "--crl",
        str(keys / "crl/intermediate.crl"),
    )
    assert code == 1
    assert "REJECTED" in out
    assert "[crl]" in out
    good = tmp_path / "good.edxml"
    run(
        "sign",
        str(package),
        *p12(keys, "agencies/000.00.01.H42"),
        "-o",
        str(good),
    )
    tampered = tmp_path / "tampered.edxml"
    tampered.write_bytes(good.read_bytes().replace(b"05/UBND-VP", b"06/UBND-VP"))
    code, out = run("verify", str(tampered), "--trust", str(keys / "trust"))
    assert code == 1
    assert "changed after signing" in out
    dummy = tmp_path / "dummy.edxml"
    dummy.write_bytes(sample("edoc_update.edxml"))
    code, out = run("verify", str(dummy), "--trust", str(keys / "trust"))
    assert code == 1
    assert "present          pass" in out
    code, _ = run("verify", str(dummy), "--trust", str(keys / "trust"), "--flag-only")
    assert code == 0


def test_verify_needs_a_real_trust_folder(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("verify", str(package), "--trust", str(tmp_path / "nowhere"))[0] == 2
    assert "does not exist" in capsys.readouterr().err


def test_pdf_sign_and_verify(keys: Path, tmp_path: Path) -> None:
    original = tmp_path / "cong_van.pdf"
    original.write_bytes(PDF)
    person = tmp_path / "person.pdf"
    both = tmp_path / "both.pdf"
    code, out = run(
        "pdf-sign",
        str(original),
        *p12(keys, "signers/nguyen-van-an"),
        "--field",
        "SignerSignature",
        "-o",
        str(person),
    )
    assert code == 0, out
    code, out = run(
        "pdf-verify", str(person), "--trust", str(keys / "trust"), "--require-legal-value"
    )
    assert code == 1  # the agency has not signed yet
    assert "signer and agency signatures: no" in out
    code, out = run(
        "pdf-sign",
        str(person),
        *pem(keys, "agencies/000.00.01.H42"),
        "--number",
        "05/UBND-VP",
        "-o",
        str(both),
    )
    assert code == 0, out
    assert "PAdES B-B" in out
    code, out = run(
        "pdf-verify",
        str(both),
        "--trust",
        str(keys / "trust"),
        "--crl",
        str(keys / "crl/intermediate.crl"),
        "--require-legal-value",
        "--issuer",
        "OU=000.00.01.H42",
    )
    assert code == 0, out
    assert out.count("ACCEPTED") == 2
    assert "signer and agency signatures: yes" in out


def test_pdf_verify_of_an_unsigned_pdf(keys: Path, tmp_path: Path) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(PDF)
    code, out = run("pdf-verify", str(path), "--trust", str(keys / "trust"))
    assert code == 1
    assert "no signatures" in out


def test_signature_is_kept_by_parse(keys: Path, package: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.edxml"
    run(
        "sign",
        str(package),
        *pem(keys, "agencies/000.00.01.H42"),
        "-o",
        str(signed),
    )
    code, out = run("inspect", str(signed))
    assert code == 0
    assert "Signature:   present (XMLDSig)" in out
    assert edxml.validate(signed.read_bytes()) == []
