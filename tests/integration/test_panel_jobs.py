#!/usr/bin/python3
"""What a settings panel or a web UI needs of a download and of every other change (issue 16,
items 1 to 3): a download that outlives its caller ("detach"), a confirmation code the SM-DP+
asks for in the middle of a download, and a Job for every change, followed without blocking."""

import os
import pty
import subprocess
import unittest

from gi.repository import GLib

from esimtest.world import (ESIMCTL, JOB_IFACE, MANAGER, MANAGER_IFACE, BusClient, World,
                            activation_code, dbus_error_name)

POSTPONED, TIMEOUT = 1, 2
CODE, WRONG = "1357", "2468"


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

    # ---- item 1: a confirmation code the SM-DP+ asks for in the middle of a download ----------

    def start(self, code, **options):
        opts = {k: GLib.Variant("b", v) for k, v in options.items()}
        return self.w.manager("Download", GLib.Variant("(ssa{sv})", (code, "", opts)))[0]

    def wait_state(self, job, state):
        c = self.w.client
        c.wait_for(lambda: c.get(job, JOB_IFACE, "State") == state, 60, f"{job} {state}")
        return c.get_all(job, JOB_IFACE)

    def job_call_error(self, job, method, args=None):
        with self.assertRaises(GLib.Error) as cm:
            self.w.client.call(job, JOB_IFACE, method, args)
        return dbus_error_name(cm.exception)

    def supply(self, job, code):
        self.w.secrets.add(code)
        self.w.client.call(job, JOB_IFACE, "SupplyConfirmationCode", GLib.Variant("(s)", (code,)))

    def order_index(self, matching_id):
        return [o for o in self.smdp.orders() if o["matchingId"] == matching_id][0]

    def test_3_code_asked_mid_download_wrong_then_right(self):
        """The activation code does not announce it; the SM-DP+ asks (ccRequiredFlag). A panel
        shows the profile, the user consents, types a wrong code, is told, types the right one."""
        iccid = "8949449999999990128"
        ac = self.order("MID-CODE", iccid, confirmationCode=CODE)
        self.assertNotIn("$1", ac)
        job = self.start(ac, confirm=True, ask_confirmation_code=True)
        props = self.wait_state(job, "awaiting-confirmation")
        self.assertEqual(props["ProfileMetadata"]["iccid"], iccid)
        self.assertEqual(self.job_call_error(job, "SupplyConfirmationCode", GLib.Variant("(s)", (CODE,))),
                         "org.esim.Error.WrongJobState")  # consent first, as SGP.22 orders them
        self.w.client.call(job, JOB_IFACE, "Confirm")
        props = self.wait_state(job, "awaiting-confirmation-code")
        self.assertEqual(props["ConfirmationCodeRefused"], "")
        self.assertEqual(props["Stage"], "awaiting-confirmation-code")
        self.assertEqual(props["ProfileMetadata"]["iccid"], iccid)
        self.assertEqual(self.job_call_error(job, "Confirm"), "org.esim.Error.WrongJobState")
        self.assertEqual(self.job_call_error(job, "SupplyConfirmationCode", GLib.Variant("(s)", ("",))),
                         "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertEqual(self.w.client.get(job, JOB_IFACE, "State"), "awaiting-confirmation-code")
        sessions_before = len(self.smdp.sessions())

        self.supply(job, WRONG)
        # Refused per SGP.22 (8.2.7 / 3.8), the order kept: a new session asks again.
        props = self.wait_state(job, "awaiting-confirmation-code")
        self.assertIn("8.2.7", props["ConfirmationCodeRefused"])
        self.assertIn("3.8", props["ConfirmationCodeRefused"])
        self.assertEqual(props["Error"], "")
        sessions = self.smdp.sessions()
        self.assertEqual(len(sessions), sessions_before + 1)  # the one that now waits
        self.assertEqual(sessions[-2]["error"], "8.2.7/3.8")
        order = self.order_index("MID-CODE")
        self.assertEqual((order["state"], order["ccAttempts"]), ("in-progress", 1))  # the new session's
        # The eUICC's session of the refused attempt was cancelled; it holds the new one.
        card = self.w.sim.ctl().state()
        self.assertEqual(card["last_cancelled"]["transaction_id"], sessions[-2]["transactionId"])
        self.assertEqual(card["session"]["transaction_id"], sessions[-1]["transactionId"])

        self.supply(job, CODE)
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual(props["Result"]["iccid"], iccid)
        self.assertIn(iccid, [p["iccid"] for p in self.w.profiles()])
        order = self.order_index("MID-CODE")  # bound once, after one refused code
        self.assertEqual((order["downloads"], order["ccAttempts"]), (1, 1))

    def test_4_without_the_option_as_before(self):
        """sim.esim's profileOTA(code, "") and esimctl do not ask for the option: a code the
        SM-DP+ wants and nobody gave still fails at once, with the order kept."""
        ac = self.order("OLD-WAY", "8949449999999990136", confirmationCode=CODE)
        props = self.w.wait_job(self.start(ac))
        self.assertEqual(props["Error"], "org.esim.Error.ConfirmationCodeRequired", props)
        job, props = self.w.download(ac, WRONG)
        self.assertEqual(props["Error"], "org.esim.Error.ConfirmationCodeRefused", props)
        job, props = self.w.download(ac, CODE)
        self.assertEqual(props["State"], "succeeded", props)

    def test_5_retries_exceeded_end_the_job(self):
        ac = self.order("TWO-TRIES", "8949449999999990144", confirmationCode=CODE, maxCcAttempts=2)
        job = self.start(ac, ask_confirmation_code=True)
        self.wait_state(job, "awaiting-confirmation-code")
        self.supply(job, WRONG)
        props = self.wait_state(job, "awaiting-confirmation-code")
        self.assertIn("3.8", props["ConfirmationCodeRefused"])
        self.supply(job, WRONG)
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "failed", props)
        self.assertEqual(props["Error"], "org.esim.Error.ConfirmationCodeRefused")
        self.assertIn("6.4", props["ErrorMessage"])
        self.assertEqual(self.order_index("TWO-TRIES")["state"], "locked")

    def test_6_cancel_while_asked_keeps_the_order(self):
        iccid = "8949449999999990151"
        ac = self.order("LATER", iccid, confirmationCode=CODE)
        job = self.start(ac, ask_confirmation_code=True)
        self.wait_state(job, "awaiting-confirmation-code")
        self.w.client.call(job, JOB_IFACE, "Cancel")
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "cancelled", props)
        session = self.smdp.sessions()[-1]
        self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", POSTPONED))
        # The user comes back with the code: the order was not used up.
        job, props = self.w.download(ac, CODE)
        self.assertEqual(props["State"], "succeeded", props)

    def test_4b_esimctl_asks_mid_download_on_a_terminal(self):
        """esimctl download at a terminal: the server asks for a code the activation code did
        not announce; esimctl asks, says when the server refused it, asks again."""
        iccid = "8949449999999990193"
        ac = self.order("CLI-CODE", iccid, confirmationCode=CODE)
        self.w.secrets.update({CODE, WRONG})
        master, slave = pty.openpty()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.w.bus.address)
        p = subprocess.Popen([ESIMCTL, "download", ac], stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env, text=True)
        os.close(slave)
        os.write(master, f"{WRONG}\n{CODE}\n".encode())
        out, _ = p.communicate(timeout=120)
        os.close(master)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("The server asks for a confirmation code.", out)
        self.assertRegex(out, r"The server refused the code \(.*8\.2\.7.*3\.8.*\); try again\.")
        self.assertNotIn(CODE, out)
        self.assertEqual(self.state_of(iccid), "disabled")
        order = self.order_index("CLI-CODE")
        self.assertEqual((order["downloads"], order["ccAttempts"]), (1, 1))

    # ---- item 3: every change is a Job a panel follows without blocking -----------------------

    def jobs_added(self, client, kind, caller):
        """The Job objects InterfacesAdded announced to @client: (path, properties)."""
        out = []
        for path, iface, member, args in client.signals:
            if member == "InterfacesAdded" and JOB_IFACE in args[1]:
                props = args[1][JOB_IFACE]
                if props["Kind"] == kind and props["Caller"] == caller:
                    out.append((args[0], props))
        return out

    def test_7_a_blocking_change_followed_through_its_job(self):
        """A panel starts EnableProfile without waiting for the answer, finds its Job by
        InterfacesAdded (Kind and Caller, its own unique name), sees it queued in Jobs behind
        a download, cancels it, starts it again and follows it to Finished; esimd's own
        notification delivery that follows is a Job in Jobs and CurrentJob too."""
        iccid = "8949449999999990177"
        job, props = self.w.download(self.order("PANEL-SWITCH", iccid))
        self.assertEqual(props["State"], "succeeded", props)
        self.w.wait_idle()
        panel = BusClient(self.w.bus.address)
        me = panel.conn.get_unique_name()
        try:
            # A download waiting for consent holds the queue.
            holder = self.start(self.order("PANEL-HOLD", "8949449999999990185"), confirm=True)
            self.wait_state(holder, "awaiting-confirmation")
            first = panel.call_async(MANAGER, MANAGER_IFACE, "EnableProfile",
                                     GLib.Variant("(sa{sv})", (iccid, {})))
            found = panel.wait_for(lambda: self.jobs_added(panel, "enable", me), 30, "its Job")
            enable, props = found[0]
            self.assertEqual(props["State"], "queued")
            self.assertEqual(panel.get(MANAGER, MANAGER_IFACE, "Jobs"), [holder, enable])
            self.assertEqual(panel.get(MANAGER, MANAGER_IFACE, "CurrentJob"), holder)
            panel.call(enable, JOB_IFACE, "Cancel")
            panel.wait_for(lambda: "error" in first, 30, "the blocking call's answer")
            self.assertEqual(dbus_error_name(first["error"]), "org.esim.Error.Cancelled")
            self.assertEqual(panel.get(MANAGER, MANAGER_IFACE, "Jobs"), [holder])

            second = panel.call_async(MANAGER, MANAGER_IFACE, "EnableProfile",
                                      GLib.Variant("(sa{sv})", (iccid, {})))
            found = panel.wait_for(lambda: self.jobs_added(panel, "enable", me)[1:], 30, "its Job")
            enable = found[0][0]
            self.w.client.call(holder, JOB_IFACE, "Cancel")
            panel.wait_for(lambda: panel.signals_named("Finished", enable), 60, "Finished")
            self.assertEqual(panel.signals_named("Finished", enable)[0][3], ("succeeded",))
            panel.wait_for(lambda: "result" in second, 30, "the blocking call's answer")
            self.assertEqual(self.state_of(iccid), "enabled")
            # esimd's own delivery of the notifications the enable made: a Job without a Caller.
            own = panel.wait_for(lambda: self.jobs_added(panel, "send-notifications", ""), 60,
                                 "esimd's delivery job")
            self.assertEqual(own[0][1]["Euicc"], MANAGER)
            # The eUICC is busy with it, and says so.
            panel.wait_for(lambda: own[0][0] in [
                args[1]["CurrentJob"] for path, iface, member, args in panel.signals
                if path == MANAGER and member == "PropertiesChanged" and "CurrentJob" in args[1]],
                60, "CurrentJob to be esimd's delivery job")
        finally:
            panel.close()

    def state_of(self, iccid):
        return {p["iccid"]: p["state"] for p in self.w.profiles()}.get(iccid)


class ConfirmationCodeTimeout(unittest.TestCase):
    def test_nobody_gives_the_code(self):
        with World(config={"Daemon": {"ConfirmationTimeout": "2"}}) as w:
            w.smdp.control.add_order({"matchingId": "SILENT", "iccid": "8949449999999990169",
                                      "profile": {"generate": {"size": 4096}}, "confirmationCode": CODE,
                                      "metadata": {"serviceProviderName": "Op", "profileName": "Plan"}})
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (
                activation_code("SILENT"), "", {"ask_confirmation_code": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation-code",
                              60, "the code asked for")
            props = w.wait_job(job)
            self.assertEqual(props["State"], "cancelled", props)
            session = w.smdp.control.sessions()[-1]
            self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", TIMEOUT))


if __name__ == "__main__":
    unittest.main(verbosity=2)
