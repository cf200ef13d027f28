# ES8+ side of the test SM-DP+: profile metadata (BF25) and Bound Profile Package (BF36) construction.
"""Pure functions, no I/O: what the SM-DP+ signs and encrypts when it binds a profile.

SGP22-CRYPTO.md §2 (smdpSign input), §4 (key agreement), §5 (SCP03t, 1020-byte limit).
"""

import os

from esimtest import crypto, der
from esimtest.scp03t import ScpChannel, segment_payload

# Largest plaintext per 86/87 block so that the TLV stays within 1020 bytes (1007 -> 1008 padded
# -> L = 1016 -> 86 82 03 F8 + 1016). 88 blocks carry no padding: 1008 bytes.
MAX_PLAIN_ENC = 1007
MAX_PLAIN_MAC = 1008
MAX_SEGMENT = 1020

PROFILE_CLASSES = {"test": 0, "provisioning": 1, "operational": 2}
EVENTS = {"install": 0, "enable": 1, "disable": 2, "delete": 3}
PPR_BITS = {"pprUpdateControl": 0, "ppr1": 1, "ppr2": 2}
ICON_TYPES = {"jpg": 0, "png": 1}


def notification_config(entries):
    """B6 NotificationConfigurationInformation from [{"events": [...], "address": "..."}]."""
    items = []
    for e in entries:
        bits = der.encode_bits([EVENTS[name] for name in e["events"]], 4)
        items.append(der.encode(0x30, [der.encode(0x80, bits), der.encode(0x81, e["address"].encode("utf-8"))]))
    return der.encode(0xB6, items)


def build_metadata(
    iccid,
    service_provider_name="",
    profile_name="",
    icon_type=None,
    icon=None,
    profile_class="operational",
    notifications=None,
    profile_owner=None,
    pprs=(),
):
    """StoreMetadataRequest BF25 in the ASN.1 member order (5A 91 92 93 94 95 B6 B7 99)."""
    parts = [
        der.encode(0x5A, der.iccid_to_bcd(iccid)),
        der.encode(0x91, service_provider_name.encode("utf-8")),
        der.encode(0x92, profile_name.encode("utf-8")),
    ]
    if icon is not None:
        parts.append(der.encode(0x93, der.encode_int(ICON_TYPES.get(icon_type, icon_type or 0))))
        parts.append(der.encode(0x94, icon))
    cls = PROFILE_CLASSES[profile_class] if isinstance(profile_class, str) else int(profile_class)
    parts.append(der.encode(0x95, der.encode_int(cls)))
    if notifications:
        parts.append(notification_config(notifications))
    if profile_owner:
        owner = [der.encode(0x80, bytes.fromhex(profile_owner["mccMnc"]))]
        if profile_owner.get("gid1"):
            owner.append(der.encode(0x81, bytes.fromhex(profile_owner["gid1"])))
        if profile_owner.get("gid2"):
            owner.append(der.encode(0x82, bytes.fromhex(profile_owner["gid2"])))
        parts.append(der.encode(0xB7, owner))
    if pprs:
        parts.append(der.encode(0x99, der.encode_bits([PPR_BITS[p] for p in pprs], 3)))
    return der.encode(0xBF25, parts)


def new_ppk():
    """Random profile protection keys (ppk_enc, ppk_mac, initial MCV) for ReplaceSessionKeys."""
    return os.urandom(16), os.urandom(16), os.urandom(16)


def protect_profile(upp, ppk, max_plain=MAX_PLAIN_ENC):
    """The 86 blocks of a Protected Profile Package: made once per profile, reused for every
    binding, because with ReplaceSessionKeys they do not depend on the session."""
    ch = ScpChannel(ppk[0], ppk[1], ppk[2], 1)
    return [ch.protect(0x86, s) for s in segment_payload(upp, max_plain)]


def initialise_secure_channel(tid, host_id, smdp_otpk, euicc_otpk, dppb_key):
    """BF23 with smdpSign over its first four members ‖ 5F49 euiccOtpk (SGP22-CRYPTO.md §2)."""
    body = (
        der.encode(0x82, b"\x01")
        + der.encode(0x80, tid)
        + der.encode(0xA6, [der.encode(0x80, b"\x88"), der.encode(0x81, b"\x10"), der.encode(0x84, host_id)])
        + der.encode(0x5F49, smdp_otpk)
    )
    sig = crypto.sign_raw(dppb_key, body + der.encode(0x5F49, euicc_otpk))
    return der.encode(0xBF23, body + der.encode(0x5F37, sig))


