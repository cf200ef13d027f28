#!/usr/bin/python3
"""Debian's qmicli (libqmi-utils) talks to the simulator on its pseudo-terminal (--device-open-qmi)."""

import shutil
import subprocess
import sys
import unittest

from simtest import SKIP, SimTestCase

from dpside import metadata
from esimtest import der

ICCID = "8949449999999990409"


class QmicliTest(SimTestCase):
    sim_options = {"pty": True}

    def qmicli(self, *args):
        r = subprocess.run(["qmicli", "-d", self.sim.pty, "--device-open-qmi", *args], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_card_status(self):
        out = self.qmicli("--uim-get-card-status")
        self.assertIn("Card state: 'present'", out)
        self.assertEqual(self.ctl.counters()["qmi_messages"].get("uim-get-card-status"), 1)

    def test_slot_status_shows_eid_and_iccid(self):
        self.install(ICCID, md=metadata(ICCID))
        self.call(0xBF31, der.encode(0xA0, der.encode(0x5A, der.iccid_to_bcd(ICCID))), der.encode(0x81, b"\x00"))
        out = self.qmicli("--uim-get-slot-status")
        self.assertIn("EID: %s" % self.eid, out)
        self.assertIn("ICCID: %s" % ICCID, out)
        self.assertIn("Is eUICC: yes", out)

    def test_power_cycle(self):
        self.qmicli("--uim-sim-power-off=1")
        self.assertFalse(self.ctl.state()["powered"])
        self.assertIn("Card state: 'error: power-down (1)'", self.qmicli("--uim-get-card-status"))
        self.qmicli("--uim-sim-power-on=1")
        self.assertTrue(self.ctl.state()["powered"])
        self.assertIn("Card state: 'present'", self.qmicli("--uim-get-card-status"))


if __name__ == "__main__":
    if shutil.which("qmicli") is None:
        print("qmicli (libqmi-utils) not installed")
        sys.exit(SKIP)
    unittest.main()
