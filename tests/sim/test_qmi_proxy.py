#!/usr/bin/python3
"""The fake modem over the qmi-proxy protocol and the pty, driven by libqmi and by raw QMUX frames.

qmi-uim-client (the template of esimd's transport) end to end, and the QMI error cases.
Usage: test_qmi_proxy.py PATH-TO-qmi-uim-client"""

import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

from simtest import SKIP, SimTestCase

from dpside import metadata
from esimtest import der

CLIENT = None
ICCID = "8949449999999990300"


def run_client(*args, timeout=60):
    return subprocess.run([CLIENT, *args], capture_output=True, text=True, timeout=timeout)


class QmuxClient:
    """A minimal QMUX speaker for the raw cases (requests: QMUX flags 0, SDU flags 0)."""

    def __init__(self, name: str, device: str = "/dev/cdc-wdm-sim"):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect("\0" + name)
        self.buf = b""
        self.tid = 0
        if device is not None:
            self.check(self.request(0, 0, 0xFF00, [(0x01, device.encode())]))

    def close(self):
        self.sock.close()

    def send(self, service, cid, msg_id, tlvs):
        self.tid += 1
        body = b"".join(struct.pack("<BH", t, len(v)) + v for t, v in tlvs)
        if service == 0:
            sdu = struct.pack("<BBHH", 0, self.tid & 0xFF, msg_id, len(body)) + body
        else:
            sdu = struct.pack("<BHHH", 0, self.tid, msg_id, len(body)) + body
        self.sock.sendall(struct.pack("<BHBBB", 1, 5 + len(sdu), 0, service, cid) + sdu)

    def receive_frame(self) -> bytes:
        while True:
            if len(self.buf) >= 3:
                n = struct.unpack_from("<H", self.buf, 1)[0] + 1
                if len(self.buf) >= n:
                    frame, self.buf = self.buf[:n], self.buf[n:]
                    return frame
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data

    def receive(self):
        return self.parse(self.receive_frame())

    @staticmethod
    def parse(frame):
        service = frame[4]
        hdr = 6 if service == 0 else 7
        sdu = frame[6:]
        flags = sdu[0]
        tid = sdu[1] if service == 0 else struct.unpack_from("<H", sdu, 1)[0]
        msg_id = struct.unpack_from("<H", sdu, hdr - 4)[0]
        tlvs = {}
        pos = hdr
        while pos < len(sdu):
            t, n = struct.unpack_from("<BH", sdu, pos)
            tlvs[t] = sdu[pos + 3 : pos + 3 + n]
            pos += 3 + n
        return {"service": service, "cid": frame[5], "flags": flags, "tid": tid, "msg": msg_id, "tlvs": tlvs,
                "qmux_flags": frame[3]}

    def request(self, service, cid, msg_id, tlvs=()):
        self.send(service, cid, msg_id, list(tlvs))
        r = self.receive()
        assert (r["msg"], r["tid"]) == (msg_id, self.tid & (0xFF if service == 0 else 0xFFFF)), r
        return r

    @staticmethod
    def error(r) -> int:
        status, code = struct.unpack("<HH", r["tlvs"][0x02])
        return code if status else 0

    def check(self, r):
        assert self.error(r) == 0, "QMI error %d" % self.error(r)
        return r

    def allocate_uim(self) -> int:
        r = self.check(self.request(0, 0, 0x0022, [(0x01, b"\x0b")]))
        return r["tlvs"][0x01][1]

    def open_channel(self, cid, aid=bytes.fromhex("A0000005591010FFFFFFFF8900000100"), slot=1):
        return self.request(0x0B, cid, 0x0042, [(0x01, bytes([slot])), (0x10, bytes([len(aid)]) + aid)])

    def send_apdu(self, cid, channel, apdu: bytes, slot=1):
        return self.request(0x0B, cid, 0x003B, [(0x01, bytes([slot])), (0x02, struct.pack("<H", len(apdu)) + apdu),
                                                (0x10, bytes([channel]))])

    @staticmethod
    def rapdu(r) -> bytes:
        v = r["tlvs"][0x10]
        assert struct.unpack_from("<H", v)[0] == len(v) - 2
        return v[2:]


def challenge_apdu(channel: int) -> bytes:
    return bytes([0x80 | channel, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2E, 0x00])


