#!/usr/bin/python3
# make-seeds.py — captures the fuzzers' seed corpora from the project's own test world.
"""Runs the simulated eUICC (tests/sim) and the test SM-DP+/SM-DS (tests/smdp) with a fresh test
PKI, drives downloads, profile operations, notifications, a cancelled session and an SM-DS event
discovery through them, and writes what came back as seed files:

    corpus/der/             certificates, signed objects and ES10 responses (DER)
    corpus/es10-responses/  every ES10 response, as the eUICC sent it
    corpus/es9p/            ES9+/ES11 response bodies, behind fuzz-es9p's selector byte
    corpus/es11/            ES11 authenticateClient bodies
    corpus/bpp/             bound profile packages (with and without ReplaceSessionKeys)
    corpus/qmi-uim/         QMUX frames with the card's real answers (the simulator's framing)
    corpus/mbim/            MBIM answers (MS UICC, device caps, slots, QMI inside MBIM) with the
                            card's real answers, in the simulator's MBIM framing
    corpus/apdu/            fuzz-apdu inputs made of the card's real response APDUs
    corpus/activation-code/ activation codes of the test world
    corpus/at/              AT answers in the shapes of public modem transcripts (hand-made)

plus a few hand-made structures the test world never sends (crafted_seeds()). Files are named
seed-<what>; existing seed files of the same name are overwritten, nothing else is touched.
Nothing here comes from the reference material: every byte is produced by the project's test
world on this run (keys differ from run to run) or written out here.

    tests/fuzz/make-seeds.py [--out tests/fuzz/corpus] [--crafted-only]
"""

import argparse
import base64
import importlib.util
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
from esimtest import der, pki, simctl, smdpctl  # noqa: E402
from esimsim import mbim, qmi  # noqa: E402

_spec = importlib.util.spec_from_file_location("lpa_driver", os.path.join(HERE, "..", "smdp", "lpa-driver.py"))
lpa_driver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lpa_driver)

SMDP = "testsmdpplus1.example.com"
SMDS = "testrootsmds.example.com"
ICCIDS = ["894944999999999%04d" % i for i in range(1, 6)]

# fuzz-es9p's first byte: the function in the low 3 bits, status index 0 (HTTP 200) above.
ES9P_FUNCTION = {"initiateAuthentication": 0, "es11:initiateAuthentication": 1, "authenticateClient": 2,
                 "getBoundProfilePackage": 3, "cancelSession": 4, "handleNotification": 5}
ES9P_STATUS_204 = 6 << 3

ES10_NAMES = {0xBF2D: "profiles-info", 0xBF28: "list-notification", 0xBF2B: "retrieve-notifications",
              0xBF20: "euicc-info1", 0xBF22: "euicc-info2", 0xBF38: "authenticate-server",
              0xBF21: "prepare-download", 0xBF41: "cancel-session", 0xBF43: "rat", 0xBF3C: "addresses",
              0xBF3E: "eid", 0xBF2E: "challenge", 0xBF30: "remove-notification", 0xBF31: "enable",
              0xBF32: "disable", 0xBF33: "delete", 0xBF34: "memory-reset", 0xBF29: "set-nickname",
              0xBF3F: "set-default-dp", 0xBF36: "pir"}

# A 1x1 PNG: icons are part of the profile metadata and of ProfileInfo.
ICON = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


class Seeds:
    """Seed files per harness. Answers of one kind and one length differ only in random bytes
    (challenges, signatures, keys) and add nothing for a fuzzer: the first of them is kept."""

    def __init__(self):
        self.files = {}
        self.seen = set()

    def add(self, harness, name, data):
        key = (harness, name, len(data))
        if key in self.seen:
            return
        self.seen.add(key)
        n = 1
        base = "seed-" + name
        fname = base
        while (harness, fname) in self.files:
            n += 1
            fname = "%s-%d" % (base, n)
        self.files[(harness, fname)] = data

    def write(self, out):
        for (harness, fname), data in sorted(self.files.items()):
            os.makedirs(os.path.join(out, harness), exist_ok=True)
            with open(os.path.join(out, harness, fname), "wb") as f:
                f.write(data)
        return len(self.files)


class RecordingCard(lpa_driver.Card):
    """lpa-driver's card, remembering every ES10 response and every response APDU."""

    def __init__(self, path, seeds):
        self.seeds = seeds
        self.rapdus = []
        self.last_exchange = []
        super().__init__(path)

    def apdu(self, cmd):
        data, sw = super().apdu(cmd)
        self.rapdus.append(data + sw.to_bytes(2, "big"))
        self.last_exchange.append(data + sw.to_bytes(2, "big"))
        return data, sw

    def es10(self, request):
        self.last_exchange = []
        resp = super().es10(request)
        tag = der.decode_header(request)[0]
        if resp:
            name = ES10_NAMES.get(tag, "%X" % tag)
            if tag == 0xBF36 or der.decode(resp).tag == 0xBF37:
                name = "pir"
            self.seeds.add("es10-responses", name, resp)
        return resp

    def raw_es10(self, request):
        """Like es10() but returns (data, sw) instead of raising on an error status."""
        try:
            return self.es10(request), 0x9000
        except lpa_driver.ApduError as e:
            return b"", int(str(e).rsplit(" ", 1)[-1], 16)


