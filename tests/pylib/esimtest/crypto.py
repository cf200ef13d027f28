"""SGP.22 cryptography shared by the simulated eUICC and the test SM-DP+ (python3-cryptography 38)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Iterable, Optional, Sequence, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import ExtensionOID, NameOID

from . import der

# id-rspRole arc (SGP.22 §4.5.2.1.0.2 / SGP22-CRYPTO.md §3.1)
ROLE_CI = "2.23.146.1.2.1.0"
ROLE_EUICC = "2.23.146.1.2.1.1"
ROLE_EUM = "2.23.146.1.2.1.2"
ROLE_DP_TLS = "2.23.146.1.2.1.3"
ROLE_DP_AUTH = "2.23.146.1.2.1.4"
ROLE_DP_PB = "2.23.146.1.2.1.5"
ROLE_DS_TLS = "2.23.146.1.2.1.6"
ROLE_DS_AUTH = "2.23.146.1.2.1.7"
# Newer EUM variant: policy …1.0.0.0 and the permitted IINs in their own extension.
ROLE_EUM_V2 = "2.23.146.1.2.1.0.0.0"
EXT_PERMITTED_EINS = "2.23.146.1.2.2.0"

CURVES = {
    "secp256r1": ec.SECP256R1,
    "prime256v1": ec.SECP256R1,
    "P-256": ec.SECP256R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
}

PathOrBytes = Union[str, os.PathLike, bytes, bytearray]


class ChainError(Exception):
    """A certificate chain that an SGP.22 entity must refuse."""


def _read(src: PathOrBytes) -> bytes:
    if isinstance(src, (bytes, bytearray)):
        return bytes(src)
    with open(src, "rb") as f:
        return f.read()


def load_cert(src: Union[PathOrBytes, x509.Certificate]) -> x509.Certificate:
    """A certificate from a path or bytes, DER or PEM."""
    if isinstance(src, x509.Certificate):
        return src
    data = _read(src)
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


class SharedCert:
    """A certificate that several threads use (a server's own and trusted certificates).

    python3-cryptography 38's Certificate is not thread-safe: reading `extensions` takes an
    exclusive borrow of the object, which raises `RuntimeError: Already borrowed` while another
    thread is inside any other method of the same object (public_key(), not_valid_before, ...),
    cached extensions or not. So the object is never shared: what every request reads is
    computed here once (DER, SKI, AKI), and a thread that needs the Certificate itself (to check
    a chain against it) gets its own parse of the same DER.
    """

    def __init__(self, src: Union[PathOrBytes, x509.Certificate]):
        cert = load_cert(src)
        self.der = cert_der(cert)
        self.ski = _ski_or_none(cert)
        akid = _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        self.aki = bytes(akid.key_identifier) if akid is not None and akid.key_identifier is not None else None
        self._local = threading.local()

    def cert(self) -> x509.Certificate:
        """This thread's own Certificate object."""
        c = getattr(self._local, "cert", None)
        if c is None:
            c = self._local.cert = x509.load_der_x509_certificate(self.der)
        return c


def load_key(src: PathOrBytes) -> ec.EllipticCurvePrivateKey:
    """An unencrypted EC private key from a path or bytes, PEM (SEC1 or PKCS#8) or DER."""
    data = _read(src)
    if data.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _pub(key_or_cert) -> ec.EllipticCurvePublicKey:
    if isinstance(key_or_cert, x509.Certificate):
        key_or_cert = key_or_cert.public_key()
    if isinstance(key_or_cert, ec.EllipticCurvePrivateKey):
        key_or_cert = key_or_cert.public_key()
    if not isinstance(key_or_cert, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC key")
    return key_or_cert


def _coord_len(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def der_sig_to_raw(der_sig: bytes, size: int = 32) -> bytes:
    """DER ECDSA-Sig-Value → r‖s, each left-padded to `size` bytes (BSI TR-03111)."""
    r, s = decode_dss_signature(der_sig)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def raw_sig_to_der(rs: bytes) -> bytes:
    if len(rs) % 2 or not rs:
        raise ValueError("raw signature has odd length %d" % len(rs))
    half = len(rs) // 2
    return encode_dss_signature(int.from_bytes(rs[:half], "big"), int.from_bytes(rs[half:], "big"))


def sign_raw(priv: ec.EllipticCurvePrivateKey, msg: bytes) -> bytes:
    """ECDSA-SHA256 over msg as r‖s (64 bytes on a 256-bit curve), the format of 5F37 objects."""
    return der_sig_to_raw(priv.sign(msg, ec.ECDSA(hashes.SHA256())), _coord_len(priv.curve))


def verify_raw(pub, msg: bytes, rs: bytes) -> bool:
    """Verify an r‖s signature; `pub` may be a public key, a private key or a certificate."""
    key = _pub(pub)
    if len(rs) != 2 * _coord_len(key.curve):
        return False
    try:
        key.verify(raw_sig_to_der(rs), msg, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def signature_do(rs: bytes) -> bytes:
    """The 5F37 data object that carries a raw signature (and is chained into later signatures)."""
    return der.encode(0x5F37, rs)


def _ext(cert: x509.Certificate, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def ski(cert: x509.Certificate) -> bytes:
    v = _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if v is None:
        raise ChainError("certificate has no subjectKeyIdentifier")
    return bytes(v.digest)


def aki(cert: x509.Certificate) -> bytes:
    v = _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if v is None or v.key_identifier is None:
        raise ChainError("certificate has no authorityKeyIdentifier keyIdentifier")
    return bytes(v.key_identifier)


def policy_oids(cert: x509.Certificate) -> list[str]:
    v = _ext(cert, ExtensionOID.CERTIFICATE_POLICIES)
    if v is None:
        return []
    return [p.policy_identifier.dotted_string for p in v]


def registered_id(cert: x509.Certificate) -> Optional[str]:
    """The SAN registeredID (the SM-DP+/SM-DS OID for DPauth/DPpb/DSauth), or None."""
    v = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if v is None:
        return None
    ids = v.get_values_for_type(x509.RegisteredID)
    return ids[0].dotted_string if ids else None


def eid_of(cert: x509.Certificate) -> str:
    """The EID of an eUICC certificate (subject serialNumber)."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not attrs:
        raise ChainError("eUICC certificate has no subject serialNumber")
    return attrs[0].value


def curve_of(key_or_cert) -> ec.EllipticCurve:
    return _pub(key_or_cert).curve


def verify_issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """AKI(child) == SKI(parent) and the parent's key signed child's TBS bytes."""
    try:
        if aki(child) != ski(parent):
            return False
        pub = _pub(parent)
        pub.verify(
            child.signature,
            child.tbs_certificate_bytes,
            ec.ECDSA(child.signature_hash_algorithm),
        )
        return True
    except (ChainError, InvalidSignature, ValueError):
        return False


def _is_ca(cert: x509.Certificate) -> bool:
    bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    ku = _ext(cert, ExtensionOID.KEY_USAGE)
    return bool(bc and bc.ca and ku and ku.key_cert_sign)


def permitted_eid_prefixes(eum: x509.Certificate) -> list[str]:
    """IIN prefixes an EUM may issue EIDs under: the serialNumber of its nameConstraints DirName
    (variant O) or the SEQUENCE OF PrintableString of extension 2.23.146.1.2.2.0."""
    out = []
    nc = _ext(eum, ExtensionOID.NAME_CONSTRAINTS)
    if nc is not None and nc.permitted_subtrees:
        for gn in nc.permitted_subtrees:
            if isinstance(gn, x509.DirectoryName):
                for a in gn.value.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
                    out.append(a.value)
    try:
        ext = eum.extensions.get_extension_for_oid(x509.ObjectIdentifier(EXT_PERMITTED_EINS))
        seq = der.decode(ext.value.value)
        out += [c.value.decode("ascii") for c in seq.children()]
    except (x509.ExtensionNotFound, der.DerError, UnicodeDecodeError):
        pass
    return out


def check_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    leaf_role_oid: Union[str, Iterable[str]],
) -> x509.Certificate:
    """Walk leaf → root by AKI/SKI (not by names: SGP22-CRYPTO.md §3.4) and return the root.

    Checks on every link: signature over the TBS bytes, issuer CA:TRUE with keyCertSign, the
    leaf's role policy (a string or a set of accepted OIDs), EUM role for an intermediate, CI role
    for the root, digitalSignature on an end-entity leaf, and the EUM EID-prefix rule for an eUICC
    leaf. Raises ChainError.
    """
    roles = {leaf_role_oid} if isinstance(leaf_role_oid, str) else set(leaf_role_oid)
    if not roles & set(policy_oids(leaf)):
        raise ChainError("leaf lacks role policy %s (has %s)" % (sorted(roles), policy_oids(leaf)))
    if ROLE_EUICC in roles or ROLE_DP_AUTH in roles or ROLE_DP_PB in roles or ROLE_DS_AUTH in roles:
        ku = _ext(leaf, ExtensionOID.KEY_USAGE)
        if ku is None or not ku.digital_signature:
            raise ChainError("leaf keyUsage lacks digitalSignature")
    cur = leaf
    for _depth in range(4):
        want = aki(cur)
        root = next((r for r in roots if _ski_or_none(r) == want), None)
        if root is not None:
            if not verify_issued(cur, root):
                raise ChainError("signature by root %s does not verify" % want.hex())
            if not _is_ca(root):
                raise ChainError("root is not a CA with keyCertSign")
            if ROLE_CI not in policy_oids(root):
                raise ChainError("root lacks the CI role policy")
            return root
        parent = next((c for c in intermediates if _ski_or_none(c) == want), None)
        if parent is None:
            raise ChainError("no issuer with SKI %s" % want.hex())
        if not verify_issued(cur, parent):
            raise ChainError("signature by %s does not verify" % want.hex())
        if not _is_ca(parent):
            raise ChainError("issuer %s is not a CA with keyCertSign" % want.hex())
        ppol = set(policy_oids(parent))
        if not ppol & {ROLE_EUM, ROLE_EUM_V2}:
            raise ChainError("intermediate %s lacks the EUM role policy" % want.hex())
        if cur is leaf and ROLE_EUICC in roles:
            eid = eid_of(leaf)
            prefixes = permitted_eid_prefixes(parent)
            if not prefixes or not any(eid.startswith(p) for p in prefixes):
                raise ChainError("EID %s outside the EUM's permitted range %s" % (eid, prefixes))
        cur = parent
    raise ChainError("chain too long")


def _ski_or_none(cert: x509.Certificate) -> Optional[bytes]:
    try:
        return ski(cert)
    except ChainError:
        return None


def curve_from_name(curve: Union[str, ec.EllipticCurve]) -> ec.EllipticCurve:
    if isinstance(curve, ec.EllipticCurve):
        return curve
    return CURVES[curve]()


def gen_ot_keypair(curve: Union[str, ec.EllipticCurve] = "secp256r1") -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A one-time ECKA key pair: (private key, uncompressed public point, 65 bytes)."""
    priv = ec.generate_private_key(curve_from_name(curve))
    return priv, point_of(priv.public_key())


def private_from_scalar(scalar: bytes, curve: Union[str, ec.EllipticCurve] = "secp256r1") -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), curve_from_name(curve))


def scalar_of(priv: ec.EllipticCurvePrivateKey) -> bytes:
    return priv.private_numbers().private_value.to_bytes(_coord_len(priv.curve), "big")


def point_of(pub) -> bytes:
    return _pub(pub).public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def pub_from_point(point: bytes, curve: Union[str, ec.EllipticCurve] = "secp256r1") -> ec.EllipticCurvePublicKey:
    """Raises ValueError when the bytes are not a point on the curve."""
    return ec.EllipticCurvePublicKey.from_encoded_point(curve_from_name(curve), bytes(point))


def ecdh(priv: ec.EllipticCurvePrivateKey, peer_pub) -> bytes:
    """ECKA-DH shared secret Z: the x-coordinate of priv × peer (32 bytes on a 256-bit curve)."""
    if isinstance(peer_pub, (bytes, bytearray)):
        peer_pub = pub_from_point(peer_pub, priv.curve)
    return priv.exchange(ec.ECDH(), peer_pub)


def x963_kdf(z: bytes, shared_info: bytes, length: int = 48) -> bytes:
    return X963KDF(hashes.SHA256(), length, shared_info).derive(z)


def kdf_shared_info(host_id: bytes, eid_bytes: bytes, key_type: int = 0x88, key_len: int = 0x10) -> bytes:
    """SharedInfo = keyType ‖ keyLength ‖ len(hostId) ‖ hostId ‖ len(EID) ‖ EID."""
    return bytes([key_type, key_len, len(host_id)]) + host_id + bytes([len(eid_bytes)]) + eid_bytes


def session_keys(z: bytes, host_id: bytes, eid_bytes: bytes) -> tuple[bytes, bytes, bytes]:
    """(initial MCV, S-ENC, S-MAC) for AES-128 SCP03t."""
    out = x963_kdf(z, kdf_shared_info(host_id, eid_bytes), 48)
    return out[0:16], out[16:32], out[32:48]


def hash_cc(cc: str, tid: bytes) -> bytes:
    """SHA-256(SHA-256(CC) ‖ transactionId), the transaction ID in binary."""
    return hashlib.sha256(hashlib.sha256(cc.encode("utf-8")).digest() + bytes(tid)).digest()