class BoundPackage:
    """A BPP and its parts, kept separate so tests and tamper faults can address each one."""

    def __init__(self, bf23, a0, a1, a2, a3):
        self.bf23, self.a0, self.a1, self.a2, self.a3 = bf23, a0, a1, a2, a3

    def encode(self):
        parts = [self.bf23, self.a0, self.a1] + ([self.a2] if self.a2 is not None else []) + [self.a3]
        return der.encode(0xBF36, parts)


def bind(
    upp_blocks_or_upp,
    metadata,
    tid,
    eid,
    euicc_otpk,
    dppb_key,
    *,
    ppk=None,
    smdp_ot_key=None,
    host_id=b"esimd-test-smdp",
    max_plain=MAX_PLAIN_ENC,
):
    """Bind a profile to one session (ES8+): key agreement, BF23, 87/88 session blocks and the 86s.

    With `ppk` (ReplaceSessionKeys mode) `upp_blocks_or_upp` is the list of pre-protected 86 TLVs
    from protect_profile() and A2 carries the PPKs; with ppk=None (session-key mode) it is the
    UPP bytes and the 86 blocks continue the session channel after the last 88.
    `smdp_ot_key` is a test-only hook (inject a recorded one-time key); normally it is fresh.
    """
    if smdp_ot_key is None:
        smdp_ot_key, _ = crypto.gen_ot_keypair("secp256r1")
    smdp_otpk = crypto.point_of(smdp_ot_key.public_key())
    z = crypto.ecdh(smdp_ot_key, euicc_otpk)
    mcv, s_enc, s_mac = crypto.session_keys(z, host_id, der.eid_to_bytes(eid))
    ch = ScpChannel(s_enc, s_mac, mcv, 1)
    bf23 = initialise_secure_channel(tid, host_id, smdp_otpk, euicc_otpk, dppb_key)
    a0 = der.encode(0xA0, ch.protect(0x87, der.encode(0xBF24, b"")))
    a1 = der.encode(0xA1, [ch.protect(0x88, s) for s in segment_payload(metadata, MAX_PLAIN_MAC)])
    if ppk is not None:
        rsk = der.encode(0xBF26, [der.encode(0x80, ppk[2]), der.encode(0x81, ppk[0]), der.encode(0x82, ppk[1])])
        a2 = der.encode(0xA2, ch.protect(0x87, rsk))
        a3 = der.encode(0xA3, list(upp_blocks_or_upp))
    else:
        a2 = None
        a3 = der.encode(0xA3, [ch.protect(0x86, s) for s in segment_payload(upp_blocks_or_upp, max_plain)])
    return BoundPackage(bf23, a0, a1, a2, a3)


def flip_last_byte(tlv):
    """Corrupt a TLV's value without touching its tag or length (structure stays decodable)."""
    return tlv[:-1] + bytes([tlv[-1] ^ 0x01])


def tamper(bpp, what):
    """Return a copy of `bpp` with one protected element corrupted (negative tests of the eUICC).

    bf23: a byte of smdpSign; mac87: the MAC of ConfigureISDP; mac88: the MAC of the first
    StoreMetadata block; mac: the MAC of the first 86 block; ciphertext: a byte of the first 86's
    ciphertext (its MAC then fails too).
    """
    out = BoundPackage(bpp.bf23, bpp.a0, bpp.a1, bpp.a2, bpp.a3)
    if what == "bf23":
        out.bf23 = flip_last_byte(bpp.bf23)
    elif what == "mac87":
        out.a0 = flip_last_byte(bpp.a0)
    elif what in ("mac88", "mac", "ciphertext"):
        seq = der.decode(bpp.a1 if what == "mac88" else bpp.a3)
        kids = [c.raw for c in seq.children()]
        if what == "ciphertext":
            t = der.decode(kids[0])
            pos = t.header_len  # first ciphertext byte
            kids[0] = kids[0][:pos] + bytes([kids[0][pos] ^ 0x01]) + kids[0][pos + 1 :]
        else:
            kids[0] = flip_last_byte(kids[0])
        if what == "mac88":
            out.a1 = der.encode(0xA1, kids)
        else:
            out.a3 = der.encode(0xA3, kids)
    else:
        raise ValueError("unknown BPP tamper target %r" % what)
    return out
