"""The ISD-R: dispatches ES10a/b/c requests, enforces profile rules, keeps signed notifications."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Optional

from esimtest import der

from . import codes as C
from .download import DownloadEngine
from .identity import Identity
from .store import Store

log = logging.getLogger("esim-sim.euicc")

ISDP_AID_PREFIX = bytes.fromhex("A0000005591010FFFFFFFF890000")
PROFILE_INFO_ORDER = (0x5A, 0x4F, 0x9F70, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0xB6, 0xB7, 0xB8, 0x99)
# The icon can be 1 KiB per profile: like real eUICCs, only return it when the tagList asks.
DEFAULT_PROFILE_TAGS = tuple(t for t in PROFILE_INFO_ORDER if t != 0x94)


class MalformedRequest(Exception):
    """The ES10 request cannot be parsed: the card answers 6A80."""


@dataclass
class Es10Result:
    data: bytes = b""
    sw: int = C.SW_OK
    # A REFRESH: the response goes out first, then the card resets (every channel closes).
    reset_after: bool = False


@dataclass
class Options:
    svn: bytes = b"\x02\x02\x02"
    profile_version: bytes = b"\x02\x03\x01"
    firmware_version: bytes = b"\x01\x00\x00"
    refresh_resets: bool = True
    allow_provisioning_class: bool = False
    cat_busy: bool = False
    # certificationDataObject (EUICCInfo2 AC): (platformLabel, discoveryBaseURL), or None to
    # leave it out as most eUICCs do.
    certification_data: Optional[tuple] = None


def _bits_value(tlv: Optional[der.Tlv]) -> set[int]:
    return der.decode_bits(tlv.value) if tlv is not None else set()


def _uint(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


class Euicc:
    def __init__(self, identity: Identity, store: Store, options: Options):
        self.identity = identity
        self.store = store
        self.options = options
        self.download = DownloadEngine(self)
        self.command_counts: dict[str, int] = {}
        self.card_resets = 0

    # ----------------------------------------------------------------- state helpers
    @property
    def data(self) -> dict:
        return self.store.data

    def profiles(self) -> list[dict]:
        return self.data["profiles"]

    def used_memory(self) -> int:
        return sum(p["size"] for p in self.profiles())

    def free_memory(self) -> int:
        return max(0, self.data["total_memory"] - self.used_memory())

    def find_profile(self, iccid: Optional[str] = None, aid: Optional[bytes] = None) -> Optional[dict]:
        for p in self.profiles():
            if iccid is not None and p["iccid"] == iccid:
                return p
            if aid is not None and bytes.fromhex(p["isdp_aid"]) == aid:
                return p
        return None

    def enabled_profile(self) -> Optional[dict]:
        return next((p for p in self.profiles() if p["state"] == "enabled"), None)

    def allocate_isdp_aid(self) -> bytes:
        n = self.data["next_isdp"]
        self.data["next_isdp"] = n + 1
        return ISDP_AID_PREFIX + bytes([n & 0xFF, 0x00])

    def next_seq(self) -> int:
        seq = self.data["next_seq"]
        self.data["next_seq"] = seq + 1
        return seq

    def add_notification(self, seq: int, pmo: int, address: str, iccid: Optional[str], blob: bytes) -> None:
        self.data["notifications"].append(
            {"seq": seq, "pmo": C.PMO_NAMES[pmo], "address": address, "iccid": iccid, "blob": blob.hex(), "created": time.time()}
        )

    def card_reset(self) -> None:
        """RAM state is lost on a reset: the RSP session and any partial profile load."""
        self.card_resets += 1
        self.download.interrupt("card reset")

    def channel_closed(self, channel: int) -> None:
        self.download.channel_closed(channel)

    # ----------------------------------------------------------------- encoders
    def euicc_info1(self) -> bytes:
        ids = self.identity
        return der.encode(
            C.GET_EUICC_INFO1,
            [
                der.encode(0x82, self.options.svn),
                der.encode(0xA9, [der.encode(0x04, s) for s in ids.verification_skis]),
                der.encode(0xAA, [der.encode(0x04, s) for s in ids.signing_skis]),
            ],
        )

    def euicc_info2(self) -> bytes:
        ids = self.identity
        free = self.free_memory()
        # ETSI TS 102 226 extended card resources: installed apps, free NVM, free RAM.
        ext = der.encode(0x81, _uint(len(self.profiles()))) + der.encode(0x82, _uint(free)) + der.encode(0x83, _uint(65536))
        # usim, isim, milenage, javacard, berTlvFileSupport
        uicc_caps = der.encode_bits([1, 2, 4, 14, 19], 26)
        rsp_bits = [3]  # testProfileSupport
        if free > 0:
            rsp_bits.append(0)  # additionalProfile
        return der.encode(
            C.GET_EUICC_INFO2,
            [
                der.encode(0x81, self.options.profile_version),
                der.encode(0x82, self.options.svn),
                der.encode(0x83, self.options.firmware_version),
                der.encode(0x84, ext),
                der.encode(0x85, uicc_caps),
                der.encode(0x86, b"\x11\x02\x00"),
                der.encode(0x87, b"\x02\x03\x00"),
                der.encode(0x88, der.encode_bits(rsp_bits, 5)),
                der.encode(0xA9, [der.encode(0x04, s) for s in ids.verification_skis]),
                der.encode(0xAA, [der.encode(0x04, s) for s in ids.signing_skis]),
                der.encode(0x8B, b"\x02"),
                der.encode(0x04, b"\x01\x00\x00"),
                der.encode(0x0C, b"ESIMD-SIM-TEST"),
            ] + ([der.encode(0xAC, [der.encode(0x80, self.options.certification_data[0].encode()),
                                    der.encode(0x81, self.options.certification_data[1].encode())])]
                 if self.options.certification_data else []),
        )

    def profile_info(self, p: dict, tags) -> bytes:
        fields = {
            0x5A: lambda: der.iccid_to_bcd(p["iccid"]),
            0x4F: lambda: bytes.fromhex(p["isdp_aid"]),
            0x9F70: lambda: b"\x01" if p["state"] == "enabled" else b"\x00",
            0x90: lambda: p["nickname"].encode() if p.get("nickname") is not None else None,
            0x91: lambda: p["spn"].encode(),
            0x92: lambda: p["name"].encode(),
            0x93: lambda: der.encode_int(p["icon_type"]) if p.get("icon_type") is not None else None,
            0x94: lambda: bytes.fromhex(p["icon"]) if p.get("icon") else None,
            0x95: lambda: der.encode_int(p["profile_class"]),
            0xB6: lambda: bytes.fromhex(p["nci"]) if p.get("nci") is not None else None,
            0xB7: lambda: bytes.fromhex(p["owner"]) if p.get("owner") is not None else None,
            0xB8: lambda: bytes.fromhex(p["dp_proprietary"]) if p.get("dp_proprietary") is not None else None,
            0x99: lambda: der.encode_bits(p["ppr"], 3) if p.get("ppr") else None,
        }
        out = []
        for t in PROFILE_INFO_ORDER:
            if t in tags:
                v = fields[t]()
                if v is not None:
                    out.append(der.encode(t, v))
        return der.encode(0xE3, out)

    # ----------------------------------------------------------------- dispatch
    def process(self, request: bytes, channel: int, forced_code: Optional[int] = None,
                forced_pir: Optional[tuple[int, int]] = None) -> Es10Result:
        """One complete ES10 command (all STORE DATA blocks joined). An injected fault may force
        the function's error result (`forced_code`) or the load's errorResult (`forced_pir`)."""
        try:
            tag = der.decode_header(request, 0)[0]
        except der.DerError:
            return Es10Result(sw=C.SW_WRONG_DATA)
        name = "%X" % tag
        self.command_counts[name] = self.command_counts.get(name, 0) + 1
        if tag in C.BPP_SEGMENT_TAGS:
            return self.download.load_segment(request, channel, forced_pir)
        handler = self.HANDLERS.get(tag)
        if handler is None:
            log.info("unsupported ES10 tag %X", tag)
            return Es10Result(sw=C.SW_WRONG_DATA)
        try:
            req = der.decode(request)
            if forced_code is not None and tag in self.RESULT_SHAPES:
                return Es10Result(self.forced_result(tag, req, forced_code))
            result = handler(self, req)
        except (MalformedRequest, der.DerError) as e:
            log.info("malformed %X request: %s", tag, e)
            return Es10Result(sw=C.SW_WRONG_DATA)
        if isinstance(result, bytes):
            result = Es10Result(result)
        return result

    # ----------------------------------------------------------------- ES10a
    def get_configured_addresses(self, req: der.Tlv) -> bytes:
        out = []
        if self.data["default_smdp"]:
            out.append(der.encode(0x80, self.data["default_smdp"].encode()))
        out.append(der.encode(0x81, self.data["root_smds"].encode()))
        return der.encode(C.GET_CONFIGURED_ADDRESSES, out)

    def set_default_dp_address(self, req: der.Tlv) -> bytes:
        addr = req.find(0x80)
        if addr is None:
            raise MalformedRequest("no address")
        try:
            value = addr.value.decode("utf-8")
        except UnicodeDecodeError:
            return der.encode(C.SET_DEFAULT_DP_ADDRESS, der.encode(0x80, der.encode_int(C.UNDEFINED_ERROR)))
        self.data["default_smdp"] = value or None
        self.store.commit()
        return der.encode(C.SET_DEFAULT_DP_ADDRESS, der.encode(0x80, der.encode_int(C.OK)))

    # ----------------------------------------------------------------- ES10b simple ones
    def get_eid(self, req: der.Tlv) -> bytes:
        tl = req.find(0x5C)
        if tl is None or tl.value != b"\x5a":
            raise MalformedRequest("GetEID tagList must be 5A")
        return der.encode(C.GET_EID, der.encode(0x5A, self.identity.eid_bytes))

    def get_info1(self, req: der.Tlv) -> bytes:
        return self.euicc_info1()

    def get_info2(self, req: der.Tlv) -> bytes:
        return self.euicc_info2()

    def get_challenge(self, req: der.Tlv) -> bytes:
        challenge = os.urandom(16)
        self.download.new_challenge(challenge)
        return der.encode(C.GET_EUICC_CHALLENGE, der.encode(0x80, challenge))

    def get_rat(self, req: der.Tlv) -> bytes:
        rules = []
        for rule in self.data["rat"]:
            ops = []
            for op in rule["operators"]:
                parts = [der.encode(0x80, bytes.fromhex(op["mcc_mnc"]))]
                if op.get("gid1"):
                    parts.append(der.encode(0x81, bytes.fromhex(op["gid1"])))
                if op.get("gid2"):
                    parts.append(der.encode(0x82, bytes.fromhex(op["gid2"])))
                ops.append(der.encode(0x30, parts))
            rules.append(
                der.encode(
                    0x30,
                    [
                        der.encode(0x80, der.encode_bits(rule["ppr_ids"], 3)),
                        der.encode(0xA1, ops),
                        der.encode(0x82, der.encode_bits([0] if rule.get("consent_required") else [], 1)),
                    ],
                )
            )
        return der.encode(C.GET_RAT, der.encode(0xA0, rules))

    def load_crl(self, req: der.Tlv) -> bytes:
        # rspCapability does not announce crlSupport.
        return der.encode(C.LOAD_CRL, der.encode(0x81, der.encode_int(C.UNDEFINED_ERROR)))

    # ----------------------------------------------------------------- notifications
    def _notification_metadata(self, n: dict) -> bytes:
        blob = der.decode(bytes.fromhex(n["blob"]))
        if blob.tag == C.PROFILE_INSTALLATION_RESULT:
            return blob.find(0xBF27).find(C.NOTIFICATION_METADATA).raw
        return blob.find(C.NOTIFICATION_METADATA).raw

    def list_notification(self, req: der.Tlv) -> bytes:
        flt = _bits_value(req.find(0x81)) if req.value else None
        out = []
        for n in sorted(self.data["notifications"], key=lambda n: n["seq"]):
            pmo = next(k for k, v in C.PMO_NAMES.items() if v == n["pmo"])
            if flt is not None and pmo not in flt:
                continue
            out.append(self._notification_metadata(n))
        return der.encode(C.LIST_NOTIFICATION, der.encode(0xA0, out))

    def retrieve_notifications(self, req: der.Tlv) -> bytes:
        seq = None
        flt = None
        if req.value:
            crit = req.find(0xA0)
            if crit is None or len(crit.children()) != 1:
                raise MalformedRequest("bad search criteria")
            c = crit.children()[0]
            if c.tag == 0x80:
                seq = der.decode_int(c.value)
            elif c.tag == 0x81:
                flt = der.decode_bits(c.value)
            else:
                raise MalformedRequest("bad search criteria tag")
        out = []
        for n in sorted(self.data["notifications"], key=lambda n: n["seq"]):
            pmo = next(k for k, v in C.PMO_NAMES.items() if v == n["pmo"])
            if seq is not None and n["seq"] != seq:
                continue
            if flt is not None and pmo not in flt:
                continue
            out.append(bytes.fromhex(n["blob"]))
        if not out and (seq is not None or flt is not None):
            return der.encode(C.RETRIEVE_NOTIFICATIONS, der.encode(0x81, der.encode_int(C.NO_RESULT_AVAILABLE)))
        return der.encode(C.RETRIEVE_NOTIFICATIONS, der.encode(0xA0, out))

    def notification_sent(self, req: der.Tlv) -> bytes:
        s = req.find(0x80)
        if s is None:
            raise MalformedRequest("no seqNumber")
        seq = der.decode_int(s.value)
        before = len(self.data["notifications"])
        self.data["notifications"] = [n for n in self.data["notifications"] if n["seq"] != seq]
        if len(self.data["notifications"]) == before:
            code = C.NOTHING_TO_DELETE
        else:
            code = C.OK
            self.store.commit()
        return der.encode(C.NOTIFICATION_SENT, der.encode(0x80, der.encode_int(code)))

    def profile_notification(self, p: dict, pmo: int) -> None:
        """Sign and queue an enable/disable/delete notification if the profile's
        notificationConfigurationInfo asks for this event."""
        if p.get("nci") is None:
            return
        address = None
        for entry in der.decode_all(bytes.fromhex(p["nci"])):
            ops = entry.find(0x80)
            addr = entry.find(0x81)
            if ops is not None and addr is not None and pmo in der.decode_bits(ops.value):
                address = addr.value.decode("utf-8", "replace")
                break
        if address is None:
            return
        seq = self.next_seq()
        tbs = der.encode(
            C.NOTIFICATION_METADATA,
            [
                der.encode(0x80, der.encode_int(seq)),
                der.encode(0x81, der.encode_bits([pmo], 4)),
                der.encode(0x0C, address.encode()),
                der.encode(0x5A, der.iccid_to_bcd(p["iccid"])),
            ],
        )
        blob = der.encode(0x30, [tbs, self.identity.sign(tbs), self.identity.euicc_cert_der, self.identity.eum_cert_der])
        self.add_notification(seq, pmo, address, p["iccid"], blob)

    # ----------------------------------------------------------------- ES10c
    def _profile_by_identifier(self, ident: der.Tlv) -> Optional[dict]:
        if ident.tag == 0x5A:
            if len(ident.value) != 10:
                raise MalformedRequest("ICCID must be 10 bytes")
            return self.find_profile(iccid=der.iccid_from_bcd(ident.value))
        if ident.tag == 0x4F:
            return self.find_profile(aid=ident.value)
        raise MalformedRequest("profile identifier must be 4F or 5A")

    def get_profiles_info(self, req: der.Tlv) -> bytes:
        def error(code):
            return der.encode(C.GET_PROFILES_INFO, der.encode(0x81, der.encode_int(code)))

        tags = DEFAULT_PROFILE_TAGS
        selected = list(self.profiles())
        if req.value:
            for c in req.children():
                if c.tag == 0xA0:
                    kids = c.children()
                    if len(kids) != 1:
                        return error(C.INCORRECT_INPUT_VALUES)
                    crit = kids[0]
                    if crit.tag == 0x5A and len(crit.value) == 10:
                        try:
                            iccid = der.iccid_from_bcd(crit.value)
                        except der.DerError:
                            return error(C.INCORRECT_INPUT_VALUES)
                        selected = [p for p in selected if p["iccid"] == iccid]
                    elif crit.tag == 0x4F and 5 <= len(crit.value) <= 16:
                        selected = [p for p in selected if bytes.fromhex(p["isdp_aid"]) == crit.value]
                    elif crit.tag == 0x95 and len(crit.value) == 1:
                        cls = crit.value[0]
                        selected = [p for p in selected if p["profile_class"] == cls]
                    else:
                        return error(C.INCORRECT_INPUT_VALUES)
                elif c.tag == 0x5C:
                    try:
                        tags = der.read_tags(c.value)
                    except der.DerError:
                        return error(C.INCORRECT_INPUT_VALUES)
                else:
                    return error(C.INCORRECT_INPUT_VALUES)
        return der.encode(C.GET_PROFILES_INFO, der.encode(0xA0, [self.profile_info(p, tags) for p in selected]))

    def _result(self, tag: int, code: int, reset: bool = False) -> Es10Result:
        return Es10Result(der.encode(tag, der.encode(0x80, der.encode_int(code))), reset_after=reset)

    def _refresh_flag(self, req: der.Tlv) -> bool:
        r = req.find(0x81)
        if r is None or len(r.value) != 1:
            raise MalformedRequest("refreshFlag missing")
        return r.value != b"\x00"

    def _identified(self, req: der.Tlv) -> Optional[dict]:
        a0 = req.find(0xA0)
        if a0 is None or len(a0.children()) != 1:
            raise MalformedRequest("profileIdentifier missing")
        return self._profile_by_identifier(a0.children()[0])

    def enable_profile(self, req: der.Tlv) -> Es10Result:
        p = self._identified(req)
        refresh = self._refresh_flag(req)
        if self.options.cat_busy:
            return self._result(C.ENABLE_PROFILE, C.CAT_BUSY)
        if p is None:
            return self._result(C.ENABLE_PROFILE, C.NOT_FOUND)
        if p["state"] == "enabled":
            return self._result(C.ENABLE_PROFILE, C.WRONG_STATE)
        current = self.enabled_profile()
        if current is not None and C.PPR1_NO_DISABLE in current.get("ppr", []):
            return self._result(C.ENABLE_PROFILE, C.DISALLOWED_BY_POLICY)
        if current is not None:
            current["state"] = "disabled"
            self.profile_notification(current, C.PMO_DISABLE)
        p["state"] = "enabled"
        self.profile_notification(p, C.PMO_ENABLE)
        self.store.commit()
        log.info("profile enabled (refresh=%s)", refresh)
        return self._result(C.ENABLE_PROFILE, C.OK, refresh and self.options.refresh_resets)

    def disable_profile(self, req: der.Tlv) -> Es10Result:
        p = self._identified(req)
        refresh = self._refresh_flag(req)
        if self.options.cat_busy:
            return self._result(C.DISABLE_PROFILE, C.CAT_BUSY)
        if p is None:
            return self._result(C.DISABLE_PROFILE, C.NOT_FOUND)
        if p["state"] != "enabled":
            return self._result(C.DISABLE_PROFILE, C.WRONG_STATE)
        if C.PPR1_NO_DISABLE in p.get("ppr", []):
            return self._result(C.DISABLE_PROFILE, C.DISALLOWED_BY_POLICY)
        p["state"] = "disabled"
        self.profile_notification(p, C.PMO_DISABLE)
        self.store.commit()
        log.info("profile disabled (refresh=%s)", refresh)
        return self._result(C.DISABLE_PROFILE, C.OK, refresh and self.options.refresh_resets)

    def delete_profile(self, req: der.Tlv) -> Es10Result:
        kids = req.children()
        if len(kids) != 1:
            raise MalformedRequest("DeleteProfile takes one identifier")
        p = self._profile_by_identifier(kids[0])
        if p is None:
            return self._result(C.DELETE_PROFILE, C.NOT_FOUND)
        if p["state"] != "disabled":
            return self._result(C.DELETE_PROFILE, C.WRONG_STATE)
        if C.PPR2_NO_DELETE in p.get("ppr", []):
            return self._result(C.DELETE_PROFILE, C.DISALLOWED_BY_POLICY)
        self.data["profiles"].remove(p)
        self.profile_notification(p, C.PMO_DELETE)
        self.store.commit()
        log.info("profile deleted")
        return self._result(C.DELETE_PROFILE, C.OK)

    def memory_reset(self, req: der.Tlv) -> Es10Result:
        opt = req.find(0x82)
        if opt is None:
            raise MalformedRequest("resetOptions missing")
        bits = der.decode_bits(opt.value)
        if self.options.cat_busy:
            return self._result(C.MEMORY_RESET, C.CAT_BUSY)
        doomed_classes = set()
        if C.RESET_OPERATIONAL in bits:
            doomed_classes.add(C.CLASS_OPERATIONAL)
        if C.RESET_TEST in bits:
            doomed_classes.add(C.CLASS_TEST)
        doomed = [p for p in self.profiles() if p["profile_class"] in doomed_classes]
        changed = bool(doomed)
        was_enabled = any(p["state"] == "enabled" for p in doomed)
        for p in doomed:
            self.data["profiles"].remove(p)
        if C.RESET_DEFAULT_SMDP in bits and self.data["default_smdp"]:
            self.data["default_smdp"] = None
            changed = True
        if not changed:
            return self._result(C.MEMORY_RESET, C.NOTHING_TO_DELETE)
        self.store.commit()
        log.info("memory reset: %d profiles deleted", len(doomed))
        return self._result(C.MEMORY_RESET, C.OK, was_enabled and self.options.refresh_resets)

    def set_nickname(self, req: der.Tlv) -> bytes:
        iccid = req.find(0x5A)
        nick = req.find(0x90)
        if iccid is None or nick is None or len(iccid.value) != 10:
            raise MalformedRequest("SetNickname needs 5A and 90")
        p = self.find_profile(iccid=der.iccid_from_bcd(iccid.value))
        if p is None:
            code = C.NOT_FOUND
        elif len(nick.value) > 64:
            code = C.UNDEFINED_ERROR
        else:
            try:
                p["nickname"] = nick.value.decode("utf-8")
                self.store.commit()
                code = C.OK
            except UnicodeDecodeError:
                code = C.UNDEFINED_ERROR
        return der.encode(C.SET_NICKNAME, der.encode(0x80, der.encode_int(code)))

    HANDLERS = {
        C.GET_CONFIGURED_ADDRESSES: get_configured_addresses,
        C.SET_DEFAULT_DP_ADDRESS: set_default_dp_address,
        C.GET_EID: get_eid,
        C.GET_EUICC_INFO1: get_info1,
        C.GET_EUICC_INFO2: get_info2,
        C.GET_EUICC_CHALLENGE: get_challenge,
        C.GET_RAT: get_rat,
        C.LOAD_CRL: load_crl,
        C.LIST_NOTIFICATION: list_notification,
        C.RETRIEVE_NOTIFICATIONS: retrieve_notifications,
        C.NOTIFICATION_SENT: notification_sent,
        C.GET_PROFILES_INFO: get_profiles_info,
        C.ENABLE_PROFILE: enable_profile,
        C.DISABLE_PROFILE: disable_profile,
        C.DELETE_PROFILE: delete_profile,
        C.MEMORY_RESET: memory_reset,
        C.SET_NICKNAME: set_nickname,
        C.AUTHENTICATE_SERVER: lambda self, req: self.download.authenticate_server(req),
        C.PREPARE_DOWNLOAD: lambda self, req: self.download.prepare_download(req),
        C.CANCEL_SESSION: lambda self, req: self.download.cancel_session(req),
    }

    # Where each function's result code sits: the error alternative with the transaction ID
    # (A1 {80 tid, 02 code}), {80 code} or {81 code}.
    RESULT_SHAPES = {
        C.AUTHENTICATE_SERVER: "alternative",
        C.PREPARE_DOWNLOAD: "alternative",
        C.CANCEL_SESSION: 0x81,
        C.ENABLE_PROFILE: 0x80,
        C.DISABLE_PROFILE: 0x80,
        C.DELETE_PROFILE: 0x80,
        C.MEMORY_RESET: 0x80,
        C.SET_NICKNAME: 0x80,
        C.SET_DEFAULT_DP_ADDRESS: 0x80,
        C.NOTIFICATION_SENT: 0x80,
        C.GET_PROFILES_INFO: 0x81,
        C.LIST_NOTIFICATION: 0x81,
        C.RETRIEVE_NOTIFICATIONS: 0x81,
        C.LOAD_CRL: 0x81,
    }

    def forced_result(self, tag: int, req: der.Tlv, code: int) -> bytes:
        """The response of a function that failed with `code` (an injected fault), with the side
        effects a real refusal has: a refused AuthenticateServer has used up the challenge."""
        shape = self.RESULT_SHAPES[tag]
        log.info("fault: %X answers result code %d", tag, code)
        if shape != "alternative":
            return der.encode(tag, der.encode(shape, der.encode_int(code)))
        signed = req.children()[0] if req.value else None
        tid = signed.find(0x80) if signed is not None and signed.constructed else None
        if tid is None:
            raise MalformedRequest("no transaction ID")
        if tag == C.AUTHENTICATE_SERVER:
            s = self.download.session
            if s is not None and s.stage == "challenge":
                self.download.session = None
        return self.download.error_alternative(tag, tid.value, code)

    # ----------------------------------------------------------------- control-socket view
    def describe(self) -> dict:
        profiles = []
        for p in self.profiles():
            q = {k: v for k, v in p.items()}
            profiles.append(q)
        notifications = [
            {"seq": n["seq"], "pmo": n["pmo"], "address": n["address"], "iccid": n["iccid"], "blob": n["blob"]}
            for n in sorted(self.data["notifications"], key=lambda n: n["seq"])
        ]
        return {
            "eid": self.identity.eid,
            "profiles": profiles,
            "notifications": notifications,
            "next_seq": self.data["next_seq"],
            "session": self.download.describe(),
            "last_cancelled": self.download.last_cancelled,
            "last_interrupted": self.download.last_interrupted,
            "free_memory": self.free_memory(),
            "total_memory": self.data["total_memory"],
            "default_smdp": self.data["default_smdp"],
            "root_smds": self.data["root_smds"],
            "rat": self.data["rat"],
            "cat_busy": self.options.cat_busy,
            "refresh_resets": self.options.refresh_resets,
        }
