#!/usr/bin/python3
"""What a settings panel or a web UI needs of a download and of every other change (issue 16,
items 1 to 3): a download that outlives its caller ("detach"), a confirmation code the SM-DP+
asks for in the middle of a download, and a Job for every change, followed without blocking."""

import unittest

from gi.repository import GLib

from esimtest.world import JOB_IFACE, MANAGER, MANAGER_IFACE, BusClient, World, activation_code

POSTPONED = 1


class PanelJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.smdp = cls.w.smdp.control

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.smdp.clear_faults()
        self.w.wait_idle()

    def order(self, matching_id, iccid, **extra):
        o = {"matchingId": matching_id, "iccid": iccid, "profile": {"generate": {"size": 4096}},
             "metadata": {"serviceProviderName": "Panel Operator", "profileName": matching_id}}
        o.update(extra)
        self.smdp.add_order(o)
        return activation_code(matching_id)

    def start_and_leave(self, code, options):
        """A client (a web UI's request handler) starts a download that waits for consent, and
        leaves the bus; returns the job once esimd has seen it leave."""
        c = BusClient(self.w.bus.address)
        name = c.conn.get_unique_name()
        opts = {k: GLib.Variant("b", v) for k, v in options.items()}
        job = c.call(MANAGER, MANAGER_IFACE, "Download", GLib.Variant("(ssa{sv})", (code, "", opts)))[0]
        c.wait_for(lambda: c.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60, "consent asked")
        c.close()
        self.w.client.wait_for(lambda: not self.w.client.name_has_owner(name), 30, f"{name} gone")
        # The bus told esimd of the departure before it routes this call to it.
        self.w.client.get(job, JOB_IFACE, "State")
        return job

    def test_1_detached_download_outlives_its_caller(self):
        iccid = "8949449999999990102"
        job = self.start_and_leave(self.order("DETACHED", iccid), {"confirm": True, "detach": True})
        self.assertEqual(self.w.client.get(job, JOB_IFACE, "State"), "awaiting-confirmation")
        # Another client (the panel opened again) finishes it.
        self.w.client.call(job, JOB_IFACE, "Confirm")
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        self.assertIn(iccid, [p["iccid"] for p in self.w.profiles()])

    def test_2_attached_download_ends_with_its_caller(self):
        iccid = "8949449999999990110"
        job = self.start_and_leave(self.order("ATTACHED", iccid), {"confirm": True})
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "cancelled", props)
        session = self.smdp.sessions()[-1]
        self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", POSTPONED))
        self.assertNotIn(iccid, [p["iccid"] for p in self.w.profiles()])


if __name__ == "__main__":
    unittest.main(verbosity=2)
