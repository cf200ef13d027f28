#!/usr/bin/python3
"""Debian's qmicli (libqmi-utils) talks to the simulator on its pseudo-terminal (--device-open-qmi)."""

import shutil
import subprocess
import sys
import unittest

from simtest import SKIP, SimTestCase

from dpside import metadata
from esimtest import der
from esimtest.simctl import ISDR_AID, ApduClient

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


class QmicliSlotsTest(SimTestCase):
    """A modem with a SIM tray in slot 1 (active) and the eUICC in slot 2: libqmi's own parser
    reads both slots, the EID of the inactive one, and switches between them."""

    sim_options = {"pty": True, "slots": "plain,euicc", "active_slot": 1}

    def setUp(self):
        self.ctl.switch_slot(1)
        self.apdu = ApduClient(self.sim.apdu_socket)

    def select_isdr(self) -> int:
        """SW of SELECT ISD-R on the basic channel, as the card in the active slot answers it."""
        return self.apdu.transmit("00A40400%02X%s00" % (len(ISDR_AID) // 2, ISDR_AID))[1]

    def qmicli(self, *args, ok=True):
        r = subprocess.run(["qmicli", "-d", self.sim.pty, "--device-open-qmi", *args], capture_output=True, text=True,
                           timeout=60)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout + r.stderr

    def slot_blocks(self, out):
        blocks = out.split("Physical slot ")[1:]
        self.assertEqual(len(blocks), 2, out)
        return blocks

    def test_inactive_slot_shows_its_eid(self):
        one, two = self.slot_blocks(self.qmicli("--uim-get-slot-status"))
        self.assertIn("Slot status: active", one)
        self.assertIn("Is eUICC: no", one)
        self.assertIn("Slot status: inactive", two)
        self.assertIn("Is eUICC: yes", two)
        self.assertIn("EID: %s" % self.eid, two)
        self.assertNotIn("EID:", one)

    def test_the_active_plain_sim_has_no_isdr(self):
        self.assertEqual(self.select_isdr(), 0x6A82)

    def test_switch_slot(self):
        self.qmicli("--uim-switch-slot=2")
        state = self.ctl.state()["slots"]
        self.assertEqual((state["kinds"], state["active"]), (["plain", "euicc"], 2))
        one, two = self.slot_blocks(self.qmicli("--uim-get-slot-status"))
        self.assertIn("Slot status: inactive", one)
        self.assertIn("Slot status: active", two)
        self.assertEqual(self.select_isdr(), 0x9000)
        # the slot already active: the modem's "no effect"
        self.assertIn("NoEffect", self.qmicli("--uim-switch-slot=2", ok=False))
        # no slot 3: qmicli reads the slot status first and refuses, the modem keeps slot 2
        self.assertIn("slot 3", self.qmicli("--uim-switch-slot=3", ok=False))
        self.assertEqual(self.ctl.state()["slots"]["active"], 2)



class QmicliPlainSimTest(QmicliSlotsTest):
    """--plain-sim: a modem with an ordinary SIM, which esimd's discovery must pass over."""

    sim_options = {"pty": True, "plain_sim": True}

    def test_inactive_slot_shows_its_eid(self):
        out = self.qmicli("--uim-get-slot-status")
        self.assertIn("Is eUICC: no", out)
        self.assertNotIn("EID:", out)
        self.assertIn("Application type:  'usim", self.qmicli("--uim-get-card-status"))

    def test_switch_slot(self):
        self.assertIn("slot 2", self.qmicli("--uim-switch-slot=2", ok=False))


if __name__ == "__main__":
    if shutil.which("qmicli") is None:
        print("qmicli (libqmi-utils) not installed")
        sys.exit(SKIP)
    unittest.main()
