#!/usr/bin/python3
"""Fault injection: every kind, installed at run time and on the command line, each proven fired."""

import os
import socket
import time
import unittest

from simtest import SimTestCase, parse_pir

from esimtest import crypto, der
from esimtest.simctl import ApduClient, Es10Client, SimControlError, cla, pki_files, start_sim

ICCID = "8949449999999990201"
CHALLENGE = der.encode(0xBF2E)
GET_EID = der.encode(0xBF3E, der.encode(0x5C, b"\x5a"))


class RunTimeFaultTest(SimTestCase):
    def test_sw_on_nth_apdu(self):
        self.call(0xBF2E)  # APDUs before the fault do not count
        fid = self.ctl.add_fault(kind="sw", sw="6F00", nth=2)
        self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x9000)
        self.assertEqual(self.es10.transceive(CHALLENGE), (b"", 0x6F00))
        self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x9000)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)

    def test_sw_on_es10_tag(self):
        fid = self.ctl.add_fault(kind="sw", sw="6A80", tag="BF38")
        chal = self.challenge()
        req, _ = self.dp.authenticate_server(chal)
        self.assertEqual(self.es10.transceive(req)[1], 0x6A80)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        # the command never reached the eUICC: the challenge is still usable
        self.assertEqual(self.ctl.state()["session"]["stage"], "challenge")
        self.assertIsNotNone(self.es10.es10_tlv(req).find(0xA0))

    def test_sw_on_bpp_segment(self):
        fid = self.ctl.add_fault(kind="sw", sw="6F00", segment=3)
        auth, parts = self.bound(ICCID)
        pir, trace = self.load(parts.segments())
        self.assertIsNone(pir)
        self.assertEqual(trace[-1][:2], (2, 0x6F00))
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        # the LPA gives up as SGP.22 says: cancel with loadBppExecutionError
        resp = self.call(0xBF41, der.encode(0x80, auth.tid), der.encode(0x81, der.encode_int(5)))
        self.assertIsNotNone(resp.find(0xA0))
        self.assertEqual(self.profiles(), [])

    def test_delay(self):
        self.ctl.add_fault(kind="delay", ms=300)
        t = time.monotonic()
        self.call(0xBF2E)
        self.assertGreaterEqual(time.monotonic() - t, 0.3)
        self.ctl.clear_faults()
        t = time.monotonic()
        self.call(0xBF2E)
        self.assertLess(time.monotonic() - t, 0.3)

    def test_the_card_executes_a_delayed_apdu_after_its_delay(self):
        # The delay stands for the modem's and the card's transit: the card is handed each APDU
        # no sooner than `ms` after it was sent (what kill and lost-answer tests hold one for).
        self.ctl.add_fault(kind="delay", ms=20)
        self.ctl.call("trace", reset=True)
        sent = []
        for _ in range(5):
            sent.append(time.monotonic())
            self.assertEqual(self.apdu.transmit(bytes([cla(0x80, self.es10.channel), 0xE2, 0x91, 0x00, 3])
                                                + CHALLENGE)[1], 0x9000)
        executed = [a["t"] for a in self.ctl.call("trace")["apdus"]]
        self.assertEqual(len(executed), 5)
        for t_sent, t_card in zip(sent, executed):
            self.assertGreaterEqual(t_card, t_sent + 0.020)

    def test_drop_after_n(self):
        fid = self.ctl.add_fault(kind="drop", after=2)
        self.es10.transceive(CHALLENGE)
        self.es10.transceive(CHALLENGE)
        with self.assertRaises(ConnectionError):
            self.es10.transceive(CHALLENGE)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        self.assertEqual(self.ctl.counters()["drops"]["apdu"], 1)
        self.connect()  # it fires once: the next connection works
        self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x9000)

    def test_drop_mid_load_leaves_no_profile(self):
        auth, parts = self.bound(ICCID, self.upp(6000))
        segs = parts.segments()
        # the connection drops while the 86 blocks load: its channel, and the load with it, go away
        self.ctl.add_fault(kind="drop", after=len(segs) - 3)
        with self.assertRaises(ConnectionError):
            self.load(segs)
        self.connect()
        st = self.ctl.state()
        self.assertEqual((st["profiles"], st["session"]["stage"]), ([], "interrupted"))
        resp = self.call(0xBF41, der.encode(0x80, auth.tid), der.encode(0x81, der.encode_int(5)))
        self.assertEqual(der.decode_int(resp.find(0xA0).children()[0].find(0x82).value), 5)
        self.assertTrue(self.install(ICCID)["success"])

    @staticmethod
    def upp(size):
        from esimtest import saip

        return saip.make_upp(ICCID, size)

    def test_refuse_channel(self):
        fid = self.ctl.add_fault(kind="refuse_channel")
        self.assertEqual(self.apdu.transmit("0070000001")[1], 0x6A81)
        self.assertEqual(self.apdu.transmit("0070000001")[1], 0x6A81)
        self.assertEqual(self.ctl.fault(fid)["fired"], 2)
        self.ctl.clear_faults(fid)
        self.assertEqual(self.apdu.transmit("0070000001")[1], 0x9000)

    def test_lc_limit_and_fallback(self):
        fid = self.ctl.add_fault(kind="lc_limit", max=120)
        request = der.encode(0xBF3F, der.encode(0x80, b"d" * 200 + b".example.com"))
        self.assertEqual(self.es10.transceive(request), (b"", 0x6700))
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        self.es10.block_size = 120
        self.assertEqual(der.decode_int(self.es10.es10_tlv(request).find(0x80).value), 0)
        self.assertLessEqual(self.ctl.counters()["store_data_max"], 255)

    def test_corrupt_response(self):
        fid = self.ctl.add_fault(kind="corrupt", nth=2)
        good = self.es10.es10(GET_EID)
        bad = self.es10.es10(GET_EID)
        self.assertEqual(len(bad), len(good))
        self.assertEqual(sum(a != b for a, b in zip(good, bad)), 1)
        self.assertEqual(self.es10.es10(GET_EID), good)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)

    def test_corrupt_the_nth_apdu(self):
        self.call(0xBF2E)  # APDUs before the fault do not count
        fid = self.ctl.add_fault(kind="corrupt", apdu=2)
        good = self.es10.es10(GET_EID)
        bad = self.es10.es10(GET_EID)
        self.assertEqual(sum(a != b for a, b in zip(good, bad)), 1)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        # an APDU without data: the status word's low byte is flipped
        self.ctl.add_fault(kind="corrupt", apdu=1)
        self.es10.block_size = 3
        self.assertEqual(self.es10.transceive(GET_EID), (b"", 0x90FF))

    def test_delay_of_the_nth_apdu_only(self):
        fid = self.ctl.add_fault(kind="delay", ms=400, nth=2)
        times = []
        for _ in range(3):
            t = time.monotonic()
            self.es10.transceive(CHALLENGE)
            times.append(time.monotonic() - t)
        self.assertLess(times[0], 0.3)
        self.assertGreaterEqual(times[1], 0.4)
        self.assertLess(times[2], 0.3)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)

    def test_es10_result_codes_on_demand(self):
        fid = self.ctl.add_fault(kind="es10_result", tag="BF38", code=7)
        chal = self.challenge()
        req, signed1 = self.dp.authenticate_server(chal)
        resp = self.es10.es10_tlv(req)
        self.assertEqual(self.auth_error(resp), 7)
        self.assertEqual(resp.find(0xA1).find(0x80).value, der.decode(signed1).find(0x80).value)
        self.assertIsNone(self.ctl.state()["session"])  # a refusal uses up the challenge
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        # the next one is answered normally
        self.auth_ok()
        self.ctl.add_fault(kind="es10_result", tag="BF2D", code=127)
        self.assertEqual(der.decode_int(self.call(0xBF2D).find(0x81).value), 127)
        self.ctl.add_fault(kind="es10_result", tag="bf31", code=5)
        resp = self.call(0xBF31, der.encode(0xA0, der.encode(0x5A, der.iccid_to_bcd(ICCID))), der.encode(0x81, b"\xff"))
        self.assertEqual(der.decode_int(resp.find(0x80).value), 5)

    def test_es10_result_ends_the_load_with_that_error(self):
        fid = self.ctl.add_fault(kind="es10_result", tag="BF37", command=2, code=9)
        auth, parts = self.bound(ICCID)
        pir, trace = self.load(parts.segments())
        result = parse_pir(pir)
        self.assertEqual((result["success"], result["command"], result["reason"]), (False, 2, 9))
        self.assertTrue(crypto.verify_raw(self.euicc_cert, result["signed"], result["signature"]))
        self.assertEqual(result["tid"], auth.tid)
        self.assertEqual(len(trace), 3)  # BF36+BF23, A0, then the A1 header answered the PIR
        st = self.ctl.state()
        self.assertEqual((st["profiles"], st["session"]), ([], None))
        self.assertEqual([n["pmo"] for n in st["notifications"]], ["install"])
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)

    def test_trace_shows_headers_and_tags_only(self):
        self.ctl.call("trace", reset=True)
        self.es10.block_size = 5
        self.es10.es10(GET_EID)
        trace = self.ctl.call("trace")["apdus"]
        self.assertEqual([(r["n"], r["tag"], r["sw"]) for r in trace], [(1, "BF3E", "9000"), (2, None, "9000")])
        self.assertEqual(trace[0]["header"][2:], "E21100")
        self.assertEqual(trace[1]["len"], 21)  # BF3E { 5A EID }
        self.assertNotIn("payload", trace[0])
        with self.assertRaises(SimControlError):
            self.ctl.add_fault(kind="es10_result", tag="BF2E", code=1)

    def test_count_and_frontend_filter(self):
        fid = self.ctl.add_fault(kind="sw", sw="6F00", nth=1, frontend="qmi")
        self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x9000)
        self.assertEqual(self.ctl.fault(fid)["fired"], 0)
        self.ctl.clear_faults()
        self.ctl.add_fault(kind="sw", sw="6F00", tag="BF2E", count=2)
        for _ in range(2):
            self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x6F00)
        self.assertEqual(self.es10.transceive(CHALLENGE)[1], 0x9000)

    def test_disappear_and_appear(self):
        self.auth_ok()
        self.ctl.disappear()
        with self.assertRaises((ConnectionError, OSError)):
            self.es10.transceive(CHALLENGE)
        with self.assertRaises((ConnectionRefusedError, FileNotFoundError)):
            ApduClient(self.sim.apdu_socket)
        st = self.ctl.state()
        self.assertFalse(st["present"])
        self.assertIsNone(st["session"])  # removal loses the RSP session
        self.ctl.appear()
        self.connect()
        self.assertEqual(len(self.call(0xBF2E).find(0x80).value), 16)

    def test_bad_fault_specs(self):
        for spec in ({"kind": "nope"}, {"kind": "sw", "sw": "6F00"}, {"kind": "sw", "sw": "XYZ", "nth": 1},
                     {"kind": "drop"}, {"kind": "delay", "ms": -1}, {"kind": "sw", "sw": "6F00", "nth": 0}):
            with self.assertRaises(SimControlError):
                self.ctl.add_fault(**spec)

    def test_counters(self):
        self.ctl.counters(reset=True)
        self.es10.block_size = 5
        self.es10.es10(GET_EID)
        c = self.ctl.counters()
        self.assertEqual(c["apdus"]["apdu"], 2)
        self.assertEqual(c["store_data_blocks"], 2)
        self.assertEqual(c["store_data_sizes"], {"1": 1, "5": 1})
        self.assertEqual(c["es10_by_tag"], {"BF3E": 1})
        self.assertEqual(c["channels_open"], [self.es10.channel])
        self.assertEqual(c["bytes_in"]["apdu"], 6 + 10)


