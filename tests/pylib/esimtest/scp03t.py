"""SCP03t (BSP) protection of the 86/87/88 TLVs of a Bound Profile Package, both directions."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import der

TAG_ENC_FIRST = 0x87
TAG_MAC_ONLY = 0x88
TAG_ENC_PROFILE = 0x86
_TAGS = (TAG_ENC_PROFILE, TAG_ENC_FIRST, TAG_MAC_ONLY)

# SGP.22 §2.5.3: a segment is at most 1020 bytes with tag, length and MAC → 1007 plaintext bytes
# for 86/87 (padding to 1008) and 1008 for 88.
MAX_PLAIN_ENC = 1007
MAX_PLAIN_MAC = 1008


class ScpSecurityError(Exception):
    """The MAC does not verify (errorReason scp03tSecurityError(8))."""


class ScpStructureError(Exception):
    """Bad TLV shape, block length or padding (errorReason scp03tStructureError(7))."""


def _cmac(key: bytes, data: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _ecb(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def pad80(data: bytes) -> bytes:
    """ISO 9797-1 method 2: always adds 80 and zeros up to a 16-byte multiple (1..16 bytes)."""
    n = 16 - (len(data) % 16)
    return data + b"\x80" + b"\x00" * (n - 1)


def unpad80(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= 16:
        raise ScpStructureError("bad padding")
    return stripped[:-1]


class ScpChannel:
    """One direction of an SCP03t session: keys, MAC chaining value and block counter."""

    def __init__(self, s_enc: bytes, s_mac: bytes, mcv: bytes, counter: int = 1):
        if len(s_enc) != 16 or len(s_mac) != 16 or len(mcv) != 16:
            raise ValueError("SCP03t keys and MCV are 16 bytes")
        self.s_enc = bytes(s_enc)
        self.s_mac = bytes(s_mac)
        self.mcv = bytes(mcv)
        self.counter = counter

    def icv(self) -> bytes:
        return _ecb(self.s_enc, self.counter.to_bytes(16, "big"))

    def _mac(self, tag: int, body: bytes) -> bytes:
        """Full CMAC over MCV ‖ tag ‖ L ‖ body, where L counts the 8 MAC bytes too."""
        header = bytes([tag]) + der.encode_length(len(body) + 8)
        return _cmac(self.s_mac, self.mcv + header + body)

    def protect(self, tag: int, plaintext: bytes) -> bytes:
        """86/87: encrypt then MAC; 88: MAC only. The counter advances either way."""
        if tag not in _TAGS:
            raise ValueError("SCP03t tag must be 86, 87 or 88")
        if tag == TAG_MAC_ONLY:
            body = bytes(plaintext)
        else:
            enc = Cipher(algorithms.AES(self.s_enc), modes.CBC(self.icv())).encryptor()
            body = enc.update(pad80(bytes(plaintext))) + enc.finalize()
        full = self._mac(tag, body)
        self.mcv = full
        self.counter += 1
        return bytes([tag]) + der.encode_length(len(body) + 8) + body + full[:8]

    def unprotect(self, tlv_bytes: bytes) -> bytes:
        """Check the MAC first (constant time), then decrypt and unpad. Raises ScpSecurityError or
        ScpStructureError; on error the channel state is left unchanged."""
        try:
            tlv = der.decode(tlv_bytes)
        except der.DerError as e:
            raise ScpStructureError(str(e)) from e
        if tlv.tag not in _TAGS:
            raise ScpStructureError("unexpected tag %X" % tlv.tag)
        if len(tlv.value) < 8:
            raise ScpStructureError("block shorter than its MAC")
        body, mac = tlv.value[:-8], tlv.value[-8:]
        full = self._mac(tlv.tag, body)
        if not hmac.compare_digest(full[:8], mac):
            raise ScpSecurityError("MAC mismatch")
        if tlv.tag == TAG_MAC_ONLY:
            plain = body
        else:
            if not body or len(body) % 16:
                raise ScpStructureError("ciphertext length %d is not a positive multiple of 16" % len(body))
            dec = Cipher(algorithms.AES(self.s_enc), modes.CBC(self.icv())).decryptor()
            plain = unpad80(dec.update(body) + dec.finalize())
        self.mcv = full
        self.counter += 1
        return plain


def segment_payload(data: bytes, max_plain: int) -> list[bytes]:
    """Cut a byte stream into slices of at most max_plain bytes (BPP slices ignore TLV bounds)."""
    if max_plain <= 0:
        raise ValueError("max_plain must be positive")
    return [bytes(data[i : i + max_plain]) for i in range(0, len(data), max_plain)] or [b""]
