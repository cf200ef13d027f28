#!/usr/bin/python3
# Scripted LPA for the test world: one profile download, ES9+ to the test SM-DP+ and ES10 over APDUs.
"""Runs GetEUICCChallenge → InitiateAuthentication → AuthenticateServer → AuthenticateClient →
PrepareDownload → GetBoundProfilePackage → LoadBoundProfilePackage (segment by segment) →
handleNotification → RemoveNotificationFromList → GetProfilesInfo, and prints one JSON object
describing how far it got. Deliberately small: a test client, not an LPA.

    lpa-driver.py --apdu-socket PATH --smdp-port N --ca ci.pem --matching-id ID [--cc CODE]

Exit status: 0 profile installed, 1 refused by the server or the eUICC (see the JSON), 2 usage
or transport error.
"""

import argparse
import base64
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from esimtest import crypto, der, smdpctl  # noqa: E402

ISDR_AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")


class ApduError(Exception):
    pass


class Stop(Exception):
    """The download ended early; `result` says why."""

    def __init__(self, **result):
        super().__init__(result.get("stage"))
        self.result = result


class Card:
    """ES10 over the simulator's APDU socket (one hex APDU per line, hex response+SW back)."""

    def __init__(self, path, block=255):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")
        self.block = block
        resp, sw = self.apdu(bytes.fromhex("0070000001"))
        if sw != 0x9000 or len(resp) != 1:
            raise ApduError("MANAGE CHANNEL open: %04X" % sw)
        self.ch = resp[0]
        if not 1 <= self.ch <= 3:
            raise ApduError("channel %d: this driver only codes channels 1..3" % self.ch)
        resp, sw = self.apdu(bytes([self.ch, 0xA4, 0x04, 0x00, len(ISDR_AID)]) + ISDR_AID)
        self.collect(resp, sw)

    def apdu(self, cmd):
        self.f.write(cmd.hex().encode() + b"\n")
        self.f.flush()
        line = self.f.readline()
        if not line:
            raise ApduError("APDU socket closed")
        if line.startswith(b"ERR"):
            raise ApduError(line.decode().strip())
        r = bytes.fromhex(line.decode().strip())
        return r[:-2], int.from_bytes(r[-2:], "big")

    def collect(self, data, sw):
        while sw >> 8 == 0x61:
            more, sw = self.apdu(bytes([self.ch, 0xC0, 0, 0, sw & 0xFF]))
            data += more
        if sw != 0x9000:
            raise ApduError("status word %04X" % sw)
        return data

    def es10(self, request):
        """One ES10 command as STORE DATA blocks; returns the response (may be empty)."""
        blocks = [request[i : i + self.block] for i in range(0, len(request), self.block)]
        for n, blk in enumerate(blocks):
            last = n == len(blocks) - 1
            data, sw = self.apdu(bytes([0x80 | self.ch, 0xE2, 0x91 if last else 0x11, n, len(blk)]) + blk)
            if not last and (sw != 0x9000 or data):
                raise ApduError("STORE DATA block %d: %04X" % (n, sw))
        return self.collect(data, sw)

    def close(self):
        try:
            self.apdu(bytes([0x00, 0x70, 0x80, self.ch]))
        finally:
            self.sock.close()


def b64(data):
    return base64.b64encode(data).decode()


def ctx_params1(matching_id):
    dev = der.encode(0xA1, [der.encode(0x80, bytes.fromhex("35290611")), der.encode(0xA1, b"")])
    items = ([der.encode(0x80, matching_id.encode())] if matching_id else []) + [dev]
    return der.encode(0xA0, items)


def bpp_segments(bpp):
    """SGP.22 §2.5.5 segments, sliced from the received bytes (never re-encoded)."""
    top = der.decode(bpp)
    segs = [top.raw[: top.header_len] + top.find(0xBF23).raw]
    for c in top.children():
        if c.tag in (0xA0, 0xA2):
            segs.append(c.raw)
        elif c.tag in (0xA1, 0xA3):
            segs.append(c.raw[: c.header_len])
            segs += [k.raw for k in c.children()]
    return segs


def es9(client, function, body):
    status, _, out = client.post(function, body)
    if status != 200 or out is None:
        raise Stop(stage=function, server={"http": status})
    st, subject, reason = smdpctl.execution_status(out)
    if st not in ("Executed-Success", "Executed-WithWarning"):
        raise Stop(stage=function, server={"status": st, "subjectCode": subject, "reasonCode": reason})
    return out


def euicc_error(resp, stage, code_tag=0x02):
    """The error alternative (A1 {80 tid, 02 code}) of a BF38/BF21 response, or None."""
    kids = der.decode(resp).children()
    if kids and kids[0].tag == 0xA1:
        code = kids[0].find(code_tag)
        return {"stage": stage, "euiccError": der.decode_int(code.value) if code is not None else None}
    return None


def profiles(card):
    out = []
    resp = der.decode(card.es10(der.encode(0xBF2D, b"")))
    lst = resp.find(0xA0)
    for p in lst.children() if lst is not None else []:
        iccid, state = p.find(0x5A), p.find(0x9F70)
        out.append({"iccid": der.iccid_from_bcd(iccid.value) if iccid is not None else None,
                    "state": der.decode_int(state.value) if state is not None else None})
    return out