class CommandLineFaultTest(unittest.TestCase):
    def test_faults_from_the_command_line(self):
        from esimtest import pki
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = pki.generate(os.path.join(tmp, "pki"))
            sim = start_sim(tmp, p, sw_on_tag=["6A88:BF2E"], lc_limit=100, delay_ms=1,
                            sw_on_apdu=["6F00:40"], corrupt_response=50, drop_after=60, sw_on_segment=["6F00:9"],
                            fault=['{"kind": "refuse_channel", "count": 1}'])
            try:
                with sim.ctl() as ctl:
                    kinds = sorted(f["kind"] for f in ctl.faults())
                    self.assertEqual(kinds, ["corrupt", "delay", "drop", "lc_limit", "refuse_channel", "sw", "sw", "sw"])
                    with ApduClient(sim.apdu_socket) as apdu:
                        self.assertEqual(apdu.transmit("0070000001")[1], 0x6A81)
                        es10 = Es10Client(apdu)
                        es10.open()
                        self.assertEqual(es10.transceive(CHALLENGE)[1], 0x6A88)
                        self.assertEqual(es10.transceive(b"\xbf\x3f\x70\x80\x6e" + b"x" * 110)[1], 0x6700)
                    fired = {f["kind"]: f["fired"] for f in ctl.faults() if f["kind"] != "sw"}
                    self.assertEqual((fired["refuse_channel"], fired["lc_limit"]), (1, 1))
            finally:
                self.assertEqual(sim.stop(), 0)

    def test_bad_identity_is_refused(self):
        from esimtest import pki
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = pki.generate(os.path.join(tmp, "pki"))
            files = pki_files(p)
            files["euicc_key"] = p["eum_key"]  # does not match the eUICC certificate
            with self.assertRaises(RuntimeError):
                start_sim(tmp, files, ready_timeout=15)


class AbstractSocketGoneTest(SimTestCase):
    sim_options = {"qmi_proxy_socket": True}

    def test_qmi_socket_refuses_while_gone(self):
        name = self.sim.qmi_proxy_socket
        s = socket.socket(socket.AF_UNIX)
        s.connect("\0" + name)
        self.ctl.disappear()
        self.assertEqual(s.recv(16), b"")  # closed by the simulator
        s.close()
        s = socket.socket(socket.AF_UNIX)
        with self.assertRaises(ConnectionRefusedError):
            s.connect("\0" + name)
        s.close()
        self.ctl.appear()
        s = socket.socket(socket.AF_UNIX)
        s.connect("\0" + name)
        s.close()


if __name__ == "__main__":
    unittest.main()
