#!/usr/bin/python3
"""Discovery of pcscd's readers: esimd with no [Modem] section finds the simulated eUICC in the
private pcscd's vpcd reader (tests/pylib/esimtest/pcscd.py), probes it through the real pcscd like
any other port, exports it and uses it; follows the card coming and going; leaves a reader a
[Modem] section's Reader= names to that section; and finds nothing with [Discovery] PCSC=false."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

from gi.repository import GLib  # noqa: E402

from esimtest import pcscd, pki  # noqa: E402
from esimtest.discoveryrig import DiscoveryRig  # noqa: E402
from esimtest.simctl import start_sim  # noqa: E402
from esimtest.world import ESIMCTL, activation_code  # noqa: E402

SKIP = 77
MANAGER_IFACE = "org.esim.Manager"


class PcscDiscovery(unittest.TestCase):
    def rig(self, config=None) -> DiscoveryRig:
        """The discovery rig (SM-DP+, bus) with ModemManager and udev off, a private pcscd whose
        vpcd reader holds the simulated eUICC."""
        rig = DiscoveryRig(modemmanager=False, udev=False, config=config)
        self.addCleanup(rig.stop)
        self.pcscd = pcscd.Pcscd(rig.tmpdir)
        self.pcscd.start()
        self.addCleanup(self.pcscd.stop)
        sim_dir = os.path.join(rig.tmpdir, "card")
        os.makedirs(sim_dir)
        self.sim = start_sim(sim_dir, rig.pki, apdu_socket=False, prefix=self.pcscd.enter(),
                             vpcd_port=self.pcscd.port, get_response=True, wrong_le=True)
        self.addCleanup(self.sim.stop)
        self.ctl = self.sim.ctl()
        self.addCleanup(self.ctl.close)
        self.reader = self.pcscd.reader_names[0]
        return rig

    def esimctl(self, rig, *args) -> str:
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=rig.bus.address)
        r = subprocess.run([ESIMCTL, *args], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_found_used_and_followed(self):
        rig = self.rig()
        rig.start_esimd(env=self.pcscd.env())
        path = rig.wait_manager(pki.DEFAULT_EID)
        self.assertEqual(path, "/org/esim/euicc/0")
        props = rig.managers()[path]
        self.assertEqual((props["Name"], props["Transport"], props["ModemManagerModem"]),
                         (self.reader, "pcsc", ""))
        # The other vpcd reader has no card: it is not probed, and gets no object.
        self.assertEqual(list(rig.managers()), [path])
        self.assertNotIn(self.pcscd.reader_names[1], rig.esimd.log().replace(self.reader, ""))

        # Usable: a download through it, then the list.
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", {})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"),
                            120, "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        self.assertIn("8949449999999990011", self.esimctl(rig, "list"))

        # The card taken out: off the bus. Put back: the same object.
        self.ctl.call("disappear")
        rig.wait_gone(path, 30)
        rig.wait_log('PC/SC: no card in reader "%s"' % self.reader)
        self.ctl.call("appear")
        self.assertEqual(rig.wait_manager(pki.DEFAULT_EID, timeout=30), path)

    def test_pcscd_absent_then_started(self):
        """No pcscd (most machines; or pcscd.socket not yet started): esimd starts, says so in one
        line, and asks again now and then without saying it again: once pcscd runs, its reader's
        eUICC is found. SIGTERM then ends it cleanly (rig.stop checks the status)."""
        rig = DiscoveryRig(modemmanager=False, udev=False)
        self.addCleanup(rig.stop)
        absent = pcscd.Pcscd(rig.tmpdir)  # its socket's path, and nothing listening there yet
        rig.start_esimd(env=absent.env())
        line = "PC/SC: pcscd cannot be reached (Service not available.); looking for its readers again now and then"
        rig.wait_log(line)
        self.pcscd = absent
        self.pcscd.start()
        self.addCleanup(self.pcscd.stop)
        sim_dir = os.path.join(rig.tmpdir, "card")
        os.makedirs(sim_dir)
        self.sim = start_sim(sim_dir, rig.pki, apdu_socket=False, prefix=self.pcscd.enter(),
                             vpcd_port=self.pcscd.port, get_response=True, wrong_le=True)
        self.addCleanup(self.sim.stop)
        self.assertEqual(rig.wait_manager(pki.DEFAULT_EID, timeout=120), "/org/esim/euicc/0")
        self.assertEqual(rig.esimd.log().count(line), 1, rig.esimd.log())

    def test_reader_of_a_modem_section(self):
        # Reader= as part of the name, as a user would write it.
        rig = self.rig({"Modem card": {"Transport": "pcsc", "Reader": pcscd.READER + " 00 00"}})
        rig.start_esimd(env=self.pcscd.env())
        path = rig.wait_manager(pki.DEFAULT_EID)
        self.assertEqual((path, rig.prop(path, "Name")), ("/org/esim/euicc/0", "card"))
        rig.wait_log("[Modem card] names it; not probed")
        self.assertEqual(list(rig.managers()), [path])

    def test_turned_off(self):
        # Started on demand with nothing to manage, esimd leaves once discovery settled: with
        # PCSC=false it never looks at the reader, so it leaves; with it on, it finds the card
        # and stays (the test above).
        rig = self.rig({"Discovery": {"PCSC": "false"}})
        rig.start_esimd(["--idle-timeout", "2"], env=self.pcscd.env())
        rig.client.wait_for(lambda: not rig.esimd.running(), 60, "esimd to exit")
        self.assertEqual(rig.esimd.proc.returncode, 0, rig.esimd.log())
        log = rig.esimd.log()
        self.assertIn("discovery is off ([Discovery] ModemManager=false, Udev=false, PCSC=false)", log)
        self.assertIn("no eUICC for 2 s: exiting", log)
        self.assertNotIn("PC/SC", log)
        rig.esimd = None
        # Nothing was sent to the card.
        self.assertEqual(self.ctl.call("trace")["apdus"], [])


if __name__ == "__main__":
    why = pcscd.available()
    if why:
        print("SKIP: " + why)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
