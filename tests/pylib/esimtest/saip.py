# Builds and reads SAIP unprotected profile packages (UPP): a DER sequence of ProfileElements.
"""SAIP (SIMalliance/TCA eUICC Profile Package) helpers for the test world.

A UPP is the concatenation of ProfileElement TLVs (PEDefinitions.asn, AUTOMATIC TAGS): the first
is the ProfileHeader (`A0`), the last the End element (`AA`). The header's ICCID (`83`) is plain
BCD padded with F (not nibble-swapped, as in the TS.48 packages and pySim); EF.ICCID content and
the ES8+ metadata (`5A`) carry the nibble-swapped form.
"""

import hashlib
import os

from . import der

TAG_HEADER = 0xA0
TAG_GFM = 0xA1
TAG_END = 0xAA
TAG_MF = 0xB0

# id-MF template of SAIP (2.23.143.1.2.1).
OID_TEMPLATE_MF = "2.23.143.1.2.1"

# Each filler EF carries at most this much content; EF sizes fit in two bytes.
_FILLER_CHUNK = 4000


class SaipError(ValueError):
    """Not a syntactically valid UPP."""


def header_iccid(iccid):
    """ICCID digits -> the 10 bytes of ProfileHeader.iccid (plain BCD, F-padded)."""
    if not iccid.isdigit() or not 18 <= len(iccid) <= 20:
        raise SaipError("ICCID must be 18 to 20 digits")
    return bytes.fromhex(iccid.ljust(20, "F"))


def _pe_header(ident, mandated=True):
    # PEHeader: mandated [0] NULL OPTIONAL, identification [1] UInt15
    return der.encode(0xA0, ([der.encode(0x80)] if mandated else []) + [der.encode(0x81, der.encode_int(ident))])


def _fcp(*items):
    return der.encode(0xA1, list(items))


def _profile_header(iccid, profile_type):
    services = der.encode(0xA5, [der.encode(0x81), der.encode(0x84)])  # usim, milenage
    gfste = der.encode(0xA6, [der.encode(0x06, der.encode_oid(OID_TEMPLATE_MF))])
    return der.encode(
        TAG_HEADER,
        [
            der.encode(0x80, der.encode_int(2)),  # major-version
            der.encode(0x81, der.encode_int(3)),  # minor-version
            der.encode(0x82, profile_type.encode("utf-8")),
            der.encode(0x83, header_iccid(iccid)),
            services,
            gfste,
        ],
    )


def _mf(iccid, ident):
    # PE-MF: header, templateID, mf, [ef-pl], ef-iccid, ef-dir, ef-arr (File = SEQUENCE OF CHOICE
    # {doNotCreate 80, fileDescriptor A1, fillFileOffset 82, fillFileContent 83}).
    arr_record = bytes.fromhex("800101a406830101950108800158a40683010a950108")
    return der.encode(
        TAG_MF,
        [
            _pe_header(ident),
            der.encode(0x81, der.encode_oid(OID_TEMPLATE_MF)),
            der.encode(0xA2, [_fcp(der.encode(0x8B, b"\x2f\x06\x01"), der.encode(0xC6, b"\x01\x0a"))]),
            der.encode(0xA4, [_fcp(der.encode(0x8B, b"\x2f\x06\x03")), der.encode(0x83, der.iccid_to_bcd(iccid))]),
            der.encode(0xA5, [_fcp(der.encode(0x8B, b"\x2f\x06\x02"))]),
            der.encode(0xA6, [_fcp(der.encode(0x8B, b"\x2f\x06\x02")), der.encode(0x83, arr_record)]),
        ],
    )


