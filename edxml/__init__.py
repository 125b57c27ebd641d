"""edxml: read, write and check edXML packages (QCVN 102:2016) for Vietnamese e-document exchange.

A pure library: no sockets, no files, no environment. The gateway's adapters do the I/O.

    >>> import edxml
    >>> package = edxml.parse(data)            # tolerant reader -> DocumentPackage | StatusPackage
    >>> problems = edxml.validate(data)        # XSD + business rules -> [Problem, ...]
    >>> result = edxml.check(data)             # both in one pass: result.package, result.problems
    >>> data = edxml.build(package)            # exact wire layout of the official samples
    >>> signed = edxml.sign(data, key, chain)  # enveloped XMLDSig in edXMLHeader
    >>> edxml.verify(signed, trust=trust)      # each check separately, and the policy's verdict

The public surface is exactly ``__all__`` (tests/edxml/test_public_api.py keeps it so).
"""

from ._build import document_id_of
from ._build_signed import SignableBuild
from ._build_wire import BuildOptions, build, iter_build
from ._dsig import (
    C14nMethod,
    DigestMethod,
    SignatureMethod,
    SignatureSlot,
    SigningError,
    VerifyPolicy,
    VerifyResult,
    iter_sign,
    sign,
    verify,
)
from ._edoc import EDOC_NS, EdocMessage, from_edoc, to_edoc
from ._errors import (
    AttachmentError,
    AttachmentTooLargeError,
    DocumentError,
    EdxmlError,
    FieldValueError,
    KeyMaterialError,
    MalformedXmlError,
    PackageBuildError,
    PdfSignatureError,
    RecordError,
    StructureError,
    TimestampError,
    UnsafeXmlError,
)
from ._filenames import (
    ALLOWED_EXTENSIONS,
    MAX_FILENAME_LENGTH,
    extension_problem,
    filename_problem,
    safe_filename,
)
from ._ids import (
    AgencyIdForm,
    DocumentIdParts,
    agency_id_form,
    is_agency_id,
    make_document_id,
    matches_agency,
    split_document_id,
)
from ._key_files import (
    CERTIFICATE_SUFFIXES,
    CRL_SUFFIX,
    SigningIdentity,
    SigningKey,
    load_certificates,
    load_crls,
    load_signing_identity,
    load_trust_store,
    read_password,
)
from ._model import (
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentPackage,
    DocumentType,
    Organization,
    OtherInfo,
    Package,
    Priority,
    PromulgationInfo,
    Receiver,
    ReceiverType,
    ReplacementInfo,
    ResponseFor,
    Signature,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    SteeringType,
    TraceHeader,
)
from ._online_revocation import DEFAULT_REVOCATION_CONFIG, HttpRevocationChecker, RevocationConfig
from ._parse import parse
from ._problems import RULES, Problem, Rule
from ._records import from_record, to_record
from ._relay import append_trace_header, remove_trace_header
from ._rfc3161 import Rfc3161Validator
from ._timestamp import (
    XADES_NS,
    SignatureTimestamp,
    TimestampValidator,
    add_signature_timestamp,
    signature_timestamp_input,
)
from ._transfer import MAX_ATTACHMENT_BYTES
from ._trust import (
    VIETNAM,
    CertificateInfo,
    Check,
    CheckState,
    OfflineRevocation,
    RevocationChecker,
    RevocationState,
    RevocationStatus,
    StaticRevocation,
    TrustStore,
    assess_certificate,
    describe_certificate,
    matches_identity,
)
from ._trust_sets import SIGNATURE_KINDS, TrustPolicy, assess_signer
from ._validate import CheckResult, check, is_valid, validate
from ._values import vietnam_now
from ._xml import EDXML_NS, LEGACY_NS, XMLDSIG_NS, ParseLimits, parse_untrusted_xml

__version__ = "0.1.0"

__all__ = [
    "ALLOWED_EXTENSIONS",
    "CERTIFICATE_SUFFIXES",
    "CRL_SUFFIX",
    "DEFAULT_REVOCATION_CONFIG",
    "EDOC_NS",
    "EDXML_NS",
    "LEGACY_NS",
    "MAX_ATTACHMENT_BYTES",
    "MAX_FILENAME_LENGTH",
    "RULES",
    "SIGNATURE_KINDS",
    "VIETNAM",
    "XADES_NS",
    "XMLDSIG_NS",
    "AgencyIdForm",
    "Attachment",
    "AttachmentError",
    "AttachmentTooLargeError",
    "BuildOptions",
    "Business",
    "BusinessDocType",
    "BusinessDocumentInfo",
    "C14nMethod",
    "CertificateInfo",
    "Check",
    "CheckResult",
    "CheckState",
    "Code",
    "DigestMethod",
    "DocumentError",
    "DocumentIdParts",
    "DocumentPackage",
    "DocumentType",
    "EdocMessage",
    "EdxmlError",
    "FieldValueError",
    "HttpRevocationChecker",
    "KeyMaterialError",
    "MalformedXmlError",
    "OfflineRevocation",
    "Organization",
    "OtherInfo",
    "Package",
    "PackageBuildError",
    "ParseLimits",
    "PdfSignatureError",
    "Priority",
    "Problem",
    "PromulgationInfo",
    "Receiver",
    "ReceiverType",
    "RecordError",
    "ReplacementInfo",
    "ResponseFor",
    "RevocationChecker",
    "RevocationConfig",
    "RevocationState",
    "RevocationStatus",
    "Rfc3161Validator",
    "Rule",
    "SignableBuild",
    "Signature",
    "SignatureMethod",
    "SignatureSlot",
    "SignatureTimestamp",
    "SignerInfo",
    "SigningError",
    "SigningIdentity",
    "SigningKey",
    "StaffInfo",
    "StaticRevocation",
    "StatusCode",
    "StatusPackage",
    "SteeringType",
    "StructureError",
    "TimestampError",
    "TimestampValidator",
    "TraceHeader",
    "TrustPolicy",
    "TrustStore",
    "UnsafeXmlError",
    "VerifyPolicy",
    "VerifyResult",
    "__version__",
    "add_signature_timestamp",
    "agency_id_form",
    "append_trace_header",
    "assess_certificate",
    "assess_signer",
    "build",
    "check",
    "describe_certificate",
    "document_id_of",
    "extension_problem",
    "filename_problem",
    "from_edoc",
    "from_record",
    "is_agency_id",
    "is_valid",
    "iter_build",
    "iter_sign",
    "load_certificates",
    "load_crls",
    "load_signing_identity",
    "load_trust_store",
    "make_document_id",
    "matches_agency",
    "matches_identity",
    "parse",
    "parse_untrusted_xml",
    "read_password",
    "remove_trace_header",
    "safe_filename",
    "sign",
    "signature_timestamp_input",
    "split_document_id",
    "to_edoc",
    "to_record",
    "validate",
    "verify",
    "vietnam_now",
]