def download(card, client, smdp_address, matching_id, cc=None):
    result = {}
    chal = der.decode(card.es10(der.encode(0xBF2E, b""))).find(0x80).value
    info1 = card.es10(der.encode(0xBF20, b""))
    init = es9(client, "initiateAuthentication",
               {"euiccChallenge": b64(chal), "euiccInfo1": b64(info1), "smdpAddress": smdp_address})
    tid = init["transactionId"]
    f = {k: base64.b64decode(init[k]) for k in ("serverSigned1", "serverSignature1", "euiccCiPKIdToBeUsed",
                                                 "serverCertificate")}
    signed1 = der.decode(f["serverSigned1"])
    if signed1.find(0x80).value.hex().upper() != tid.upper() or signed1.find(0x81).value != chal:
        raise Stop(stage="initiateAuthentication", lpaError="serverSigned1 does not match the request")
    bf38 = card.es10(der.encode(0xBF38, [f["serverSigned1"], f["serverSignature1"], f["euiccCiPKIdToBeUsed"],
                                         f["serverCertificate"], ctx_params1(matching_id)]))
    err = euicc_error(bf38, "authenticateServer")
    try:
        auth = es9(client, "authenticateClient", {"transactionId": tid, "authenticateServerResponse": b64(bf38)})
    except Stop as e:
        if err:
            e.result.update(err)
        raise
    if err:  # the server must not accept an eUICC refusal
        raise Stop(**err, lpaError="server accepted an eUICC error")
    signed2 = base64.b64decode(auth["smdpSigned2"])
    cc_required = der.decode(signed2).find(0x01).value != b"\x00"
    result["ccRequired"] = cc_required
    items = [signed2, base64.b64decode(auth["smdpSignature2"])]
    if cc_required:
        if cc is None:
            raise Stop(stage="prepareDownload", lpaError="confirmation code required", ccRequired=True)
        items.append(der.encode(0x04, crypto.hash_cc(cc, der.decode(signed2).find(0x80).value)))
    items.append(base64.b64decode(auth["smdpCertificate"]))
    bf21 = card.es10(der.encode(0xBF21, items))
    err = euicc_error(bf21, "prepareDownload")
    try:
        out = es9(client, "getBoundProfilePackage", {"transactionId": tid, "prepareDownloadResponse": b64(bf21)})
    except Stop as e:
        if err:
            e.result.update(err)
        raise
    if err:
        raise Stop(**err, lpaError="server accepted an eUICC error")
    bpp = base64.b64decode(out["boundProfilePackage"])
    segs = bpp_segments(bpp)
    result["segments"] = len(segs)
    pir = None
    for i, seg in enumerate(segs):
        resp = card.es10(seg)
        if resp:
            pir = resp
            result["segmentsSent"] = i + 1
            break
    if pir is None:
        raise Stop(stage="loadBoundProfilePackage", lpaError="no ProfileInstallationResult", **result)
    t = der.decode(pir)
    data = t.find(0xBF27)
    fr = data.find(0xA2).children()[0]
    meta = data.find(0xBF2F)
    seq = der.decode_int(meta.find(0x80).value)
    result["pir"] = {"seq": seq, "success": fr.tag == 0xA0}
    if fr.tag == 0xA1:
        result["pir"]["bppCommandId"] = der.decode_int(fr.find(0x80).value)
        result["pir"]["errorReason"] = der.decode_int(fr.find(0x81).value)
    # Deliver the PIR (success or error) to its notificationAddress, then remove it from the eUICC.
    status, _, _ = client.post("handleNotification", {"pendingNotification": b64(pir)})
    result["notificationStatus"] = status
    if 200 <= status < 300:
        removed = der.decode(card.es10(der.encode(0xBF30, der.encode(0x80, der.encode_int(seq)))))
        result["notificationRemoved"] = der.decode_int(removed.find(0x80).value) == 0
    if fr.tag == 0xA1:
        raise Stop(stage="loadBoundProfilePackage", **result)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apdu-socket", required=True)
    ap.add_argument("--smdp-address", default="testsmdpplus1.example.com")
    ap.add_argument("--connect", default="127.0.0.1", help="address the SM-DP+ name resolves to")
    ap.add_argument("--smdp-port", type=int, required=True)
    ap.add_argument("--ca", required=True, help="CA file trusted for TLS (the test CI only)")
    ap.add_argument("--matching-id", default="")
    ap.add_argument("--cc", default=None, help="confirmation code")
    ap.add_argument("--block", type=int, default=255, help="STORE DATA block size")
    a = ap.parse_args()
    client = smdpctl.Es9Client(a.smdp_address, a.smdp_port, a.ca, address=a.connect, timeout=120)
    try:
        card = Card(a.apdu_socket, a.block)
    except (OSError, ApduError) as e:
        print(json.dumps({"result": "transport-error", "error": str(e)}))
        return 2
    rc = 0
    try:
        try:
            res = download(card, client, a.smdp_address, a.matching_id, a.cc)
            res["result"] = "installed"
        except Stop as e:
            res = dict(e.result, result="refused")
            rc = 1
        res["profiles"] = profiles(card)
    except (OSError, ApduError, der.DerError, AttributeError) as e:
        res = {"result": "transport-error", "error": "%s: %s" % (type(e).__name__, e)}
        rc = 2
    finally:
        try:
            card.close()
        except (OSError, ApduError):
            pass
    print(json.dumps(res))
    return rc


if __name__ == "__main__":
    sys.exit(main())
