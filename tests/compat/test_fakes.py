#!/usr/bin/python3
"""The test doubles of ModemManager and NetworkManager (tests/pylib/esimtest/fakemm.py,
fakenm.py) on a private bus: everything they serve has the real services' names and signatures
(their own introspection XML, from Debian's modemmanager-dev and network-manager-dev), and they
behave as the real ones do where tests rely on it: the object manager's signals, property
changes, modems coming and going, InhibitDevice bound to its caller, leaving the bus."""

import tempfile
import unittest

from gi.repository import GLib

from esimtest import fakebus, fakemm, fakenm
from esimtest.fakebus import Interface
from esimtest.world import BUS_POLICY, BusClient, PrivateBus, dbus_error_name

PROPS = "org.freedesktop.DBus.Properties"
OM = "org.freedesktop.DBus.ObjectManager"


class Fakes(unittest.TestCase):
    def setUp(self):
        # cleanups run last first: the fakes stop before the bus
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.bus = PrivateBus(tmp.name, (BUS_POLICY, fakebus.BUS_POLICY))
        self.addCleanup(self.bus.stop)
        self.client = BusClient(self.bus.address)
        self.addCleanup(self.client.close)

    def start_mm(self):
        mm = fakemm.FakeModemManager(self.bus.address)
        self.addCleanup(mm.stop)
        return mm

    def start_nm(self, **kw):
        nm = fakenm.FakeNetworkManager(self.bus.address, **kw)
        self.addCleanup(nm.stop)
        return nm

    def mm_call(self, path, iface, method, args=None):
        return self.client.call(path, iface, method, args, dest=fakemm.NAME)

    def get(self, path, iface, prop, dest=fakemm.NAME):
        return self.client.call(path, PROPS, "Get", GLib.Variant("(ss)", (iface, prop)), dest=dest)[0]

    def managed(self):
        return self.mm_call(fakemm.PATH, OM, "GetManagedObjects")[0]

    def signals(self, member, count):
        """The first COUNT signals MEMBER, once that many have arrived."""
        got = lambda: [s for s in self.client.signals if s[2] == member]
        self.client.wait_for(lambda: len(got()) >= count, 10, f"{count} {member} signal(s)")
        return got()[:count]

    def test_served_members_are_the_real_services(self):
        mm = self.start_mm()
        mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI), ("wwan0", fakemm.PORT_NET)],
                     state=fakemm.STATE_REGISTERED, registration=fakemm.REG_HOME,
                     sim={"SimIdentifier": "8949449999999990011", "Eid": "89" + "0" * 30})
        mm.add_modem(ports=[("ttyUSB2", fakemm.PORT_AT)], three_gpp=False)
        self.start_nm()
        served = set()
        for name in (fakemm.NAME, fakenm.NAME):
            tree = fakebus.walk(self.client.conn, name)
            for path, xml in tree.items():
                self.assertEqual(fakebus.mismatches(xml), [], path)
                served |= {i.get("name") for i in fakebus.ET.fromstring(xml).findall("interface")}
        self.assertLessEqual({fakemm.NAME, fakemm.MODEM_IFACE, fakemm.MODEM_3GPP_IFACE, fakemm.SIM_IFACE,
                              fakenm.NAME, OM}, served)

    def test_the_check_finds_what_the_real_service_lacks(self):
        wrong = [
            Interface(fakemm.MODEM_IFACE, properties={"State": "u", "Colour": "s", "Model": ("s", "readwrite")},
                      signals={"StateChanged": [("old", "i"), ("new", "i")]},
                      methods={"Enable": ([("enable", "s")], [])}),
            Interface("org.freedesktop.ModemManager1.Modem.NoSuchThing", properties={"X": "s"}),
        ]
        problems = fakebus.mismatches("<node>" + "".join(i.xml() for i in wrong) + "</node>")
        self.assertEqual(len(problems), 6, problems)
        for what in ("property State", "property Colour", "property Model", "signal StateChanged",
                     "method Enable", "NoSuchThing: no reference"):
            self.assertTrue(any(what in p for p in problems), (what, problems))

    def test_modems_come_and_go(self):
        mm = self.start_mm()
        self.assertEqual(self.managed(), {})
        one = mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI)], sim={"SimIdentifier": "894944"})
        two = mm.add_modem(ports=[("cdc-wdm1", fakemm.PORT_MBIM)], device="/sys/devices/usb2")
        self.assertEqual((one.path, two.path), (fakemm.MODEM_PREFIX + "0", fakemm.MODEM_PREFIX + "1"))
        objects = self.managed()
        # modems are listed; their SIM is served at the path the modem names, but not listed
        self.assertEqual(sorted(objects), [one.path, two.path])
        modem = objects[one.path][fakemm.MODEM_IFACE]
        self.assertEqual(modem["Ports"], [("cdc-wdm0", fakemm.PORT_QMI)])
        self.assertEqual(modem["PrimaryPort"], "cdc-wdm0")
        self.assertEqual(self.get(modem["Sim"], fakemm.SIM_IFACE, "SimIdentifier"), "894944")
        self.assertEqual(objects[two.path][fakemm.MODEM_IFACE]["Device"], "/sys/devices/usb2")
        added = [s[3][0] for s in self.signals("InterfacesAdded", 2)]
        self.assertEqual(added, [one.path, two.path])
        mm.remove_modem(one)
        self.assertEqual([s[3] for s in self.signals("InterfacesRemoved", 1)],
                         [(one.path, [fakemm.MODEM_IFACE, fakemm.MODEM_3GPP_IFACE])])
        self.assertEqual(sorted(self.managed()), [two.path])
        with self.assertRaises(GLib.Error):
            self.get(modem["Sim"], fakemm.SIM_IFACE, "SimIdentifier")
        # numbers are not reused
        self.assertEqual(mm.add_modem().path, fakemm.MODEM_PREFIX + "2")

    def test_property_changes(self):
        mm = self.start_mm()
        modem = mm.add_modem(state=fakemm.STATE_SEARCHING, registration=fakemm.REG_SEARCHING)
        modem.set(State=fakemm.STATE_REGISTERED, RegistrationState=fakemm.REG_ROAMING)
        changed = {s[3][0]: s[3][1] for s in self.signals("PropertiesChanged", 2)}
        self.assertEqual(changed, {fakemm.MODEM_IFACE: {"State": fakemm.STATE_REGISTERED},
                                   fakemm.MODEM_3GPP_IFACE: {"RegistrationState": fakemm.REG_ROAMING}})
        # emitted before the PropertiesChanged above, so here already
        self.assertEqual([s[3] for s in self.client.signals if s[2] == "StateChanged"],
                         [(fakemm.STATE_SEARCHING, fakemm.STATE_REGISTERED, 0)])
        self.assertEqual(self.get(modem.path, fakemm.MODEM_3GPP_IFACE, "RegistrationState"),
                         fakemm.REG_ROAMING)
        with self.assertRaises(KeyError):
            modem.set(NoSuchProperty=1)

    def test_inhibit_device(self):
        mm = self.start_mm()
        mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI)], device="/sys/devices/usb1",
                     state=fakemm.STATE_REGISTERED, sim={"SimIdentifier": "894944"})
        inhibit = lambda client, flag: client.call(fakemm.PATH, fakemm.NAME, "InhibitDevice",
                                                   GLib.Variant("(sb)", ("/sys/devices/usb1", flag)),
                                                   dest=fakemm.NAME)
        inhibit(self.client, True)
        self.assertEqual(self.managed(), {})
        inhibit(self.client, False)
        # probed anew: a new modem object, the same device
        objects = self.managed()
        self.assertEqual(list(objects), [fakemm.MODEM_PREFIX + "1"])
        modem = objects[fakemm.MODEM_PREFIX + "1"][fakemm.MODEM_IFACE]
        self.assertEqual((modem["Device"], modem["Ports"], modem["State"]),
                         ("/sys/devices/usb1", [("cdc-wdm0", fakemm.PORT_QMI)], fakemm.STATE_REGISTERED))
        self.assertEqual(self.get(modem["Sim"], fakemm.SIM_IFACE, "SimIdentifier"), "894944")
        for flag in (True, False):
            try:
                self.client.call(fakemm.PATH, fakemm.NAME, "InhibitDevice",
                                 GLib.Variant("(sb)", ("/sys/devices/none", flag)), dest=fakemm.NAME)
                self.fail("InhibitDevice of an unknown device succeeded")
            except GLib.Error as e:
                self.assertEqual(dbus_error_name(e), fakemm.ERROR_NOT_FOUND)
        # the inhibition ends when its caller leaves the bus
        other = BusClient(self.bus.address)
        inhibit(other, True)
        self.assertEqual(self.managed(), {})
        other.close()
        self.client.wait_for(lambda: self.managed(), 10, "the modem back after its inhibitor left")
        self.assertEqual(list(self.managed()), [fakemm.MODEM_PREFIX + "2"])
        # every inhibition is recorded with how it ended; one ended only by its caller leaving
        self.assertEqual([(r["path"], r["ended"]) for r in mm.inhibitions()],
                         [(fakemm.MODEM_PREFIX + "0", "released"), (fakemm.MODEM_PREFIX + "1", "caller-left")])
        with self.assertRaises(AssertionError):
            mm.assert_released()

    def test_inhibit_twice_and_released(self):
        mm = self.start_mm()
        mm.add_modem(ports=[("ttyUSB2", fakemm.PORT_AT)], device="/sys/devices/usb2")
        args = lambda flag: GLib.Variant("(sb)", ("/sys/devices/usb2", flag))
        self.mm_call(fakemm.PATH, fakemm.NAME, "InhibitDevice", args(True))
        with self.assertRaises(GLib.Error) as e:
            self.mm_call(fakemm.PATH, fakemm.NAME, "InhibitDevice", args(True))
        self.assertEqual(dbus_error_name(e.exception), fakemm.ERROR_IN_PROGRESS)
        with self.assertRaises(AssertionError):
            mm.assert_released()  # still held
        self.mm_call(fakemm.PATH, fakemm.NAME, "InhibitDevice", args(False))
        mm.assert_released()

    def test_sim_slots(self):
        mm = self.start_mm()
        modem = mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI)], device="/sys/devices/usb3",
                             sim_slots=[{"SimIdentifier": "8944500000000000014", "SimType": fakemm.SIM_TYPE_PHYSICAL},
                                        {"Eid": "89" + "1" * 30, "SimType": fakemm.SIM_TYPE_ESIM}, None],
                             primary_slot=1)
        props = self.managed()[modem.path][fakemm.MODEM_IFACE]
        slots = props["SimSlots"]
        self.assertEqual((len(slots), slots[2], props["PrimarySimSlot"], props["Sim"]), (3, "/", 1, slots[0]))
        self.assertTrue(self.get(slots[0], fakemm.SIM_IFACE, "Active"))
        self.assertFalse(self.get(slots[1], fakemm.SIM_IFACE, "Active"))
        self.assertEqual(self.get(slots[1], fakemm.SIM_IFACE, "SimType"), fakemm.SIM_TYPE_ESIM)
        # the served members are still the real ones, the slots' SIMs too
        for path, xml in fakebus.walk(self.client.conn, fakemm.NAME).items():
            self.assertEqual(fakebus.mismatches(xml), [], path)
        # inhibited and given back: the same slots, on a new modem object
        args = lambda flag: GLib.Variant("(sb)", ("/sys/devices/usb3", flag))
        self.mm_call(fakemm.PATH, fakemm.NAME, "InhibitDevice", args(True))
        self.mm_call(fakemm.PATH, fakemm.NAME, "InhibitDevice", args(False))
        (path, ifaces), = self.managed().items()
        again = ifaces[fakemm.MODEM_IFACE]["SimSlots"]
        self.assertEqual((len(again), again[2]), (3, "/"))
        self.assertEqual(self.get(again[1], fakemm.SIM_IFACE, "Eid"), "89" + "1" * 30)
        mm.remove_modem(mm.modems()[0])
        self.client.wait_for(lambda: self.managed() == {}, 10, "the modem gone")

    def test_sim_slots_changing_in_place(self):
        """A card put in the empty slot and the modem switching to it, with the modem object
        staying: PropertiesChanged on the Sims and the modem, and the new Sim served with the
        real members."""
        mm = self.start_mm()
        modem = mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI)], primary_slot=1,
                             sim_slots=[{"SimIdentifier": "8944500000000000014", "SimType": fakemm.SIM_TYPE_PHYSICAL},
                                        None])
        old = modem.slot_sims[0].path
        sim = mm.set_slot_sim(modem, 2, {"Eid": "89" + "1" * 30, "SimType": fakemm.SIM_TYPE_ESIM})
        (path, _, _, (iface, changed, _)), = self.signals("PropertiesChanged", 1)
        self.assertEqual((path, iface, changed), (modem.path, fakemm.MODEM_IFACE, {"SimSlots": [old, sim.path]}))
        self.assertFalse(self.get(sim.path, fakemm.SIM_IFACE, "Active"))
        for p, xml in fakebus.walk(self.client.conn, fakemm.NAME).items():
            self.assertEqual(fakebus.mismatches(xml), [], p)
        mm.switch_slot_in_place(modem, 2)
        got = [(s[0], s[3][0], s[3][1]) for s in self.signals("PropertiesChanged", 4)[1:]]
        self.assertEqual(got, [(old, fakemm.SIM_IFACE, {"Active": False}),
                               (sim.path, fakemm.SIM_IFACE, {"Active": True}),
                               (modem.path, fakemm.MODEM_IFACE, {"PrimarySimSlot": 2, "Sim": sim.path})])
        self.assertEqual([p for p, _ in self.managed().items()], [modem.path])
        mm.set_slot_sim(modem, 2, None)
        (path, _, _, (iface, changed, _)), = self.signals("PropertiesChanged", 5)[4:]
        self.assertEqual(changed, {"SimSlots": [old, "/"], "Sim": "/"})

    def test_leaving_the_bus(self):
        mm = self.start_mm()
        self.assertTrue(self.client.name_has_owner(fakemm.NAME))
        mm.stop()
        self.assertFalse(self.client.name_has_owner(fakemm.NAME))
        # and another may own the name again, as ModemManager restarting
        self.start_mm()
        self.assertTrue(self.client.name_has_owner(fakemm.NAME))

    def test_network_manager(self):
        nm = self.start_nm(state=fakenm.STATE_CONNECTED_SITE, connectivity=fakenm.CONNECTIVITY_LIMITED)
        props = self.client.call(fakenm.PATH, PROPS, "GetAll", GLib.Variant("(s)", (fakenm.NAME,)),
                                 dest=fakenm.NAME)[0]
        self.assertEqual(props, {"State": fakenm.STATE_CONNECTED_SITE, "Connectivity": fakenm.CONNECTIVITY_LIMITED})
        nm.manager.set(State=fakenm.STATE_CONNECTED_GLOBAL, Connectivity=fakenm.CONNECTIVITY_FULL)
        self.assertEqual([s[3] for s in self.signals("StateChanged", 1)], [(fakenm.STATE_CONNECTED_GLOBAL,)])
        self.assertEqual(self.signals("PropertiesChanged", 1)[0][3][1],
                         {"State": fakenm.STATE_CONNECTED_GLOBAL, "Connectivity": fakenm.CONNECTIVITY_FULL})
        self.assertEqual(self.client.call(fakenm.PATH, fakenm.NAME, "CheckConnectivity", dest=fakenm.NAME),
                         (fakenm.CONNECTIVITY_FULL,))


if __name__ == "__main__":
    unittest.main(verbosity=2)
