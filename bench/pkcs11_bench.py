"""Signing with a key on a PKCS#11 token (SoftHSM2) against the same key from a file.

A ~10 KB package signed (XMLDSig, RSA-2048) by the Office's key held in memory, and by the
same key on a SoftHSM2 token through ``adapters.pkcs11`` (each signature is one C_Sign on
the token): packages per second, and the ratio token / file. Measured interleaved, medians.
A real USB token is slower than SoftHSM2 (its chip signs); this figure is the gateway's
own overhead of going through PKCS#11.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from edxml_bench import package_with, pdf_pieces  # noqa: E402
from measure import interleaved_medians  # noqa: E402

import edxml  # noqa: E402
from devtools.devca import make_dev_pki  # noqa: E402

REPEATS = 60


def run() -> list[tuple[str, float, str]]:
    pki = make_dev_pki()
    agency = pki.agencies["000.00.01.H42"]
    chain = pki.chain(agency)
    package = edxml.build(package_with(b"".join(pdf_pieces(10 * 1024))))
    with tempfile.TemporaryDirectory() as folder:
        from tests.softhsm import make_token, uri, write_conf

        conf = write_conf(Path(folder))
        os.environ["SOFTHSM2_CONF"] = str(conf)
        make_token(conf, "bench", "123456", {"agency": agency}, with_certificates=False)
        from adapters.pkcs11 import open_token_key

        token_key = open_token_key(uri("bench", "agency"), pin_env="PIN", environ={"PIN": "123456"})
        medians = interleaved_medians(
            {
                "file": lambda: edxml.sign(package, agency.key, chain),
                "token": lambda: edxml.sign(package, token_key, chain),
            },
            REPEATS,
        )
    return [
        ("sign_10kb_file_key_per_s", round(1 / medians["file"], 1), "packages/s"),
        ("sign_10kb_pkcs11_per_s", round(1 / medians["token"], 1), "packages/s"),
        ("sign_10kb_pkcs11_ratio_to_file_key", round(medians["token"] / medians["file"], 2), "x"),
    ]


if __name__ == "__main__":
    for figure in run():
        print("bench", *figure)
