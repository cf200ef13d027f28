#!/usr/bin/python3
"""What a settings panel shows of an eUICC and its profiles (issue 16, item 5): EUICCInfo2's
certificationDataObject, and SGP.22's own names for policy rules, through D-Bus and esimctl."""

import json
import unittest

from gi.repository import GLib

from esimtest.world import DEFAULT_ORDERS, PROFILE_IFACE, World, activation_code

ICCID_RULED = "8949449999999990052"


class PanelDetails(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        orders = DEFAULT_ORDERS + [
            {"matchingId": "RULED", "iccid": ICCID_RULED, "profile": {"generate": {"size": 4096}},
             "metadata": {"serviceProviderName": "Ruled Operator", "profileName": "Plan",
                          "ppr": ["pprUpdateControl"]}}]
        cls.w = World(orders=orders)
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def test_certification_data(self):
        w = self.w
        info = w.manager("GetInfo")[0]
        self.assertNotIn("platform_label", info)  # the card leaves it out until told otherwise
        self.sim.set(certification_data=["ESIMD-TEST-PLATFORM-01", "https://dloa.example.com/registrar"])
        w.manager("Refresh")
        info = w.manager("GetInfo")[0]
        self.assertEqual(info["platform_label"], "ESIMD-TEST-PLATFORM-01")
        self.assertEqual(info["discovery_base_url"], "https://dloa.example.com/registrar")
        # One name for free memory, the property's.
        self.assertEqual(info["free_non_volatile_memory"], w.manager_prop("FreeNonVolatileMemory"))
        self.assertIn("free_volatile_memory", info)
        self.assertNotIn("free_nvm", info)
        out = w.esimctl("info")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"Platform label: +ESIMD-TEST-PLATFORM-01")
        self.assertRegex(out.stdout, r"DLOA discovery URL: +https://dloa.example.com/registrar")
        doc = json.loads(w.esimctl("--json", "info").stdout)
        self.assertEqual(doc["info"]["platform_label"], "ESIMD-TEST-PLATFORM-01")

    def test_policy_rules_by_their_sgp22_names(self):
        w = self.w
        job, props = w.download(activation_code("RULED"), options={"confirm": False})
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual(props["ProfileMetadata"]["policy_rules"], ["pprUpdateControl"])
        listed = {p["iccid"]: p for p in w.profiles()}
        self.assertEqual(listed[ICCID_RULED]["policy_rules"], ["pprUpdateControl"])
        path = listed[ICCID_RULED]["path"]
        self.assertEqual(w.client.get(path, PROFILE_IFACE, "PolicyRules"), ["pprUpdateControl"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
