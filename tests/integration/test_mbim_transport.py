#!/usr/bin/python3
"""Transport=mbim end to end: the real esimd opens the simulator's MBIM pseudo-terminal directly
(UseProxy=false; the real mbim-proxy is test_real_mbim_proxy.py) and manages the eUICC through
the MS UICC Low Level Access service: downloads, the re-read of the card by UICC reset (and by
radio off/on where the modem has no UICC reset), the IMEI from the device caps, a modem that
vanishes or stops answering and comes back. And Transport=qmi with QmiMode=mbim on the same
port: QMI inside MBIM."""

import time
import unittest

from gi.repository import GLib

from esimtest.world import DEFAULT_ORDERS, World, activation_code

ICCID_ONE = "8949449999999990011"
SIM_IMEI = "356938035643809"
BIG = [{"matchingId": "BIG-ONE", "iccid": "8949449999999990094",
        "profile": {"generate": {"size": 60000}},
        "metadata": {"serviceProviderName": "Big Operator", "profileName": "Large"}}] + DEFAULT_ORDERS


def profile_op(w, method, iccid=ICCID_ONE):
    w.manager(method, GLib.Variant("(sa{sv})", (iccid, {})))


def MbimWorld(qmi=False, **kw):
    """esimd on the simulator's MBIM pty: Transport=mbim, or Transport=qmi inside MBIM."""
    return World(transport="qmi-over-mbim" if qmi else "mbim", **kw)


def mbim_counts(w) -> dict:
    with w.sim.ctl() as c:
        return c.counters()["mbim_messages"]


