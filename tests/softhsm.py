"""A real PKCS#11 token for tests and benchmarks: SoftHSM2 in a folder of its own.

``make_token`` initialises a token in ``folder`` and imports keys (with their certificates)
into it; the caller sets ``SOFTHSM2_CONF`` to the returned configuration before the PKCS#11
library is first loaded in the process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pkcs11 import Attribute, CertificateType, ObjectClass

from devtools.devca import Issued

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


def _softhsm(conf: Path, *args: str) -> None:
    subprocess.run(
        ["softhsm2-util", *args],
        check=True,
        capture_output=True,
        env={"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"},
    )


def write_conf(folder: Path) -> Path:
    (folder / "tokens").mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    return conf


def make_token(
    conf: Path, label: str, pin: str, keys: Mapping[str, Issued], *, with_certificates: bool
) -> None:
    """A token ``label`` holding each key of ``keys`` (by label; ids 01, 02, ...). Call it
    with ``SOFTHSM2_CONF`` already set to ``conf`` in this process."""
    _softhsm(conf, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "654321")
    for index, (key_label, issued) in enumerate(keys.items(), start=1):
        pem = conf.parent / f"{key_label}.pem"
        pem.write_bytes(issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        _softhsm(
            conf, "--import", str(pem), "--token", label, "--label", key_label,
            "--id", f"{index:02x}", "--pin", pin,
        )  # fmt: skip
        pem.unlink()
    if not with_certificates:
        return
    library = pkcs11.lib(str(MODULE))
    with library.get_token(token_label=label).open(user_pin=pin, rw=True) as session:
        for index, (key_label, issued) in enumerate(keys.items(), start=1):
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: key_label,
                    Attribute.ID: bytes([index]),
                    Attribute.VALUE: issued.certificate.public_bytes(Encoding.DER),
                    Attribute.SUBJECT: issued.certificate.subject.public_bytes(),
                }
            )


def uri(label: str, key_label: str) -> str:
    return f"pkcs11:token={label.replace(' ', '%20')};object={key_label}?module-path={MODULE}"
