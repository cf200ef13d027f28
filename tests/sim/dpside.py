"""SM-DP+-side inputs for the eUICC tests, with hooks to tamper with every signed field.

serverSigned1, smdpSigned2, BF23 and bound BPPs are built with esimtest's crypto: the same maths as
an SM-DP+."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from esimtest import crypto, der
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from esimtest.scp03t import MAX_PLAIN_ENC, MAX_PLAIN_MAC, ScpChannel, segment_payload

SMDP_ADDRESS = "testsmdpplus1.example.com"


def ctx_params1(matching_id: Optional[str] = "ABC-123", tac: bytes = b"\x35\x29\x06\x11") -> bytes:
    """CtxParamsForCommonAuthentication (A0) with an optional matchingId and a TAC."""
    parts = [der.encode(0x80, matching_id.encode())] if matching_id is not None else []
    parts.append(der.encode(0xA1, [der.encode(0x80, tac), der.encode(0xA1, b"")]))
    return der.encode(0xA0, parts)


def metadata(iccid: str, spn: str = "Test Operator", name: str = "Test Plan", profile_class: Optional[int] = None,
             nci: Optional[list] = None, owner: Optional[bytes] = None, ppr: Optional[list] = None,
             icon: Optional[bytes] = None) -> bytes:
    """StoreMetadataRequest BF25. nci: [(event bit list, address)]; owner: mccMnc (3 bytes)."""
    parts = [der.encode(0x5A, der.iccid_to_bcd(iccid)), der.encode(0x91, spn.encode()), der.encode(0x92, name.encode())]
    if icon is not None:
        parts += [der.encode(0x93, der.encode_int(1)), der.encode(0x94, icon)]
    if profile_class is not None:
        parts.append(der.encode(0x95, der.encode_int(profile_class)))
    if nci:
        parts.append(der.encode(0xB6, [der.encode(0x30, [der.encode(0x80, der.encode_bits(bits, 4)), der.encode(0x81, addr.encode())])
                                       for bits, addr in nci]))
    if owner is not None:
        parts.append(der.encode(0xB7, der.encode(0x80, owner)))
    if ppr:
        parts.append(der.encode(0x99, der.encode_bits(ppr, 3)))
    return der.encode(0xBF25, parts)


def protect_unpadded(ch: ScpChannel, tag: int, padded: bytes) -> bytes:
    """Encrypt and MAC like ScpChannel.protect but without adding padding: a correctly MACed
    block whose plaintext structure is wrong (scp03tStructureError on the eUICC)."""
    enc = Cipher(algorithms.AES(ch.s_enc), modes.CBC(ch.icv())).encryptor()
    body = enc.update(padded) + enc.finalize()
    header = bytes([tag]) + der.encode_length(len(body) + 8)
    c = cmac.CMAC(algorithms.AES(ch.s_mac))
    c.update(ch.mcv + header + body)
    full = c.finalize()
    ch.mcv = full
    ch.counter += 1
    return header + body + full[:8]


@dataclass
class BppParts:
    """The pieces of a BPP, each as the exact bytes that go on the wire, so a test can alter one
    before assembling. a1/a3 hold the 88/86 TLVs."""

    bf23: bytes
    a0: bytes
    a1: list
    a2: Optional[bytes]
    a3: list
    upp: bytes = b""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_bpp(cls, bpp: bytes) -> "BppParts":
        """Split a received BF36 (e.g. a recorded one) back into its parts, bytes unchanged."""
        t = der.decode(bpp)
        if t.tag != 0xBF36:
            raise der.DerError("not a BoundProfilePackage")
        a2 = t.find(0xA2)
        return cls(t.find(0xBF23).raw, t.find(0xA0).raw, [c.raw for c in t.find(0xA1).children()],
                   a2.raw if a2 is not None else None, [c.raw for c in t.find(0xA3).children()])

    def body(self) -> bytes:
        out = self.bf23 + self.a0 + der.encode(0xA1, self.a1)
        if self.a2 is not None:
            out += self.a2
        return out + der.encode(0xA3, self.a3)

    def bpp(self) -> bytes:
        return der.encode(0xBF36, self.body())

    def segments(self) -> list:
        """SGP.22 §2.5.5: BF36 header + BF23, A0 whole, A1 header, each 88, A2 whole, A3 header, each 86."""
        bf36_header = der.encode_tag(0xBF36) + der.encode_length(len(self.body()))
        a1 = der.encode(0xA1, self.a1)
        a3 = der.encode(0xA3, self.a3)
        segs = [bf36_header + self.bf23, self.a0, a1[: len(a1) - sum(map(len, self.a1))]]
        segs += list(self.a1)
        if self.a2 is not None:
            segs.append(self.a2)
        segs.append(a3[: len(a3) - sum(map(len, self.a3))])
        return segs + list(self.a3)


class DpSide:
    """One test SM-DP+ identity (DPauth + DPpb keys) and its per-session computations."""

    def __init__(self, pki: dict, prefix: str = "", address: str = SMDP_ADDRESS):
        self.dpauth = crypto.load_cert(pki[prefix + "dpauth"])
        self.dpauth_key = crypto.load_key(pki[prefix + "dpauth_key"])
        self.dppb = crypto.load_cert(pki[prefix + "dppb"])
        self.dppb_key = crypto.load_key(pki[prefix + "dppb_key"])
        self.ci_ski = crypto.aki(self.dpauth)
        self.address = address

    def server_signed1(self, tid: bytes, challenge: bytes, server_challenge: Optional[bytes] = None,
                       address: Optional[str] = None) -> bytes:
        return der.encode(0x30, [der.encode(0x80, tid), der.encode(0x81, challenge),
                                 der.encode(0x83, (address or self.address).encode()),
                                 der.encode(0x84, server_challenge or os.urandom(16))])

    def authenticate_server(self, challenge: bytes, tid: Optional[bytes] = None, *, signed1: Optional[bytes] = None,
                            signature1: Optional[bytes] = None, ci_ski: Optional[bytes] = None,
                            cert: Optional[bytes] = None, ctx: Optional[bytes] = None, key=None) -> tuple[bytes, bytes]:
        """(AuthenticateServerRequest BF38, serverSigned1). Any member can be replaced."""
        tid = tid or os.urandom(16)
        signed1 = signed1 or self.server_signed1(tid, challenge)
        if signature1 is None:
            signature1 = crypto.signature_do(crypto.sign_raw(key or self.dpauth_key, signed1))
        req = der.encode(0xBF38, [signed1, signature1, der.encode(0x04, ci_ski or self.ci_ski),
                                  cert or crypto.cert_der(self.dpauth), ctx if ctx is not None else ctx_params1()])
        return req, signed1

    def smdp_signed2(self, tid: bytes, cc_required: bool = False, bpp_otpk: Optional[bytes] = None) -> bytes:
        parts = [der.encode(0x80, tid), der.encode(0x01, b"\xff" if cc_required else b"\x00")]
        if bpp_otpk is not None:
            parts.append(der.encode(0x5F49, bpp_otpk))
        return der.encode(0x30, parts)

    def prepare_download(self, tid: bytes, euicc_signature1: bytes, *, cc_required: bool = False,
                         hash_cc: Optional[bytes] = None, signed2: Optional[bytes] = None,
                         signature2: Optional[bytes] = None, cert: Optional[bytes] = None, key=None,
                         bpp_otpk: Optional[bytes] = None) -> tuple[bytes, bytes]:
        """(PrepareDownloadRequest BF21, smdpSignature2 DO); the signature chains euiccSignature1."""
        signed2 = signed2 or self.smdp_signed2(tid, cc_required, bpp_otpk)
        if signature2 is None:
            signature2 = crypto.signature_do(crypto.sign_raw(key or self.dppb_key, signed2 + euicc_signature1))
        parts = [signed2, signature2]
        if hash_cc is not None:
            parts.append(der.encode(0x04, hash_cc))
        parts.append(cert or crypto.cert_der(self.dppb))
        return der.encode(0xBF21, parts), signature2

    def bf23(self, tid: bytes, euicc_otpk: bytes, host_id: bytes, smdp_priv, *, remote_op: bytes = b"\x01",
             crt: Optional[bytes] = None, key=None) -> bytes:
        """InitialiseSecureChannelRequest; smdpSign covers the first four members and 5F49 euiccOtpk."""
        members = [der.encode(0x82, remote_op), der.encode(0x80, tid),
                   crt or der.encode(0xA6, [der.encode(0x80, b"\x88"), der.encode(0x81, b"\x10"), der.encode(0x84, host_id)]),
                   der.encode(0x5F49, crypto.point_of(smdp_priv))]
        signed = b"".join(members) + der.encode(0x5F49, euicc_otpk)
        sig = crypto.signature_do(crypto.sign_raw(key or self.dppb_key, signed))
        return der.encode(0xBF23, members + [sig])

    def bind(self, tid: bytes, euicc_otpk: bytes, metadata_bf25: bytes, upp: bytes, *, session_keys_mode: bool = False,
             host_id: bytes = b"esimd-test", eid_bytes: bytes, plain_86: int = MAX_PLAIN_ENC,
             configure_isdp: bytes = b"\xbf\x24\x00", bf23: Optional[bytes] = None,
             unpadded_last_86: Optional[bytes] = None) -> BppParts:
        """A complete BPP for this eUICC. With ReplaceSessionKeys (default) the 86 blocks use fresh
        PPKs and restart the counter; in session-keys mode they continue the session channel."""
        smdp_priv, _pub = crypto.gen_ot_keypair(crypto.curve_of(self.dppb))
        z = crypto.ecdh(smdp_priv, euicc_otpk)
        mcv, s_enc, s_mac = crypto.session_keys(z, host_id, eid_bytes)
        ch = ScpChannel(s_enc, s_mac, mcv)
        bf23 = bf23 or self.bf23(tid, euicc_otpk, host_id, smdp_priv)
        a0 = der.encode(0xA0, ch.protect(0x87, configure_isdp))
        a1 = [ch.protect(0x88, s) for s in segment_payload(metadata_bf25, MAX_PLAIN_MAC)]
        a2 = None
        upp_channel = ch
        if not session_keys_mode:
            ppk_enc, ppk_mac, ppk_mcv = os.urandom(16), os.urandom(16), os.urandom(16)
            rsk = der.encode(0xBF26, [der.encode(0x80, ppk_mcv), der.encode(0x81, ppk_enc), der.encode(0x82, ppk_mac)])
            a2 = der.encode(0xA2, ch.protect(0x87, rsk))
            upp_channel = ScpChannel(ppk_enc, ppk_mac, ppk_mcv)
        a3 = [upp_channel.protect(0x86, s) for s in segment_payload(upp, plain_86)]
        if unpadded_last_86 is not None:
            a3.append(protect_unpadded(upp_channel, 0x86, unpadded_last_86))
        return BppParts(bf23, a0, a1, a2, a3, upp, {"session": ch, "upp_channel": upp_channel, "smdp_priv": smdp_priv,
                                                   "host_id": host_id, "s_enc": s_enc, "s_mac": s_mac})