def record_es9(client, seeds, es11=False):
    """Wraps client.post_raw so that every response body becomes a seed."""
    orig = client.post_raw

    def post_raw(function, body, headers=None, base=None):
        status, hdrs, data = orig(function, body, headers, base)
        key = ("es11:" if es11 and function == "initiateAuthentication" else "") + function
        if es11 and function == "authenticateClient":
            seeds.add("es11", "authenticate-client", data)
        elif key in ES9P_FUNCTION:
            selector = ES9P_FUNCTION[key] | (ES9P_STATUS_204 if status == 204 else 0)
            seeds.add("es9p", key.replace(":", "-"), bytes([selector]) + data)
            if function == "getBoundProfilePackage" and status == 200:
                body = json.loads(data)
                if "boundProfilePackage" in body:
                    seeds.add("bpp", "bound-profile-package", base64.b64decode(body["boundProfilePackage"]))
        return status, hdrs, data

    client.post_raw = post_raw
    return client


def download(card, client, matching_id, cc=None):
    try:
        return lpa_driver.download(card, client, SMDP, matching_id, cc)
    except lpa_driver.Stop as e:
        return e.result


def b64(data):
    return base64.b64encode(data).decode()


def authenticated_session(card, client, address=SMDP, es11=False, matching_id=""):
    """GetEUICCChallenge → initiateAuthentication → AuthenticateServer; (transaction ID, the
    AuthenticateServer request, its response)."""
    chal = der.decode(card.es10(der.encode(0xBF2E, b""))).find(0x80).value
    info1 = card.es10(der.encode(0xBF20, b""))
    member = "smdsAddress" if es11 else "smdpAddress"
    _, _, init = client.post("initiateAuthentication", {"euiccChallenge": b64(chal), "euiccInfo1": b64(info1),
                                                        member: address})
    f = {k: base64.b64decode(init[k]) for k in ("serverSigned1", "serverSignature1", "euiccCiPKIdToBeUsed",
                                                 "serverCertificate")}
    card.seeds.add("der", "server-signed1", f["serverSigned1"])
    card.seeds.add("der", "server-certificate", f["serverCertificate"])
    request = der.encode(0xBF38, [f["serverSigned1"], f["serverSignature1"], f["euiccCiPKIdToBeUsed"],
                                  f["serverCertificate"], lpa_driver.ctx_params1(matching_id)])
    return init["transactionId"], request, card.es10(request)


def profile_operations(card, client):
    iccid_a = der.encode(0x5A, der.iccid_to_bcd(ICCIDS[0]))
    iccid_c = der.encode(0x5A, der.iccid_to_bcd(ICCIDS[2]))
    unknown = der.encode(0x5A, der.iccid_to_bcd("8949449999999998888"))
    tags = der.encode(0x5C, bytes([0x5A, 0x4F, 0x9F, 0x70, 0x90, 0x91, 0x92, 0x93, 0x95, 0xB6, 0xB7, 0xB8,
                                   0x99, 0xBF, 0x76, 0x94]))
    card.raw_es10(der.encode(0xBF31, [der.encode(0xA0, iccid_a), der.encode(0x81, b"\x00")]))
    card.raw_es10(der.encode(0xBF31, [der.encode(0xA0, iccid_a), der.encode(0x81, b"\x00")]))  # already enabled
    card.raw_es10(der.encode(0xBF31, [der.encode(0xA0, unknown), der.encode(0x81, b"\x00")]))
    card.raw_es10(der.encode(0xBF29, [iccid_a, der.encode(0x90, "Work ☎".encode())]))
    card.raw_es10(der.encode(0xBF2D, b""))
    card.raw_es10(der.encode(0xBF2D, [tags]))
    card.raw_es10(der.encode(0xBF2D, [der.encode(0xA0, iccid_c), tags]))
    card.raw_es10(der.encode(0xBF32, [der.encode(0xA0, iccid_a), der.encode(0x81, b"\x00")]))
    card.raw_es10(der.encode(0xBF32, [der.encode(0xA0, iccid_a), der.encode(0x81, b"\x00")]))  # not enabled
    card.raw_es10(der.encode(0xBF33, iccid_c))
    card.raw_es10(der.encode(0xBF33, unknown))
    card.raw_es10(der.encode(0xBF28, b""))
    notifications = card.es10(der.encode(0xBF2B, b""))
    card.raw_es10(der.encode(0xBF2B, [der.encode(0xA0, der.encode(0x80, der.encode_int(1)))]))
    # Deliver the first pending notification, then remove it (and one that is gone).
    items = der.decode(notifications).find(0xA0)
    if items is not None and items.children():
        first = items.children()[0]
        status, _, _ = client.post_raw("handleNotification",
                                       json.dumps({"pendingNotification": b64(first.raw)}).encode())
        meta = first.find(0xBF2F) or first.find(0xBF27).find(0xBF2F)
        seq = der.decode_int(meta.find(0x80).value)
        card.raw_es10(der.encode(0xBF30, der.encode(0x80, der.encode_int(seq))))
        card.raw_es10(der.encode(0xBF30, der.encode(0x80, der.encode_int(seq))))
    for request in (0xBF20, 0xBF22, 0xBF43, 0xBF3C, 0xBF2E):
        card.raw_es10(der.encode(request, b""))
    card.raw_es10(der.encode(0xBF3E, der.encode(0x5C, b"\x5A")))
    card.raw_es10(der.encode(0xBF3F, der.encode(0x80, SMDP.encode())))
    card.raw_es10(der.encode(0xBF3C, b""))