def _filler_bytes(seed, n):
    """Deterministic, incompressible content (so sizes mean something after any compression)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:n])


def _filler_pe(ident, index, content):
    # PE-GenericFileManagement creating one transparent EF under the MF and filling it.
    # FileManagement choices: filePath [0] 80, createFCP [APPLICATION 2] 62, fillFileOffset
    # (universal INTEGER, untagged because siblings carry explicit tags), fillFileContent [1] 81.
    fid = (0x2F50 + index).to_bytes(2, "big")
    fcp = der.encode(
        0x62,
        [
            der.encode(0x82, b"\x41\x21"),  # transparent working EF, shareable
            der.encode(0x83, fid),
            der.encode(0x8B, b"\x2f\x06\x03"),
            der.encode(0x80, len(content).to_bytes(2, "big")),
        ],
    )
    cmd = der.encode(0x30, [der.encode(0x80, b""), fcp, der.encode(0x81, content)])
    return der.encode(TAG_GFM, [_pe_header(ident, mandated=False), der.encode(0xA1, [cmd])])


def _end(ident):
    return der.encode(TAG_END, [_pe_header(ident)])


def make_upp(iccid, size_hint=12 * 1024, profile_type="esimd test profile", seed=None):
    """A syntactically valid SAIP UPP for `iccid` of about `size_hint` bytes.

    Header, MF with EF.ICCID, then generic-file-management PEs that create and fill EFs until the
    package reaches size_hint (it ends within a few bytes of it, never above unless even the
    smallest package is larger), then End. Deterministic for given arguments.
    """
    seed = seed if seed is not None else iccid.encode()
    if isinstance(seed, str):
        seed = seed.encode()
    head = _profile_header(iccid, profile_type) + _mf(iccid, 1)
    ident = 2
    pes = [head]
    total = len(head) + len(_end(999))
    index = 0
    while True:
        room = size_hint - total
        overhead = len(_filler_pe(ident, index, b"\0" * min(_FILLER_CHUNK, max(room, 1))))
        overhead -= min(_FILLER_CHUNK, max(room, 1))
        if room <= overhead:
            break
        n = min(_FILLER_CHUNK, room - overhead)
        pe = _filler_pe(ident, index, _filler_bytes(seed + index.to_bytes(2, "big"), n))
        # Length octets may grow at a boundary: shrink until it fits.
        while len(pe) > room and n > 1:
            n -= 1
            pe = _filler_pe(ident, index, _filler_bytes(seed + index.to_bytes(2, "big"), n))
        if len(pe) > room:
            break
        pes.append(pe)
        total += len(pe)
        ident += 1
        index += 1
    pes.append(_end(ident))
    return b"".join(pes)


def split_pes(upp):
    """The ProfileElement TLVs of a UPP, checked: header first, End last, one header, one End."""
    try:
        pes = der.decode_all(bytes(upp))
    except der.DerError as e:
        raise SaipError("not a DER sequence of profile elements: %s" % e) from e
    if not pes or pes[0].tag != TAG_HEADER:
        raise SaipError("the first profile element is not the ProfileHeader")
    if pes[-1].tag != TAG_END:
        raise SaipError("the last profile element is not End")
    if sum(1 for p in pes if p.tag == TAG_HEADER) != 1 or sum(1 for p in pes if p.tag == TAG_END) != 1:
        raise SaipError("exactly one ProfileHeader and one End are allowed")
    for p in pes:
        if not p.constructed:
            raise SaipError("profile element %X is not constructed" % p.tag)
    return pes


def iccid_of_upp(upp):
    """The ICCID digits from the ProfileHeader of a UPP."""
    header = split_pes(upp)[0]
    try:
        field = header.find(0x83)
    except der.DerError as e:
        raise SaipError("malformed ProfileHeader: %s" % e) from e
    if field is None or len(field.value) != 10:
        raise SaipError("ProfileHeader has no 10-byte iccid")
    digits = field.value.hex().upper().rstrip("F")
    if not digits.isdigit():
        raise SaipError("ProfileHeader iccid is not BCD")
    return digits


def load_profile_dir(path):
    """{iccid: file path} for every readable UPP (*.der) in a directory; invalid files are skipped."""
    out = {}
    for name in sorted(os.listdir(path)):
        if not name.endswith(".der"):
            continue
        full = os.path.join(path, name)
        try:
            with open(full, "rb") as f:
                out[iccid_of_upp(f.read())] = full
        except (OSError, SaipError):
            continue
    return out
