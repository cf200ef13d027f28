"""The eUICC side of a profile download (SGP22-CRYPTO.md §2–§5).

AuthenticateServer, PrepareDownload, CancelSession and the LoadBoundProfilePackage state machine."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from cryptography.hazmat.primitives.asymmetric import ec

from esimtest import crypto, der, scp03t

from . import codes as C

if TYPE_CHECKING:
    from .euicc import Euicc

log = logging.getLogger("esim-sim.download")

SUPPORTED_CURVES = (ec.SECP256R1, ec.BrainpoolP256R1)
# osmo-smdpp cuts plaintext at 1008 bytes, giving 1036-byte 86 TLVs; accept them (CRYPTO §5).
MAX_SCP_TLV = 1036


class PirError(Exception):
    """Ends the load with errorResult {bppCommandId, errorReason}."""

    def __init__(self, command: int, reason: int, detail: str):
        super().__init__(detail)
        self.command = command
        self.reason = reason


@dataclass
class Session:
    stage: str  # challenge, authenticated, prepared, loading, interrupted
    challenge: bytes = b""
    tid: bytes = b""
    server_address: str = ""
    server_challenge: bytes = b""
    smdp_oid: str = ""
    server_role: str = ""
    euicc_signature1: bytes = b""  # the 5F37 DO, chained into smdpSignature2
    dppb: object = None
    ot_priv: Optional[ec.EllipticCurvePrivateKey] = None
    ot_pub: bytes = b""
    started: float = field(default_factory=time.time)


@dataclass
class Load:
    """One LoadBoundProfilePackage in progress. Nothing becomes visible before finish()."""

    channel: int
    step: str = "bf36"
    bf36_len: int = 0
    consumed: int = 0
    remaining: int = 0
    scp: Optional[scp03t.ScpChannel] = None
    ppk: Optional[scp03t.ScpChannel] = None
    dp_proprietary: Optional[bytes] = None
    metadata_buf: bytearray = field(default_factory=bytearray)
    metadata: Optional[der.Tlv] = None
    iccid: Optional[str] = None
    upp: bytearray = field(default_factory=bytearray)
    segments: int = 0
    n88: int = 0
    n86: int = 0


class DownloadEngine:
    def __init__(self, euicc: "Euicc"):
        self.euicc = euicc
        self.session: Optional[Session] = None
        self.load: Optional[Load] = None
        self.last_cancelled: Optional[dict] = None
        self.last_interrupted: Optional[dict] = None
        self.injected_ot_key: Optional[ec.EllipticCurvePrivateKey] = None
        # The last one-time pair, kept for an SM-DP+ that re-offers a BPP bound to it (bppEuiccOtpk).
        self.previous_ot: Optional[tuple[ec.EllipticCurvePrivateKey, bytes]] = None
        self.pir_count = 0
        self.install_count = 0  # profiles installed (a 'drop' fault with installed fires then)

    @property
    def ids(self):
        return self.euicc.identity

    def describe(self) -> Optional[dict]:
        s = self.session
        if s is None:
            return None
        out = {"stage": s.stage, "transaction_id": s.tid.hex().upper() or None, "server_address": s.server_address or None,
               "smdp_oid": s.smdp_oid or None, "server_role": s.server_role or None}
        if self.load is not None:
            out["load"] = {"step": self.load.step, "segments": self.load.segments, "channel": self.load.channel,
                           "metadata_blocks": self.load.n88, "profile_blocks": self.load.n86}
        return out

    # ------------------------------------------------------------- session lifecycle
    def new_challenge(self, challenge: bytes) -> None:
        if self.session is not None and self.session.stage != "challenge":
            log.info("new challenge replaces session in stage %s", self.session.stage)
        self._drop_load()
        self.session = Session(stage="challenge", challenge=challenge)

    def _drop_load(self) -> None:
        self.load = None

    def interrupt(self, why: str) -> None:
        """Card reset: volatile state is gone, the partial profile with it."""
        if self.load is not None or self.session is not None:
            self.last_interrupted = {"why": why, "stage": self.session.stage if self.session else None,
                                     "load_step": self.load.step if self.load else None, "time": time.time()}
            log.info("session interrupted: %s", why)
        self._drop_load()
        self.session = None

    def channel_closed(self, channel: int) -> None:
        """The channel carrying a load went away: the load is lost (the profile never appears),
        the session stays so the LPA can still cancel it with loadBppExecutionError."""
        if self.load is not None and self.load.channel == channel:
            self.last_interrupted = {"why": "channel %d closed" % channel, "stage": "loading",
                                     "load_step": self.load.step, "time": time.time()}
            log.info("profile load interrupted: channel %d closed at step %s", channel, self.load.step)
            self._drop_load()
            if self.session is not None:
                self.session.stage = "interrupted"

    def _server_certificate(self, cert_tlv: der.Tlv, roles: set):
        """(certificate, 0) when it chains to a trusted CI in one of the roles, else (None,
        invalidCertificate or unsupportedCurve) — the same codes in ES10b AuthenticateServer and
        PrepareDownload."""
        try:
            cert = crypto.load_cert(cert_tlv.raw)
        except ValueError:
            return None, C.AUTH_INVALID_CERTIFICATE
        if not isinstance(crypto.curve_of(cert), SUPPORTED_CURVES):
            return None, C.AUTH_UNSUPPORTED_CURVE
        try:
            crypto.check_chain(cert, [], self.ids.cis, roles)
        except crypto.ChainError as e:
            log.info("server certificate refused: %s", e)
            return None, C.AUTH_INVALID_CERTIFICATE
        return cert, 0

    @staticmethod
    def error_alternative(tag: int, tid: bytes, code: int) -> bytes:
        log.info("%X refused: error %d", tag, code)
        return der.encode(tag, der.encode(0xA1, [der.encode(0x80, tid), der.encode(0x02, der.encode_int(code))]))

    # ------------------------------------------------------------- AuthenticateServer
    def authenticate_server(self, req: der.Tlv) -> bytes:
        from .euicc import MalformedRequest

        kids = req.children()
        if len(kids) < 5 or [k.tag for k in kids[:5]] != [0x30, 0x5F37, 0x04, 0x30, 0xA0]:
            raise MalformedRequest("AuthenticateServer members")
        signed1, sig1, ci_id, cert_tlv, ctx = kids[:5]
        tid = signed1.find(0x80)
        chal = signed1.find(0x81)
        addr = signed1.find(0x83)
        srv_chal = signed1.find(0x84)
        if None in (tid, chal, addr, srv_chal):
            raise MalformedRequest("serverSigned1 members")

        def error(code: int) -> bytes:
            return self.error_alternative(C.AUTHENTICATE_SERVER, tid.value, code)

        s = self.session
        if s is None or s.stage != "challenge":
            return error(C.AUTH_NO_SESSION)
        # A challenge answers one AuthenticateServer only, whatever the outcome (no replay).
        self.session = None
        cert, code = self._server_certificate(cert_tlv, {crypto.ROLE_DP_AUTH, crypto.ROLE_DS_AUTH})
        if code:
            return error(code)
        oid = crypto.registered_id(cert)
        if not oid:
            return error(C.AUTH_INVALID_OID)
        if ci_id.value not in self.ids.signing_skis:
            return error(C.AUTH_CI_PK_UNKNOWN)
        if not crypto.verify_raw(cert, signed1.raw, sig1.value):
            return error(C.AUTH_INVALID_SIGNATURE)
        if chal.value != s.challenge:
            return error(C.AUTH_CHALLENGE_MISMATCH)
        try:
            address = addr.value.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest("serverAddress is not UTF-8")
        role = "ds" if crypto.ROLE_DS_AUTH in crypto.policy_oids(cert) else "dp"
        euicc_signed1 = der.encode(
            0x30,
            [
                der.encode(0x80, tid.value),
                der.encode(0x83, addr.value),
                der.encode(0x84, srv_chal.value),
                self.euicc.euicc_info2(),
                ctx.raw,
            ],
        )
        sig = self.ids.sign(euicc_signed1)
        self.session = Session(stage="authenticated", tid=tid.value, server_address=address, server_challenge=srv_chal.value,
                               smdp_oid=oid, server_role=role, euicc_signature1=sig)
        log.info("server authenticated (role %s, oid %s)", role, oid)
        return der.encode(
            C.AUTHENTICATE_SERVER,
            der.encode(0xA0, [euicc_signed1, sig, self.ids.euicc_cert_der, self.ids.eum_cert_der]),
        )

    # ------------------------------------------------------------- PrepareDownload
    def prepare_download(self, req: der.Tlv) -> bytes:
        from .euicc import MalformedRequest

        kids = req.children()
        tags = [k.tag for k in kids]
        if tags not in ([0x30, 0x5F37, 0x30], [0x30, 0x5F37, 0x04, 0x30]):
            raise MalformedRequest("PrepareDownload members")
        signed2, sig2 = kids[0], kids[1]
        hash_cc = kids[2] if len(kids) == 4 else None
        cert_tlv = kids[-1]
        tid = signed2.find(0x80)
        cc_flag = signed2.find(0x01)
        bpp_otpk = signed2.find(0x5F49)
        if tid is None or cc_flag is None or len(cc_flag.value) != 1:
            raise MalformedRequest("smdpSigned2 members")
        if hash_cc is not None and len(hash_cc.value) != 32:
            raise MalformedRequest("hashCc must be 32 bytes")

        def error(code: int) -> bytes:
            return self.error_alternative(C.PREPARE_DOWNLOAD, tid.value, code)

        s = self.session
        if s is None or s.stage != "authenticated" or s.server_role != "dp":
            return error(C.AUTH_NO_SESSION)
        cert, code = self._server_certificate(cert_tlv, {crypto.ROLE_DP_PB})
        if code:
            return error(code)
        if crypto.registered_id(cert) != s.smdp_oid:
            log.info("CERT.DPpb belongs to another SM-DP+ than CERT.DPauth")
            return error(C.AUTH_INVALID_CERTIFICATE)
        if not crypto.verify_raw(cert, signed2.raw + s.euicc_signature1, sig2.value):
            return error(C.AUTH_INVALID_SIGNATURE)
        if tid.value != s.tid:
            return error(C.DL_INVALID_TRANSACTION_ID)
        if cc_flag.value != b"\x00" and hash_cc is None:
            # The eUICC cannot check the code itself, only that the LPA supplied its hash.
            return error(C.UNDEFINED_ERROR)

        curve = crypto.curve_of(cert)
        if bpp_otpk is not None and self.previous_ot is not None and self.previous_ot[1] == bpp_otpk.value:
            priv, pub = self.previous_ot
            log.info("re-using the one-time key the BPP was bound to")
        elif self.injected_ot_key is not None:
            priv = self.injected_ot_key
            pub = crypto.point_of(priv)
            self.injected_ot_key = None
            log.warning("TEST ONLY: using an injected one-time key")
        else:
            priv, pub = crypto.gen_ot_keypair(curve)
        parts = [der.encode(0x80, tid.value), der.encode(0x5F49, pub)]
        if hash_cc is not None:
            parts.append(hash_cc.raw)
        euicc_signed2 = der.encode(0x30, parts)
        sig = self.ids.sign(euicc_signed2 + sig2.raw)
        s.stage = "prepared"
        s.dppb = cert
        s.ot_priv = priv
        s.ot_pub = pub
        self.previous_ot = (priv, pub)
        return der.encode(C.PREPARE_DOWNLOAD, der.encode(0xA0, [euicc_signed2, sig]))

    # ------------------------------------------------------------- CancelSession
    def cancel_session(self, req: der.Tlv) -> bytes:
        from .euicc import MalformedRequest

        tid = req.find(0x80)
        reason = req.find(0x81)
        if tid is None or reason is None:
            raise MalformedRequest("CancelSession members")
        r = der.decode_int(reason.value)

        def error(code: int) -> bytes:
            log.info("CancelSession refused: error %d", code)
            return der.encode(C.CANCEL_SESSION, der.encode(0x81, der.encode_int(code)))

        if r not in C.CANCEL_REASONS:
            return error(C.UNDEFINED_ERROR)
        s = self.session
        if s is None or s.stage == "challenge" or s.tid != tid.value:
            return error(C.CANCEL_INVALID_TRANSACTION_ID)
        signed = der.encode(
            0x30,
            [der.encode(0x80, s.tid), der.encode(0x81, der.encode_oid(s.smdp_oid)), der.encode(0x82, der.encode_int(r))],
        )
        sig = self.ids.sign(signed)
        self.last_cancelled = {"transaction_id": s.tid.hex().upper(), "reason": r, "stage": s.stage, "time": time.time()}
        log.info("session cancelled in stage %s, reason %d", s.stage, r)
        self._drop_load()
        self.session = None
        return der.encode(C.CANCEL_SESSION, der.encode(0xA0, [signed, sig]))

    # ------------------------------------------------------------- LoadBoundProfilePackage
    def load_segment(self, data: bytes, channel: int, forced: Optional[tuple[int, int]] = None):
        """One BPP segment; `forced` (bppCommandId, errorReason) ends the load with that
        errorResult at this segment, as a real eUICC failing this step would."""
        from .euicc import Es10Result

        first_tag = der.decode_header(data, 0)[0]
        if self.load is None:
            if first_tag != C.BOUND_PROFILE_PACKAGE:
                # Nothing is loading (e.g. a BF37 already ended it): as real eUICCs do.
                return Es10Result(sw=C.SW_REF_NOT_FOUND)
            s = self.session
            if s is None or s.stage != "prepared":
                return Es10Result(sw=C.SW_CONDITIONS)
            self.load = Load(channel=channel)
            s.stage = "loading"
        elif channel != self.load.channel:
            return Es10Result(sw=C.SW_CONDITIONS)
        load = self.load
        load.segments += 1
        if forced is not None:
            return Es10Result(self._fail(load, PirError(forced[0], forced[1], "injected by a fault")))
        try:
            pos = 0
            while pos < len(data):
                tag, hdr_end, length = der.decode_header(data, pos)
                if tag in (C.BOUND_PROFILE_PACKAGE, 0xA1, 0xA3):
                    self._container(load, tag, length, hdr_end - pos)
                    pos = hdr_end
                    continue
                tlv, pos = der.decode_one(data, pos)
                done = self._item(load, tlv)
                if done is not None:
                    return Es10Result(done)
        except der.DerError as e:
            return Es10Result(self._fail(load, PirError(self._command_of(load), C.ERR_INCORRECT_INPUT, "bad TLV: %s" % e)))
        except PirError as e:
            return Es10Result(self._fail(load, e))
        return Es10Result(b"")

    @staticmethod
    def _command_of(load: Load) -> int:
        return {
            "bf36": C.CMD_INITIALISE_SECURE_CHANNEL,
            "bf23": C.CMD_INITIALISE_SECURE_CHANNEL,
            "a0": C.CMD_CONFIGURE_ISDP,
            "a1": C.CMD_STORE_METADATA,
            "88": C.CMD_STORE_METADATA,
            "a2a3": C.CMD_REPLACE_SESSION_KEYS,
            "a3": C.CMD_LOAD_PROFILE_ELEMENTS,
            "86": C.CMD_LOAD_PROFILE_ELEMENTS,
        }[load.step]

    def _container(self, load: Load, tag: int, length: int, header_len: int) -> None:
        if tag == C.BOUND_PROFILE_PACKAGE and load.step == "bf36":
            load.bf36_len = length
            load.step = "bf23"
        elif tag == 0xA1 and load.step == "a1":
            load.consumed += header_len
            if length == 0:
                raise PirError(C.CMD_STORE_METADATA, C.ERR_INCORRECT_INPUT, "empty sequenceOf88")
            load.remaining = length
            load.step = "88"
        elif tag == 0xA3 and load.step in ("a2a3", "a3"):
            load.consumed += header_len
            if length == 0:
                raise PirError(C.CMD_LOAD_PROFILE_ELEMENTS, C.ERR_INCORRECT_INPUT, "empty sequenceOf86")
            load.remaining = length
            load.step = "86"
        else:
            raise PirError(self._command_of(load), C.ERR_INCORRECT_INPUT, "unexpected %X at step %s" % (tag, load.step))

    def _unprotect(self, channel: scp03t.ScpChannel, tlv: der.Tlv, command: int) -> bytes:
        if len(tlv.raw) > MAX_SCP_TLV:
            raise PirError(command, C.ERR_SCP03T_STRUCTURE, "%X block of %d bytes" % (tlv.tag, len(tlv.raw)))
        try:
            return channel.unprotect(tlv.raw)
        except scp03t.ScpSecurityError as e:
            raise PirError(command, C.ERR_SCP03T_SECURITY, str(e))
        except scp03t.ScpStructureError as e:
            raise PirError(command, C.ERR_SCP03T_STRUCTURE, str(e))

    def _single_87(self, load: Load, seq: der.Tlv, command: int, request_tag: int) -> der.Tlv:
        """A0 / A2: a sequence holding exactly one 87 block whose plaintext is one request TLV."""
        kids = seq.children()
        if len(kids) != 1 or kids[0].tag != 0x87:
            raise PirError(command, C.ERR_INCORRECT_INPUT, "%X must hold one 87 block" % seq.tag)
        plain = self._unprotect(load.scp, kids[0], command)
        try:
            req = der.decode(plain)
        except der.DerError as e:
            raise PirError(command, C.ERR_INCORRECT_INPUT, "%X: %s" % (request_tag, e))
        if req.tag != request_tag:
            raise PirError(command, C.ERR_INCORRECT_INPUT, "%X instead of %X" % (req.tag, request_tag))
        return req

    def _item(self, load: Load, tlv: der.Tlv) -> Optional[bytes]:
        """Process one complete TLV of the BPP; returns the PIR when the load ends."""
        load.consumed += len(tlv.raw)
        if load.step == "bf23" and tlv.tag == C.INITIALISE_SECURE_CHANNEL:
            self._initialise_secure_channel(load, tlv)
            load.step = "a0"
        elif load.step == "a0" and tlv.tag == 0xA0:
            req = self._single_87(load, tlv, C.CMD_CONFIGURE_ISDP, 0xBF24)
            try:
                b8 = req.find(0xB8) if req.value else None
            except der.DerError as e:
                raise PirError(C.CMD_CONFIGURE_ISDP, C.ERR_INCORRECT_INPUT, "ConfigureISDP: %s" % e)
            load.dp_proprietary = b8.value if b8 is not None else None
            load.step = "a1"
        elif load.step == "88" and tlv.tag == 0x88:
            load.n88 += 1
            load.metadata_buf += self._unprotect(load.scp, tlv, C.CMD_STORE_METADATA)
            load.remaining -= len(tlv.raw)
            if load.remaining < 0:
                raise PirError(C.CMD_STORE_METADATA, C.ERR_INCORRECT_INPUT, "88 blocks overrun sequenceOf88")
            if load.remaining == 0:
                self._store_metadata(load)
                load.step = "a2a3"
        elif load.step == "a2a3" and tlv.tag == 0xA2:
            rsk = self._single_87(load, tlv, C.CMD_REPLACE_SESSION_KEYS, 0xBF26)
            try:
                mcv, enc, mac = rsk.find(0x80), rsk.find(0x81), rsk.find(0x82)
                if None in (mcv, enc, mac) or not all(len(x.value) == 16 for x in (mcv, enc, mac)):
                    raise der.DerError("BF26 members")
            except der.DerError as e:
                raise PirError(C.CMD_REPLACE_SESSION_KEYS, C.ERR_INCORRECT_INPUT, "ReplaceSessionKeys: %s" % e)
            load.ppk = scp03t.ScpChannel(enc.value, mac.value, mcv.value, 1)
            load.step = "a3"
        elif load.step == "86" and tlv.tag == 0x86:
            load.n86 += 1
            load.upp += self._unprotect(load.ppk or load.scp, tlv, C.CMD_LOAD_PROFILE_ELEMENTS)
            load.remaining -= len(tlv.raw)
            if load.remaining < 0:
                raise PirError(C.CMD_LOAD_PROFILE_ELEMENTS, C.ERR_INCORRECT_INPUT, "86 blocks overrun sequenceOf86")
            if load.remaining == 0:
                return self._finish(load)
        else:
            raise PirError(self._command_of(load), C.ERR_INCORRECT_INPUT, "unexpected %X at step %s" % (tlv.tag, load.step))
        return None

    def _initialise_secure_channel(self, load: Load, bf23: der.Tlv) -> None:
        s = self.session
        cmd = C.CMD_INITIALISE_SECURE_CHANNEL
        kids = bf23.children()
        if [k.tag for k in kids] != [0x82, 0x80, 0xA6, 0x5F49, 0x5F37]:
            raise PirError(cmd, C.ERR_INCORRECT_INPUT, "BF23 members %s" % [hex(k.tag) for k in kids])
        op, tid, crt, otpk, sign = kids
        if op.value != b"\x01":
            raise PirError(cmd, C.ERR_UNSUPPORTED_REMOTE_OP, "remoteOpId %s" % op.value.hex())
        if tid.value != s.tid:
            raise PirError(cmd, C.ERR_INVALID_TRANSACTION_ID, "transaction ID differs from the session's")
        key_type, key_len, host_id = crt.find(0x80), crt.find(0x81), crt.find(0x84)
        if (
            key_type is None or key_type.value != b"\x88" or key_len is None or key_len.value != b"\x10"
            or host_id is None or not 1 <= len(host_id.value) <= 16
        ):
            raise PirError(cmd, C.ERR_UNSUPPORTED_CRT, "CRT values")
        signed = op.raw + tid.raw + crt.raw + otpk.raw + der.encode(0x5F49, s.ot_pub)
        if not crypto.verify_raw(s.dppb, signed, sign.value):
            raise PirError(cmd, C.ERR_INVALID_SIGNATURE, "smdpSign does not verify")
        try:
            z = crypto.ecdh(s.ot_priv, otpk.value)
        except ValueError as e:
            raise PirError(cmd, C.ERR_INCORRECT_INPUT, "smdpOtpk: %s" % e)
        mcv, s_enc, s_mac = crypto.session_keys(z, host_id.value, self.ids.eid_bytes)
        load.scp = scp03t.ScpChannel(s_enc, s_mac, mcv, 1)
        # otSK.EUICC.ECKA is deleted once the session keys exist.
        s.ot_priv = None
        self.previous_ot = None

    def _store_metadata(self, load: Load) -> None:
        cmd = C.CMD_STORE_METADATA
        try:
            md = der.decode(bytes(load.metadata_buf))
            if md.tag != 0xBF25:
                raise der.DerError("not BF25")
            iccid_tlv, spn, name = md.find(0x5A), md.find(0x91), md.find(0x92)
            if iccid_tlv is None or spn is None or name is None:
                raise der.DerError("BF25 lacks 5A/91/92")
            iccid = der.iccid_from_bcd(iccid_tlv.value)
            spn.value.decode("utf-8")
            name.value.decode("utf-8")
            cls_tlv = md.find(0x95)
            profile_class = der.decode_int(cls_tlv.value) if cls_tlv is not None else C.CLASS_OPERATIONAL
            ppr = md.find(0x99)
            ppr_bits = der.decode_bits(ppr.value) if ppr is not None else set()
            owner = md.find(0xB7)
        except (der.DerError, UnicodeDecodeError) as e:
            raise PirError(cmd, C.ERR_INCORRECT_INPUT, "StoreMetadata: %s" % e)
        load.metadata = md
        load.iccid = iccid
        if self.euicc.find_profile(iccid=iccid) is not None:
            raise PirError(cmd, C.ERR_ICCID_EXISTS, "ICCID already installed")
        allowed = {C.CLASS_TEST, C.CLASS_OPERATIONAL}
        if self.euicc.options.allow_provisioning_class:
            allowed.add(C.CLASS_PROVISIONING)
        if profile_class not in allowed:
            raise PirError(cmd, C.ERR_UNSUPPORTED_PROFILE_CLASS, "profile class %d" % profile_class)
        if not self._pprs_allowed(ppr_bits - {C.PPR_UPDATE_CONTROL}, owner):
            raise PirError(cmd, C.ERR_PPR_NOT_ALLOWED, "PPRs %s not allowed by the RAT" % sorted(ppr_bits))

    def _pprs_allowed(self, pprs: set[int], owner: Optional[der.Tlv]) -> bool:
        if not pprs:
            return True
        if owner is None or owner.find(0x80) is None:
            return False
        mcc_mnc = owner.find(0x80).value.hex().upper()
        for p in pprs:
            ok = False
            for rule in self.euicc.data["rat"]:
                if p not in rule["ppr_ids"]:
                    continue
                for op in rule["operators"]:
                    pattern = op["mcc_mnc"].upper()
                    if len(pattern) == len(mcc_mnc) and all(a == "E" or a == b for a, b in zip(pattern, mcc_mnc)):
                        ok = True
            if not ok:
                return False
        return True

    def _finish(self, load: Load) -> bytes:
        cmd = C.CMD_LOAD_PROFILE_ELEMENTS
        if load.consumed != load.bf36_len:
            raise PirError(cmd, C.ERR_INCORRECT_INPUT, "BPP length %d, segments carried %d" % (load.bf36_len, load.consumed))
        upp = bytes(load.upp)
        try:
            pes = der.decode_all(upp)
            header = pes[0] if pes else None
            if header is None or header.tag != 0xA0 or pes[-1].tag != 0xAA:
                raise der.DerError("UPP must start with ProfileHeader and end with End")
            iccid_tlv = header.find(0x83)
            if iccid_tlv is None or len(iccid_tlv.value) != 10:
                raise der.DerError("ProfileHeader has no ICCID")
        except der.DerError as e:
            raise PirError(cmd, C.ERR_PE_PROCESSING, "profile package: %s" % e)
        # SAIP's ProfileHeader keeps the ICCID as plain BCD digits (F-padded); metadata 5A is
        # nibble-swapped like EF_ICCID.
        header_iccid = iccid_tlv.value.hex().upper().rstrip("F")
        if header_iccid != load.iccid:
            raise PirError(cmd, C.ERR_DATA_MISMATCH, "UPP ICCID differs from the metadata's")
        if len(upp) > self.euicc.free_memory():
            raise PirError(cmd, C.ERR_INSUFFICIENT_MEMORY, "profile of %d bytes, %d free" % (len(upp), self.euicc.free_memory()))

        md = load.metadata

        def text(tag):
            t = md.find(tag)
            return t.value.decode("utf-8") if t is not None else None

        def raw_hex(tag):
            t = md.find(tag)
            return t.value.hex() if t is not None else None

        aid = self.euicc.allocate_isdp_aid()
        ppr = md.find(0x99)
        icon_type = md.find(0x93)
        cls_tlv = md.find(0x95)
        profile = {
            "iccid": load.iccid,
            "isdp_aid": aid.hex().upper(),
            "state": "disabled",
            "nickname": None,
            "spn": text(0x91),
            "name": text(0x92),
            "icon_type": der.decode_int(icon_type.value) if icon_type is not None else None,
            "icon": raw_hex(0x94),
            "profile_class": der.decode_int(cls_tlv.value) if cls_tlv is not None else C.CLASS_OPERATIONAL,
            "nci": raw_hex(0xB6),
            "owner": raw_hex(0xB7),
            "ppr": sorted(der.decode_bits(ppr.value)) if ppr is not None else [],
            "dp_proprietary": load.dp_proprietary.hex() if load.dp_proprietary is not None else None,
            "metadata": md.raw.hex(),
            "size": len(upp),
            "upp_sha256": hashlib.sha256(upp).hexdigest(),
            "smdp_address": self.session.server_address,
            "installed": time.time(),
        }
        self.euicc.data["profiles"].append(profile)
        ok = der.encode(0xA0, [der.encode(0x4F, aid), der.encode(0x04, _euicc_response(0))])
        log.info("profile installed: %d bytes, %d profile blocks", len(upp), load.n86)
        self.install_count += 1
        return self._pir(ok, load.iccid)

    def _fail(self, load: Load, e: PirError) -> bytes:
        log.info("profile load failed: bppCommandId %d errorReason %d (%s)", e.command, e.reason, e)
        err = [der.encode(0x80, der.encode_int(e.command)), der.encode(0x81, der.encode_int(e.reason))]
        if e.command == C.CMD_LOAD_PROFILE_ELEMENTS:
            err.append(der.encode(0x82, _euicc_response(3, aborted=True)))
        return self._pir(der.encode(0xA1, err), load.iccid)

    def _pir(self, final_result: bytes, iccid: Optional[str]) -> bytes:
        """Sign the ProfileInstallationResult, queue it as the install notification (one state
        commit with the profile, if any), end the session."""
        s = self.session
        seq = self.euicc.next_seq()
        meta = [
            der.encode(0x80, der.encode_int(seq)),
            der.encode(0x81, der.encode_bits([C.PMO_INSTALL], 4)),
            der.encode(0x0C, s.server_address.encode()),
        ]
        if iccid is not None:
            meta.append(der.encode(0x5A, der.iccid_to_bcd(iccid)))
        data = der.encode(
            0xBF27,
            [
                der.encode(0x80, s.tid),
                der.encode(C.NOTIFICATION_METADATA, meta),
                der.encode(0x06, der.encode_oid(crypto.registered_id(s.dppb))),
                der.encode(0xA2, final_result),
            ],
        )
        pir = der.encode(C.PROFILE_INSTALLATION_RESULT, [data, self.ids.sign(data)])
        self.euicc.add_notification(seq, C.PMO_INSTALL, s.server_address, iccid, pir)
        self.euicc.store.commit()
        self.pir_count += 1
        self._drop_load()
        self.session = None
        return pir


def _euicc_response(status: int, aborted: bool = False) -> bytes:
    """SAIP EUICCResponse: one PEStatus (ok(0) or bad-values(3)), optionally 'aborted'."""
    parts = [der.encode(0xA0, der.encode(0x30, der.encode(0x80, der.encode_int(status))))]
    if aborted:
        parts.append(der.encode(0x81, b""))
    return der.encode(0x30, parts)
