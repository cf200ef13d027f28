#!/usr/bin/python3
"""The real esimd with Transport=at against the simulator's AT front, one modem quirk set per case:
each set stands for firmware seen in a public log (daemon/at-quirks.c names them). A download and,
where it matters, an enable with the CFUN refresh, a vanishing tty and the errors a modem can
answer, all through D-Bus."""

import json
import os
import tempfile
import time
import unittest

from gi.repository import GLib

from esimtest.world import World, activation_code

ICCID = "8949449999999990011"


def at_world(*quirks, sim_options=None, **modem):
    """A World whose esimd reaches the card through the AT pty (--at-pty) with these quirks."""
    tmp = tempfile.mkdtemp(prefix="esimd-at-")
    section = {"Transport": "at", "Device": os.path.join(tmp, "sim-at"), "UseProxy": None, "Slot": None,
               "Refresh": "power-cycle"}
    section.update({k: str(v) for k, v in modem.items()})
    options = dict(sim_options or {}, at_pty=True, at_quirks=list(quirks))
    return World(tmp, modem="pty", sim_options=options, config={"Modem sim": section})


class AtModem(unittest.TestCase):
    def download_ok(self, w, code="DEMO-ONE"):
        _job, props = w.download(activation_code(code))
        self.assertEqual(props["State"], "succeeded", props)
        w.wait_idle()

    def at(self, w) -> dict:
        with w.sim.ctl() as ctl:
            return ctl.counters()

    def test_standard_modem(self):
        with at_world() as w:
            self.assertEqual(w.manager_prop("Transport"), "at")
            self.download_ok(w)
            # AT+CGSN was read and sent to the server with the TAC
            self.assertEqual(w.smdp.control.sessions()[-1]["imei"], "356938035643809")
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID, {})))
            w.wait_idle()
            self.assertEqual([p["state"] for p in w.profiles()], ["enabled"])
            c = self.at(w)
            self.assertEqual(c["at"]["commands"]["CFUN"], 2)  # AT+CFUN=0, AT+CFUN=1
            self.assertGreaterEqual(c["card_resets"], 1)
            self.assertEqual(c["store_data_max"], 255)
            self.assertEqual(c["channels_open"], [])  # every AT+CCHO was closed again

    def test_tty_goes_away_and_comes_back(self):
        with at_world() as w:
            with w.sim.ctl() as ctl:
                ctl.disappear()
                w.wait_state("unavailable", 30)
                self.assertIn("went away", w.manager_prop("UnavailableReason"))
                ctl.appear()
            w.wait_state("ready", 30)
            self.download_ok(w)

    def test_csim_only_with_a_noisy_line(self):
        # No AT+CCHO/CGLA (DW5821e, lpac #164), the echo kept on, URCs everywhere, answers in
        # 7-byte pieces, "+CSIM:4,…" without a space, lower-case unquoted hex.
        with at_world("no_cgla", "echo", "urc_noise", "split=7", "no_space", "lower_hex", "unquoted") as w:
            self.download_ok(w)
            self.assertEqual(len(w.profiles()), 1)
            c = self.at(w)
            self.assertGreater(c["at"]["commands"]["CSIM"], 50)
            self.assertNotIn("CGLA", c["at"]["commands"])

    def test_answers_without_prefix(self):
        # Firmware that drops the prefix: AT+CCHO answered by a bare session id (Fibocom
        # FM350-GL, lpac issues #179 and #209), and, modelled on it (lpac pull request #427 says
        # the same of the FM350-GL's APDUs; no transcript of it was found), AT+CGLA answered
        # "<length>,<hex>" without "+CGLA: ", with the echo on and URCs around.
        with at_world("no_prefix", "session=bare", "echo", "urc_noise") as w:
            self.download_ok(w)
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID, {})))
            w.wait_idle()
            self.assertEqual([p["state"] for p in w.profiles()], ["enabled"])
            self.assertGreater(self.at(w)["at"]["commands"]["CGLA"], 50)

    def test_command_line_limit(self):
        # A modem that refuses lines over 300 characters: the 255-byte blocks (537 characters)
        # are answered 6700 by the transport and liblpa steps down to 120.
        with at_world("max_line=300") as w:
            self.download_ok(w)
            self.assertEqual(self.at(w)["store_data_max"], 120)
            self.assertEqual(w.manager_prop("SegmentSize"), 120)
        # Known in advance: nothing over the limit is even sent.
        with at_world("max_line=300", MaxCommandLength=300) as w:
            self.download_ok(w)
            c = self.at(w)
            self.assertEqual(c["store_data_max"], 120)
            self.assertLessEqual(c["at"]["longest_line"], 300)

    def test_csim_dropping_big_apdus(self):
        # EG25-style AT+CSIM that never answers big APDUs: a timeout, a resync on AT+CGMI, a
        # smaller block size.
        with at_world("no_cgla", "csim_drop=130", CommandTimeout=3) as w:
            self.download_ok(w)
            c = self.at(w)
            self.assertEqual(c["store_data_max"], 120)
            self.assertEqual(c["at"]["commands"]["CGMI"], 2)  # the set-up's and the resync's
            self.assertEqual(w.manager_prop("State"), "ready")

    def test_session_handles_and_host_coded_channels(self):
        # Sierra's 64-bit handles (lpac #138), then a modem that passes the CLA through and needs
        # the channel coded by the host (Quirks=cla-channel).
        with at_world("session=hex") as w:
            self.download_ok(w)
        with at_world("cla_passthrough", Quirks="cla-channel") as w:
            self.download_ok(w)
            self.assertEqual(self.at(w)["cla_channel_mismatch"], 0)
        with at_world("session0", Quirks="cgla-session0") as w:
            self.download_ok(w)
            self.assertNotIn("CCHO", self.at(w)["at"]["commands"])

    def test_61xx_left_to_the_host(self):
        # SIMCom A7908E hands 61xx over (lpac PR #238): the transport sends GET RESPONSE.
        with at_world("get_response", sim_options={"get_response": True}) as w:
            self.download_ok(w)
            self.assertGreater(self.at(w)["get_responses"], 10)

    def test_modem_that_keeps_answering_6100(self):
        tmp = tempfile.mkdtemp(prefix="esimd-at-")
        section = {"Transport": "at", "Device": os.path.join(tmp, "sim-at"), "UseProxy": None, "Slot": None}
        with World(tmp, modem="pty", sim_options={"at_pty": True, "get_response": True,
                                                  "at_quirks": ["get_response", "loop_6100"]},
                   config={"Modem sim": section}, wait_ready=False) as w:
            # The eUICC cannot be read; esimd says why and keeps answering.
            # Wait for the very words checked: a bare "6100" also matches valgrind's "==16100=="
            # prefix when esimd's pid holds it, and the wait then ends before the loop is named.
            w.client.wait_for(lambda: "keeps answering 6100" in w.esimd.log(), 60, "the 6100 loop to be named")
            self.assertNotEqual(w.manager_prop("State"), "ready")

    def test_quectel_internal_lpa(self):
        # RG650E-class firmware: AT+CCHO of the ISD-R refused until its LPA is switched off.
        with at_world("internal_lpa", "manufacturer=Quectel", "model=RG650E-EU") as w:
            self.download_ok(w)
            c = self.at(w)
            self.assertEqual(c["at"]["commands"]["QESIM"], 1)
            self.assertFalse(c["at"]["lpa_enabled"])

    def test_cme_error_mid_download(self):
        with at_world() as w:
            with w.sim.ctl() as ctl:
                fid = ctl.add_fault(kind="at_error", command="CGLA", code=13)
                # The eUICC was read at start: the fault fires on the download's first AT+CGLA.
                _job, props = w.download(activation_code("DEMO-ONE"))
                self.assertEqual(props["State"], "failed", props)
                self.assertIn("+CME ERROR: 13 (SIM failure)", props["ErrorMessage"])
                self.assertEqual(ctl.fault(fid)["fired"], 1)
            w.wait_idle()
            self.assertEqual(w.profiles(), [])
            self.download_ok(w)  # the next one works

    def test_verbose_cme_errors(self):
        # A modem left in AT+CMEE=2 (saved with AT&W, or restored by a reset) words its errors:
        # "operation not supported" to AT+CCHO still means AT+CSIM, and "SIM busy" still means
        # wait and try AT+CCHO again, as their numeric forms do.
        with at_world("no_cgla", "no_cgla_code=4", "cmee_verbose") as w:
            self.download_ok(w)
            c = self.at(w)
            self.assertGreater(c["at"]["commands"]["CSIM"], 50)
            self.assertNotIn("CGLA", c["at"]["commands"])
        with at_world("cmee_verbose") as w:
            with w.sim.ctl() as ctl:
                fid = ctl.add_fault(kind="at_error", command="CCHO", code=14)
                self.download_ok(w)
                self.assertEqual(ctl.fault(fid)["fired"], 1)
            self.assertEqual(len(w.profiles()), 1)

    def test_modem_restarts_mid_download(self):
        # A UART modem that restarts in the middle of a download, its tty staying: RDY instead of
        # the answer (Quectel's boot URCs), echo and AT+CMEE back at their defaults, the card
        # reset and off for 3 s. The download fails at once with an error that says so (it
        # waited for CommandTimeout before), nothing is half-installed, and the next download
        # goes through AT+CCHO again once the SIM is up: not through AT+CSIM, which a plain ERROR
        # to AT+CCHO (AT+CMEE=0 after the restart) while the SIM came up would have chosen.
        with at_world(CommandTimeout=120) as w:
            with w.sim.ctl() as ctl:
                fid = ctl.add_fault(kind="at_restart", command="CGLA", nth=20, sim_ms=3000)
                _job, props = w.download(activation_code("DEMO-ONE"))
                self.assertEqual(props["State"], "failed", props)
                self.assertIn("the modem restarted (RDY)", props["ErrorMessage"])
                self.assertEqual(ctl.fault(fid)["fired"], 1)
            w.wait_idle()
            self.assertEqual(w.profiles(), [])
            # Another order: the card's reset took the session the server holds for DEMO-ONE,
            # and with it the signed cancel that would have freed it.
            self.download_ok(w, "DEMO-TWO")
            self.assertEqual(len(w.profiles()), 1)
            c = self.at(w)
            self.assertNotIn("CSIM", c["at"]["commands"])
            self.assertEqual(c["channels_open"], [])

    def test_other_modems_restart_notices(self):
        # Other modules say they have just started in other words than Quectel's RDY: SIMCom's
        # A76xx print *ATREADY: 1 (Xinyuan-LilyGO/LilyGo-Modem-Series issue #247, an A7670E),
        # Cinterion's modules and Huawei's ME909s ^SYSSTART. Each is a restart as RDY is: the
        # download fails at once saying so, not after CommandTimeout, and the next one goes
        # through AT+CCHO once the SIM is up.
        for boot, notice in (("simcom", "*ATREADY: 1"), ("cinterion", "^SYSSTART")):
            with self.subTest(boot=boot), at_world("boot=" + boot, CommandTimeout=90) as w:
                with w.sim.ctl() as ctl:
                    fid = ctl.add_fault(kind="at_restart", command="CGLA", nth=20, sim_ms=2000)
                    _job, props = w.download(activation_code("DEMO-ONE"))
                    self.assertEqual(props["State"], "failed", props)
                    self.assertIn("the modem restarted (%s)" % notice, props["ErrorMessage"])
                    self.assertEqual(ctl.fault(fid)["fired"], 1)
                w.wait_idle()
                self.assertEqual(w.profiles(), [])
                self.download_ok(w, "DEMO-TWO")
                self.assertEqual(len(w.profiles()), 1)
                self.assertNotIn("CSIM", self.at(w)["at"]["commands"])

    def test_prefix_alone_on_its_line(self):
        # "+CCHO:" alone on its line and the session id on the next (and the same for +CGLA:),
        # the form Fibocom FM350-GL writes +GTCCINFO: in (4IceG/luci-app-3ginfo-lite pull
        # request #70), with URCs about: the session is the next line's, not an empty one.
        with at_world("prefix_alone", "urc_noise") as w:
            self.download_ok(w)
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID, {})))
            w.wait_idle()
            self.assertEqual([p["state"] for p in w.profiles()], ["enabled"])
            c = self.at(w)
            self.assertGreater(c["at"]["commands"]["CCHO"], 1)
            self.assertNotIn("CSIM", c["at"]["commands"])
            self.assertEqual(c["channels_open"], [])

    def test_notices_without_a_sigil(self):
        # SIMCom modules print "DST: <n>" after *PSUTTZ: when the network sends its time (a
        # SIM7070G diagnostic script strips it from every answer it reads) and
        # "UNDER-VOLTAGE WARNNING" on a weak supply: lines without the +^* of a URC, before the
        # bare IMEI of AT+CGSN and the manufacturer of AT+CGMI. They are neither: the IMEI goes
        # to the server and the family is SIMCom's.
        with at_world("simcom_notices", "manufacturer=SIMCOM INCORPORATED", "model=A7670E-LNXY-UBL") as w:
            self.download_ok(w)
            self.assertEqual(w.smdp.control.sessions()[-1]["imei"], "356938035643809")
            self.assertIn("family simcom", w.esimd.log())

    def test_unknown_notice_before_the_manufacturer(self):
        # A line without a sigil that no list knows (SIMCom SIM7670G prints QCRDY so,
        # espressif/esp-protocols issue #669; this one is written for esimd) before the answers
        # of AT+CGMI and AT+CGMM is not the manufacturer or the model: the SIM7600 is known as
        # such (family simcom, AT+CSIM only) and AT+CCHO never tried.
        with at_world("notice=BOOT DONE", "manufacturer=SIMCOM INCORPORATED",
                      "model=SIMCOM_SIM7600G-H") as w:
            self.download_ok(w)
            self.assertIn("family simcom", w.esimd.log())
            c = self.at(w)
            self.assertNotIn("CCHO", c["at"]["commands"])

    def test_sim_busy_to_the_set_up(self):
        # A modem that has just started answers commands that have nothing to do with its SIM
        # "SIM busy" while the SIM comes up (u-blox SARA-R422S to AT&C1, u-blox/ubxlib issue
        # #287). AT+CGMI answered so twice is asked again, not taken for "no manufacturer":
        # the SIM7600 is known as such (family simcom, AT+CSIM only) and AT+CCHO never tried.
        busy = json.dumps({"kind": "at_error", "command": "CGMI", "code": 14, "count": 2})
        with at_world("manufacturer=SIMCOM INCORPORATED", "model=SIMCOM_SIM7600G-H",
                      sim_options={"fault": [busy]}) as w:
            self.download_ok(w)
            self.assertIn("family simcom", w.esimd.log())
            c = self.at(w)
            self.assertEqual(c["at"]["commands"]["CGMI"], 3)
            self.assertNotIn("CCHO", c["at"]["commands"])
            self.assertGreater(c["at"]["commands"]["CSIM"], 50)

    def test_plain_sim_answering_sim_failure(self):
        # Some firmware refuses AT+CCHO of the ISD-R on a plain SIM with "+CME ERROR: 13" (SIM
        # failure; commaai/openpilot pull request #37979), the code a SIM still coming up gives.
        # With the SIM ready (AT+CPIN?), that is a card without an ISD-R, said at once, not ten
        # AT+CCHO a second apart ending in "SIM failure".
        tmp = tempfile.mkdtemp(prefix="esimd-at-")
        section = {"Transport": "at", "Device": os.path.join(tmp, "sim-at"), "UseProxy": None, "Slot": None}
        with World(tmp, modem="pty", sim_options={"at_pty": True, "plain_sim": True, "at_quirks": ["no_app_code=13"]},
                   config={"Modem sim": section}, wait_ready=False) as w:
            w.client.wait_for(lambda: "the card has no ISD-R" in w.esimd.log(), 60, "the plain SIM to be named")
            self.assertNotEqual(w.manager_prop("State"), "ready")
            with w.sim.ctl() as ctl:
                self.assertLessEqual(ctl.counters()["at"]["commands"]["CCHO"], 2)

    def test_modem_restarting_again_and_again(self):
        # A modem in a boot loop: it restarts in a download, then again on each ATE0 that would
        # set it up, five times. Each restart queues the set-up anew; the ones not yet sent are
        # replaced, not kept: once the modem stays up it gets one AT+CMEE=1, and the eUICC works.
        with at_world(CommandTimeout=120) as w:
            with w.sim.ctl() as ctl:
                before = ctl.counters()["at"]["commands"].get("CMEE", 0)
                fids = [ctl.add_fault(kind="at_restart", command="CGLA", nth=20, sim_ms=500)]
                for _ in range(5):  # each fires at the first ATE0 after the one before it fired
                    fids.append(ctl.add_fault(kind="at_restart", command="E0", sim_ms=500))
                _job, props = w.download(activation_code("DEMO-ONE"))
                self.assertEqual(props["State"], "failed", props)
                self.assertIn("the modem restarted (RDY)", props["ErrorMessage"])
                w.wait_idle()
                self.assertEqual([ctl.fault(f)["fired"] for f in fids], [1] * 6)
                self.assertEqual(ctl.counters()["at"]["commands"].get("CMEE", 0), before + 1)
            self.download_ok(w, "DEMO-TWO")

    def test_wrong_le_to_get_response(self):
        # A modem that leaves 61xx to the host, and a strict T=0 card that announces 6100 without
        # a count: the GET RESPONSE of Le 00 is answered 6Cxx. Only the GET RESPONSE is asked
        # again; the command itself runs once (an enable run twice answers
        # profileNotInDisabledState).
        with at_world("get_response", sim_options={"get_response": True, "wrong_le": True}) as w:
            with w.sim.ctl() as ctl:
                ctl.set(announce_6100=True)
                self.download_ok(w)
                w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID, {})))
                w.wait_idle()
                self.assertEqual([p["state"] for p in w.profiles()], ["enabled"])
                self.assertGreater(ctl.counters()["get_responses"], 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
