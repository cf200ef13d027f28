#!/usr/bin/python3
"""Discovery without ModemManager: udev's records of modem ports, esimd with no [Modem] section.

udev's side is the test seam of daemon/discovery-udev.h (records written to a FIFO, in udev's own
property format, through the same classification as sd-device's); everything after it is the
real path: the probe through the real qmi-proxy and mbim-proxy (inside unshare -rn), the eUICC
objects, hot-plug, slots, the idle exit of a D-Bus-activated esimd.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

from gi.repository import GLib  # noqa: E402

from esimtest.discoveryrig import DiscoveryRig, run_in_namespace  # noqa: E402
from esimtest.world import Esimd, activation_code  # noqa: E402

MANAGER_IFACE = "org.esim.Manager"


class UdevHotplug(unittest.TestCase):
    def setUp(self):
        self.rig = DiscoveryRig(modemmanager=False, udev=True, udev_events=True)
        self.addCleanup(self.rig.stop)

    def test_euicc_and_plain_sim_hotplug(self):
        rig = self.rig
        rig.start_esimd()
        self.assertEqual(rig.managers(), {})
        euicc = rig.add_modem("qmi")
        plain = rig.add_modem("qmi", euicc=False)
        rig.udev(euicc)
        rig.udev(plain)
        path = rig.wait_manager(euicc.eid)
        self.assertEqual(path, "/org/esim/euicc/0")
        props = rig.managers()[path]
        self.assertEqual((props["Name"], props["Transport"], props["ModemManagerModem"]), ("cdc-wdm0", "qmi", ""))
        self.assertEqual(props["Device"], os.path.join(rig.dev_dir, "cdc-wdm0"))
        # The plain SIM was asked (one SELECT of the ISD-R, refused) and got no object.
        rig.wait_log("modem cdc-wdm1: no eUICC")
        self.assertEqual(list(rig.managers()), [path])
        plain_qmi = plain.ctl.counters()["qmi_messages"]
        self.assertEqual(plain_qmi.get("uim-open-logical-channel"), 1)
        # ... and costs nothing after: no client left on it, nothing sent to it.
        time.sleep(2)
        self.assertEqual(plain.ctl.counters()["qmi_messages"], plain_qmi)

        # Unplugged: off the bus. Plugged back: the same object path.
        euicc.unplug()
        rig.udev(euicc, "remove")
        rig.wait_gone(path)
        euicc.plug()
        rig.udev(euicc)
        self.assertEqual(rig.wait_manager(euicc.eid), path)
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", {})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))

    def test_at_port_removed_and_added_while_a_download_installs(self):
        """udev says an AT port went and came back (a replayed remove/add) while a download
        installs the profile on it, which cannot be stopped: the download ends on the old modem,
        and the port found again is probed once the old modem has let the tty go, not beside it
        (where each reads the other's answers: the download fails half-way, the probe times
        out). The eUICC then comes back at its object path."""
        rig = self.rig
        modem = rig.add_modem("at")
        rig.udev(modem)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                         {"confirm": GLib.Variant("b", True)})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation",
                            60, "the download awaiting confirmation")
        # Each command takes a while: the install lasts long enough for udev's two records.
        modem.ctl.add_fault(kind="delay", ms=100)
        rig.client.call(job, "org.esim.Job", "Confirm")
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "Stage") == "installing", 60,
                            "the download installing")
        mark = rig.log_size()
        rig.udev(modem, "remove")
        rig.udev(modem)
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        modem.ctl.clear_faults()
        self.assertEqual(rig.wait_manager(modem.eid), path)
        log = rig.esimd.log()[mark:]
        self.assertEqual(log.count("probing /"), 1, log)
        self.assertNotIn("no answer", log)
        self.assertNotIn("probing again", log)

    def test_two_modems_at_once(self):
        rig = self.rig
        qmi = rig.add_modem("qmi")
        mbim = rig.add_modem("mbim")
        rig.udev(qmi)
        rig.udev(mbim)
        rig.start_esimd()
        a = rig.wait_manager(qmi.eid)
        b = rig.wait_manager(mbim.eid)
        self.assertNotEqual(a, b)
        self.assertEqual({rig.prop(a, "Transport"), rig.prop(b, "Transport")}, {"qmi", "mbim"})
        # One download on each, at the same time: one queue per eUICC.
        jobs = [rig.client.call(p, MANAGER_IFACE, "Download",
                                GLib.Variant("(ssa{sv})", (activation_code(mid), "", {})))[0]
                for p, mid in ((a, "DEMO-ONE"), (b, "DEMO-TWO"))]
        for job in jobs:
            rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"),
                                120, "the downloads")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                             rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        self.assertEqual([p["iccid"] for p in qmi.ctl.state()["profiles"]], ["8949449999999990011"])
        self.assertEqual([p["iccid"] for p in mbim.ctl.state()["profiles"]], ["8949449999999990029"])

    def test_euicc_in_the_inactive_slot(self):
        rig = self.rig
        modem = rig.add_modem("qmi", slots="plain,euicc", active_slot=1)
        rig.udev(modem)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        self.assertIn("slot 2", rig.prop(path, "UnavailableReason"))
        # The caller switches to it; the eUICC becomes reachable, at the same path.
        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (2,)))
        self.assertEqual(modem.ctl.state()["slots"]["active"], 2)
        rig.wait_manager(modem.eid, state="ready")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        self.assertEqual(rig.prop(path, "RootSmdsAddress"), "testrootsmds.example.com")
        # And back to the SIM tray: the eUICC stays on the bus, out of reach.
        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (1,)))
        rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        with self.assertRaises(GLib.Error) as e:
            rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (3,)))
        self.assertIn("no slot 3", str(e.exception))

    def test_switching_away_and_back_over_mbim(self):
        """MBIM says a card is in the slot the modem left, not whose: the eUICC esimd knew there
        stays on the bus, out of reach, so that a caller can switch back to it."""
        rig = self.rig
        modem = rig.add_modem("mbim", mbim_slots=2, slot=2)
        rig.udev(modem)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (1,)))
        self.assertEqual(rig.wait_manager(modem.eid, state="unavailable"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        self.assertIn("slot 2", rig.prop(path, "UnavailableReason"))
        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (2,)))
        self.assertEqual(rig.wait_manager(modem.eid, state="ready"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        self.assertEqual(rig.prop(path, "RootSmdsAddress"), "testrootsmds.example.com")

    def test_never_random_ttys_and_denied_ports(self):
        rig = self.rig
        tty = rig.add_modem("at")
        denied = rig.add_modem("qmi")
        rig.write_config(False, True, {"Discovery": {"DenyPorts": f"ttyS*;{denied.port}"}})
        # A tty without a modem's tag (a console, a GPS...): esimd must not write to it.
        rig.udev(tty, ID_MM_PORT_TYPE_AT_PRIMARY=None)
        rig.udev(denied)
        rig.start_esimd()
        rig.wait_log("udev: every modem found")
        time.sleep(2)
        self.assertEqual(rig.managers(), {})
        at = tty.ctl.at()
        self.assertEqual((at["commands"], at["line_bytes_in"]), ({}, 0))
        self.assertEqual(denied.ctl.counters()["qmi_messages"], {})
        self.assertIn("DenyPorts= denies", rig.esimd.log())
        # The same tty, tagged as a modem's AT port: probed, and its eUICC found.
        rig.udev(tty, "change")
        self.assertEqual(rig.prop(rig.wait_manager(tty.eid), "Transport"), "at")

    def test_modem_section_wins(self):
        rig = self.rig
        modem = rig.add_modem("qmi")
        rig.write_config(False, True, {"Modem mine": {"Transport": "qmi", "Device": modem.node}})
        rig.udev(modem)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        self.assertEqual((path, rig.prop(path, "Name")), ("/org/esim/euicc/0", "mine"))
        rig.wait_log("[Modem mine] names it; not probed")
        self.assertEqual(list(rig.managers()), [path])


class IdleExit(unittest.TestCase):
    """Started by D-Bus activation (--idle-timeout) on a machine with no eUICC, esimd leaves."""

    def test_exits_without_euicc_and_stays_with_one(self):
        with DiscoveryRig(modemmanager=False, udev=True, udev_events=True) as rig:
            rig.start_esimd(["--idle-timeout", "2"])
            start = time.monotonic()
            rig.client.wait_for(lambda: not rig.esimd.running(), 30, "esimd to exit")
            self.assertGreaterEqual(time.monotonic() - start, 1.5)
            self.assertEqual(rig.esimd.proc.returncode, 0)
            self.assertFalse(rig.client.name_has_owner())
            self.assertIn("no eUICC for 2 s: exiting", rig.esimd.log())
            rig.esimd = None
        with DiscoveryRig(modemmanager=False, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("qmi")
            rig.udev(modem)
            rig.start_esimd(["--idle-timeout", "2"])
            rig.wait_manager(modem.eid)
            time.sleep(4)
            self.assertTrue(rig.esimd.running())
            # A resident esimd (esimd.service) started meanwhile takes org.esim over; the one
            # started on demand leaves, cleanly.
            on_demand = rig.esimd
            resident = Esimd(rig.config_path, rig.bus.address, os.path.join(rig.tmpdir, "resident.log"),
                             env={"ESIMD_TEST_UDEV_EVENTS": rig.udev_fifo})
            resident.start()
            try:
                rig.client.wait_for(lambda: not on_demand.running(), 60, "the esimd started on demand to leave")
                self.assertEqual(on_demand.proc.returncode, 0, on_demand.log())
                self.assertIn("another esimd took over org.esim", on_demand.log())
                # it took the name, then waited for that one to let go of the state directory
                self.assertIn(f"waiting for the esimd started on demand (pid {on_demand.proc.pid}) to leave "
                              "the state directory", resident.log())
                rig.esimd = resident
                # (the records went to the first esimd: the FIFO stands for the kernel's events)
                rig.udev(modem)
                self.assertEqual(rig.wait_manager(modem.eid), "/org/esim/euicc/0")
            finally:
                if rig.esimd is not resident:
                    resident.stop()


if __name__ == "__main__":
    run_in_namespace(__file__)
