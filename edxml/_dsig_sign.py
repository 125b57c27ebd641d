"""Signing a package: the signature built while the document streams, placed as the last
child of edXMLHeader, the document's bytes otherwise untouched."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from . import _dsig_types
from ._c14n import Canonicalizer, canonicalize_element
from ._dsig_checks import _header
from ._dsig_digest import _split
from ._dsig_types import (
    _ENVELOPED,
    _OURS,
    _WHITESPACE,
    C14nMethod,
    DigestMethod,
    SignatureMethod,
    SignatureSlot,
    SigningError,
)
from ._xml import (
    DEFAULT_LIMITS,
    XMLDSIG_NS,
    ParseLimits,
    safe_lxml_parser,
    scan_xml,
)

__all__ = [
    "SigningDigester",
    "iter_sign",
    "sign",
]


# -- signing ------------------------------------------------------------------------------


_SIGNATURE_NAMESPACES = _OURS | {XMLDSIG_NS}  # ours: the VNPT defect, replaced on signing


def _named(name: str, local: str, namespaces: frozenset[str]) -> bool:
    """Whether an expat name ("uri local prefix") is ``local`` in one of ``namespaces``."""
    if local not in name:
        return False
    uri, found = _split(name)
    return found == local and uri in namespaces


class SigningDigester:
    """Parser observer for signing: where the header ends (our insertion point), any
    signatures already in the header, and (``canonicalize``) the exclusive canonical
    document into the digest, for packages too large to hand to lxml (or to ``write``)."""

    def __init__(
        self,
        source: bytes,
        digest: DigestMethod,
        *,
        canonicalize: bool,
        write: Callable[[bytes], object] | None = None,
    ) -> None:
        self._source = source
        self.hasher = hashlib.new(digest.hashlib_name)
        self._canonical = (
            Canonicalizer(write or self.hasher.update, exclusive=True) if canonicalize else None
        )
        self._offset: Callable[[], int] = lambda: 0
        self._depth = 0
        self._header_depth: int | None = None
        self._pending: list[tuple[str | None, str | None]] = []
        self.old_signatures: list[tuple[int, int]] = []
        self._old_start = 0
        self._skipping: int | None = None
        self.insert_at: int | None = None
        self.before = self.after = ""

    def attach(self, byte_offset: Callable[[], int]) -> None:
        self._offset = byte_offset

    def namespace_start(self, prefix: str | None, uri: str | None) -> None:
        self._pending.append((prefix, uri))

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Called for every element: cheap substring tests first, a split only on a hit.
        depth = self._depth
        self._depth += 1
        if self._header_depth is None:
            if _named(name, "edXMLHeader", _OURS):
                self._header_depth = depth
        elif (
            self._skipping is None
            and depth == self._header_depth + 1
            and _named(name, "Signature", _SIGNATURE_NAMESPACES)
        ):
            self._skipping = depth
            start = self._offset()
            while start > 0 and self._source[start - 1] in _WHITESPACE:
                start -= 1  # the signature's indentation goes with it
            self._old_start = start
        if self._canonical is not None:
            pending, self._pending = self._pending, []
            if self._skipping is None:
                for prefix, namespace in pending:
                    self._canonical.namespace_start(prefix, namespace)
                self._canonical.start(name, attributes)

    def end(self, name: str) -> None:
        self._depth -= 1
        if self._skipping is not None:
            if self._depth == self._skipping:
                self._skipping = None
                end = self._source.index(b">", self._offset()) + 1
                self.old_signatures.append((self._old_start, end))
            return
        if self._depth == self._header_depth and self.insert_at is None:
            self.insert_at = self._offset()
            self._plan_whitespace()
            # the text we will add around the signature is part of the signed document
            if self._canonical is not None:
                self._canonical.data(self.before + self.after)
        if self._canonical is not None:
            self._canonical.end(name)

    def _plan_whitespace(self) -> None:
        """Indent the signature one level below the header, as the samples are."""
        assert self.insert_at is not None
        start = self.insert_at
        while start > 0 and self._source[start - 1] in b" \t":
            start -= 1
        indent = self._source[start : self.insert_at].decode("ascii")
        if start > 0 and self._source[start - 1 : start] == b"\n":
            self.before, self.after = "  ", "\n" + indent
        else:
            self.before = self.after = ""

    def data(self, text: str) -> None:
        if self._skipping is None and self._canonical is not None:
            self._canonical.data(text)

    def processing_instruction(self, target: str, data: str) -> None:
        if self._skipping is None and self._canonical is not None:
            self._canonical.processing_instruction(target, data)


_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _check_utf8(package: bytes) -> None:
    if package.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00")):
        raise SigningError(
            "only UTF-8 packages can be signed in place; rebuild it with edxml.build"
        )
    head = package[:2048]
    start = head.find(b"<?xml")
    match = _DECLARED_ENCODING.match(head[start:]) if start >= 0 else None
    if match and match.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise SigningError(
            f"only UTF-8 packages can be signed in place (this one is {match.group(1).decode()})"
        )


def _signature_method(key: object) -> SignatureMethod:
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    raise SigningError(f"signing keys are RSA or ECDSA, not {type(key).__name__}")


def _signature_element(
    digest: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    level: int,
) -> bytes:
    method = _signature_method(key)
    ns = f"{{{XMLDSIG_NS}}}"
    signature = etree.Element(f"{ns}Signature", nsmap={None: XMLDSIG_NS})
    signed_info = etree.SubElement(signature, f"{ns}SignedInfo")
    etree.SubElement(
        signed_info, f"{ns}CanonicalizationMethod", Algorithm=C14nMethod.EXC_C14N.value
    )
    etree.SubElement(signed_info, f"{ns}SignatureMethod", Algorithm=method.value)
    reference = etree.SubElement(signed_info, f"{ns}Reference", URI="")
    transforms = etree.SubElement(reference, f"{ns}Transforms")
    etree.SubElement(transforms, f"{ns}Transform", Algorithm=_ENVELOPED)
    etree.SubElement(transforms, f"{ns}Transform", Algorithm=C14nMethod.EXC_C14N.value)
    etree.SubElement(reference, f"{ns}DigestMethod", Algorithm=DigestMethod.SHA256.value)
    etree.SubElement(reference, f"{ns}DigestValue").text = base64.b64encode(digest).decode("ascii")
    value = etree.SubElement(signature, f"{ns}SignatureValue")
    x509_data = etree.SubElement(etree.SubElement(signature, f"{ns}KeyInfo"), f"{ns}X509Data")
    for certificate in chain:
        etree.SubElement(x509_data, f"{ns}X509Certificate").text = base64.b64encode(
            certificate.public_bytes(Encoding.DER)
        ).decode("ascii")
    etree.indent(signature, space="  ", level=level)
    signed = canonicalize_element(signed_info, exclusive=True)
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(signed, padding.PKCS1v15(), method.hash)
    else:
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(method.hash)))
        half = (key.key_size + 7) // 8
        raw = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    value.text = base64.b64encode(raw).decode("ascii")
    return bytes(etree.tostring(signature, with_tail=False))


def iter_sign(
    package: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert_chain: Sequence[x509.Certificate],
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
    slot: SignatureSlot | None = None,
) -> Iterator[bytes]:
    """Yield the signed package in chunks (see ``sign``). ``slot``: what ``SignableBuild``
    learnt while it wrote ``package``, which then is not parsed again."""
    if not cert_chain:
        raise SigningError("a certificate chain is required (the signer's certificate first)")
    if cert_chain[0].public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise SigningError("the key does not belong to the first certificate of the chain")
    _check_utf8(package)
    if slot is not None:
        if len(package) != slot.size or not package.startswith(b"</", slot.insert_at):
            raise SigningError("the signature slot was not learnt from these bytes")
        yield from _signed_pieces(package, 0, slot, key, cert_chain)
        return
    small = len(package) <= _dsig_types.SMALL_DOCUMENT_BYTES
    digester = SigningDigester(package, DigestMethod.SHA256, canonicalize=not small)
    offset = scan_xml(package, observer=digester, limits=limits)
    if digester.old_signatures:
        # Take the old signatures out of the bytes, then digest what will really be sent.
        cleaned = io.BytesIO()
        position = 0
        for start, end in digester.old_signatures:
            cleaned.write(memoryview(package)[position:start])
            position = end
        cleaned.write(memoryview(package)[position:])
        yield from iter_sign(cleaned.getvalue(), key, cert_chain, limits=limits)
        return
    if digester.insert_at is None:
        raise SigningError("the package has no edXMLEnvelope/edXMLHeader to hold the signature")
    if small:
        digest = _digest_for_signing(package[offset:], digester.before + digester.after)
    else:
        digest = digester.hasher.digest()
    slot = SignatureSlot(digest, digester.insert_at, digester.before, digester.after, len(package))
    yield from _signed_pieces(package, offset, slot, key, cert_chain)


def _signed_pieces(
    package: bytes,
    offset: int,
    slot: SignatureSlot,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert_chain: Sequence[x509.Certificate],
) -> Iterator[bytes]:
    level = slot.after.count(" ") // 2 + 1 if slot.after else 0
    element = _signature_element(slot.digest, key, cert_chain, level)
    view = memoryview(package)
    # from the XML itself: stray bytes or a BOM before it are not carried over (spec 6.4)
    yield from _pieces(view[offset : slot.insert_at])
    yield slot.before.encode("ascii") + element + slot.after.encode("ascii")
    yield from _pieces(view[slot.insert_at :])


def _digest_for_signing(xml: bytes, added_text: str) -> bytes:
    """SHA-256 of the exclusive canonical document as it will be sent: the whitespace we add
    around the signature included, the signature itself left out (enveloped-signature)."""
    root = etree.fromstring(xml, safe_lxml_parser())
    header = _header(root)
    assert header is not None  # the scan found it
    if len(header):
        header[-1].tail = (header[-1].tail or "") + added_text
    else:
        header.text = (header.text or "") + added_text
    canonical = etree.tostring(
        root.getroottree(), method="c14n", exclusive=True, with_comments=False
    )
    return hashlib.sha256(canonical).digest()


def _pieces(view: memoryview, size: int = 1 << 20) -> Iterator[bytes]:
    for position in range(0, len(view), size):
        yield bytes(view[position : position + size])


def sign(
    package: bytes,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert_chain: Sequence[x509.Certificate],
    *,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> bytes:
    """Sign package bytes: enveloped XMLDSig over ``URI=""`` as the last child of
    ``edXMLHeader``, in the xmldsig namespace, RSA-SHA256 or ECDSA-SHA256, Exclusive C14N,
    ``KeyInfo/X509Data`` with ``cert_chain`` (signer first). A signature already in the
    header is replaced. Attachments are covered: they are inside the signed document.
    """
    out = io.BytesIO()
    for chunk in iter_sign(package, key, cert_chain, limits=limits):
        out.write(chunk)
    return out.getvalue()
