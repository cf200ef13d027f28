#!/usr/bin/python3
"""Transport=mbim through Debian's real /usr/libexec/mbim-proxy, as esimd shares a laptop's WWAN
card with ModemManager: esimd opens the simulator's MBIM pseudo-terminal with
MBIM_DEVICE_OPEN_FLAGS_PROXY and libmbim starts the proxy. meson.build runs it through netns-run
(user, network, pid and mount namespaces): the proxy's uid-0 check passes, its abstract socket
'mbim-proxy' (which libmbim 1.28 cannot rename) stays private, and it ends with the test."""

import os
import signal
import sys
import unittest

from gi.repository import GLib

from esimtest.procs import pids_named

MBIM_PROXY = "/usr/libexec/mbim-proxy"
SKIP = 77
ICCID_ONE = "8949449999999990011"


def proxy_pids() -> list:
    return pids_named("mbim-proxy")


def mbim_counts(w) -> dict:
    with w.sim.ctl() as c:
        return c.counters()["mbim_messages"]


class ThroughRealMbimProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from esimtest.world import DEFAULT_ORDERS, World

        big = [{"matchingId": "BIG-ONE", "iccid": "8949449999999990094", "profile": {"generate": {"size": 60000}},
                "metadata": {"serviceProviderName": "Big Operator", "profileName": "Large"}}] + DEFAULT_ORDERS
        cls.w = World(transport="mbim", orders=big, config={"Modem sim": {"Refresh": "power-cycle"}})

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def test_1_operations(self):
        from esimtest.world import activation_code

        w = self.w
        self.assertTrue(proxy_pids(), "esimd did not go through mbim-proxy")
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(w.profiles()[0]["state"], "enabled")
        w.manager("DisableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(w.profiles(), [])
        w.wait_idle()
        ops = sorted(n["operation"] for n in w.smdp.control.notifications() if n["iccid"] == ICCID_ONE)
        self.assertEqual(ops, ["delete", "disable", "enable", "install"])
        counts = mbim_counts(w)
        self.assertEqual(counts["open"], 1)  # the proxy's one session with the modem
        self.assertGreaterEqual(counts["ms-uicc-low-level-access/reset/set"], 2)

    def test_2_the_proxy_dies_and_esimd_comes_back_through_a_new_one(self):
        from esimtest.world import activation_code

        w = self.w
        old = proxy_pids()
        self.assertEqual(len(old), 1)
        os.kill(old[0], signal.SIGKILL)
        # esimd sees its socket hang up, reports the loss and reconnects; libmbim starts a new proxy
        w.client.wait_for(lambda: "lost" in w.esimd.log() and proxy_pids() and proxy_pids() != old, 30,
                          "a new mbim-proxy")
        w.wait_state("ready", 60)
        job, props = w.download(activation_code("DEMO-TWO"))
        self.assertEqual(props["State"], "succeeded", props)

    def test_3_a_channel_left_by_a_killed_esimd_is_closed_at_the_next_start(self):
        from esimtest.world import activation_code

        w = self.w
        sim = w.sim.ctl()
        sim.add_fault(kind="delay", ms=5)
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("BIG-ONE"), "", {})))[0]
        w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "Stage") == "installing", 120)
        w.esimd.kill()
        sim.clear_faults()
        # Through the proxy the MBIM session is not esimd's: its channel outlives it...
        left = sim.state()["mbim"]["channels"]
        self.assertEqual(len(left), 1, left)
        closes = mbim_counts(w).get("ms-uicc-low-level-access/close-channel/set", 0)
        w.start_esimd()
        w.wait_idle()
        # ...until the next esimd closes its channel group before anything else.
        self.assertNotIn(left[0], sim.state()["mbim"]["channels"])
        self.assertGreater(mbim_counts(w)["ms-uicc-low-level-access/close-channel/set"], closes)
        self.assertNotIn("8949449999999990094", [p["iccid"] for p in sim.state()["profiles"]])
        sim.close()


class QmiThroughRealMbimProxy(unittest.TestCase):
    def test_qmi_inside_mbim_through_mbim_proxy(self):
        from esimtest.world import World, activation_code

        with World(transport="qmi-over-mbim") as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            self.assertTrue(proxy_pids(), "esimd did not go through mbim-proxy")
            self.assertIn("QMI inside MBIM (through mbim-proxy)", w.esimd.log())
            counts = mbim_counts(w)
            self.assertGreater(counts["qmi/msg/set"], 20)
            self.assertEqual(counts["open"], 1)


def main():
    if os.environ.get("ESIMD_TEST_NETNS") != "1":
        print("run through tests/integration/netns-run (a private network namespace): skipping")
        sys.exit(SKIP)
    if not os.access(MBIM_PROXY, os.X_OK):
        print(f"missing {MBIM_PROXY}: skipping")
        sys.exit(SKIP)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
