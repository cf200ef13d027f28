#!/usr/bin/python3
"""A "switch operator" application in the vendor's QuecPython style (tests/compat/apps/
switch_operator_qpy.py: the work in a _thread, the main script ending at once, utime, checkNet
and atcmd imported) runs unchanged through the runner, python3 -m sim.run, against the real
esimd on the private bus, with ModemManager and NetworkManager there as fakes: the network
check finds the modem that has esimd's eUICC, the new operator's profile is downloaded and
enabled, the old one deleted, and the card, the bus and the SM-DP+ agree with what the
application printed."""

import os
import unittest

import compattest as ct
from esimtest import fakebus, fakemm, fakenm
from esimtest.world import MANAGER, World, activation_code

APP = os.path.join(ct.APPS, "switch_operator_qpy.py")
OLD = "8949449999999990094"
NEW = "8949449999999990102"
ORDERS = [
    {"matchingId": "OLD-OPERATOR", "iccid": OLD, "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "Old Operator", "profileName": "Home"}},
    {"matchingId": "NEW-OPERATOR", "iccid": NEW, "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "New Operator", "profileName": "Home"}},
]


class SwitchOperatorQuecPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World(orders=ORDERS, bus_policies=(fakebus.BUS_POLICY,))
        cls.sim = cls.w.sim.ctl()
        try:
            cls.mm = fakemm.FakeModemManager(cls.w.bus.address)
            cls.nm = fakenm.FakeNetworkManager(cls.w.bus.address)
            # Modem 0 is another modem, without a SIM; modem 1 has esimd's eUICC (its Device,
            # /dev/esim-sim-modem, is that modem's port), registered and connected.
            cls.mm.add_modem(ports=[("cdc-wdm9", fakemm.PORT_QMI)], state=fakemm.STATE_FAILED,
                             StateFailedReason=fakemm.FAILED_SIM_MISSING)
            port = os.path.basename(cls.w.manager_prop("Device"))
            cls.modem = cls.mm.add_modem(ports=[("ttyUSB9", fakemm.PORT_AT), (port, fakemm.PORT_QMI)],
                                         primary_port="ttyUSB9", state=fakemm.STATE_CONNECTED,
                                         registration=fakemm.REG_HOME)
            # the device as it was before: the old operator's profile installed and in use
            _job, props = cls.w.download(activation_code("OLD-OPERATOR"), options={"enable": True})
            assert props["State"] == "succeeded", props
            cls.w.wait_idle()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for fake in ("mm", "nm"):
            if hasattr(cls, fake):
                getattr(cls, fake).stop()
        cls.w.stop()

    def card_states(self):
        return {p["iccid"]: p["state"] for p in self.sim.state()["profiles"]}

    def test_00_the_application_is_the_vendor_s_kind(self):
        # the firmware's modules, and no other way to keep the process alive than the firmware's
        self.assertEqual(ct.imports_of(APP), {"_thread", "utime", "checkNet", "atcmd", "sim.esim"})

    def test_01_switch(self):
        self.assertEqual(self.card_states(), {OLD: "enabled"})
        proc = ct.run(["-m", "sim.run", APP], self.w.bus.address, timeout=300)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        lines = proc.stdout.splitlines()
        # the main script ended first; the thread did the work afterwards
        self.assertEqual(lines[0], "QuecPython_eSIM_SwitchOperator 1.0.0 starting")
        self.assertTrue(lines[1].endswith("] network ready"), ct.describe(proc))
        self.assertEqual(ct.printed(proc.stdout, "current profile"), [OLD])
        self.assertIn("OTA result:0 after", proc.stdout)
        self.assertEqual(ct.printed(proc.stdout, "new profile", literal=False), NEW)
        self.assertEqual(ct.printed(proc.stdout, "deleted old profile", literal=False), OLD)
        self.assertEqual(ct.printed(proc.stdout, "profile_list"), (1, [(NEW, 1)]))
        self.assertEqual(lines[-1], "switch operator succeed")
        self.assertEqual(self.card_states(), {NEW: "enabled"})
        self.assertEqual(self.w.manager_prop("ActiveProfile"), f"{MANAGER}/profile/{NEW}")
        self.w.wait_idle()
        received = {(n["operation"], n["iccid"]): n["verified"] for n in self.w.smdp.control.notifications()}
        for step in (("install", NEW), ("enable", NEW), ("disable", OLD), ("delete", OLD)):
            self.assertTrue(received.get(step), (step, received))

    def test_02_network_not_ready(self):
        # the modem with esimd's eUICC loses its registration: the application stops at the
        # check, after its 30 s, having changed nothing
        self.modem.set(State=fakemm.STATE_SEARCHING, RegistrationState=fakemm.REG_SEARCHING)
        try:
            proc = ct.run(["-m", "sim.run", APP], self.w.bus.address, timeout=120)
        finally:
            self.modem.set(State=fakemm.STATE_CONNECTED, RegistrationState=fakemm.REG_HOME)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertIn("network not ready, stage:2 state:2", proc.stdout)
        self.assertIn("switch operator failed", proc.stdout)
        self.assertEqual(self.card_states(), {NEW: "enabled"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