def cancelled_session(card, client):
    """A session cancelled after authenticateClient, then the error alternatives of CancelSession,
    AuthenticateServer and PrepareDownload once no session is left."""
    tid, bf38_request, bf38 = authenticated_session(card, client, matching_id="SEED-E")
    _, _, auth = client.post("authenticateClient", {"transactionId": tid, "authenticateServerResponse": b64(bf38)})
    reason = der.encode(0x81, b"\x01")
    cancel = card.es10(der.encode(0xBF41, [der.encode(0x80, bytes.fromhex(tid)), reason]))
    client.post("cancelSession", {"transactionId": tid, "cancelSessionResponse": b64(cancel)})
    card.raw_es10(der.encode(0xBF41, [der.encode(0x80, bytes.fromhex(tid)), reason]))
    card.raw_es10(bf38_request)
    card.raw_es10(der.encode(0xBF21, [base64.b64decode(auth["smdpSigned2"]), base64.b64decode(auth["smdpSignature2"]),
                                      base64.b64decode(auth["smdpCertificate"])]))
    # A fresh challenge, and an AuthenticateServer signed over the previous one.
    card.raw_es10(der.encode(0xBF2E, b""))
    card.raw_es10(bf38_request)


def event_discovery(card, smds_client):
    tid, _, bf38 = authenticated_session(card, smds_client, address=SMDS, es11=True)
    smds_client.post("authenticateClient", {"transactionId": tid, "authenticateServerResponse": b64(bf38)})


