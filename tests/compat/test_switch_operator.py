#!/usr/bin/python3
"""A "switch operator" application written for the module API (tests/compat/apps) runs as it is
through sim.esim and the real esimd: the new operator's profile is downloaded and enabled, the
old one deleted, and the card, the bus and the SM-DP+ agree with what the application printed."""

import os
import unittest

import compattest as ct
from esimtest.world import MANAGER, World, activation_code

APP = os.path.join(ct.APPS, "switch_operator.py")
OLD = "8949449999999990101"
NEW = "8949449999999990119"
ORDERS = [
    {"matchingId": "OLD-OPERATOR", "iccid": OLD, "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "Old Operator", "profileName": "Home"}},
    {"matchingId": "NEW-OPERATOR", "iccid": NEW, "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "New Operator", "profileName": "Home"}},
]


class SwitchOperator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World(orders=ORDERS)
        cls.sim = cls.w.sim.ctl()
        # the device as it was before: the old operator's profile installed and in use
        _job, props = cls.w.download(activation_code("OLD-OPERATOR"), options={"enable": True})
        assert props["State"] == "succeeded", props
        cls.w.wait_idle()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def run_app(self, code, ok=True):
        proc = ct.run([APP], self.w.bus.address, [code, ""])
        self.assertEqual(proc.returncode, 0 if ok else 1, ct.describe(proc))
        return proc.stdout

    def card_states(self):
        return {p["iccid"]: p["state"] for p in self.sim.state()["profiles"]}

    def test_00_the_application_is_unchanged(self):
        # nothing but the module and what QuecPython has too: it needs no edit to run here
        self.assertEqual(ct.imports_of(APP), {"sim.esim", "queue", "sys"})

    def test_01_switch(self):
        self.assertEqual(self.card_states(), {OLD: "enabled"})
        out = self.run_app(activation_code("NEW-OPERATOR"))
        self.assertEqual(ct.printed(out, "current profile"), [OLD])
        self.assertEqual(ct.printed(out, "new profile", literal=False), NEW)
        self.assertEqual(ct.printed(out, "deleted old profile", literal=False), OLD)
        self.assertEqual(ct.printed(out, "profile_list"), (1, [(NEW, 1)]))
        self.assertIn("switch operator succeed", out)
        self.assertEqual(self.card_states(), {NEW: "enabled"})
        self.assertEqual(self.w.manager_prop("ActiveProfile"), f"{MANAGER}/profile/{NEW}")
        # the SM-DP+ hears of every step, with verified signatures
        self.w.wait_idle()
        received = {(n["operation"], n["iccid"]): n["verified"]
                    for n in self.w.smdp.control.notifications()}
        for step in (("install", NEW), ("enable", NEW), ("disable", OLD), ("delete", OLD)):
            self.assertTrue(received.get(step), (step, received))

    def test_02_failed_download_keeps_the_current_profile(self):
        # the matching ID is used up: the download fails and nothing is deleted
        out = self.run_app(activation_code("NEW-OPERATOR"), ok=False)
        self.assertEqual(ct.printed(out, "current profile"), [NEW])
        self.assertIn("keeping the current one", out)
        self.assertIn("switch operator failed", out)
        self.assertEqual(self.card_states(), {NEW: "enabled"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