class LibqmiClientTest(SimTestCase):
    """qmi-uim-client opens the device with QMI_DEVICE_OPEN_FLAGS_PROXY + device-proxy-path."""

    sim_options = {"qmi_proxy_socket": True, "pty": True}

    def client(self, *args):
        return run_client("--proxy-path", self.sim.qmi_proxy_socket, *args, "/dev/cdc-wdm-esim-sim")

    def test_challenge_status_power_cycle(self):
        self.ctl.counters(reset=True)
        r = self.client()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertRegex(out, r"(?m)^open: ok$")
        channel = int(re.search(r"(?m)^channel: (\d+)$", out).group(1))
        self.assertGreaterEqual(channel, 1)
        fci = der.decode(bytes.fromhex(re.search(r"(?m)^select-response: ([0-9A-F]+)$", out).group(1)))
        self.assertEqual(fci.find(0xE0).find(0x82).value, b"\x02\x02\x02")
        resp = bytes.fromhex(re.search(r"(?m)^response: ([0-9A-F]+)$", out).group(1))
        self.assertEqual(resp[-2:], b"\x90\x00")
        self.assertEqual(len(der.decode(resp[:-2]).find(0x80).value), 16)
        for line in ("channel-closed: %d" % channel, "card-status: present, 0 applications", "power: off",
                     "power: on", "released"):
            self.assertIn(line + "\n", out)
        c = self.ctl.counters()
        q = c["qmi_messages"]
        for name in ("ctl-internal-proxy-open", "ctl-allocate-cid", "uim-open-logical-channel", "uim-send-apdu",
                     "uim-logical-channel", "uim-get-card-status", "uim-power-off-sim", "uim-power-on-sim",
                     "ctl-release-cid"):
            self.assertEqual(q.get(name), 1, name)
        self.assertEqual((c["apdus"]["qmi"], c["card_resets"], c["channels_open"]), (1, 1, []))

    def test_enabled_profile_shows_an_application(self):
        self.install(ICCID, md=metadata(ICCID))
        self.call(0xBF31, der.encode(0xA0, der.encode(0x5A, der.iccid_to_bcd(ICCID))), der.encode(0x81, b"\x00"))
        r = self.client("--no-power-cycle")
        self.assertIn("card-status: present, 1 applications\n", r.stdout, r.stderr)

    def test_several_apdus(self):
        r = self.client("--no-power-cycle", "--apdu", "80E2910006BF3E035C015A", "--apdu", "80E2910003BF2E00")
        self.assertEqual(r.returncode, 0, r.stderr)
        eid_resp, chal_resp = re.findall(r"(?m)^response: ([0-9A-F]+)$", r.stdout)
        self.assertEqual(der.decode(bytes.fromhex(eid_resp)[:-2]).find(0x5A).value, der.eid_to_bytes(self.eid))
        self.assertEqual(bytes.fromhex(chal_resp)[:3], b"\xbf\x2e\x12")

    def test_direct_open_on_the_pty(self):
        r = run_client("--direct", "--no-power-cycle", self.sim.pty)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("released\n", r.stdout)
        self.assertEqual(self.ctl.counters()["apdus"]["pty"], 1)

    def test_pty_stops_answering_until_cleared(self):
        self.ctl.add_fault(kind="drop", after=0, frontend="pty")
        r = run_client("--direct", "--no-power-cycle", "--timeout", "2", self.sim.pty)
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: send APDU", r.stderr)
        self.assertTrue(self.ctl.state()["pty_muted"])
        self.ctl.clear_faults()
        self.assertFalse(self.ctl.state()["pty_muted"])
        r = run_client("--direct", "--no-power-cycle", self.sim.pty)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_refused_channel(self):
        fid = self.ctl.add_fault(kind="refuse_channel", frontend="qmi")
        r = self.client()
        self.assertEqual(r.returncode, 1)
        self.assertIn("open logical channel: QMI protocol error (68)", r.stderr)
        self.assertIn("released\n", r.stdout)  # the client is still released after the failure
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)

    def test_unknown_aid(self):
        r = self.client("--aid", "A0000000871002FF49FF0589")
        self.assertEqual(r.returncode, 1)
        self.assertIn("open logical channel: card answered 6A82: QMI protocol error (80)", r.stderr)

    def test_status_word_fault_and_delay(self):
        self.ctl.add_fault(kind="sw", sw="6A82", nth=1, frontend="qmi")
        self.ctl.add_fault(kind="delay", ms=300, frontend="qmi")
        t = time.monotonic()
        r = self.client("--no-power-cycle")
        self.assertGreaterEqual(time.monotonic() - t, 0.3)
        self.assertIn("response: 6A82\n", r.stdout, r.stderr)

    def test_dropped_connection(self):
        self.ctl.add_fault(kind="drop", after=0, frontend="qmi")
        r = self.client("--timeout", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: send APDU", r.stderr)
        c = self.ctl.counters()
        self.assertEqual(c["drops"]["qmi"], 1)
        # the dropped client's channel went with it; only the test's own APDU-socket channel is left
        self.assertEqual(c["channels_open"], [self.es10.channel])


class RawQmuxTest(SimTestCase):
    sim_options = {"qmi_proxy_socket": True}

    def setUp(self):
        super().setUp()
        self.q = QmuxClient(self.sim.qmi_proxy_socket)
        self.cid = self.q.allocate_uim()

    def tearDown(self):
        self.q.close()
        super().tearDown()

    def test_response_framing(self):
        r = self.q.request(0x0B, self.cid, 0x002F)
        self.assertEqual((r["qmux_flags"], r["flags"], r["cid"], r["service"]), (0x80, 0x02, self.cid, 0x0B))
        ctl = self.q.request(0, 0, 0x0021)
        self.assertEqual(ctl["flags"], 0x01)
        count = ctl["tlvs"][0x01][0]
        services = {ctl["tlvs"][0x01][1 + 5 * i] for i in range(count)}
        self.assertEqual(services, {0x00, 0x02, 0x0B})

    def test_exact_bytes(self):
        # Allocate CID for UIM as libqmi sends it, and the modem's answer byte for byte
        # (QMUX flags 80 = from the service side, CTL flags 01 = response, TLV 02 result, TLV 01 info).
        self.q.sock.sendall(bytes.fromhex("010F0000000000072200040001 01000B"))
        frame = self.q.receive_frame()
        cid = frame[-1]
        self.assertEqual(frame.hex().upper(), "0117008000000107 22000C00 0204000000 0000 0102000B%02X".replace(" ", "") % cid)
        # Send APDU on a channel that is not open: result failure (1) with InvalidArgument (48)
        self.q.sock.sendall(bytes.fromhex("011D00000B%02X 00 0100 3B00 1100 01 0100 01 02 0600 0400 81E29100 10 0100 05"
                                          .replace(" ", "") % cid))
        self.assertEqual(self.q.receive_frame().hex().upper(),
                         "011300800B%02X 02 0100 3B00 0700 02 0400 0100 3000".replace(" ", "") % cid)

    def test_nothing_before_proxy_open(self):
        other = QmuxClient(self.sim.qmi_proxy_socket, device=None)
        other.send(0, 0, 0x0022, [(0x01, b"\x0b")])
        other.sock.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            other.receive()
        other.close()

    def test_two_channels_on_one_link(self):
        a = self.q.rapdu
        r1 = self.q.check(self.q.open_channel(self.cid))
        r2 = self.q.check(self.q.open_channel(self.cid))
        c1, c2 = r1["tlvs"][0x10][0], r2["tlvs"][0x10][0]
        self.assertNotEqual(c1, c2)
        self.assertEqual(r1["tlvs"][0x11], b"\x90\x00")
        self.assertEqual(a(self.q.send_apdu(self.cid, c1, challenge_apdu(c1)))[-2:], b"\x90\x00")
        self.assertEqual(a(self.q.send_apdu(self.cid, c2, challenge_apdu(c2)))[-2:], b"\x90\x00")
        self.assertEqual(sorted(self.ctl.state()["channels"]), sorted([c1, c2, self.es10.channel]))
        self.q.check(self.q.request(0x0B, self.cid, 0x003F, [(0x01, b"\x01"), (0x11, bytes([c1]))]))
        self.assertEqual(self.q.error(self.q.send_apdu(self.cid, c1, challenge_apdu(c1))), 48)  # InvalidArgument
        self.assertEqual(self.q.error(self.q.request(0x0B, self.cid, 0x003F, [(0x01, b"\x01"), (0x11, bytes([c1]))])), 48)

    def test_release_closes_the_clients_channels(self):
        c = self.q.check(self.q.open_channel(self.cid))["tlvs"][0x10][0]
        self.q.check(self.q.request(0, 0, 0x0023, [(0x01, bytes([0x0B, self.cid]))]))
        self.assertNotIn(c, self.ctl.state()["channels"])
        self.assertEqual(self.q.error(self.q.request(0x0B, self.cid, 0x002F)), 7)  # InvalidClientId

    def test_refresh_closes_channels(self):
        self.install(ICCID)
        c = self.q.check(self.q.open_channel(self.cid))["tlvs"][0x10][0]
        enable = der.encode(0xBF31, [der.encode(0xA0, der.encode(0x5A, der.iccid_to_bcd(ICCID))), der.encode(0x81, b"\xff")])
        apdu = bytes([0x80 | c, 0xE2, 0x91, 0x00, len(enable)]) + enable
        resp = self.q.rapdu(self.q.check(self.q.send_apdu(self.cid, c, apdu)))
        self.assertEqual(resp, bytes.fromhex("BF3103800100 9000".replace(" ", "")))
        # the response came, then the card reset: the channel is gone, the daemon must reopen
        self.assertEqual(self.q.error(self.q.send_apdu(self.cid, c, challenge_apdu(c))), 48)
        c2 = self.q.check(self.q.open_channel(self.cid))["tlvs"][0x10][0]
        self.assertEqual(self.q.rapdu(self.q.send_apdu(self.cid, c2, challenge_apdu(c2)))[-2:], b"\x90\x00")
        status = self.q.check(self.q.request(0x0B, self.cid, 0x002F))["tlvs"][0x10]
        self.assertEqual(status[:2], b"\x00\x00")  # GW primary index: card 0, application 0
        self.assertEqual(status[9], 1)  # card present
        self.assertEqual(status[14], 1)  # one application: the enabled profile's USIM

    def test_power_off_on(self):
        c = self.q.check(self.q.open_channel(self.cid))["tlvs"][0x10][0]
        self.auth_ok()
        self.q.check(self.q.request(0x0B, self.cid, 0x0030, [(0x01, b"\x01")]))
        self.assertEqual(self.q.error(self.q.request(0x0B, self.cid, 0x0030, [(0x01, b"\x01")])), 26)  # NoEffect
        st = self.ctl.state()
        self.assertEqual((st["powered"], st["channels"], st["session"]), (False, [], None))
        status = self.q.check(self.q.request(0x0B, self.cid, 0x002F))["tlvs"][0x10]
        self.assertEqual((status[9], status[13]), (2, 1))  # card state error, error code power-down
        self.assertEqual(self.q.error(self.q.open_channel(self.cid)), 37)  # UimUninitialized
        self.q.check(self.q.request(0x0B, self.cid, 0x0031, [(0x01, b"\x01")]))
        self.assertEqual(self.q.error(self.q.send_apdu(self.cid, c, challenge_apdu(c))), 48)
        self.q.check(self.q.open_channel(self.cid))

    def test_slot_status(self):
        r = self.q.check(self.q.request(0x0B, self.cid, 0x0047))
        self.assertEqual(r["tlvs"][0x12], bytes([1, 16]) + der.eid_to_bytes(self.eid))
        self.assertEqual(r["tlvs"][0x11][-1], 1)  # is eUICC

    def test_dms_get_ids(self):
        # The IMEI as libqmi reads DMS Get IDs: TLV 11, the ASCII digits filling the TLV.
        r = self.q.request(0, 0, 0x0022, [(0x01, b"\x02")])
        self.assertEqual(self.q.error(r), 0)
        service, cid = r["tlvs"][0x01]
        self.assertEqual(service, 0x02)
        ids = self.q.request(0x02, cid, 0x0025)
        self.assertEqual(self.q.error(ids), 0)
        self.assertEqual(ids["tlvs"][0x11], b"356938035643809")
        self.assertEqual(self.q.error(self.q.request(0x02, cid, 0x0020)), 71)  # InvalidQmiCommand

    def test_errors(self):
        self.assertEqual(self.q.error(self.q.request(0x0B, self.cid, 0x0020)), 71)  # InvalidQmiCommand
        self.assertEqual(self.q.error(self.q.request(0, 0, 0x0026)), 71)
        self.assertEqual(self.q.error(self.q.open_channel(self.cid, slot=2)), 48)  # wrong slot
        self.assertEqual(self.q.error(self.q.request(0x0B, self.cid, 0x003B, [(0x01, b"\x01")])), 17)  # MissingArgument
        self.assertEqual(self.q.error(self.q.request(0x0B, 99, 0x002F)), 7)  # InvalidClientId
        self.assertEqual(self.q.error(self.q.request(0, 0, 0x0022, [(0x01, b"\x01")])), 31)  # InvalidServiceType (WDS)
        self.assertEqual(self.q.error(self.q.request(0x02, 99, 0x0025)), 7)  # DMS, InvalidClientId
        r = self.q.open_channel(self.cid, aid=bytes.fromhex("A0000000871002FF49FF0589"))
        self.assertEqual((self.q.error(r), r["tlvs"][0x11]), (80, b"\x6a\x82"))


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: test_qmi_proxy.py PATH-TO-qmi-uim-client")
        sys.exit(SKIP if len(sys.argv) < 2 else 1)
    CLIENT = sys.argv.pop(1)
    unittest.main()