def qmi_seeds(card, seeds):
    """The card's real answers in the simulator's QMUX framing (what esimd's parsers receive)."""
    uim = qmi.SERVICE_UIM
    frames = {
        "open-channel": qmi.build_frame(uim, 1, 1, qmi.UIM_OPEN_LOGICAL_CHANNEL,
                                        [qmi.result_tlv(), (0x10, b"\x02"), (0x11, b"\x90\x00"),
                                         (0x12, b"\x00")]),
        "open-channel-refused": qmi.build_frame(uim, 1, 2, qmi.UIM_OPEN_LOGICAL_CHANNEL,
                                                [qmi.result_tlv(qmi.E_SIM_FILE_NOT_FOUND), (0x11, b"\x6a\x82")]),
        "open-channel-no-resources": qmi.build_frame(uim, 1, 3, qmi.UIM_OPEN_LOGICAL_CHANNEL,
                                                     [qmi.result_tlv(qmi.E_INSUFFICIENT_RESOURCES)]),
        "close-channel": qmi.build_frame(uim, 1, 4, qmi.UIM_LOGICAL_CHANNEL, [qmi.result_tlv()]),
        "close-channel-invalid": qmi.build_frame(uim, 1, 5, qmi.UIM_LOGICAL_CHANNEL,
                                                 [qmi.result_tlv(qmi.E_INVALID_ARGUMENT)]),
        "send-apdu-malformed": qmi.build_frame(uim, 1, 6, qmi.UIM_SEND_APDU,
                                               [qmi.result_tlv(qmi.E_MALFORMED_MESSAGE)]),
    }
    picked = sorted(set(card.rapdus), key=len)
    for i, r in enumerate(picked[:: max(1, len(picked) // 6)][:6]):
        frames["send-apdu-%d" % i] = qmi.build_frame(uim, 1, 10 + i, qmi.UIM_SEND_APDU,
                                                     [qmi.result_tlv(), (0x10, struct.pack("<H", len(r)) + r)])
    for name, frame in frames.items():
        seeds.add("qmi-uim", name, frame)
    # Two frames in one read, as a port delivers them.
    seeds.add("qmi-uim", "two-frames", frames["send-apdu-0"] + frames["close-channel"])
    return frames


def mbim_seeds(card, seeds, qmi_frames):
    """What an MBIM modem answers esimd, in the simulator's MBIM framing (tests/sim/esimsim/mbim.py),
    with the card's real answers; and the QMUX frames of qmi_seeds inside MBIM, as a Qualcomm modem
    in MBIM mode carries them."""
    M = mbim
    uicc, bc, bcx = M.UUID_MS_UICC_LOW_LEVEL, M.UUID_BASIC_CONNECT, M.UUID_MS_BASIC_CONNECT_EXT

    def done(service, cid, status, info, tid=1, max_transfer=4096):
        payload = service + struct.pack("<III", cid, status, len(info)) + info
        return b"".join(M.fragments(M.COMMAND_DONE, tid, payload, max_transfer))

    fci = card.fci if getattr(card, "fci", None) else bytes.fromhex("6F128410A0000005591010FFFFFFFF8900000100")
    msgs = {
        "open-channel": done(uicc, M.UICC_OPEN_CHANNEL, 0,
                             M.InfoBuffer().u32(M.sw_status(0x9000)).u32(1).ref_sized(fci).build()),
        "open-channel-select-failed": done(uicc, M.UICC_OPEN_CHANNEL, M.S_MS_SELECT_FAILED,
                                           M.InfoBuffer().u32(M.sw_status(0x6A82)).u32(0).ref_sized(b"").build()),
        "open-channel-none-free": done(uicc, M.UICC_OPEN_CHANNEL, M.S_MS_NO_LOGICAL_CHANNELS, b""),
        # Qualcomm's firmware for a card in non-telecom mode: Status from one byte past 90 00.
        "open-channel-status-zero": done(uicc, M.UICC_OPEN_CHANNEL, 0,
                                         M.InfoBuffer().u32(0).u32(2).ref_sized(fci).build()),
        # A refused SELECT in a channel the modem keeps open (the caller closes it).
        "open-channel-refused-in-channel": done(uicc, M.UICC_OPEN_CHANNEL, 0,
                                                M.InfoBuffer().u32(M.sw_status(0x6A82)).u32(3).ref_sized(b"").build()),
        "open-channel-unsupported": done(uicc, M.UICC_OPEN_CHANNEL, M.S_NO_DEVICE_SUPPORT, b""),
        "close-channel": done(uicc, M.UICC_CLOSE_CHANNEL, 0, M.InfoBuffer().u32(M.sw_status(0x9000)).build()),
        "close-channel-invalid": done(uicc, M.UICC_CLOSE_CHANNEL, M.S_MS_INVALID_LOGICAL_CHANNEL, b""),
        "uicc-reset": done(uicc, M.UICC_RESET, 0, M.InfoBuffer().u32(0).build()),
        "uicc-reset-unsupported": done(uicc, M.UICC_RESET, M.S_NO_DEVICE_SUPPORT, b""),
        "device-caps": done(bc, M.BC_DEVICE_CAPS, 0, (
            M.InfoBuffer().u32(1).u32(1).u32(1).u32(2).u32(0x3F).u32(0).u32(1).u32(1).ref(b"")
            .ref(M.utf16("356938035643809")).ref(M.utf16("esim-sim 1.0")).ref(M.utf16("esim-sim")).build())),
        "ready-status": done(bc, M.BC_SUBSCRIBER_READY_STATUS, 0,
                             M.InfoBuffer().u32(1).ref(b"").ref(M.utf16("8949449999999990011")).u32(0).u32(0).build()),
        "radio-state": done(bc, M.BC_RADIO_STATE, 0, M.InfoBuffer().u32(1).u32(1).build()),
        "sys-caps": done(bcx, M.BCX_SYS_CAPS, 0, M.InfoBuffer().u32(1).u32(2).u32(1).u64(0x0E51A51A).build()),
        "slot-mappings": done(bcx, M.BCX_DEVICE_SLOT_MAPPINGS, 0,
                              M.InfoBuffer().u32(1).ref(struct.pack("<I", 0)).build()),
        "slot-info": done(bcx, M.BCX_SLOT_INFO_STATUS, 0, M.InfoBuffer().u32(0).u32(M.SLOT_ACTIVE_ESIM).build()),
        "function-error": M.message(M.FUNCTION_ERROR, 1, struct.pack("<I", M.E_NOT_OPENED)),
        "indication": M.fragments(M.INDICATE_STATUS, 9, bc + struct.pack("<II", M.BC_SUBSCRIBER_READY_STATUS, 28)
                                  + M.InfoBuffer().u32(7).ref(b"").ref(b"").u32(0).u32(0).build(), 4096)[0],
    }
    picked = sorted(set(card.rapdus), key=len)
    for i, r in enumerate(picked[:: max(1, len(picked) // 6)][:6]):
        msgs["apdu-%d" % i] = done(uicc, M.UICC_APDU, 0,
                                   M.InfoBuffer().u32(M.sw_status(int.from_bytes(r[-2:], "big")))
                                   .ref_sized(r[:-2]).build())
    # No SW in the Status, the card's SW at the end of the response.
    msgs["apdu-sw-in-response"] = done(uicc, M.UICC_APDU, 0, M.InfoBuffer().u32(0).ref_sized(picked[0]).build())
    for name, frame in qmi_frames.items():
        msgs["qmi-" + name] = done(M.UUID_QMI, M.QMI_MSG, 0, frame)
    for name, m in msgs.items():
        seeds.add("mbim", name, m)
    # Two answers in one read, and an answer in fragments (libmbim reassembles those first).
    seeds.add("mbim", "two-messages", msgs["apdu-0"] + msgs["close-channel"])
    seeds.add("mbim", "fragments", done(uicc, M.UICC_APDU, 0,
                                       M.InfoBuffer().u32(0x90).ref_sized(picked[-1][:-2]).build(), max_transfer=64))
    # Behind fuzz-mbim's selector byte: command index, 4 status bytes, information buffer.
    seeds.add("mbim", "selected-apdu", bytes([2]) + struct.pack("<I", 0) + msgs["apdu-0"][48:])
    seeds.add("mbim", "selected-qmi", bytes([10]) + struct.pack("<I", 0) + qmi_frames["send-apdu-0"])


def apdu_seeds(card, seeds, exchanges):
    """fuzz-apdu inputs: 4 set-up bytes (request length, segment size, floor, channel), then the
    answers, each a 16-bit length and a real response APDU of the card."""
    def record(rapdu):
        return struct.pack(">H", len(rapdu)) + rapdu

    ok = b"\x90\x00"
    for name, (first, segment, answers) in exchanges.items():
        # Request of 1 + 3 * first bytes in blocks of segment: intermediate blocks answer 9000.
        length = 1 + 3 * first
        blocks = -(-length // (segment or 255))
        body = b"".join(record(ok) for _ in range(blocks - 1))
        body += b"".join(record(r) for r in answers)
        body += record(ok)  # the queued second call
        seeds.add("apdu", name, bytes([first, segment, 62, card.ch]) + body)


def crafted_seeds(seeds):
    """Structures the test world never sends but real eUICCs may: every optional ProfileInfo field
    (refArDo rules, dpProprietaryData, policy rules), a fuller EUICCInfo2 and RAT, and the error
    alternatives of the PIR. Hand-made here, from the ASN.1 of SGP.22 v2.2.2."""
    e = der.encode
    iccid = e(0x5A, der.iccid_to_bcd(ICCIDS[0]))
    rule = e(0xE2, [e(0xE1, [e(0xC1, bytes(range(20))), e(0xCA, b"com.example.carrier")]),
                    e(0xE3, [e(0xDB, bytes(8))])])
    rule_hash_only = e(0xE2, [e(0xE1, [e(0xC1, bytes(range(32)))]), e(0xE4, b"\x00")])
    owner = e(0xB7, [e(0x80, bytes.fromhex("00f110")), e(0x81, b"\xa1"), e(0x82, b"\xb2")])
    info = e(0xE3, [iccid, e(0x4F, bytes.fromhex("A0000005591010FFFFFFFF8900001100")), e(0x9F70, b"\x01"),
                    e(0x90, "Home".encode()), e(0x91, b"Operator"), e(0x92, b"Plan"), e(0x93, b"\x01"),
                    e(0x94, bytes(range(16))), e(0x95, b"\x02"),
                    e(0xB6, [e(0x30, [e(0x80, der.encode_bits([0, 3], 4)), e(0x81, b" smdp.example.com ")])]),
                    owner, e(0xB8, [e(0x80, der.encode_oid("2.999.10"))]), e(0x99, der.encode_bits([1, 2], 3)),
                    e(0xBF76, [rule, rule_hash_only]), e(0x9F7F, b"future field")])
    seeds.add("es10-responses", "crafted-profiles-info", e(0xBF2D, [e(0xA0, [info])]))
    seeds.add("es10-responses", "crafted-profile-metadata",
              e(0xBF25, [iccid, e(0x91, b"Operator"), e(0x92, b"Plan"), owner, e(0x99, der.encode_bits([1], 3)),
                         e(0xB8, [e(0x06, der.encode_oid("1.3.6.1.4.1.31746"))]), e(0xBF76, [rule])]))
    pkids = e(0xA9, [e(0x04, bytes(20)), e(0x04, bytes(range(20)))])
    seeds.add("es10-responses", "crafted-euicc-info2",
              e(0xBF22, [e(0x81, b"\x02\x03\x01"), e(0x82, b"\x02\x02\x02"), e(0x83, b"\x01\x00\x00"),
                         e(0x84, [e(0x81, b"\x02"), e(0x82, b"\x01\x00\x00\x00\x00"), e(0x83, b"\x10\x00")]),
                         e(0x85, der.encode_bits(range(0, 26, 3), 26)), e(0x86, b"\x09\x02\x00"),
                         e(0x87, b"\x02\x03\x01"), e(0x88, der.encode_bits([0, 1, 4], 5)), pkids,
                         e(0xAA, [e(0x04, bytes(range(20)))]), e(0x8B, b"\x02"), e(0x99, der.encode_bits([0], 3)),
                         e(0x04, b"\x01\x00\x00"), e(0x0C, b"GSMA-SAS-1234"),
                         e(0xAC, [e(0x80, b"Platform"), e(0x81, b"https://cert.example")]), e(0x9F99, b"\x01")]))
    seeds.add("es10-responses", "crafted-euicc-info1",
              e(0xBF20, [e(0x82, b"\x02\x02\x02"), pkids, e(0xAA, [e(0x04, bytes(20))])]))
    operators = e(0xA1, [e(0x30, [e(0x80, bytes.fromhex("e2f1ee"))]),
                         e(0x30, [e(0x80, bytes.fromhex("00f110")), e(0x81, b"\xa1")])])
    seeds.add("es10-responses", "crafted-rat",
              e(0xBF43, [e(0xA0, [e(0x30, [e(0x80, der.encode_bits([1], 3)), operators,
                                           e(0x82, der.encode_bits([0], 1))]),
                                  e(0x30, [e(0x80, der.encode_bits([2], 3)), e(0xA1, b""),
                                           e(0x82, der.encode_bits([], 1))])])]))
    tid = e(0x80, bytes(range(16)))
    meta = e(0xBF2F, [e(0x80, b"\x07"), e(0x81, der.encode_bits([0], 4)), e(0x0C, SMDP.encode()), iccid])
    error_result = e(0xA2, [e(0xA1, [e(0x80, b"\x05"), e(0x81, b"\x0a"), e(0x82, b"\x90\x00")])])
    pir = e(0xBF37, [e(0xBF27, [tid, meta, e(0x06, der.encode_oid("2.999.10")), error_result]),
                     e(0x5F37, bytes(64))])
    seeds.add("es10-responses", "crafted-pir-error", pir)
    seeds.add("der", "crafted-pir-error", pir)
    # SGP.22 v3: a notification of a remote (RPM) disable, bit 5, beside a v2 one.
    rpm = e(0xBF2F, [e(0x80, b"\x08"), e(0x81, der.encode_bits([5], 6)), e(0x0C, SMDP.encode())])
    seeds.add("es10-responses", "crafted-notifications-rpm", e(0xBF28, [e(0xA0, [rpm, meta])]))
    # ... and RetrieveNotificationsList's loadRpmPackageResultSigned [1] around its signed data.
    rpm_result = e(0xA1, [e(0x30, [tid, rpm, e(0x06, der.encode_oid("2.999.10"))]), e(0x5F37, bytes(64))])
    seeds.add("es10-responses", "crafted-retrieve-rpm",
              e(0xBF2B, [e(0xA0, [rpm_result, e(0x30, [meta, e(0x5F37, bytes(64))])])]))
    # Members of a ProfileInfo that do not decode (the eUICC echoes its SM-DP+'s metadata): an AID
    # of 4 bytes, a PPR BIT STRING of no bytes, a notificationConfigurationInfo without address, a
    # 2-byte mccMnc, a refArDo without deviceAppIdRefDo. Left out; the profiles are listed.
    odd = e(0xE3, [iccid, e(0x4F, bytes.fromhex("A0000005")), e(0x9F70, b"\x01"), e(0x91, b"Operator"),
                   e(0x99, b""), e(0xB6, [e(0x30, [e(0x80, der.encode_bits([0], 1))])]),
                   e(0xB7, [e(0x80, bytes.fromhex("00f1"))]),
                   e(0xBF76, [e(0xE2, [e(0xE1, [e(0x4F, bytes.fromhex("A000000151"))]), e(0xE3, [e(0xDB, b"\x00")])])])])
    seeds.add("es10-responses", "crafted-profiles-info-odd-members",
              e(0xBF2D, [e(0xA0, [odd, e(0xE3, [iccid, e(0x9F70, b"\x00")])])]))
    # An EUICCInfo2 whose descriptive members do not decode (versions of 2 and 5 bytes, empty BIT
    # STRINGs, a 9-byte category): left out, the svn and CI lists read.
    seeds.add("es10-responses", "crafted-euicc-info2-odd-members",
              e(0xBF22, [e(0x81, b"\x02\x01"), e(0x82, b"\x02\x02\x02"), e(0x83, bytes(range(1, 6))),
                         e(0x85, b""), e(0x86, b""), e(0x88, b""), pkids, e(0xAA, [e(0x04, bytes(range(20)))]),
                         e(0x8B, bytes(9)), e(0x99, b""), e(0x04, b"\x01\x00")]))
    # EuiccConfiguredAddresses with a defaultDpAddress byte that is not UTF-8 (reads as U+FFFD).
    seeds.add("es10-responses", "crafted-addresses-bad-text",
              e(0xBF3C, [e(0x80, b"dp.ex\xffample.com"), e(0x81, b"lpa.ds.gsma.com")]))
    # Notifications the parser cannot read (an operation only in bit 8, none at all) between
    # readable ones: left out of the list and of the retrieved batch, the others kept.
    unknown_op = e(0xBF2F, [e(0x80, b"\x09"), e(0x81, der.encode_bits([8], 9)), e(0x0C, SMDP.encode())])
    no_op = e(0xBF2F, [e(0x80, b"\x0a"), e(0x81, der.encode_bits([], 0)), e(0x0C, SMDP.encode())])
    seeds.add("es10-responses", "crafted-notifications-unreadable",
              e(0xBF28, [e(0xA0, [meta, unknown_op, no_op, rpm])]))
    seeds.add("es10-responses", "crafted-retrieve-unreadable",
              e(0xBF2B, [e(0xA0, [e(0x30, [meta, e(0x5F37, bytes(64))]), e(0x30, [unknown_op, e(0x5F37, bytes(64))]),
                                  e(0xBF37, [e(0x30, b"")]), e(0x30, [rpm, e(0x5F37, bytes(64))])])]))
    at_seeds(seeds)



# fuzz-at: byte 0 picks the command (0 CGLA, 1 CSIM, 2 CCHO, 3 CGSN, 4 CGMI, 5 CCHC), byte 1
# where the stream is cut in two reads. The answers have the shapes of the public transcripts
# of tests/unit/test-at-parser.c (lpac issues #138, #173, #179, #209, pull request #238; the
# atsign-foundation EG95 log), with short payloads of our own.
AT_ANSWERS = {
    "cgla-ok": (0, b"\r\n+CGLA: 6,\"01a2b3\"\r\n\r\nOK\r\n"),
    "cgla-no-space": (0, b"\r\n+CGLA:4,\"611A\"\r\n\r\nOK\r\n"),
    "cgla-echo": (0, b"AT+CGLA=1,10,\"81F2000000\"\r\n+CGLA: 4,\"9000\"\r\n\r\nOK\r\n"),
    "cgla-urcs": (0, b"\r\nRDY\r\n+CPIN: READY\r\n+CGLA: 4,9000\r\n+QIND: SMS DONE\r\nOK\r\n"),
    "csim-cme": (1, b"\r\n+CME ERROR: 0\r\n"),
    "csim-channel": (1, b"\r\n+CSIM: 6,\"019000\"\r\n\r\nOK\r\n"),
    "ccho-handle": (2, b"\r\n+CCHO: 000000000385a7cf\r\n\r\nOK\r\n"),
    "ccho-bare": (2, b"\r\n1\r\n\r\nOK\r\n"),
    "ccho-verbose-error": (2, b"\r\n+CME ERROR: SIM not inserted\r\n"),
    "cgsn": (3, b"\r\n356938035643809\r\n\r\nOK\r\n"),
    "cgmi-noise": (4, b"\x00\x00\nSMS Ready\nQuectel\n\nOK\n"),
    "cchc-echo-lost": (5, b"T+CCHC=1\r\n\r\nOK\r\n"),
    "cms-error": (5, b"\r\n+CMS ERROR:500\r\n"),
    "cgsn-cmt-pdu": (3, b"\r\n+CMT: ,24\r\n07911326040000F0040B9113466100\r\n\r\n356938035643809\r\n\r\nOK\r\n"),
    "ccho-cmt-text": (2, b"\r\n+CMT: \"+393331234567\",,\"24/12/06,20:00:00+04\"\r\nOK\r\n1\r\nOK\r\n"),
    "cgla-cds-cbm": (0, b"\r\n+CDS: 25\r\n0791447758100650\r\n+CGLA: 4,\"9000\"\r\n+CBM: 88\r\n001000DD\r\nOK\r\n"),
    "ccho-verbose-not-supported": (2, b"\r\n+CME ERROR: operation not supported\r\n"),
    # AT+CGLA answered without its prefix, and with the prefix alone on its line (written for
    # esimd after FM350-GL's bare AT+CCHO and its +GTCCINFO: lines: test-at-parser.c says where)
    "cgla-bare": (0, b"\r\n4,\"9000\"\r\n\r\nOK\r\n"),
    "cgla-prefix-alone": (0, b"\r\n+CGLA:\r\n6,\"01a2b3\"\r\n\r\nOK\r\n"),
}


def at_seeds(seeds):
    for name, (command, answer) in AT_ANSWERS.items():
        seeds.add("at", name, bytes([command, len(answer) // 2]) + answer)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--crafted-only", action="store_true", help="only the hand-made seeds (no test world)")
    args = ap.parse_args()
    seeds = Seeds()
    crafted_seeds(seeds)
    if args.crafted_only:
        print("wrote %d seed files under %s" % (seeds.write(args.out), args.out))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        p = pki.generate(os.path.join(tmp, "pki"))
        for name in ("ci", "eum", "euicc", "dpauth", "dppb"):
            with open(p[name], "rb") as f:
                seeds.add("der", "certificate-" + name, f.read())
        sim = simctl.start_sim(tmp, p, get_response=True)
        orders = [
            {"matchingId": "SEED-A", "iccid": ICCIDS[0], "profile": {"generate": {"size": 700}},
             "metadata": {"serviceProviderName": "Test Operator", "profileName": "Seed plan",
                          "profileClass": "operational", "iconType": "png", "icon": ICON,
                          "notificationConfigurationInfo": [
                              {"events": ["install", "enable", "disable", "delete"], "address": SMDP}],
                          "profileOwner": {"mccMnc": "00f110", "gid1": "a1", "gid2": "b2"},
                          "ppr": ["ppr1"]}},
            {"matchingId": "SEED-B", "iccid": ICCIDS[1], "profile": {"generate": {"size": 600}},
             "confirmationCode": "4711", "metadata": {"profileClass": "test"}},
            {"matchingId": "SEED-C", "iccid": ICCIDS[2], "profile": {"generate": {"size": 600}}},
            {"matchingId": "SEED-D", "iccid": ICCIDS[3], "state": "held"},
            {"matchingId": "SEED-E", "iccid": ICCIDS[4], "profile": {"generate": {"size": 600}}},
        ]
        events = [{"eid": pki.DEFAULT_EID, "eventId": "SEED-E", "rspServerAddress": SMDP}]
        dp = smdpctl.start_smdp(os.path.join(tmp, "dp"), p, orders, events)
        try:
            card = RecordingCard(sim.apdu_socket, seeds)
            client = record_es9(dp.es9_client(timeout=120), seeds)
            smds = record_es9(dp.es11_client(timeout=120), seeds, es11=True)

            download(card, client, "SEED-A")
            download(card, client, "SEED-B", cc="0000")  # wrong code: refused
            download(card, client, "SEED-B", cc="4711")
            dp.control.config(sessionKeys=True)
            download(card, client, "SEED-C")
            download(card, client, "SEED-D")  # held
            download(card, client, "NO-SUCH-ID")  # unknown matching ID
            profile_operations(card, client)
            cancelled_session(card, client)
            event_discovery(card, smds)
            download(card, client, "SEED-E")  # its event is gone afterwards: an empty list
            event_discovery(card, smds)
            card.raw_es10(der.encode(0xBF2D, b""))
            profiles_exchange = list(card.last_exchange)
            card.raw_es10(der.encode(0xBF22, b""))
            info2_exchange = list(card.last_exchange)
            card.raw_es10(der.encode(0xBF34, der.encode(0x82, der.encode_bits([0, 1], 3))))

            for r in [seeds.files[k] for k in list(seeds.files) if k[0] == "es10-responses"]:
                if der.decode(r).tag in (0xBF22, 0xBF2D, 0xBF2B, 0xBF37, 0xBF38, 0xBF41, 0xBF43):
                    seeds.add("der", "es10-%X" % der.decode(r).tag, r)
            mbim_seeds(card, seeds, qmi_seeds(card, seeds))
            apdu_seeds(card, seeds, {
                "profiles-info-get-response": (0, 0, profiles_exchange),
                "euicc-info2-get-response": (100, 120, info2_exchange),
                "three-blocks": (254, 0, profiles_exchange),
                "status-6a80": (10, 63, [b"\x6a\x80"]),
                "wrong-le": (10, 0, [b"\x6c\x10", bytes(16) + b"\x90\x00"]),
            })
            card.close()
        finally:
            dp.stop()
            sim.stop()

    for name, code in (("plain", "LPA:1$%s$SEED-A" % SMDP), ("typed", "1$%s$SEED-A" % SMDP),
                       ("oid", "LPA:1$%s$SEED-A$2.999.10" % SMDP), ("cc", "LPA:1$%s$SEED-B$2.999.10$1" % SMDP),
                       ("cc-no-oid", "LPA:1$%s$SEED-B$$1" % SMDP), ("empty-matching-id", "LPA:1$%s$" % SMDP),
                       ("lower-prefix", "lpa:1$%s$A-1" % SMDS), ("spaces", "  LPA:1$%s$SEED-C  \n" % SMDP),
                       ("extra-field", "LPA:1$%s$SEED-A$2.999.10$$future" % SMDP)):
        seeds.add("activation-code", name, code.encode())
    print("wrote %d seed files under %s" % (seeds.write(args.out), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
