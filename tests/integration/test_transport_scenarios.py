#!/usr/bin/python3
"""The scenarios every transport must pass (issue 13): the real esimd against the simulated eUICC
through the simulator's front for World's transport (ESIMD_TEST_TRANSPORT: qmi, mbim,
qmi-over-mbim, at, pcsc), registered in meson.build once per transport as
integration-transport-<name> (mbim and qmi-over-mbim inside netns-run, through the real
mbim-proxy; pcsc through a private real pcscd, the simulator the card of its vpcd reader): a
download, a download confirmed by the user, enable, disable and delete with the modem made to
re-read the card, the notifications delivered, the modem vanishing mid-load and coming back (on
a smart-card reader: the card pulled out and put back), and a card that refuses 255-byte STORE
DATA blocks. Every scenario applies to every transport."""

import os
import unittest

from gi.repository import GLib

from esimtest import transportmain
from esimtest.world import DEFAULT_ORDERS, World, activation_code, dbus_error_name

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
BIG = [{"matchingId": "BIG-ONE", "iccid": "8949449999999990094",
        "profile": {"generate": {"size": 60000}},
        "metadata": {"serviceProviderName": "Big Operator", "profileName": "Large"}}] + DEFAULT_ORDERS


def profile_op(w, method, iccid):
    w.manager(method, GLib.Variant("(sa{sv})", (iccid, {})))


class Operations(unittest.TestCase):
    """One world for the everyday operations, in order."""

    @classmethod
    def setUpClass(cls):
        # power-cycle: the transport's own way to make the modem re-read the card
        cls.w = World(config={"Modem sim": {"Refresh": "power-cycle"}})
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()
        cls.w.stop()

    def test_1_download(self):
        w = self.w
        self.assertEqual(w.manager_prop("State"), "ready")
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual([p["iccid"] for p in w.profiles()], [ICCID_ONE])
        self.assertEqual([p["iccid"] for p in self.sim.state()["profiles"]], [ICCID_ONE])
        self.assertEqual(self.sim.counters()["cla_channel_mismatch"], 0)
        if w.transport in ("mbim", "qmi-over-mbim") and os.environ.get("ESIMD_TEST_NETNS") == "1":
            self.assertIn("(through mbim-proxy)", w.esimd.log())  # the real proxy, not the pty
        if w.transport == "pcsc":
            # No Reader=: esimd found the card among pcscd's readers itself, and the card's T=0
            # answers (61xx, 6Cxx) were resolved by the transport through pcscd.
            self.assertIn('eUICC in reader "%s"' % w.pcscd.reader_names[0], w.esimd.log())
            self.assertGreater(self.sim.counters()["get_responses"], 0)

    def test_2_download_confirmed_by_the_user(self):
        w = self.w
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-TWO"), "",
                                                              {"confirm": GLib.Variant("b", True)})))[0]
        w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60,
                          "the preview")
        w.client.call(job, "org.esim.Job", "Confirm", timeout=10)
        props = w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        self.assertIn(ICCID_TWO, [p["iccid"] for p in self.sim.state()["profiles"]])

    def test_3_enable_disable_delete_with_the_re_read(self):
        w = self.w
        resets = self.sim.counters()["card_resets"]
        profile_op(w, "EnableProfile", ICCID_ONE)
        self.assertEqual({p["iccid"]: p["state"] for p in w.profiles()}[ICCID_ONE], "enabled")
        self.assertEqual(self.sim.counters()["card_resets"], resets + 1)  # the modem read the card again
        profile_op(w, "DisableProfile", ICCID_ONE)
        self.assertEqual(self.sim.counters()["card_resets"], resets + 2)
        profile_op(w, "DeleteProfile", ICCID_ONE)
        self.assertNotIn(ICCID_ONE, [p["iccid"] for p in w.profiles()])
        self.assertNotIn(ICCID_ONE, [p["iccid"] for p in self.sim.state()["profiles"]])

    def test_4_notifications_delivered(self):
        w = self.w
        w.wait_idle()
        self.assertEqual(w.manager_prop("PendingNotifications"), 0)
        self.assertEqual(self.sim.state()["notifications"], [])
        ops = sorted(n["operation"] for n in w.smdp.control.notifications() if n["iccid"] == ICCID_ONE)
        self.assertEqual(ops, ["delete", "disable", "enable", "install"])

    def test_5_wrong_confirmation_code(self):
        w = self.w
        job, props = w.download(activation_code("CODE-NEEDED"), "11111111")
        self.assertEqual(props["Error"], "org.esim.Error.ConfirmationCodeRefused", props)
        self.assertNotIn("8949449999999990037", [p["iccid"] for p in self.sim.state()["profiles"]])


class Resilience(unittest.TestCase):
    def test_modem_vanishes_during_a_download_and_comes_back(self):
        with World(orders=BIG, sim_options={"delay_ms": 5}) as w:
            sim = w.sim.ctl()
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("BIG-ONE"), "", {})))[0]
            w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "Stage") == "installing", 120)
            sim.disappear()
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.Transport"), props)
            w.wait_state("unavailable", 30)
            self.assertNotEqual(w.manager_prop("UnavailableReason"), "")
            with self.assertRaises(GLib.Error) as cm:
                profile_op(w, "EnableProfile", "8949449999999990094")
            self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.Unavailable")
            self.assertEqual(sim.state()["profiles"], [])  # never half-installed
            sim.appear()
            w.wait_state("ready", 60)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            sim.close()

    def test_a_card_that_refuses_255_byte_blocks(self):
        with World(sim_options={"lc_limit": 120}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            self.assertEqual(w.manager_prop("SegmentSize"), 120)
            with w.sim.ctl() as sim:
                self.assertLessEqual(sim.counters()["store_data_max"], 120)


if __name__ == "__main__":
    transportmain.main()
