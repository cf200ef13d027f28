"""Strict BER-TLV/DER reading and writing for SGP.22 data objects (multi-byte tags, long lengths)."""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union


class DerError(ValueError):
    """Malformed TLV input."""


# Four length octets cover 4 GiB; SGP.22 objects stay far below (a BPP is a few hundred KiB).
_MAX_LENGTH_OCTETS = 4


def _read_tag(data: bytes, offset: int) -> tuple[int, int, bool]:
    if offset >= len(data):
        raise DerError("truncated: no tag at offset %d" % offset)
    first = data[offset]
    constructed = bool(first & 0x20)
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:
        # Multi-byte tag: continuation bytes carry bit 8 until the last one.
        while True:
            if pos >= len(data):
                raise DerError("truncated multi-byte tag at offset %d" % offset)
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if pos - offset > 4:
                raise DerError("tag longer than 4 bytes at offset %d" % offset)
    return tag, pos, constructed


def _read_length(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise DerError("truncated: no length at offset %d" % offset)
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    n = first & 0x7F
    if n == 0:
        raise DerError("indefinite length not allowed (offset %d)" % offset)
    if n > _MAX_LENGTH_OCTETS:
        raise DerError("length of %d octets not supported (offset %d)" % (n, offset))
    if offset + 1 + n > len(data):
        raise DerError("truncated length at offset %d" % offset)
    return int.from_bytes(data[offset + 1 : offset + 1 + n], "big"), offset + 1 + n


class Tlv:
    """One decoded TLV. `raw` keeps the received bytes so signed objects are never re-encoded."""

    __slots__ = ("tag", "value", "raw", "constructed", "header_len", "_children")

    def __init__(self, tag: int, value: bytes, raw: bytes, constructed: bool, header_len: int):
        self.tag = tag
        self.value = value
        self.raw = raw
        self.constructed = constructed
        self.header_len = header_len
        self._children: Optional[list[Tlv]] = None

    @property
    def header(self) -> bytes:
        """Tag and length octets exactly as received (BPP segmentation sends them alone)."""
        return self.raw[: self.header_len]

    def children(self) -> list["Tlv"]:
        if not self.constructed:
            raise DerError("tag %X is primitive: no children" % self.tag)
        if self._children is None:
            self._children = decode_all(self.value)
        return self._children

    def find(self, tag: int) -> Optional["Tlv"]:
        for c in self.children():
            if c.tag == tag:
                return c
        return None

    def find_all(self, tag: int) -> list["Tlv"]:
        return [c for c in self.children() if c.tag == tag]

    def __repr__(self) -> str:
        v = self.value.hex()
        if len(v) > 40:
            v = v[:40] + "..."
        return "Tlv(%X, %d bytes, %s)" % (self.tag, len(self.value), v)


def decode_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, offset of the value, value length) of the TLV at `offset`; the value itself need not
    be present (a BPP segment carries a container's tag and length before its content)."""
    tag, pos, _constructed = _read_tag(data, offset)
    length, pos = _read_length(data, pos)
    return tag, pos, length


def read_tags(data: bytes) -> list[int]:
    """A concatenation of tags, e.g. the value of a tagList (5C)."""
    tags = []
    pos = 0
    while pos < len(data):
        tag, pos, _constructed = _read_tag(data, pos)
        tags.append(tag)
    return tags


def decode_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """Decode the TLV starting at `offset`; return it and the offset just after it."""
    data = bytes(data)
    tag, pos, constructed = _read_tag(data, offset)
    length, pos = _read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise DerError("value of tag %X overruns input (%d > %d)" % (tag, end, len(data)))
    return Tlv(tag, data[pos:end], data[offset:end], constructed, pos - offset), end


def decode(data: bytes) -> Tlv:
    """Decode exactly one TLV; trailing bytes are an error."""
    tlv, end = decode_one(data, 0)
    if end != len(data):
        raise DerError("%d trailing bytes after tag %X" % (len(data) - end, tlv.tag))
    return tlv


def decode_all(data: bytes) -> list[Tlv]:
    out = []
    offset = 0
    data = bytes(data)
    while offset < len(data):
        tlv, offset = decode_one(data, offset)
        out.append(tlv)
    return out


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise DerError("negative tag")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(n: int) -> bytes:
    if n < 0:
        raise DerError("negative length")
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def encode(tag: int, value: Union[bytes, bytearray, Sequence[bytes]] = b"") -> bytes:
    """Encode one TLV; `value` is the content bytes or a list of already encoded children."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        body = bytes(value)
    else:
        body = b"".join(bytes(v) for v in value)
    return encode_tag(tag) + encode_length(len(body)) + body


def encode_int(n: int) -> bytes:
    """Content octets of a DER INTEGER (minimal two's complement)."""
    length = 1
    while True:
        try:
            return n.to_bytes(length, "big", signed=True)
        except OverflowError:
            length += 1


def decode_int(value: bytes) -> int:
    if not value:
        raise DerError("empty INTEGER")
    if len(value) > 1 and (
        (value[0] == 0x00 and not value[1] & 0x80) or (value[0] == 0xFF and value[1] & 0x80)
    ):
        raise DerError("non-minimal INTEGER")
    return int.from_bytes(value, "big", signed=True)


def encode_bits(bit_positions: Iterable[int], nbits: int) -> bytes:
    """Content octets of a DER BIT STRING with named bits: trailing zero bits are dropped (X.690
    11.2.2), so install(0) of NotificationEvent is `07 80` and an empty set is `00`."""
    positions = sorted(set(bit_positions))
    for p in positions:
        if p < 0 or p >= nbits:
            raise DerError("bit %d outside 0..%d" % (p, nbits - 1))
    if not positions:
        return b"\x00"
    used = positions[-1] + 1
    nbytes = (used + 7) // 8
    buf = bytearray(nbytes)
    for p in positions:
        buf[p // 8] |= 0x80 >> (p % 8)
    return bytes([nbytes * 8 - used]) + bytes(buf)


def decode_bits(value: bytes) -> set[int]:
    """Set bit positions of BIT STRING content octets (bit 0 = most significant bit of octet 1)."""
    if not value:
        raise DerError("empty BIT STRING")
    unused = value[0]
    if unused > 7 or (unused and len(value) == 1):
        raise DerError("bad unused-bits count %d" % unused)
    out = set()
    body = value[1:]
    total = len(body) * 8 - unused
    for i in range(total):
        if body[i // 8] & (0x80 >> (i % 8)):
            out.add(i)
    return out


def encode_oid(dotted: str) -> bytes:
    """Content octets of an OBJECT IDENTIFIER."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise DerError("bad OID %s" % dotted)
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_oid(value: bytes) -> str:
    if not value or value[-1] & 0x80:
        raise DerError("bad OID encoding")
    arcs = []
    n = 0
    for b in value:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(n)
            n = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def _bcd_digits(digits: str, swap: bool, nbytes: int) -> bytes:
    if not digits or len(digits) > 2 * nbytes or not all(c in "0123456789" for c in digits):
        raise DerError("bad BCD digit string %r" % digits)
    digits = digits + "F" * (2 * nbytes - len(digits))
    if swap:
        digits = "".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2))
    return bytes.fromhex(digits)


def iccid_to_bcd(iccid: str) -> bytes:
    """ICCID digits → the 10 bytes of EF_ICCID / tag 5A (nibble-swapped, F-padded)."""
    return _bcd_digits(iccid, True, 10)


def iccid_from_bcd(data: bytes) -> str:
    if len(data) != 10:
        raise DerError("ICCID must be 10 bytes")
    h = data.hex().upper()
    digits = "".join(h[i + 1] + h[i] for i in range(0, len(h), 2)).rstrip("F")
    if not digits.isdigit():
        raise DerError("ICCID is not BCD: %s" % h)
    return digits


def eid_to_bytes(eid: str) -> bytes:
    """32-digit EID → 16 bytes, plain BCD (not swapped)."""
    if len(eid) != 32 or not eid.isdigit():
        raise DerError("EID must be 32 digits")
    return bytes.fromhex(eid)


def eid_from_bytes(data: bytes) -> str:
    if len(data) != 16:
        raise DerError("EID must be 16 bytes")
    return data.hex()
