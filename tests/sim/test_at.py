#!/usr/bin/python3
"""The simulator's AT front (esimsim/at.py) driven over its pty like a host would: 27.007 logical
channels, AT+CSIM, identity and CFUN, and every quirk it can be given (each one a behaviour of a
real modem in a public log; daemon/at-quirks.c has the sources)."""

import os
import time
import unittest
from dataclasses import asdict

from simtest import SimTestCase

from esimsim.at import AtQuirks
from esimtest.simctl import AtClient

GET_EID = "BF3E035C015A"
ISDR = "A0000005591010FFFFFFFF8900000100"


def store_data(cla: int, request_hex: str) -> str:
    n = len(request_hex) // 2
    return "%02XE29100%02X%s00" % (cla, n, request_hex)


def payload(line: str, prefix: str) -> bytes:
    """The R-APDU of a +CGLA:/+CSIM: line, whatever its spacing, quoting and case."""
    assert line.startswith(prefix + ":"), line
    length, _, hexpart = line[len(prefix) + 1 :].strip().partition(",")
    hexpart = hexpart.strip().strip('"')
    assert int(length) == len(hexpart), line
    return bytes.fromhex(hexpart)


class AtFrontTest(SimTestCase):
    sim_options = {"at_pty": True}

    def setUp(self):
        self.ctl.appear()  # a failed test may have left the modem away
        super().setUp()
        defaults = asdict(AtQuirks())
        self.ctl.call("at", quirks=defaults, reset_stats=True)
        self.ctl.set(get_response=False)
        self.ctl.call("card_reset")
        self.at = AtClient(self.sim.at_pty)
        self.at.command("ATE0")
        self.ok("AT+CMEE=0")

    def tearDown(self):
        self.at.close()
        super().tearDown()

    def ok(self, line: str) -> list:
        lines = self.at.command(line)
        self.assertEqual(lines[-1], "OK", lines)
        return lines[:-1]

    def open_session(self) -> str:
        info = self.ok('AT+CCHO="%s"' % ISDR)
        self.assertEqual(len(info), 1, info)
        return info[0].replace("+CCHO:", "").strip()

    def cgla(self, session: str, apdu_hex: str) -> bytes:
        info = self.ok('AT+CGLA=%s,%d,"%s"' % (session, len(apdu_hex), apdu_hex))
        self.assertEqual(len(info), 1, info)
        return payload(info[0], "+CGLA")

    def csim(self, apdu_hex: str) -> bytes:
        info = self.ok('AT+CSIM=%d,"%s"' % (len(apdu_hex), apdu_hex))
        self.assertEqual(len(info), 1, info)
        return payload(info[0], "+CSIM")

    def assert_eid(self, rapdu: bytes):
        self.assertEqual(rapdu[-2:], b"\x90\x00")
        self.assertTrue(rapdu.startswith(bytes.fromhex("BF3E125A10")), rapdu.hex())
        self.assertEqual(rapdu[5:21].hex().upper(), self.eid)

    # ------------------------------------------------------------------ the standard path
    def test_echo_and_identity(self):
        # The echo is on after a (re)open, as on a real modem, until ATE0.
        self.ctl.disappear()
        self.ctl.appear()
        self.at.close()
        self.at = AtClient(self.sim.at_pty)
        with AtClient(self.sim.at_pty) as fresh:
            self.assertEqual(fresh.command("AT"), ["AT", "OK"])
            self.assertEqual(fresh.command("ATE0"), ["ATE0", "OK"])
            self.assertEqual(fresh.command("AT"), ["OK"])  # the echo is the modem's, for every opener
        self.ctl.call("at", quirks={"manufacturer": "Quectel", "model": "EG25", "imei": "490154203237518"})
        self.assertEqual(self.ok("AT+CGMI"), ["Quectel"])
        self.assertEqual(self.ok("AT+CGMM"), ["EG25"])
        self.assertEqual(self.ok("AT+CGSN"), ["490154203237518"])
        self.assertEqual(self.at.command("AT+NOSUCH"), ["ERROR"])

    def test_logical_channel(self):
        session = self.open_session()
        self.assertRegex(session, r"^[0-9]+$")
        before = self.ctl.counters()["apdus"]["at"]
        # The host sends CLA 80 and the modem codes its channel in (27.007 §8.43).
        self.assert_eid(self.cgla(session, store_data(0x80, GET_EID)))
        trace = self.ctl.call("trace")["apdus"]
        self.assertEqual(trace[-1]["frontend"], "at")
        self.assertEqual(int(trace[-1]["header"][:2], 16) & 0x03, int(session))
        self.assertEqual(self.ok("AT+CCHC=%s" % session), [])
        self.assertEqual(self.at.command("AT+CCHC=%s" % session), ["ERROR"])  # gone
        c = self.ctl.counters()
        self.assertEqual(c["apdus"]["at"], before + 1)
        self.assertEqual(c["at"]["commands"]["CGLA"], 1)
        self.assertGreater(c["at"]["line_bytes_out"], 0)

    def test_cme_errors(self):
        self.ok("AT+CMEE=1")
        self.assertEqual(self.at.command('AT+CCHO="A000000559"'), ["+CME ERROR: 22"])
        self.assertEqual(self.at.command('AT+CGLA=7,10,"80F2000000"'), ["+CME ERROR: 21"])
        self.assertEqual(self.at.command('AT+CGLA=1,9,"80F200000"'), ["+CME ERROR: 50"])
        self.ok("AT+CMEE=2")
        self.assertEqual(self.at.command('AT+CGLA=7,10,"80F2000000"'), ["+CME ERROR: invalid index"])
        self.ok("AT+CMEE=0")
        self.assertEqual(self.at.command('AT+CGLA=7,10,"80F2000000"'), ["ERROR"])

    def test_injected_error(self):
        self.ok("AT+CMEE=1")
        fid = self.ctl.add_fault(kind="at_error", command="CGLA", code=13)
        session = self.open_session()
        self.assertEqual(self.at.command('AT+CGLA=%s,10,"80F2000000"' % session), ["+CME ERROR: 13"])
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        self.ctl.add_fault(kind="at_error", nth=1)
        self.assertEqual(self.at.command("AT"), ["ERROR"])
        self.assert_eid(self.cgla(session, store_data(0x80, GET_EID)))

    def test_cfun_resets_the_card(self):
        session = self.open_session()
        self.assertEqual(self.ok("AT+CFUN?"), ["+CFUN: 1"])
        self.ok("AT+CMEE=1")
        self.ok("AT+CFUN=0")
        self.assertEqual(self.at.command("AT+CPIN?"), ["+CME ERROR: 10"])
        self.ok("AT+CFUN=1")
        self.assertEqual(self.ok("AT+CPIN?"), ["+CPIN: READY"])
        self.assertEqual(self.at.command('AT+CGLA=%s,10,"80F2000000"' % session), ["+CME ERROR: 21"])
        self.assertGreaterEqual(self.ctl.counters()["card_resets"], 2)

    def test_drop_and_disappear(self):
        session = self.open_session()
        fid = self.ctl.add_fault(kind="drop", after=0, frontend="at")
        # A drop is a modem that resets: no answer, a hang-up, and a new port at the link.
        with self.assertRaises(ConnectionError):
            self.at.command('AT+CGLA=%s,10,"80F2000000"' % session, timeout=2.0)
        self.assertEqual(self.ctl.fault(fid)["fired"], 1)
        self.at.close()
        self.at = AtClient(self.sim.at_pty)
        self.assertEqual(self.at.command("AT"), ["AT", "OK"])  # echo on again after the reset
        self.assertEqual(self.at.command('AT+CGLA=%s,10,"80F2000000"' % session), ["AT+CGLA=%s,10,\"80F2000000\"" % session, "ERROR"])
        # The tty goes away like a USB modem's: a hang-up, and the node is gone until it is back.
        self.ctl.disappear()
        try:
            self.assertFalse(os.path.lexists(self.sim.at_pty))
            with self.assertRaises(ConnectionError):
                self.at.command("AT", timeout=2.0)
        finally:
            self.ctl.appear()
        self.at.close()
        self.at = AtClient(self.sim.at_pty)
        self.ok("ATE0")
        self.assertEqual(self.at.command("AT"), ["OK"])

    # ------------------------------------------------------------------ quirks
    def test_session_styles(self):
        self.ctl.at(session="bare")
        info = self.ok('AT+CCHO="%s"' % ISDR)
        self.assertRegex(info[0], r"^[0-9]+$")  # Fibocom FM350-GL (lpac #209)
        self.assert_eid(self.cgla(info[0], store_data(0x80, GET_EID)))
        self.ok("AT+CCHC=" + info[0])
        self.ctl.at(session="hex")
        session = self.open_session()
        self.assertRegex(session, r"^[0-9a-f]{16}$")  # Sierra MC7455 (lpac #138)
        self.assert_eid(self.cgla(session, store_data(0x80, GET_EID)))
        self.ok("AT+CCHC=" + session)

    def test_answer_formats(self):
        self.ctl.at(no_space=True, lower_hex=True, unquoted=True)
        session = self.open_session()
        info = self.ok('AT+CGLA=%s,%d,"%s"' % (session, len(store_data(0x80, GET_EID)), store_data(0x80, GET_EID)))
        self.assertTrue(info[0].startswith("+CGLA:") and not info[0].startswith("+CGLA: "), info)
        self.assertNotIn('"', info[0])
        self.assertEqual(info[0], info[0].lower().replace("+cgla", "+CGLA"))
        self.assert_eid(payload(info[0], "+CGLA"))

    def test_urc_noise_and_split_lines(self):
        self.ctl.at(urc_noise=True, split=5)
        session_lines = self.at.command('AT+CCHO="%s"' % ISDR)
        self.assertEqual(session_lines[-1], "OK")
        urcs = [l for l in session_lines if l.startswith(("+QIND", "+CREG", "+CPIN", "+QUSIM"))]
        self.assertGreaterEqual(len(urcs), 2, session_lines)
        session = [l for l in session_lines if l.startswith("+CCHO:")][0].split(":")[1].strip()
        reads = self.at.reads
        lines = self.at.command('AT+CGLA=%s,%d,"%s"' % (session, len(store_data(0x80, GET_EID)), store_data(0x80, GET_EID)))
        self.assertGreater(self.at.reads - reads, 5)  # the answer came in pieces
        self.assert_eid(payload([l for l in lines if l.startswith("+CGLA")][0], "+CGLA"))

    def test_line_length_limit(self):
        self.ctl.at(max_line=100)
        session = self.open_session()
        long_request = "BF2D" + "00" * 60  # a 70-byte STORE DATA: a line of more than 100
        self.assertEqual(self.at.command('AT+CGLA=%s,%d,"%s"' % (session, len(store_data(0x80, long_request)),
                                                                 store_data(0x80, long_request))), ["ERROR"])
        self.assert_eid(self.cgla(session, store_data(0x80, GET_EID)))
        self.assertGreater(self.ctl.at()["longest_line"], 100)

    def test_csim_only(self):
        self.ctl.at(no_cgla=True)
        self.assertEqual(self.at.command('AT+CCHO="%s"' % ISDR), ["ERROR"])
        opened = self.csim("0070000001")  # MANAGE CHANNEL over AT+CSIM (DW5821e, lpac #164)
        self.assertEqual(opened[-2:], b"\x90\x00")
        ch = opened[0]
        select = "%02XA4040010%s00" % (ch, ISDR)
        self.assertEqual(self.csim(select)[-2:], b"\x90\x00")
        self.assert_eid(self.csim(store_data(0x80 | ch, GET_EID)))
        self.assertEqual(self.csim("00708%03X00" % ch)[-2:], b"\x90\x00")

    def test_csim_drop(self):
        self.ctl.at(no_cgla=True, csim_drop=20)
        self.assertEqual(self.csim("0070000001")[-2:], b"\x90\x00")
        select = "01A4040010%s00" % ISDR  # 22 bytes: over the limit, no answer at all
        with self.assertRaises(TimeoutError):
            self.at.command('AT+CSIM=%d,"%s"' % (len(select), select), timeout=1.0)
        self.assertEqual(self.at.command("AT"), ["OK"])

    def test_cla_passthrough(self):
        self.ctl.at(cla_passthrough=True)
        session = self.open_session()
        # CLA 80 reaches the basic channel, where the ISD-R is not selected...
        self.assertEqual(self.cgla(session, store_data(0x80, GET_EID))[-2:], b"\x6d\x00")
        # ...so such a modem needs the channel in the CLA, as older hosts send it.
        self.assert_eid(self.cgla(session, store_data(0x80 | int(session), GET_EID)))

    def test_session0(self):
        self.ctl.at(session0=True)
        opened = self.cgla("0", "0070000001")
        ch = opened[0]
        self.assertEqual(self.cgla("0", "%02XA4040010%s00" % (ch, ISDR))[-2:], b"\x90\x00")
        self.assert_eid(self.cgla("0", store_data(0x80 | ch, GET_EID)))

    def test_get_response_and_6100_loop(self):
        self.ctl.set(get_response=True)
        session = self.open_session()
        # A modem that fetches 61xx itself (the default) answers data + 9000...
        self.assert_eid(self.cgla(session, store_data(0x80, GET_EID)))
        # ...one that does not leaves GET RESPONSE to the host (SIMCom A7908E, lpac #238).
        self.ctl.at(get_response=True)
        first = self.cgla(session, store_data(0x80, GET_EID))
        self.assertEqual(first, bytes.fromhex("6115"))
        self.assert_eid(self.cgla(session, "00C0000015"))
        self.ctl.at(loop_6100=True)
        self.cgla(session, store_data(0x80, GET_EID))
        for _ in range(3):
            self.assertEqual(self.cgla(session, "00C0000000"), bytes.fromhex("6100"))

    def test_probes(self):
        self.ctl.at(probe="error")
        self.assertEqual(self.at.command("AT+CGLA=?"), ["ERROR"])
        self.ctl.at(probe="template")
        lines = self.at.command("AT+CCHO=?")
        self.assertEqual(lines[-1], "OK")
        self.assertIn("<sessionid>", lines[0])
        self.ctl.at(probe="silent")
        with self.assertRaises(TimeoutError):
            self.at.command("AT+CCHC=?", timeout=0.5)
        # Whatever the probe says, the command itself works.
        self.assert_eid(self.cgla(self.open_session(), store_data(0x80, GET_EID)))

    def test_internal_lpa(self):
        self.ctl.at(internal_lpa=True, manufacturer="Quectel", model="RG650E")
        self.ok("AT+CMEE=1")
        self.assertEqual(self.at.command('AT+CCHO="%s"' % ISDR), ["+CME ERROR: 3"])
        self.ok('AT+QESIM="lpa_enable",0')
        self.assertEqual(self.at.command('AT+CCHO="%s"' % ISDR), ["+CME ERROR: 3"])  # until a reset
        self.ok("AT+CFUN=0")
        self.ok("AT+CFUN=1")
        self.assert_eid(self.cgla(self.open_session(), store_data(0x80, GET_EID)))
        self.assertFalse(self.ctl.at()["lpa_enabled"])

    def test_prefix_alone(self):
        self.ctl.at(prefix_alone=True)
        info = self.ok('AT+CCHO="%s"' % ISDR)
        self.assertEqual(len(info), 2, info)
        self.assertEqual(info[0], "+CCHO:")
        session = info[1]
        info = self.ok('AT+CGLA=%s,%d,"%s"' % (session, len(store_data(0x80, GET_EID)), store_data(0x80, GET_EID)))
        self.assertEqual(info[0], "+CGLA:")
        self.assert_eid(payload("+CGLA: " + info[1], "+CGLA"))
        self.ok("AT+CCHC=" + session)

    def test_simcom_notices(self):
        self.ctl.at(simcom_notices=True)
        self.assertEqual(self.ok("AT+CGSN")[-4:], ['*PSUTTZ: 24/12/06,20:00:00",+04",1', "DST: 1",
                                                   "UNDER-VOLTAGE WARNNING", "356938035643809"])

    def test_boot_notices(self):
        # What a restart prints per boot style, and what follows once the SIM is up.
        for boot, first, sim_up in (("quectel", ["RDY", "+CFUN: 1"], ["+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"]),
                                    ("simcom", ["*ATREADY: 1"], ["+CPIN: READY", "SMS DONE", "PB DONE"]),
                                    ("cinterion", ["^SYSSTART"], [])):
            with self.subTest(boot=boot):
                self.ctl.at(boot=boot)
                self.ctl.add_fault(kind="at_restart", command="CGMI", sim_ms=200)
                self.at.send("AT+CGMI")
                self.assertEqual(self._lines(len(first), 5), first)
                self.assertEqual(self._lines(len(sim_up), 5), sim_up)
                time.sleep(0.3)
                self.at.command("ATE0")
                self.ok("AT+CPIN?")
        with self.assertRaises(Exception):
            self.ctl.at(boot="nokia")

    def _lines(self, n: int, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            line = self.at._read_line(deadline)
            if line is None:
                break
            out.append(line)
        return out

    def test_quirk_validation(self):
        from esimtest.simctl import SimControlError

        with self.assertRaises(SimControlError):
            self.ctl.at(session="weird")
        with self.assertRaises(SimControlError):
            self.ctl.at(no_such_quirk=True)
        with self.assertRaises(SimControlError):
            self.ctl.add_fault(kind="at_error")


if __name__ == "__main__":
    unittest.main()