class Operations(unittest.TestCase):
    def test_download_enable_disable_delete_with_uicc_reset(self):
        with MbimWorld(config={"Modem sim": {"Refresh": "power-cycle"}}) as w:
            self.assertEqual(w.manager_prop("Eid"), "89049032123451234512345678901235")
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            before = mbim_counts(w).get("ms-uicc-low-level-access/reset/set", 0)
            profile_op(w, "EnableProfile")
            self.assertEqual(w.profiles()[0]["state"], "enabled")
            profile_op(w, "DisableProfile")
            profile_op(w, "DeleteProfile")
            self.assertEqual(w.profiles(), [])
            w.wait_idle()
            counts = mbim_counts(w)
            # enable and disable each made the modem read the card again
            self.assertEqual(counts.get("ms-uicc-low-level-access/reset/set", 0), before + 2)
            self.assertGreater(counts["ms-uicc-low-level-access/apdu/set"], 20)
            self.assertNotIn("qmi/msg/set", counts)
            ops = sorted(n["operation"] for n in w.smdp.control.notifications() if n["iccid"] == ICCID_ONE)
            self.assertEqual(ops, ["delete", "disable", "enable", "install"])
            # no Imei= configured: the device caps' device ID went to the server
            self.assertEqual(w.smdp.control.sessions()[0]["imei"], SIM_IMEI)
            with w.sim.ctl() as c:
                self.assertEqual(c.counters()["cla_channel_mismatch"], 0)
                self.assertEqual(c.state()["mbim"]["channels"], [])

    def test_without_uicc_reset_the_radio_goes_off_and_on(self):
        with MbimWorld(sim_options={"mbim_no_uicc_reset": True},
                       config={"Modem sim": {"Refresh": "power-cycle"}}) as w:
            w.download(activation_code("DEMO-ONE"))
            profile_op(w, "EnableProfile")
            self.assertEqual(w.profiles()[0]["state"], "enabled")
            profile_op(w, "DisableProfile")
            counts = mbim_counts(w)
            self.assertEqual(counts.get("ms-uicc-low-level-access/reset/set"), 1)  # tried once, then known
            self.assertEqual(counts.get("basic-connect/radio-state/set"), 4)  # off, on; off, on
            self.assertIn("no MS UICC reset", w.esimd.log())

    def test_open_channel_status_of_qualcomm_firmware_for_a_card_without_profile(self):
        # Qualcomm's MBIM firmware (qbi_svc_msuicc.c) opens channels on a card without a
        # telecom application by plain APDUs and reads the Status one byte past the card's
        # answer: success, the channel, and 00 00 for the card's 90 00. The channel is open.
        with MbimWorld(sim_options={"mbim_non_telecom_open": True}) as w:
            self.assertEqual(w.manager_prop("Eid"), "89049032123451234512345678901235")
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            w.wait_idle()
            with w.sim.ctl() as c:
                self.assertEqual(c.state()["mbim"]["channels"], [])

    def test_open_channel_while_a_slot_mapping_is_in_progress(self):
        # Qualcomm's MBIM function (qbi_svc_msuicc.c) answers UICC Open Channel Busy while a
        # slot mapping is in progress (one that ModemManager asked for, say). That passes: the
        # download asks again and goes through, rather than failing on a modem that is only busy.
        with MbimWorld() as w:
            with w.sim.ctl() as c:
                fid = c.add_fault(kind="mbim_busy", count=3)
                job, props = w.download(activation_code("DEMO-ONE"))
                self.assertEqual(props["State"], "succeeded", props)
                self.assertEqual(c.fault(fid)["fired"], 3)
            w.wait_idle()
            with w.sim.ctl() as c:
                self.assertEqual(c.state()["mbim"]["channels"], [])

    def test_a_modem_slow_to_read_the_card_after_a_uicc_reset(self):
        # After the reset the card answers nothing until the modem has read it; meanwhile the
        # ready status says so by an MBIM status NotInitialized, or by ready state SimNotInserted
        # (both waited through by ModemManager, mm-broadband-modem-mbim.c). Enabling must wait
        # for the card rather than fail on it.
        for how in ("not-initialized", "sim-not-inserted"):
            with self.subTest(how=how), \
                    MbimWorld(sim_options={"mbim_slow_card_read": how + ":3"},
                              config={"Modem sim": {"Refresh": "power-cycle"}}) as w:
                w.download(activation_code("DEMO-ONE"))
                profile_op(w, "EnableProfile")
                self.assertEqual(w.profiles()[0]["state"], "enabled")
                profile_op(w, "DisableProfile")
                self.assertEqual(w.profiles()[0]["state"], "disabled")
                self.assertGreaterEqual(mbim_counts(w)["basic-connect/subscriber-ready-status/query"], 6)

    def test_a_card_that_refuses_255_byte_blocks(self):
        with MbimWorld(sim_options={"lc_limit": 120}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            self.assertEqual(w.manager_prop("SegmentSize"), 120)


class LossAndReturn(unittest.TestCase):
    def test_modem_vanishes_during_a_download_and_comes_back(self):
        with MbimWorld(orders=BIG, sim_options={"delay_ms": 5}) as w:
            sim = w.sim.ctl()
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("BIG-ONE"), "", {})))[0]
            w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "Stage") == "installing", 120)
            sim.disappear()  # the node goes: esimd's MbimDevice sees the hang-up
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.Transport"), props)
            w.wait_state("unavailable", 30)
            self.assertIn("disappeared", w.manager_prop("UnavailableReason"))
            self.assertEqual(sim.state()["profiles"], [])
            sim.appear()  # a new node under the same path: the file monitor sees it
            w.wait_state("ready", 60)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            sim.close()

    def test_a_modem_that_stops_answering_is_lost_and_reopened(self):
        # Every APDU held 6 s, and what comes after waits behind it; two commands unanswered
        # within CommandTimeout=2 make the modem lost.
        with MbimWorld(config={"Modem sim": {"CommandTimeout": "2"}}) as w:
            sim = w.sim.ctl()
            sim.add_fault(kind="delay", ms=6000, frontend="mbim")
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", {})))[0]
            props = w.wait_job(job, 60)
            self.assertEqual(props["State"], "failed", props)
            w.wait_state("unavailable", 30)
            self.assertIn("stopped answering", w.manager_prop("UnavailableReason"))
            sim.clear_faults()
            w.wait_state("ready", 60)
            self.assertGreaterEqual(mbim_counts(w)["open"], 2)  # a new MBIM session
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            sim.close()

    def test_a_modem_that_re_enumerates_mid_download(self):
        # The drop fault: the node hangs up at the 10th APDU and a new one appears at once.
        with MbimWorld() as w:
            sim = w.sim.ctl()
            fault = sim.add_fault(kind="drop", after=9, frontend="mbim")
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", {})))[0]
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.Transport"), props)
            self.assertEqual(sim.fault(fault)["fired"], 1)
            w.wait_state("ready", 60)
            self.assertIn("disappeared", w.esimd.log())
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            sim.close()

    def test_stopping_while_the_modem_vanishes(self):
        with MbimWorld(orders=BIG, sim_options={"delay_ms": 5}) as w:
            sim = w.sim.ctl()
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("BIG-ONE"), "", {})))[0]
            w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "Stage") == "installing", 120)
            w.esimd.proc.terminate()
            sim.disappear()
            start = time.monotonic()
            self.assertEqual(w.esimd.stop(timeout=40), 0)
            self.assertLess(time.monotonic() - start, 40)
            self.assertEqual(sim.state()["profiles"], [])
            sim.close()


class QmiOverMbim(unittest.TestCase):
    def test_operations_power_cycle_and_imei_inside_mbim(self):
        with MbimWorld(qmi=True, config={"Modem sim": {"Refresh": "power-cycle"}}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            profile_op(w, "EnableProfile")
            self.assertEqual(w.profiles()[0]["state"], "enabled")
            profile_op(w, "DisableProfile")
            profile_op(w, "DeleteProfile")
            w.wait_idle()
            with w.sim.ctl() as c:
                counters = c.counters()
            qmi, mbim = counters["qmi_messages"], counters["mbim_messages"]
            # every QMI message went inside MBIM: no UICC low-level access at all
            self.assertEqual(sum(qmi.values()), mbim["qmi/msg/set"])
            self.assertFalse([k for k in mbim if k.startswith("ms-uicc")])
            self.assertEqual(qmi.get("uim-power-off-sim"), 2)
            self.assertEqual(qmi.get("dms-get-ids"), 1)
            self.assertEqual(w.smdp.control.sessions()[0]["imei"], SIM_IMEI)
            self.assertIn("QMI inside MBIM", w.esimd.log())

    def test_modem_vanishes_and_comes_back(self):
        with MbimWorld(qmi=True) as w:
            sim = w.sim.ctl()
            sim.disappear()
            w.wait_state("unavailable", 30)
            sim.appear()
            w.wait_state("ready", 60)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            sim.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
