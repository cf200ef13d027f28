#!/usr/bin/python3
"""Discovery beside ModemManager: esimd with no [Modem] section and the fake ModemManager
(tests/pylib/esimtest/fakemm.py, its members checked against ModemManager's own XML) on the
private bus, its modems' ports pointing at simulated modems reached through the real qmi-proxy
and mbim-proxy (inside unshare -rn).

Hot-plug of a modem with an eUICC and one with a plain SIM, two modems at once, ModemManager
restarting and going away, an AT port ModemManager holds (taken with InhibitDevice for one job,
given back), the IMEI from ModemManager, and esimctl status / --json lining the object path, the
EID and ModemManager's modem up.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

from gi.repository import GLib  # noqa: E402

from esimtest import fakemm  # noqa: E402
from esimtest.discoveryrig import DiscoveryRig, run_in_namespace  # noqa: E402
from esimtest.world import ESIMCTL, activation_code  # noqa: E402

MANAGER_IFACE = "org.esim.Manager"
MM_IMEI = "353456789012345"  # what ModemManager read from the modem (Luhn-valid)
MM_MODEM_0 = fakemm.MODEM_PREFIX + "0"


class WithModemManager(unittest.TestCase):
    def setUp(self):
        # ModemManager's modems only: udev would find the same ports again while it is away.
        self.rig = DiscoveryRig(modemmanager=True, udev=False)
        self.addCleanup(self.rig.stop)
        self.rig.start_mm()

    def esimctl(self, *args):
        import subprocess

        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.rig.bus.address)
        r = subprocess.run([ESIMCTL, *args], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def download(self, path, matching_id):
        rig = self.rig
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code(matching_id), "", {})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))

    def test_hotplug_and_identity(self):
        rig = self.rig
        rig.start_esimd()
        euicc = rig.add_modem("qmi")
        plain = rig.add_modem("qmi", euicc=False)
        first = rig.mm_add(euicc, EquipmentIdentifier=MM_IMEI)
        rig.mm_add(plain)
        path = rig.wait_manager(euicc.eid)
        self.assertEqual(path, "/org/esim/euicc/0")
        self.assertEqual(rig.prop(path, "ModemManagerModem"), first.path)
        rig.wait_log("modem cdc-wdm1: no eUICC")
        self.assertEqual(list(rig.managers()), [path])

        # esimctl lines the object path, the EID and ModemManager's modem up.
        out = self.esimctl("status")
        self.assertIn("eUICC 0: cdc-wdm0", out)
        self.assertIn(euicc.eid, out)
        self.assertIn("ModemManager:    " + first.path, out)
        status = json.loads(self.esimctl("--json", "status"))["euiccs"]
        self.assertEqual([(e["path"], e["eid"], e["modem_manager_modem"]) for e in status],
                         [(path, euicc.eid, first.path)])

        # The IMEI the servers get is the one ModemManager read from the modem.
        self.download(path, "DEMO-ONE")
        self.assertEqual(rig.smdp.control.sessions()[-1]["imei"], MM_IMEI)

        # The modem goes away (and its node with it): off the bus; back: same path, new modem.
        rig.mm.remove_modem(first)
        euicc.unplug()
        rig.wait_gone(path)
        euicc.plug()
        again = rig.mm_add(euicc, EquipmentIdentifier=MM_IMEI)
        self.assertEqual(rig.wait_manager(euicc.eid), path)
        self.assertNotEqual(again.path, first.path)
        self.assertEqual(rig.prop(path, "ModemManagerModem"), again.path)
        self.assertEqual([p["iccid"] for p in rig.client.call(path, MANAGER_IFACE, "ListProfiles",
                                                             GLib.Variant("(b)", (True,)))[0]],
                         ["8949449999999990011"])

    def test_port_name_leading_out_of_the_device_directory(self):
        """A port ModemManager names with ".." in it is no node of the device directory: esimd
        leaves it out, as it does such a name from udev, rather than probe a file elsewhere (here
        the name leads back to the real node, so a probe would find the eUICC)."""
        rig = self.rig
        rig.start_esimd()
        euicc = rig.add_modem("qmi")
        escape = os.path.join("..", os.path.basename(rig.dev_dir), euicc.port)
        modem = rig.mm.add_modem(ports=[(escape, fakemm.PORT_QMI)], device=euicc.uid,
                                 state=fakemm.STATE_REGISTERED, registration=fakemm.REG_HOME,
                                 Drivers=["qmi_wwan"])
        rig.wait_log(f"ModemManager: a port of {modem.path} is no device name in the device directory")
        # The same modem with its real port name is found: only the name was refused.
        rig.mm.remove_modem(modem)
        rig.mm_add(euicc)
        path = rig.wait_manager(euicc.eid)
        self.assertEqual(list(rig.managers()), [path])
        self.assertNotIn(escape, rig.esimd.log())

    def test_two_modems_at_once(self):
        rig = self.rig
        a = rig.add_modem("qmi")
        b = rig.add_modem("mbim")
        ma = rig.mm_add(a)
        mb = rig.mm_add(b)
        rig.start_esimd()
        pa, pb = rig.wait_manager(a.eid), rig.wait_manager(b.eid)
        self.assertEqual({rig.prop(pa, "ModemManagerModem"), rig.prop(pb, "ModemManagerModem")}, {ma.path, mb.path})
        self.download(pa, "DEMO-ONE")
        self.download(pb, "DEMO-TWO")
        out = self.esimctl("--euicc", b.eid, "status")
        self.assertIn(b.eid, out)
        self.assertNotIn(a.eid, out)

    def test_modemmanager_restarting(self):
        rig = self.rig
        modem = rig.add_modem("qmi")
        before = rig.mm_add(modem)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        opened = modem.ctl.counters()["qmi_messages"].get("uim-open-logical-channel", 0)
        rig.stop_mm()
        rig.wait_log("ModemManager left the bus")
        # Its modems stay while nobody says otherwise: the modem itself did not go.
        time.sleep(1)
        self.assertEqual(rig.prop(path, "State"), "ready")
        # Back, numbering its modems anew: the same eUICC, joined to the new object, not probed again.
        rig.start_mm()
        rig.mm.add_modem(ports=[("ttyS9", fakemm.PORT_UNKNOWN)], device="/sys/devices/other")
        after = rig.mm_add(modem)
        self.assertNotEqual(after.path, before.path)
        rig.client.wait_for(lambda: rig.prop(path, "ModemManagerModem") == after.path, 30,
                            "the eUICC joined to ModemManager's new modem")
        self.assertEqual(list(rig.managers()), [path])
        self.assertEqual(modem.ctl.counters()["qmi_messages"].get("uim-open-logical-channel", 0), opened)
        # ModemManager restarting while the modem is unplugged: it is gone, without waiting for
        # ModemManager to announce its modems.
        rig.stop_mm()
        modem.unplug()
        rig.start_mm()
        rig.wait_gone(path, timeout=20)

    def test_at_port_modemmanager_holds(self):
        rig = self.rig
        modem = rig.add_modem("at")
        rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        self.assertEqual(rig.prop(path, "Transport"), "at")
        # The probe and the first read each took the modem from ModemManager and gave it back.
        log = rig.mm.inhibitions()
        self.assertGreaterEqual(len(log), 2)
        self.assertEqual({r["uid"] for r in log}, {modem.uid})
        rig.mm.assert_released()
        rig.wait_joined(path)
        # A job: taken for it, given back right after; ModemManager has it between jobs.
        n = len(rig.mm.inhibitions())
        rig.client.call(path, MANAGER_IFACE, "Refresh")
        self.assertEqual(len(rig.mm.inhibitions()), n + 1)
        rig.mm.assert_released()
        self.assertEqual(len(rig.mm.modems()), 1)
        self.download(path, "DEMO-ONE")
        self.assertEqual(rig.smdp.control.sessions()[-1]["imei"], MM_IMEI)
        rig.client.wait_for(lambda: rig.prop(path, "State") == "ready" and rig.prop(path, "CurrentJob") == "/",
                            60, "an idle queue")
        rig.mm.assert_released()

    def test_modemmanager_refusing_to_hand_over_the_at_port(self):
        """ModemManager refuses InhibitDevice (whatever its reason) for a job on the AT port it
        holds. The job fails with ModemManager's refusal; the card did not go anywhere, so the
        eUICC stays ready and the next job, handed over, works."""
        rig = self.rig
        modem = rig.add_modem("at")
        rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        rig.wait_joined(path)
        rig.mm.refuse_inhibit = (fakemm.NAME + ".Error.Core.Unauthorized", "Not authorized")
        with self.assertRaises(GLib.Error) as e:
            rig.client.call(path, MANAGER_IFACE, "Refresh")
        self.assertIn("org.esim.Error.Unavailable: ModemManager did not hand over modem", str(e.exception))
        self.assertNotIn("no longer answers", str(e.exception))
        self.assertEqual(rig.prop(path, "State"), "ready")
        rig.mm.refuse_inhibit = None
        rig.client.call(path, MANAGER_IFACE, "Refresh")
        rig.mm.assert_released()

    def test_modemmanager_restarting_while_esimd_holds_the_at_port(self):
        """ModemManager keeps its inhibitions in its own memory, tied to the caller's name
        (mm-base-manager.c: inhibited_devices, g_bus_watch_name_on_connection on the sender): a
        restarted ModemManager knows none of them, probes the modem again and exposes it. esimd,
        still in the middle of a job on the AT port, takes the modem from the new ModemManager as
        soon as it is exposed (InhibitDevice can only name a modem on the bus: "No device found
        with uid"), and gives it back to that one when the job ends."""
        rig = self.rig
        modem = rig.add_modem("at")
        rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        rig.wait_joined(path)
        rig.mm.assert_released()
        # A download waiting for the user's confirmation holds the modem for as long as it waits.
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", {"confirm": GLib.Variant("b", True)})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60,
                            "the download awaiting confirmation")
        self.assertEqual([r["ended"] for r in rig.mm.inhibitions()][-1:], [None])
        rig.stop_mm()
        rig.wait_log("ModemManager left the bus")
        new_mm = rig.start_mm()
        rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.client.wait_for(lambda: [r["uid"] for r in new_mm.inhibitions()] == [modem.uid], 30,
                            "esimd taking the modem from the restarted ModemManager")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "awaiting-confirmation")
        rig.client.call(job, "org.esim.Job", "Confirm")
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        rig.client.wait_for(lambda: rig.prop(path, "CurrentJob") == "/" and rig.prop(path, "State") == "ready",
                            60, "an idle queue")
        new_mm.assert_released()
        self.assertNotIn("did not take back", rig.esimd.log())

    def test_second_modem_object_for_the_same_device(self):
        """A second ModemManager modem object with the same Device comes before the first one
        goes (esimd does not rely on the order of ModemManager's signals). The first one going is
        no unplug: the eUICC stays on the bus, joined to the second, and the download waiting on
        it for the user's confirmation goes on (it was cancelled as "its modem went away")."""
        rig = self.rig
        modem = rig.add_modem("qmi")
        first = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                         {"confirm": GLib.Variant("b", True)})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation",
                            60, "the download awaiting confirmation")
        second = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.client.wait_for(lambda: rig.prop(path, "ModemManagerModem") == second.path, 30,
                            "the eUICC joined to the second modem object")
        rig.mm.remove_modem(first)
        rig.wait_log(f"ModemManager: modem {first.path} went, {second.path} stays")
        rig.client.call(job, "org.esim.Job", "Confirm")
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        self.assertEqual(rig.prop(path, "ModemManagerModem"), second.path)
        removed = [s for s in rig.client.signals if s[2] == "InterfacesRemoved" and s[0] == "/org/esim"]
        self.assertEqual(removed, [])

    def test_a_modem_section_on_an_at_port_modemmanager_uses_is_named(self):
        """A [Modem] section for the AT port ModemManager lists among its modem's ports: both
        would talk on the tty (ModemManager probes and uses the AT ports it does not ignore:
        its udev tag ID_MM_PORT_IGNORE). esimd says so, naming the section, the port and what
        to do, instead of the usual "names it; not probed"."""
        rig = self.rig
        modem = rig.add_modem("at")
        mm_modem = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
        rig.write_config(True, False, {"Modem mine": {"Transport": "at", "Device": modem.node}})
        rig.start_esimd()
        rig.wait_log(f"[Modem mine]: ModemManager uses its AT port {modem.port} too (its modem {mm_modem.path})")
        self.assertIn("ID_MM_PORT_IGNORE=1", rig.esimd.log())
        self.assertNotIn("[Modem mine] names it; not probed", rig.esimd.log())
        # The section is still served as written.
        path = rig.wait_manager(modem.eid)
        self.assertEqual(rig.prop(path, "Name"), "mine")

    def test_at_port_with_a_physical_sim_is_left_alone(self):
        rig = self.rig
        modem = rig.add_modem("at", euicc=False)
        rig.mm_add(modem, sim={"SimIdentifier": "8944500000000000014", "SimType": fakemm.SIM_TYPE_PHYSICAL})
        rig.start_esimd()
        rig.wait_log("its SIM is a physical one")
        self.assertEqual(rig.mm.inhibitions(), [])
        self.assertEqual(modem.ctl.at()["commands"], {})

    def slotted_modem(self, front: str):
        """A modem with a SIM tray (slot 1, in use, a physical SIM) and the eUICC in slot 2, as
        ModemManager 1.20 exports it: SimSlots, PrimarySimSlot and a Sim object per slot, the
        eSIM's with SimType esim and its Eid. SetPrimarySimSlot switches the simulated modem."""
        modem = self.rig.add_modem(front, slots="plain,euicc", active_slot=1)
        ctl = modem.ctl  # made here: the fake calls it from its own thread
        self.rig.mm.on_primary_slot = lambda _m, slot: ctl.call("switch_slot", slot=slot)
        self.rig.mm_add(modem, EquipmentIdentifier=MM_IMEI, primary_slot=1, sim_slots=[
            {"SimIdentifier": "8944500000000000014", "SimType": fakemm.SIM_TYPE_PHYSICAL,
             "Removability": fakemm.REMOVABILITY_REMOVABLE},
            {"Eid": modem.eid, "SimType": fakemm.SIM_TYPE_ESIM, "EsimStatus": fakemm.ESIM_STATUS_NO_PROFILES,
             "Removability": fakemm.REMOVABILITY_NOT_REMOVABLE}])
        return modem

    def test_euicc_in_an_inactive_slot_named_by_modemmanager(self):
        """AT cannot look at a slot the modem does not use, and the SIM in use is a physical one
        (not taken from ModemManager): the eUICC is known from ModemManager's Sim object for slot
        2. It is on the bus from the start, out of reach; switching to it asks ModemManager
        (SetPrimarySimSlot), which probes the modem again; the eUICC is then reached, at the
        same path, joined to ModemManager's new modem object."""
        rig = self.rig
        modem = self.slotted_modem("at")
        rig.start_esimd()
        path = rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        self.assertIn("slot 2", rig.prop(path, "UnavailableReason"))
        self.assertEqual(rig.prop(path, "ModemManagerModem"), rig.mm.modems()[0].path)
        self.assertEqual(rig.mm.inhibitions(), [])  # nothing was taken from ModemManager for it
        self.assertEqual(modem.ctl.at()["commands"], {})

        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (2,)))
        self.assertEqual([(r["path"], r["slot"]) for r in rig.mm.slot_switches()],
                         [(MM_MODEM_0, 2)])
        self.assertEqual(modem.ctl.state()["slots"]["active"], 2)
        self.assertEqual(rig.wait_manager(modem.eid, state="ready"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        # Each job on the AT port takes the modem from ModemManager and gives it back, and
        # ModemManager then exports it anew: the join follows the newest modem object.
        rig.wait_joined(path)
        self.assertNotEqual(rig.mm.modems()[0].path, MM_MODEM_0)
        self.assertEqual(rig.prop(path, "RootSmdsAddress"), "testrootsmds.example.com")
        rig.mm.assert_released()
        with self.assertRaises(GLib.Error) as e:
            rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (3,)))
        self.assertIn("no slot 3", str(e.exception))

    def test_switching_a_qmi_modem_goes_through_modemmanager(self):
        """QMI could switch the slot itself, behind ModemManager's back (a modem whose SIM
        changes under it). ModemManager manages this one: esimd asks it to switch."""
        rig = self.rig
        modem = self.slotted_modem("qmi")
        rig.start_esimd()
        path = rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (2,)))
        self.assertEqual([r["slot"] for r in rig.mm.slot_switches()], [2])
        self.assertEqual(rig.wait_manager(modem.eid, state="ready"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        rig.wait_log("asking ModemManager, which manages it, to switch to slot 2")



class StartedOnDemand(unittest.TestCase):
    def test_leaves_when_modemmanager_has_no_modem(self):
        """The bus starts esimd (D-Bus activation, the rig's org.esim.service) on a machine
        whose ModemManager has no modem: with nothing to manage, esimd leaves after its idle
        timeout. It used to wait for ModemManager's restart grace first (90 s), meant for
        modems it knew before a restart, even when it knew none."""
        rig = DiscoveryRig(modemmanager=True, udev=False, activation=True)
        self.addCleanup(rig.stop)
        rig.start_mm()
        rig.write_activation_service(["--idle-timeout", "2"])
        rig.activated_pid()
        rig.client.wait_for(lambda: not rig.client.name_has_owner(), 30, "esimd started on demand to leave")


class ModemManagerComingAndGoing(unittest.TestCase):
    def start_held_download(self, rig, path):
        """A download waiting for the user's confirmation: it holds the modem while it waits."""
        job = rig.client.call(path, MANAGER_IFACE, "Download",
                              GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                         {"confirm": GLib.Variant("b", True)})))[0]
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation",
                            60, "the download awaiting confirmation")
        return job

    def confirm_and_wait(self, rig, path, job):
        rig.client.call(job, "org.esim.Job", "Confirm")
        rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"), 120,
                            "the download")
        self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                         rig.client.get(job, "org.esim.Job", "ErrorMessage"))
        rig.client.wait_for(lambda: rig.prop(path, "State") == "ready" and rig.prop(path, "CurrentJob") == "/",
                            60, "an idle queue")

    def test_modemmanager_stopping_while_esimd_holds_the_at_port(self):
        """ModemManager stopped in the middle of a job on an AT port esimd took from it: the
        inhibition ends with it (mm-base-manager.c keeps it in ModemManager's memory, watching
        the caller's name) and nobody holds the port. udev adopts the modem: the same port, so
        the job goes on and nothing probes the port beside it, and the jobs after it use the port
        without asking the ModemManager that is not there."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            rig.start_mm()
            modem = rig.add_modem("at")
            rig.udev(modem)
            rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            rig.wait_joined(path)
            job = self.start_held_download(rig, path)
            rig.stop_mm()
            mark = rig.wait_log("udev: adopts modem")
            self.confirm_and_wait(rig, path, job)
            self.assertEqual(rig.prop(path, "ModemManagerModem"), "")
            log = rig.esimd.log()[mark:]
            self.assertNotIn("probing", log)
            self.assertNotIn("ModemManager, which holds it, is not on the bus", log)
            self.assertNotIn("did not answer", log)
            self.assertNotIn("stopped", log)
            rig.mm = None

    def test_modemmanager_starting_while_a_job_uses_the_at_port(self):
        """ModemManager started while a job runs on an AT port esimd reached directly (udev, no
        ModemManager then). ModemManager's modem holds the port from now on, so esimd must
        probe it again to take it with InhibitDevice; done at once, that probe opened the tty
        beside the running download (each reading the other's answers) and the eUICC's new
        modem let the download go. The probe waits for the queue to be idle, and is done once
        then: the download ends as if nothing happened, and the jobs after it take the modem
        from ModemManager and give it back."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("at")
            rig.udev(modem)
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            job = self.start_held_download(rig, path)
            mm = rig.start_mm()
            rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
            mark = rig.wait_log("ModemManager: adopts modem")
            rig.wait_log("has work on the port; probed once its queue is idle", after=mark)
            self.assertEqual(mm.inhibitions(), [])
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "awaiting-confirmation")
            self.confirm_and_wait(rig, path, job)
            # Then probed once, taken from ModemManager for it, and reached through the held port
            # (ModemManagerModem may name ModemManager's modem before: it is its modem already).
            rig.wait_log(f"reached through {modem.port}, a ModemManager modem", after=mark)
            self.assertEqual(rig.wait_manager(modem.eid), path)
            rig.wait_joined(path)
            self.assertEqual(rig.esimd.log()[mark:].count("probing /"), 1)
            mm.assert_released()
            n = len(mm.inhibitions())
            rig.client.call(path, MANAGER_IFACE, "Refresh")
            self.assertEqual(len(mm.inhibitions()), n + 1)
            mm.assert_released()

    def test_modem_vanishing_while_its_probe_waits_for_the_job(self):
        """The same start of ModemManager, then the modem goes away (unplugged) while the probe
        still waits for the download: a vanish like any other. The download ends with a named
        error, the eUICC leaves the bus, nothing is probed or taken from ModemManager for the
        modem that is gone; plugged back, it is probed once and back at its path."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("at")
            rig.udev(modem)
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            job = self.start_held_download(rig, path)
            mm = rig.start_mm()
            mm_modem = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
            mark = rig.wait_log("has work on the port; probed once its queue is idle")
            mm.remove_modem(mm_modem)
            modem.unplug()
            rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"),
                                60, "the download")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "Error"), "org.esim.Error.Unavailable")
            self.assertIn("went away", rig.client.get(job, "org.esim.Job", "ErrorMessage"))
            rig.wait_gone(path)
            self.assertNotIn("probing /", rig.esimd.log()[mark:])
            self.assertEqual(mm.inhibitions(), [])
            modem.plug()
            rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
            self.assertEqual(rig.wait_manager(modem.eid), path)
            rig.wait_joined(path)
            self.assertEqual(rig.esimd.log()[mark:].count("probing /"), 1)
            mm.assert_released()

    def test_port_let_go_for_a_probe_that_fails(self):
        """ModemManager starts while esimd is idle on the AT port it reached through udev: the
        eUICC lets the port go (its transport reads the tty all the time, a probe's answers
        included) for the probe that takes the port from ModemManager. A probe that fails says
        why as the eUICC's reason (not "being probed" for ever), and the next one (ModemManager
        exports the modem anew when it is given back) brings it back through the held port."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("at")
            rig.udev(modem)
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            modem.ctl.add_fault(kind="sw", sw="6F00", nth=1)  # the probe's GetEID, once
            mm = rig.start_mm()
            rig.mm_add(modem, EquipmentIdentifier=MM_IMEI)
            rig.wait_log("is unavailable: its modem ttyUSB0 did not answer when probed again "
                         f"(probing {modem.node}: GetEID: 6F00")
            self.assertEqual(rig.wait_manager(modem.eid), path)
            rig.wait_joined(path)
            mm.assert_released()
            self.assertNotIn("no answer", rig.esimd.log())

    def test_modem_modemmanager_never_exports_is_let_go_after_the_job(self):
        """ModemManager starts while a download awaits confirmation on an AT port esimd reached
        through udev, and never exports that modem (as for a port it ignores): once its grace
        (ESIMD_TEST_STALE_GRACE, 1 s here) is over the modem is let go, but only after the job.
        It was dropped at once, the download cancelled as "its modem went away" mid-job."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("at")
            rig.udev(modem)
            rig.start_esimd(env={"ESIMD_TEST_STALE_GRACE": "1"})
            path = rig.wait_manager(modem.eid)
            job = self.start_held_download(rig, path)
            rig.start_mm()  # with no modem
            mark = rig.wait_log("ModemManager did not announce it again")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "awaiting-confirmation")
            self.assertIn("eUICC 0 has work on it: let go once its queue is idle", rig.esimd.log()[mark:])
            rig.client.call(job, "org.esim.Job", "Confirm")
            rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"),
                                120, "the download")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                             rig.client.get(job, "org.esim.Job", "ErrorMessage"))
            # Then the policy as it was: a modem ModemManager does not export is not used.
            rig.wait_gone(path)
            rig.wait_log("modem ttyUSB0 is gone (ModemManager did not announce it again), now that no job "
                         "uses it", after=mark)

    def test_modemmanager_naming_another_port_while_a_job_runs(self):
        """ModemManager starts while a download awaits confirmation on the AT port esimd reached
        through udev, and exports the modem with a QMI port beside it, which esimd prefers: the
        probe of the QMI port (whose answer gives the eUICC its new modem) waits for the job. It
        ran at once, and the eUICC's modem changed under the download, which was cancelled."""
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("at", pty=True)  # its QMI front too
            rig.udev(modem)
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            job = self.start_held_download(rig, path)
            os.symlink(os.path.realpath(modem.sim.pty), os.path.join(rig.dev_dir, "cdc-wdm0"))
            mm = rig.start_mm()
            mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI), (modem.port, fakemm.PORT_AT)], device=modem.uid,
                         state=fakemm.STATE_REGISTERED, registration=fakemm.REG_HOME, Drivers=["qmi_wwan"])
            mark = rig.wait_log("ModemManager: adopts modem")
            deferred = "modem ttyUSB0: eUICC 0 has work on the port; probed once its queue is idle"
            rig.client.wait_for(lambda: deferred in rig.esimd.log()[mark:] or
                                rig.client.get(job, "org.esim.Job", "State") != "awaiting-confirmation",
                                60, "the probe deferred or the download ended")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "awaiting-confirmation",
                             rig.client.get(job, "org.esim.Job", "ErrorMessage"))
            rig.client.call(job, "org.esim.Job", "Confirm")
            rig.client.wait_for(lambda: rig.client.get(job, "org.esim.Job", "State") in ("succeeded", "failed"),
                                120, "the download")
            self.assertEqual(rig.client.get(job, "org.esim.Job", "State"), "succeeded",
                             rig.client.get(job, "org.esim.Job", "ErrorMessage"))
            rig.wait_log("reached through cdc-wdm0, a ModemManager modem", after=mark)
            self.assertEqual(rig.wait_manager(modem.eid), path)
            self.assertEqual(rig.prop(path, "Transport"), "qmi")

    def test_udev_takes_over_while_modemmanager_is_away(self):
        with DiscoveryRig(modemmanager=True, udev=True, udev_events=True) as rig:
            modem = rig.add_modem("qmi")
            # What udev knows all along: esimd reads it only while ModemManager is away.
            rig.udev(modem)
            # Started before ModemManager: udev is the source at first.
            rig.start_esimd()
            path = rig.wait_manager(modem.eid)
            self.assertEqual(rig.prop(path, "ModemManagerModem"), "")
            rig.start_mm()
            mm_modem = rig.mm_add(modem)
            rig.client.wait_for(lambda: rig.prop(path, "ModemManagerModem") == mm_modem.path, 30,
                                "ModemManager's modem joined")
            rig.wait_log("ModemManager: adopts modem")
            # ModemManager leaves: udev again, and the eUICC never left the bus.
            rig.stop_mm()
            rig.client.wait_for(lambda: rig.prop(path, "ModemManagerModem") == "", 30, "udev's modem again")
            removed = [s for s in rig.client.signals if s[2] == "InterfacesRemoved" and s[0] == "/org/esim"]
            self.assertEqual(removed, [])
            self.assertEqual(rig.prop(path, "State"), "ready")
            rig.mm = None


if __name__ == "__main__":
    run_in_namespace(__file__)
