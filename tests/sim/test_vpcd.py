#!/usr/bin/python3
"""The simulator's PC/SC front through the real pcscd and vsmartcard's vpcd driver, driven by
other people's PC/SC clients: pcsc_scan (pcsc-tools) and pyscard (python3-pyscard), each talking
to a private pcscd (esimtest/pcscd.py) through PCSCLITE_CSOCK_NAME."""

import os
import subprocess
import sys
import tempfile
import time
import unittest

from simtest import SKIP

from esimtest import pcscd, pki
from esimtest.simctl import start_sim

ISDR = "A0000005591010FFFFFFFF8900000100"
ATR = "3B9F96801FC78031E073FE211B57AA866016010001BA"
FCI = "6F1F8410" + ISDR + "A5049F6501FFE00582030202029000"  # as the simulator answers (SVN 2.2.2)

# vpcd is a serial-reader driver: pcscd 1.9.9 loads it at start only (SIGUSR1 does not read the
# configuration again), so readers plugged and unplugged are not something this rig can show.

# pyscard is a client of the rig's pcscd only through this process's environment: set it before
# the library is loaded.
RIG_TMP = tempfile.TemporaryDirectory(prefix="esim-sim-vpcd.")
RIG = pcscd.Pcscd(RIG_TMP.name)
os.environ.update(RIG.env())

try:
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.scard import SCARD_RESET_CARD
    from smartcard.System import readers
except ImportError:  # pragma: no cover - install-deps --tests brings it
    readers = None


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class VpcdFrontTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pki.generate(os.path.join(RIG_TMP.name, "pki"))
        RIG.start()
        cls.sim = start_sim(RIG_TMP.name, os.path.join(RIG_TMP.name, "pki"), apdu_socket=False,
                            prefix=RIG.enter(), vpcd_port=RIG.port)
        cls.ctl = cls.sim.ctl()
        wait_for(lambda: cls.ctl.state()["vpcd"]["connected"], what="the card in the vpcd reader")

    @classmethod
    def tearDownClass(cls):
        cls.ctl.close()
        cls.sim.stop()
        RIG.stop()
        RIG_TMP.cleanup()

    def setUp(self):
        self.ctl.call("appear")
        self.ctl.call("set", get_response=False, wrong_le=False)
        self.ctl.call("fault", action="clear")
        self.conn = self.connect()

    def tearDown(self):
        try:
            self.conn.disconnect()
        except Exception:
            pass

    def connect(self, timeout=20.0):
        """A connection to the card in the first reader, once pcscd sees it there and it answers
        (GET RESPONSE with nothing pending: 6985, and nothing changes on the card)."""
        def attempt():
            conn = readers()[0].createConnection()
            try:
                conn.connect()
                if self.tx("00C0000000", conn) != "6985":
                    return None
            except (NoCardException, CardConnectionException):
                return None
            return conn
        return wait_for(attempt, timeout, "a card in " + RIG.reader_names[0])

    def tx(self, hexapdu, conn=None):
        data, sw1, sw2 = (conn or self.conn).transmit(list(bytes.fromhex(hexapdu)))
        return bytes(data).hex().upper() + "%02X%02X" % (sw1, sw2)

    def open_channel(self):
        r = self.tx("0070000001")
        self.assertEqual(len(r), 6, r)
        self.assertEqual(r[2:], "9000")
        return int(r[:2], 16)

    def test_readers_and_atr_in_pcsc_scan(self):
        env = dict(os.environ, **RIG.env())
        out = subprocess.run(["pcsc_scan", "-r"], env=env, capture_output=True, text=True, timeout=30).stdout
        for name in RIG.reader_names:
            self.assertIn(name, out)
        self.assertEqual([str(r) for r in readers()], RIG.reader_names)
        self.assertEqual(bytes(self.conn.getATR()).hex().upper(), ATR)

    def test_channel_select_store_data(self):
        ch = self.open_channel()
        self.assertTrue(1 <= ch <= 3)
        self.assertEqual(self.tx("%02XA4040010%s00" % (ch, ISDR)), FCI)
        # GetEUICCChallenge (BF2E) on the channel: a 16-byte challenge.
        r = self.tx("%02XE2910003BF2E00" % (0x80 | ch))
        self.assertTrue(r.startswith("BF2E1280") and r.endswith("9000"), r)
        self.assertEqual(self.tx("007080%02X00" % ch), "9000")
        self.assertEqual(self.tx("%02XA4040010%s00" % (ch, ISDR)), "6881")

    def test_t0_procedure_bytes_reach_the_host(self):
        # A reader passes 61xx and 6Cxx through: what esimd's PC/SC transport resolves itself.
        self.ctl.call("set", get_response=True, wrong_le=True)
        ch = self.open_channel()
        self.assertEqual(self.tx("%02XA4040010%s00" % (ch, ISDR)), "6C%02X" % (len(FCI) // 2 - 2))
        r = self.tx("%02XA4040010%s%02X" % (ch, ISDR, len(FCI) // 2 - 2))
        self.assertEqual(r, "61%02X" % (len(FCI) // 2 - 2))
        self.assertEqual(self.tx("%02XC00000%s" % (ch, r[2:])), FCI)
        self.tx("007080%02X00" % ch)

    def test_card_reset_closes_channels(self):
        ch = self.open_channel()
        resets = self.ctl.counters()["card_resets"]
        self.conn.reconnect(disposition=SCARD_RESET_CARD)
        self.assertGreater(self.ctl.counters()["card_resets"], resets)
        self.assertEqual(self.ctl.state()["channels"], [])
        self.assertEqual(self.tx("%02XA4040010%s00" % (ch, ISDR)), "6881")

    def test_removal_and_insertion(self):
        self.open_channel()
        self.ctl.call("disappear")
        with self.assertRaises(CardConnectionException):
            wait_for(lambda: self.tx("0070000001") and False, 10, "the removal to show")
        self.assertEqual(self.ctl.state()["channels"], [])
        with self.assertRaises(AssertionError):
            self.connect(timeout=1.5)  # nothing comes back by itself
        self.ctl.call("appear")
        self.conn = self.connect()
        self.assertEqual(self.ctl.state()["vpcd"]["sessions"] >= 2, True)

    def test_drop_fault_pulls_the_card(self):
        self.ctl.add_fault(kind="drop", after=0, frontend="vpcd")
        with self.assertRaises(CardConnectionException):
            self.tx("0070000001")
        self.assertEqual(self.ctl.counters()["drops"]["vpcd"], 1)
        # The loose card is back a moment later, after pcscd saw it go (SCARD_W_RESET_CARD or
        # SCARD_W_REMOVED_CARD for a handle opened in between), and a channel opens on it.
        def usable():
            conn = self.connect()
            try:
                r = self.tx("0070000001", conn)
                self.tx("007080%s00" % r[:2], conn)
            except CardConnectionException:
                return None
            return conn if r.endswith("9000") else None
        self.conn = wait_for(usable, 20, "the card back after the drop")


if __name__ == "__main__":
    why = pcscd.available() or (None if readers else "python3-pyscard is not installed")
    if why:
        print("SKIP: " + why)
        RIG_TMP.cleanup()
        sys.exit(SKIP)
    unittest.main(verbosity=2)
