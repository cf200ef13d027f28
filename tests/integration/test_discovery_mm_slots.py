#!/usr/bin/python3
"""SIM slots changing under a modem that ModemManager keeps: esimd follows ModemManager's
PropertiesChanged on the modem (SimSlots, PrimarySimSlot, Sim) and on its Sim objects (Active,
Eid) without the modem object going away, and brings its Manager objects in line.

The fake ModemManager (tests/pylib/esimtest/fakemm.py, its members checked against ModemManager's
own XML by tests/compat/test_fakes.py) changes the properties as ModemManager does; the
simulated modems behind it (through the real qmi-proxy, inside unshare -rn) are switched by the
test as the hardware would be.

- An eUICC put in a slot the modem does not use, its EID read late, taken out and put back: it
  comes, goes and comes back at the same path, and nothing is taken from ModemManager for it.
- The modem switching its slot by itself while a download runs on the eUICC that leaves the
  active slot: the download fails at once with a named error, nothing is half-installed, and the
  eUICC is back, usable, when the slot is switched back.
- A card taken out of the other slot while a download runs: the download is not disturbed; and
  changes of nothing esimd uses do not make it probe the modem again.
- A card swapped in a modem with one slot (ModemManager's Sim changes on the same modem object):
  the eUICC comes and goes.
- An eUICC in the slot an MBIM modem does not map (MBIM names no EID there), known from
  ModemManager, switched to through ModemManager.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

from gi.repository import GLib  # noqa: E402

from esimtest import fakemm  # noqa: E402
from esimtest.discoveryrig import DiscoveryRig, run_in_namespace  # noqa: E402
from esimtest.world import DEFAULT_ORDERS, activation_code  # noqa: E402

MANAGER_IFACE = "org.esim.Manager"
JOB_IFACE = "org.esim.Job"
MM_IMEI = "353456789012345"
BIG_ICCID = "8949449999999990094"
# A profile large enough for the download to be under way when the test switches the slot.
ORDERS = [{"matchingId": "BIG-ONE", "iccid": BIG_ICCID, "profile": {"generate": {"size": 60000}},
           "metadata": {"serviceProviderName": "Big Operator", "profileName": "Large"}}] + DEFAULT_ORDERS
PHYSICAL = {"SimIdentifier": "8944500000000000014", "SimType": fakemm.SIM_TYPE_PHYSICAL,
            "Removability": fakemm.REMOVABILITY_REMOVABLE}


def esim(eid: str) -> dict:
    return {"Eid": eid, "SimType": fakemm.SIM_TYPE_ESIM, "EsimStatus": fakemm.ESIM_STATUS_NO_PROFILES,
            "Removability": fakemm.REMOVABILITY_REMOVABLE}


class SlotsChanging(unittest.TestCase):
    def setUp(self):
        self.rig = DiscoveryRig(modemmanager=True, udev=False, orders=ORDERS)
        self.addCleanup(self.rig.stop)
        self.rig.start_mm()

    def start_download(self, path, matching_id):
        return self.rig.client.call(path, MANAGER_IFACE, "Download",
                                    GLib.Variant("(ssa{sv})", (activation_code(matching_id), "", {})))[0]

    def wait_job(self, job, timeout=120):
        client = self.rig.client
        client.wait_for(lambda: client.get(job, JOB_IFACE, "State") in ("succeeded", "failed", "cancelled"),
                        timeout, "the job to end")
        return {p: client.get(job, JOB_IFACE, p) for p in ("State", "Error", "ErrorMessage")}

    def states(self, path):
        """Every State the Manager at PATH announced, oldest first."""
        return [args[1]["State"] for p, _, member, args in list(self.rig.client.signals)
                if p == path and member == "PropertiesChanged" and args[0] == MANAGER_IFACE
                and "State" in args[1]]

    def probes(self, modem):
        """How often the modem was asked for its slots: once per probe."""
        return modem.ctl.counters()["qmi_messages"].get("uim-get-slot-status", 0)

    def test_an_euicc_put_in_and_taken_out_of_the_other_slot(self):
        """AT cannot look at a slot the modem does not use, and the SIM in use is a physical one:
        only ModemManager's Sim objects tell where the eUICC is."""
        rig = self.rig
        modem = rig.add_modem("at", slots="plain,euicc", active_slot=1)
        mm_modem = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI, primary_slot=1, sim_slots=[PHYSICAL, None])
        rig.start_esimd()
        mark = rig.wait_log("its SIM is a physical one")
        self.assertEqual(rig.managers(), {})

        # Put in; ModemManager reads its EID a moment later (the Sim object's own change).
        sim = rig.mm.set_slot_sim(mm_modem, 2, esim(""))
        mark = rig.wait_log("its SIM is a physical one", after=mark)
        self.assertEqual(rig.managers(), {})
        sim.set(Eid=modem.eid)
        path = rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        self.assertIn("slot 2", rig.prop(path, "UnavailableReason"))
        self.assertEqual(rig.prop(path, "ModemManagerModem"), mm_modem.path)

        # Taken out: off the bus. Put back: the same object.
        rig.mm.set_slot_sim(mm_modem, 2, None)
        rig.wait_gone(path)
        rig.mm.set_slot_sim(mm_modem, 2, esim(modem.eid))
        self.assertEqual(rig.wait_manager(modem.eid, state="unavailable"), path)
        # Nothing was ever taken from ModemManager, nor sent to the modem, for any of it.
        self.assertEqual(rig.mm.inhibitions(), [])
        self.assertEqual(modem.ctl.at()["commands"], {})

    def slotted_qmi_modem(self):
        """The eUICC in slot 1, in use; a physical SIM in slot 2."""
        modem = self.rig.add_modem("qmi", slots="euicc,plain", active_slot=1, delay_ms=5)
        mm_modem = self.rig.mm_add(modem, EquipmentIdentifier=MM_IMEI, primary_slot=1,
                                   sim_slots=[esim(modem.eid), PHYSICAL])
        return modem, mm_modem

    def test_the_slot_switched_away_from_a_running_download(self):
        rig = self.rig
        modem, mm_modem = self.slotted_qmi_modem()
        ctl = modem.ctl
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (1, 1))

        job = self.start_download(path, "BIG-ONE")
        rig.client.wait_for(lambda: rig.client.get(job, JOB_IFACE, "Stage") == "installing", 120,
                            "the download installing")
        # Another program switches the modem to slot 2 (through the proxy); ModemManager follows.
        ctl.call("switch_slot", slot=2)
        rig.mm.switch_slot_in_place(mm_modem, 2)
        props = self.wait_job(job)
        self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.Unavailable"), props)
        self.assertIn("slot", props["ErrorMessage"])
        # Discovery learns of the switch from ModemManager, and probes the modem again.
        rig.client.wait_for(lambda: (rig.prop(path, "State"), rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot"))
                            == ("unavailable", 1, 2), 60, "the eUICC out of reach in slot 1, slot 2 active")
        self.assertIn("slot 1", rig.prop(path, "UnavailableReason"))
        self.assertNotIn(BIG_ICCID, [p["iccid"] for p in ctl.state()["profiles"]])  # never half-installed

        # Back to slot 1 the same way: the same object, usable.
        ctl.call("switch_slot", slot=1)
        rig.mm.switch_slot_in_place(mm_modem, 1)
        self.assertEqual(rig.wait_manager(modem.eid, state="ready"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (1, 1))
        props = self.wait_job(self.start_download(path, "DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual(list(rig.managers()), [path])

    def test_changes_elsewhere_leave_a_running_download_alone(self):
        rig = self.rig
        modem, mm_modem = self.slotted_qmi_modem()
        rig.start_esimd()
        path = rig.wait_manager(modem.eid)
        rig.client.wait_for(lambda: rig.prop(path, "CurrentJob") == "/", 60, "an idle queue")

        # Nothing esimd uses changes: no probe.
        seen = len(self.states(path))
        probes = self.probes(modem)
        mark = rig.log_size()
        mm_modem.set(State=fakemm.STATE_CONNECTED)
        mm_modem.sim.set(OperatorName="Test Operator")
        job = self.start_download(path, "BIG-ONE")
        rig.client.wait_for(lambda: rig.client.get(job, JOB_IFACE, "Stage") == "installing", 120,
                            "the download installing")
        self.assertEqual(self.probes(modem), probes)
        self.assertNotIn("probing it again", rig.esimd.log()[mark:])
        # The physical SIM is taken out of slot 2: a real change, the modem is probed again; the
        # eUICC, still where it was and reached the same way, keeps its modem: the download goes on.
        rig.mm.set_slot_sim(mm_modem, 2, None)
        rig.wait_log("probing it again", after=mark)
        rig.client.wait_for(lambda: self.probes(modem) > probes, 60, "the probe")
        props = self.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        rig.client.wait_for(lambda: rig.prop(path, "State") == "ready", 60, "the eUICC read back")
        # It never left its modem meanwhile (a new modem would have made it unavailable first).
        self.assertEqual([s for s in self.states(path)[seen:] if s not in ("busy", "ready")], [])
        self.assertIn(BIG_ICCID, [p["iccid"] for p in modem.ctl.state()["profiles"]])
        self.assertEqual(list(rig.managers()), [path])


    def test_a_card_swapped_in_a_single_slot_modem(self):
        """A modem with one SIM tray: a plain SIM swapped for a removable eUICC and that taken
        out, with ModemManager's modem object staying (its Sim names a new Sim object, then
        none). Each time the modem is probed again; the eUICC comes and goes."""
        rig = self.rig
        modem = rig.add_modem("qmi", slots="plain")
        mm_modem = rig.mm_add(modem, EquipmentIdentifier=MM_IMEI, sim=PHYSICAL)
        rig.start_esimd()
        mark = rig.wait_log("modem cdc-wdm0: no eUICC")
        self.assertEqual(rig.managers(), {})
        modem.ctl.call("put_card", slot=1, kind="euicc")
        rig.mm.set_sim(mm_modem, esim(modem.eid))
        path = rig.wait_manager(modem.eid)
        rig.wait_log("the SIM it uses changed; probing it again", after=mark)
        self.assertEqual(rig.prop(path, "ModemManagerModem"), mm_modem.path)
        modem.ctl.call("put_card", slot=1, kind="empty")
        rig.mm.set_sim(mm_modem, None)
        rig.wait_gone(path)
        modem.ctl.call("put_card", slot=1, kind="euicc")
        rig.mm.set_sim(mm_modem, esim(modem.eid))
        self.assertEqual(rig.wait_manager(modem.eid), path)

    def test_an_euicc_in_the_inactive_slot_of_an_mbim_modem(self):
        """MBIM says only that a card is in the slot the modem does not map, not whose: the eUICC
        there is known from ModemManager's Sim object for that slot. Switching to it asks
        ModemManager, which maps the slot and probes the modem again; the eUICC is then reached
        over MBIM, at the same path."""
        rig = self.rig
        modem = rig.add_modem("mbim", mbim_slots=2, slot=2, mbim_mapped_slot=1)
        ctl = modem.ctl  # made here: the fake calls it from its own thread
        rig.mm.on_primary_slot = lambda _m, slot: ctl.call("mbim_map_slot", slot=slot)
        rig.mm_add(modem, EquipmentIdentifier=MM_IMEI, primary_slot=1, sim_slots=[None, esim(modem.eid)])
        rig.start_esimd()
        path = rig.wait_manager(modem.eid, state="unavailable")
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 1))
        self.assertIn("slot 2", rig.prop(path, "UnavailableReason"))
        self.assertEqual(rig.prop(path, "ModemManagerModem"), rig.mm.modems()[0].path)
        self.assertEqual(ctl.state()["mbim"]["mapped_slot"], 0)

        rig.client.call(path, MANAGER_IFACE, "SwitchSlot", GLib.Variant("(u)", (2,)))
        self.assertEqual([r["slot"] for r in rig.mm.slot_switches()], [2])
        self.assertEqual(ctl.state()["mbim"]["mapped_slot"], 1)
        self.assertEqual(rig.wait_manager(modem.eid, state="ready"), path)
        self.assertEqual((rig.prop(path, "Slot"), rig.prop(path, "ActiveSlot")), (2, 2))
        self.assertEqual(rig.prop(path, "Transport"), "mbim")
        self.assertEqual(rig.prop(path, "ModemManagerModem"), rig.mm.modems()[0].path)
        self.assertEqual(rig.prop(path, "RootSmdsAddress"), "testrootsmds.example.com")


if __name__ == "__main__":
    run_in_namespace(__file__)
