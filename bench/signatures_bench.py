"""Benchmarks of package signatures (issue 3).

1. Sign + verify a ~10 KB package and a package with a 1 MB attachment (RSA-2048, the agency's
   key): operations per second, and the ratio to signxml's own sign + verify of the same
   bytes with no extra checks (pinned certificate, no chain, no revocation): our overhead,
   trust checks included. Target: ratio <= 1.3. Measured interleaved, medians.
2. A 50 MB attachment: sign (bytes in, streamed to a file) and verify (streamed from the
   file) time and peak RSS, each in a fresh process; signxml's sign + verify of the same
   package for reference. Target: peak RSS <= 4 x 50 MB.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from edxml_bench import package_with, pdf_pieces  # noqa: E402
from measure import MIB, in_fresh_process, interleaved_medians, memory_figures, peak_rss  # noqa: E402

import edxml  # noqa: E402
from devtools.devca import make_dev_pki  # noqa: E402

REPEATS = 40
PKI = make_dev_pki()
AGENCY = PKI.agencies["000.00.01.H42"]
CHAIN = PKI.chain(AGENCY)
TRUST = edxml.TrustStore(roots=(PKI.root.certificate,))


def _now() -> dt.datetime:
    return dt.datetime.now(edxml.VIETNAM).replace(tzinfo=None, microsecond=0)


def package_bytes(attachment: bytes) -> bytes:
    from dataclasses import replace

    traced = replace(
        package_with(attachment),
        trace_headers=(edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=_now()),),
    )
    return edxml.build(traced)


def ours(data: bytes) -> None:
    result = edxml.verify(edxml.sign(data, AGENCY.key, CHAIN), trust=TRUST)
    assert result.valid
    assert result.trusted


def signxml_baseline(data: bytes) -> None:
    from lxml import etree
    from signxml import (
        CanonicalizationMethod,
        DigestAlgorithm,
        SignatureConfiguration,
        SignatureMethod,
        XMLSigner,
        XMLVerifier,
        methods,
    )

    parser = etree.XMLParser(resolve_entities=False, huge_tree=True)
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer._parser = parser  # its own parser refuses text nodes over 10 MB (python-stack 2a)
    signed = etree.tostring(signer.sign(etree.fromstring(data, parser), key=AGENCY.key, cert=CHAIN))
    XMLVerifier().verify(
        signed,
        x509_cert=CHAIN[0],
        parser=parser,
        expect_config=SignatureConfiguration(expect_references=1),
    )


def throughput() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    for label, attachment in (("10kb", os.urandom(5 * 1024)), ("1mb", b"".join(pdf_pieces(MIB)))):
        data = package_bytes(attachment)
        medians = interleaved_medians(
            {"ours": lambda d=data: ours(d), "signxml": lambda d=data: signxml_baseline(d)}, REPEATS
        )
        figures += [
            (f"signatures_{label}_package_kb", round(len(data) / 1024, 1), "KiB"),
            (f"signatures_{label}_sign_verify_per_second", round(1 / medians["ours"], 1), "ops/s"),
            (
                f"signatures_{label}_signxml_sign_verify_per_second",
                round(1 / medians["signxml"], 1),
                "ops/s",
            ),
            (
                f"signatures_{label}_ratio_to_signxml",
                round(medians["ours"] / medians["signxml"], 2),
                "ratio",
            ),
        ]
    return figures


# -- 50 MB, one fresh process per measurement --------------------------------------------


def _child(step: str, folder: str) -> dict[str, float]:
    base = Path(folder)
    baseline = peak_rss()
    start = time.perf_counter()
    if step == "sign":
        data = (base / "package.edxml").read_bytes()
        with open(base / "signed.edxml", "wb") as out:
            for chunk in edxml.iter_sign(data, AGENCY.key, CHAIN):
                out.write(chunk)
    elif step == "verify":
        with open(base / "signed.edxml", "rb") as source:
            result = edxml.verify(source, trust=TRUST)
        assert result.valid, result.checks
    else:
        signxml_baseline((base / "package.edxml").read_bytes())
    return {"seconds": time.perf_counter() - start, "peak": peak_rss(), "baseline": baseline}


def fifty_megabytes() -> list[tuple[str, float, str]]:
    size = 50 * MIB
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        data = b"".join(pdf_pieces(size))
        package = package_with(data)
        from dataclasses import replace

        package = replace(
            package, trace_headers=(edxml.TraceHeader(organ_id="000.00.01.H42", timestamp=_now()),)
        )
        with open(Path(folder) / "package.edxml", "wb") as out:
            out.writelines(edxml.iter_build(package))
        del data, package
        for step in ("sign", "verify", "signxml"):
            result = in_fresh_process(__file__, step, folder)
            figures += memory_figures(f"signatures_50mb_{step}", result, size)
    return figures


def run() -> list[tuple[str, float, str]]:
    return throughput() + fifty_megabytes()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))
    else:
        for figure in run():
            print("bench", *figure)
