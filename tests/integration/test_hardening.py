#!/usr/bin/python3
"""What hostile servers, real chips' answers and a full disk broke (issue 11, items 6, 7, 9 to
15), each as the scenario that broke it, on the real esimd over the private bus:

* one unreachable notification server must not hold back the notifications of the others;
* a notification server that accepts and never answers must not hold the queue, and the
  automatic delivery is a Job like any other: visible, with no caller, cancellable;
* a download's open-session record ends with the session, a cancelSession goes to the server
  only for a transaction the eUICC cancelled, and its retries end (count and age);
* no download starts when its crash record cannot be written;
* Confirm after Cancel is an error;
* DownloadResult has arrived when Job.Finished does;
* a read of the card that failed is an error (with its status word), never an empty list;
* UnavailableReason says why, whatever made the eUICC unavailable;
* Enable/Disable/Delete of an ICCID esimd does not know look at the card's list first.
"""

import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest

from gi.repository import GLib

from esimtest.world import (EID, JOB_IFACE, MANAGER, MANAGER_IFACE, SMDP_HOST, World, activation_code,
                            dbus_error_name)

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
ICCID_ELSEWHERE = "8949449999999990045"  # on the card, but not through esimd
ICCID_NOWHERE = "8949449999999990052"    # on no card
UNKNOWN = 0xFFFFFFFF                     # PendingNotifications when the list could not be read
DEAD_HOST = "notifications.dead.example"

EVENTS = ("install", "enable", "disable", "delete")


def order(matching_id, iccid, notify=None, size=4096):
    """An order; @notify maps an event to the address its notification goes to."""
    o = {"matchingId": matching_id, "iccid": iccid, "profile": {"generate": {"size": size}},
         "metadata": {"serviceProviderName": "Test Operator", "profileName": matching_id}}
    if notify:
        o["metadata"]["notificationConfigurationInfo"] = [{"events": [e], "address": notify.get(e, SMDP_HOST)}
                                                          for e in EVENTS]
    return o


class DeadServer:
    """A notification server that is down: it accepts TCP connections and closes them at once, so
    every TLS handshake fails. Counts the connections (each is one delivery attempt)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


def warnings(log):
    return [line for line in log.splitlines() if "WARNING **" in line]


def job_signals_in_order(w, job):
    return [s[2] for s in w.client.signals
            if (s[2] == "DownloadResult" and s[3][0] == job) or (s[2] == "Finished" and s[0] == job)]


class NotificationServers(unittest.TestCase):
    """Item 6 and 7: delivery is judged server by server, and never holds the queue."""

    def test_a_dead_server_does_not_hold_back_another_servers_notifications(self):
        dead = DeadServer()
        orders = [order("DEAD-DELETE", ICCID_ONE, notify={"delete": DEAD_HOST}), order("DEMO-TWO", ICCID_TWO)]
        # A back-off long enough that nothing is retried by it during the test.
        with World(orders=orders, extra_hosts={DEAD_HOST: "127.0.0.1:%d" % dead.port},
                   config={"Notifications": {"RetryInitial": "600", "RetryMax": "3600"}}) as w:
            try:
                sim = w.sim.ctl()
                w.download(activation_code("DEAD-DELETE"))
                w.client.wait_for(lambda: sim.state()["notifications"] == [], 60, "the install result delivered")
                w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
                # the delete notification goes to the dead server, fails, and stays on the card
                w.client.wait_for(lambda: dead.connections >= 1, 60, "an attempt at the dead server")
                w.wait_idle()
                pending = sim.state()["notifications"]
                self.assertEqual([(n["iccid"], n["address"]) for n in pending], [(ICCID_ONE, DEAD_HOST)])
                attempts = dead.connections

                # A download's install result goes to the live SM-DP+ at once, behind the dead
                # server's notification in sequence order, while the dead server's back-off runs.
                job, props = w.download(activation_code("DEMO-TWO"))
                self.assertEqual(props["State"], "succeeded", props)
                w.client.wait_for(lambda: [n["iccid"] for n in sim.state()["notifications"]] == [ICCID_ONE], 60,
                                  "the install result delivered while the dead server's notification waits")
                self.assertIn(("install", ICCID_TWO),
                              [(n["operation"], n["iccid"]) for n in w.smdp.control.notifications()])
                w.wait_idle()
                # the dead server was not tried again: its own back-off holds it
                self.assertEqual(dead.connections, attempts)
                self.assertEqual(w.manager_prop("PendingNotifications"), 1)

                # An explicit SendNotifications still tries it (and fails with the cause).
                with self.assertRaises(GLib.Error) as e:
                    w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))
                self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.NetworkUnavailable")
                self.assertEqual(dead.connections, attempts + 1)
            finally:
                dead.close()

    def test_a_hung_server_gives_way_to_user_jobs_and_the_delivery_is_a_job(self):
        # The server accepts TLS and holds every handleNotification for 5 minutes; esimd would
        # wait RequestTimeout (2 minutes here) for it.
        with World(config={"HTTP": {"RequestTimeout": "120"}}) as w:
            w.smdp.control.add_fault(function="handleNotification", action="delay", ms=300000, times=100)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)

            # the automatic delivery of its install result is a Job on the bus, without a caller
            # (the download holds the queue for its read-back first: wait for the delivery itself)
            auto = w.wait_current_job("send-notifications", exclude=(job,))
            props = w.client.get_all(auto, JOB_IFACE)
            self.assertEqual((props["Caller"], props["Euicc"]), ("", MANAGER))
            self.assertEqual(w.manager_prop("Jobs"), [auto])
            w.client.wait_for(lambda: w.smdp.control.calls().get("smdp:handleNotification", 0) >= 1, 30,
                              "the delivery in flight")

            # a user's job does not wait for the hung server: the delivery gives way
            done = w.client.call_async(MANAGER, MANAGER_IFACE, "SetNickname",
                                       GLib.Variant("(ss)", (ICCID_ONE, "mine")))
            w.client.wait_for(lambda: done, 60, "SetNickname while the server hangs")
            self.assertIn("result", done, done.get("error"))
            finished = [s for s in w.client.signals_named("Finished", auto)]
            self.assertEqual(finished[0][3], ("cancelled",))
            self.assertIn("gave way", w.client.get(auto, JOB_IFACE, "ErrorMessage"))
            self.assertEqual(len(w.sim.ctl().state()["notifications"]), 1)  # not lost

            # it comes back after the user's job, and the caller may cancel it
            again = w.wait_current_job("send-notifications", exclude=(auto,))
            w.client.wait_for(lambda: w.smdp.control.calls().get("smdp:handleNotification", 0) >= 2, 30,
                              "the delivery in flight again")
            w.client.call(again, JOB_IFACE, "Cancel")
            w.client.wait_for(lambda: w.client.signals_named("Finished", again), 30, "the cancelled delivery")
            self.assertEqual(w.client.signals_named("Finished", again)[0][3], ("cancelled",))
            w.wait_idle(30)
            self.assertEqual(len(w.sim.ctl().state()["notifications"]), 1)

    def test_a_delivery_cancelled_while_it_gives_way_waits_for_the_back_off(self):
        # The automatic delivery gives way to a caller's job, and its hung server has a grace to
        # answer; a Cancel meanwhile is a caller's cancel all the same: the delivery is not
        # started again after the caller's job, but after the server's back-off (Job.Cancel).
        cfg = {"HTTP": {"RequestTimeout": "120"}, "Notifications": {"RetryInitial": "600", "RetryMax": "3600"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            smdp.add_fault(function="handleNotification", action="delay", ms=300000, times=100)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            auto = w.wait_current_job("send-notifications", exclude=(job,))
            w.client.wait_for(lambda: smdp.calls().get("smdp:handleNotification", 0) >= 1, 30,
                              "the delivery in flight")
            done = w.client.call_async(MANAGER, MANAGER_IFACE, "SetNickname",
                                       GLib.Variant("(ss)", (ICCID_ONE, "mine")))
            w.client.wait_for(lambda: len(w.manager_prop("Jobs")) == 2, 30, "the caller's job queued")
            w.client.call(auto, JOB_IFACE, "Cancel")
            w.client.wait_for(lambda: done, 60, "SetNickname")
            self.assertIn("result", done, done.get("error"))
            self.assertEqual(w.client.signals_named("Finished", auto)[0][3], ("cancelled",))
            self.assertEqual(w.client.get(auto, JOB_IFACE, "ErrorMessage"), "cancelled")
            w.wait_idle(30)
            self.assertEqual(smdp.calls().get("smdp:handleNotification", 0), 1)
            self.assertEqual(len(w.sim.ctl().state()["notifications"]), 1)  # not lost

    def test_a_silent_server_holds_an_explicit_delivery_once_not_per_notification(self):
        # Three notifications for one server that accepts TLS and never answers: the caller's
        # SendNotifications waits RequestTimeout for the first, and the other two are not tried
        # in the same call (they stay on the card, pending) instead of RequestTimeout each.
        cfg = {"HTTP": {"RequestTimeout": "5"}, "Notifications": {"AutoSend": "false"}}
        with World(config=cfg) as w:
            sim = w.sim.ctl()
            for code in ("DEMO-ONE", "DEMO-TWO"):
                job, props = w.download(activation_code(code))
                self.assertEqual(props["State"], "succeeded", props)
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
            self.assertEqual(len(sim.state()["notifications"]), 3)
            w.smdp.control.add_fault(function="handleNotification", action="delay", ms=300000, times=100)
            with self.assertRaises(GLib.Error) as e:
                w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=300)
            self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.Timeout")
            self.assertEqual(w.smdp.control.calls().get("smdp:handleNotification", 0), 1)
            self.assertEqual(len(sim.state()["notifications"]), 3)  # none dropped
            self.assertEqual(w.manager_prop("PendingNotifications"), 3)


class OpenSessions(unittest.TestCase):
    """Item 9: the open-session record, the cancelSession it may need, and the end of retries."""

    def sessions_file(self, w):
        return os.path.join(w.tmpdir, "state", "open-sessions", EID)

    def test_a_session_the_server_ended_leaves_no_record_and_no_second_cancel(self):
        with World() as w:
            smdp = w.smdp.control
            # authenticateClient refused: the server ends its side, esimd cancels the eUICC's
            job, props = w.download(activation_code("NO-SUCH-ORDER"))
            self.assertEqual(props["Error"], "org.esim.Error.MatchingIdRefused", props)
            w.wait_idle()
            self.assertFalse(os.path.exists(self.sessions_file(w)))
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), 0)
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 1)  # one CancelSession

            # the same when PrepareDownload is refused by the server (getBoundProfilePackage Failed)
            smdp.add_fault(function="getBoundProfilePackage", action="status", subjectCode="8.2",
                           reasonCode="3.9", endSession=True, times=1)
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "failed", props)
            w.wait_idle()
            self.assertFalse(os.path.exists(self.sessions_file(w)))
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), 0)
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 2)
            self.assertNotIn("invalidTransactionId", w.esimd.log())

    def test_a_cancel_session_the_server_never_acknowledges_is_given_up_across_a_restart(self):
        # Retries come quickly here; the bound is 10 attempts to tell the server.
        cfg = {"Notifications": {"RetryInitial": "1", "RetryMax": "1"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            smdp.add_fault(function="cancelSession", action="http", status=503, times=1000)
            # the user says no: the eUICC cancels, the server answers 503 every time
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Cancel")
            w.wait_job(job)
            w.client.wait_for(lambda: smdp.calls().get("smdp:cancelSession", 0) >= 3, 60, "a few retries")
            self.assertTrue(os.path.exists(self.sessions_file(w)))
            # esimd stops and starts again: the attempts made so far count
            self.assertEqual(w.esimd.stop(), 0)
            before = smdp.calls().get("smdp:cancelSession", 0)
            w.start_esimd(wait_ready=False)
            w.client.wait_for(lambda: not os.path.exists(self.sessions_file(w)), 120, "giving up")
            w.wait_idle()
            total = smdp.calls().get("smdp:cancelSession", 0)
            self.assertGreater(total, before)
            self.assertEqual(total, 10)
            log = w.esimd.log()
            self.assertEqual(len(re.findall(r"WARNING.*giving up", log)), 1, warnings(log))
            # the eUICC's side was cancelled once, by the download; never again
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 1)
            time.sleep(3)  # retries would come every second
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), 10)


    def test_a_cancel_session_answered_without_data_is_heard(self):
        # cancelSession's success carries no data: a server may answer 204 No Content (SGP.22's
        # answer to handleNotification) or 200 with an empty body (osmo-smdpp, for a handler
        # that returns nothing). Taken for "not heard", it was sent again every back-off until
        # esimd gave up after 10 attempts.
        cfg = {"Notifications": {"RetryInitial": "1", "RetryMax": "1"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            for n, (action, code) in enumerate([("no-content", "DEMO-ONE"), ("empty", "DEMO-TWO")], 1):
                smdp.add_fault(function="cancelSession", action=action, times=1000)
                job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(code), "",
                                                                        {"confirm": GLib.Variant("b", True)})))[0]
                w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
                w.client.call(job, JOB_IFACE, "Cancel")
                w.wait_job(job)
                w.wait_idle()
                self.assertFalse(os.path.exists(self.sessions_file(w)), action)
                time.sleep(2)  # retries would come every second
                self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), n, action)
                smdp.clear_faults()
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 2)

    def test_a_damaged_record_file_keeps_its_readable_sessions(self):
        # A session left open (the server never acknowledged its cancelSession) shares its file
        # with a record torn mid-line, as a machine crashing under its filesystem leaves it.
        cfg = {"Notifications": {"RetryInitial": "1", "RetryMax": "1"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            smdp.add_fault(function="cancelSession", action="http", status=503, times=1000)
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Cancel")
            w.wait_job(job)
            w.client.wait_for(lambda: smdp.calls().get("smdp:cancelSession", 0) >= 1, 60, "a first attempt")
            self.assertEqual(w.esimd.stop(), 0)
            with open(self.sessions_file(w)) as f:
                kept = f.read()
            self.assertEqual(kept.count("["), 1, kept)
            with open(self.sessions_file(w), "a") as f:
                f.write("\n[00112233445566778899AABBCCDDEEFF]\nServ")
            smdp.clear_faults()
            before = smdp.calls().get("smdp:cancelSession", 0)
            w.start_esimd(wait_ready=False)
            # the readable session is still told to its server, and its record then ends
            w.client.wait_for(lambda: not os.path.exists(self.sessions_file(w)), 60, "the kept session told")
            w.wait_idle()
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), before + 1)
            log = w.esimd.log()
            damaged = [line for line in warnings(log) if "damaged" in line]
            self.assertEqual(len(damaged), 1, warnings(log))
            self.assertIn("1 unreadable part(s) dropped, 1 readable session(s) kept", damaged[0])
            self.assertNotIn(EID, log)

    def test_a_hung_server_does_not_hold_the_download_that_cancels(self):
        # The eUICC has cancelled and the outcome is known; the server's cancelSession answer
        # changes nothing the caller hears. A server that accepts TLS and never answers it would
        # hold the caller (and the queue) for RequestTimeout, 2 minutes here.
        cfg = {"HTTP": {"RequestTimeout": "120"}, "Notifications": {"RetryInitial": "1", "RetryMax": "1"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            smdp.add_fault(function="cancelSession", action="delay", ms=300000, times=1)
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Cancel")
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("cancelled", "org.esim.Error.Cancelled"), props)
            session = w.sim.ctl().state()["session"]
            self.assertTrue(session is None or session["transaction_id"] is None, session)
            # the eUICC's answer was kept and reaches the server afterwards
            w.client.wait_for(lambda: not os.path.exists(self.sessions_file(w)), 60, "the server told")
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), 2)
            self.assertEqual((smdp.sessions()[-1]["state"], smdp.sessions()[-1]["cancelReason"]), ("cancelled", 0))
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 1)

    def test_a_hung_server_does_not_hold_a_callers_job_behind_the_clean_up(self):
        # As with notifications (item 7): a server that accepts TLS and never answers the
        # cancelSession that esimd's own clean-up sends again would hold the eUICC's queue for
        # RequestTimeout (2 minutes here). The clean-up gives way to a caller's job.
        cfg = {"HTTP": {"RequestTimeout": "120"},
               "Notifications": {"AutoSend": "false", "RetryInitial": "5", "RetryMax": "5"}}
        with World(config=cfg) as w:
            smdp = w.smdp.control
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            # the user says no to a second download: the eUICC cancels; the server's answer to
            # that cancelSession and to the clean-up's first retry says nothing of it (503)
            smdp.add_fault(function="cancelSession", action="http", status=503, times=2)
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-TWO"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Cancel")
            w.wait_job(job)
            w.client.wait_for(lambda: smdp.calls().get("smdp:cancelSession", 0) >= 2, 30, "the first retry")
            # the next retry (after the server's 5 s back-off) finds the server hung
            smdp.add_fault(function="cancelSession", action="delay", ms=300000, times=1)
            w.client.wait_for(lambda: smdp.calls().get("smdp:cancelSession", 0) >= 3, 60, "the retry in flight")
            clean_up = w.wait_current_job("cancel-sessions")

            done = w.client.call_async(MANAGER, MANAGER_IFACE, "SetNickname",
                                       GLib.Variant("(ss)", (ICCID_ONE, "mine")))
            w.client.wait_for(lambda: done, 60, "SetNickname while the server hangs")
            self.assertIn("result", done, done.get("error"))
            self.assertEqual(w.client.signals_named("Finished", clean_up)[0][3], ("cancelled",))
            self.assertIn("gave way", w.client.get(clean_up, JOB_IFACE, "ErrorMessage"))

            # the eUICC's cancel was kept, and goes to the server once the caller's job is done
            w.client.wait_for(lambda: not os.path.exists(self.sessions_file(w)), 60, "the server told")
            self.assertEqual(smdp.calls().get("smdp:cancelSession", 0), 4)
            self.assertEqual(smdp.sessions()[-1]["state"], "cancelled")
            self.assertEqual(w.sim.ctl().counters()["es10_by_tag"].get("BF41"), 1)


class StateDirectory(unittest.TestCase):
    """Item 10: a download whose crash record cannot be written does not start."""

    def check_refused(self, w):
        smdp = w.smdp.control
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.StateNotWritable"), props)
        self.assertIn("open-sessions", props["ErrorMessage"])
        self.assertEqual(smdp.calls(), {})  # no server was asked anything
        self.assertEqual(smdp.orders()[0]["state"], "released")
        r = w.esimctl("download", activation_code("DEMO-ONE"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("open-sessions", r.stderr)
        self.assertNotIn(EID, w.esimd.log())

    def wrapped_world(self, script):
        """esimd in a private mount namespace where @script (sh, $0 = the state directory) has
        made the state directory unwritable."""
        w = World(start_esimd=False)
        state = os.path.join(w.tmpdir, "state")
        os.makedirs(state)
        w.esimd.wrapper = ["unshare", "-rm", "--", "sh", "-c", script + ' && exec "$@"', state] + w.esimd.wrapper
        w.start_esimd()
        return w

    def test_read_only_state_directory(self):
        w = self.wrapped_world('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0"')
        with w:
            self.check_refused(w)
            # the other operations are not affected
            self.assertEqual(w.profiles(), [])

    def test_full_state_directory(self):
        w = self.wrapped_world('mount -t tmpfs -o size=16k,mode=0700 tmpfs "$0" && '
                               '(dd if=/dev/zero of="$0/filler" bs=4k count=64 2>/dev/null; true)')
        with w:
            self.check_refused(w)


class Confirmation(unittest.TestCase):
    """Item 11 and 12."""

    def test_confirm_after_cancel_is_an_error(self):
        with World() as w:
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Cancel")
            with self.assertRaises(GLib.Error) as e:
                w.client.call(job, JOB_IFACE, "Confirm")
            self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.WrongJobState")
            props = w.wait_job(job)
            self.assertEqual(props["State"], "cancelled", props)
            self.assertEqual(w.sim.ctl().state()["profiles"], [])
            w.wait_idle()
            self.assertNotIn("CRITICAL", w.esimd.log())
            # a Confirm given twice: the second finds nothing awaiting (the user's rejection used
            # DEMO-ONE's order up)
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-TWO"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
            w.client.call(job, JOB_IFACE, "Confirm")
            with self.assertRaises(GLib.Error) as e:
                w.client.call(job, JOB_IFACE, "Confirm")
            self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.WrongJobState")
            self.assertEqual(w.wait_job(job)["State"], "succeeded")
            self.assertNotIn("CRITICAL", w.esimd.log())

    def test_download_result_has_arrived_when_finished_does(self):
        # A client that waits for Finished and then looks for DownloadResult finds it: success,
        # failure and cancel alike.
        with World() as w:
            outcomes = []
            for code, cancel in ((activation_code("DEMO-ONE"), False), (activation_code("NO-SUCH-ORDER"), False),
                                 (activation_code("DEMO-TWO"), True)):
                opts = {"confirm": GLib.Variant("b", True)} if cancel else {}
                job = w.manager("Download", GLib.Variant("(ssa{sv})", (code, "", opts)))[0]
                if cancel:
                    w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60)
                    w.client.call(job, JOB_IFACE, "Cancel")
                w.client.wait_for(lambda: w.client.signals_named("Finished", job), 120, "Finished")
                # nothing pumped after Finished: what is there came before it
                results = [s[3] for s in w.client.signals_named("DownloadResult", MANAGER) if s[3][0] == job]
                self.assertEqual(len(results), 1, job_signals_in_order(w, job))
                self.assertEqual(job_signals_in_order(w, job), ["DownloadResult", "Finished"])
                outcomes.append((w.client.signals_named("Finished", job)[0][3][0], results[0][1]))
            self.assertEqual(outcomes, [("succeeded", 0), ("failed", 1), ("cancelled", 1)])


class FailedReads(unittest.TestCase):
    """Item 13: a read that failed is an error to the caller, never an empty list."""

    def test_notification_list_that_cannot_be_read(self):
        with World(sim_options={"fault": [json.dumps({"kind": "sw", "sw": "6985", "tag": "BF28", "count": None})]},
                   wait_ready=False) as w:
            w.wait_state("ready")
            self.assertEqual(w.manager_prop("PendingNotifications"), UNKNOWN)
            errors = w.manager_prop("ReadErrors")
            self.assertEqual(list(errors), ["notifications"])
            self.assertIn("6985", errors["notifications"])
            with self.assertRaises(GLib.Error) as e:
                w.notifications()
            self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.EuiccError")
            self.assertIn("6985", e.exception.message)
            r = w.esimctl("notifications")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("6985", r.stderr)
            self.assertNotIn("No notification is pending", r.stdout)
            r = w.esimctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"Notifications:\s+unknown.*6985")
            r = w.esimctl("--json", "status")
            self.assertIsNone(json.loads(r.stdout)["euiccs"][0]["pending_notifications"])
            # the profile list was read: it is served
            self.assertEqual(w.profiles(), [])

            # the card answers again: the list is read again (a retry, then after each job)
            w.sim.ctl().clear_faults()
            w.client.wait_for(lambda: w.manager_prop("PendingNotifications") == 0, 60, "the list read again")
            self.assertEqual(w.manager_prop("ReadErrors"), {})
            self.assertEqual(w.notifications(), [])
            self.assertEqual(w.esimctl("notifications").returncode, 0)

    def test_a_list_that_was_read_then_fails(self):
        with World() as w:
            w.download(activation_code("DEMO-ONE"))
            w.wait_idle()
            self.assertEqual(len(w.profiles()), 1)
            sim = w.sim.ctl()
            sim.add_fault(kind="sw", sw="6A88", tag="BF2D", count=None)
            # Refresh reads the list again (an enable no longer does: its answer says the new
            # states); that read failed, so the list served before is not the card's now
            with self.assertRaises(GLib.Error) as e:
                w.manager("Refresh")
            self.assertIn("6A88", e.exception.message)
            w.client.wait_for(lambda: "profiles" in w.manager_prop("ReadErrors"), 30)
            with self.assertRaises(GLib.Error) as e:
                w.profiles()
            self.assertIn("6A88", e.exception.message)
            r = w.esimctl("list")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("6A88", r.stderr)
            sim.clear_faults()
            w.client.wait_for(lambda: w.manager_prop("ReadErrors") == {}, 60, "the list read again")
            self.assertEqual(len(w.profiles()), 1)


class Unavailable(unittest.TestCase):
    """Item 14: UnavailableReason carries the cause, whatever it is."""

    READS = (("BF3E", "EID"), ("BF20", "EUICCInfo1"), ("BF22", "EUICCInfo2"), ("BF2D", "profile list"))
    WORDS = ("6A80", "6982", "6881", "6A88", "6985")

    def check_unavailable(self, w, tag, sw):
        w.start_esimd(wait_ready=False)
        try:
            reason = w.client.wait_for(lambda: sw in w.manager_prop("UnavailableReason") and
                                       w.manager_prop("UnavailableReason"), 30, "the status word as the reason")
            self.assertEqual(w.manager_prop("State"), "unavailable")
            r = w.esimctl("status")
            self.assertIn(sw, r.stdout)
            r = w.esimctl("list")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(sw, r.stderr)
            self.assertNotIn("being read", r.stderr)
            r = w.esimctl("eid")
            if tag == "BF3E":
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(sw, r.stderr)
            else:  # read before what fails: it is known
                self.assertEqual(r.stdout.strip(), EID, r.stderr)
            # esimd keeps reading it again (with back-off); two more attempts fail the same way
            w.client.wait_for(lambda: len(re.findall(r"job \d+ \(refresh\): starting", w.esimd.log())) >= 3, 30,
                              "two more attempts to read the card")
            return reason
        finally:
            self.assertEqual(w.esimd.stop(), 0)

    def test_every_read_that_keeps_failing(self):
        with World(start_esimd=False) as w:
            sim = w.sim.ctl()
            cases = [(tag, self.WORDS[i]) for i, (tag, _) in enumerate(self.READS)]
            cases += [("BF3E", sw) for sw in self.WORDS[1:]]
            for tag, sw in cases:
                with self.subTest(tag=tag, sw=sw):
                    sim.clear_faults()
                    sim.add_fault(kind="sw", sw=sw, tag=tag, count=None)
                    if os.path.exists(w.esimd.log_path):
                        os.truncate(w.esimd.log_path, 0)
                    self.check_unavailable(w, tag, sw)
                    # said at warning level once, though esimd read it again meanwhile
                    log = w.esimd.log()
                    self.assertEqual(len([l for l in warnings(log) if sw in l]), 1, warnings(log))
            # the card answers again after a failure: the next attempt makes it ready
            sim.clear_faults()
            sim.add_fault(kind="sw", sw="6A80", tag="BF3E", count=1)
            w.start_esimd(wait_ready=False)
            w.wait_state("ready", 60)
            self.assertEqual(w.manager_prop("UnavailableReason"), "")

    def test_device_node_missing(self):
        """A [Modem] whose port is not there (a wrong Device=, the modem unplugged, or its kernel
        driver not loaded: the node is missing all the same) is unavailable with a reason that
        says so, names the driver that makes such a port, and is the same at every retry."""
        # The drivers that register each kind of port: drivers/net/usb/qmi_wwan.c (cdc-wdm for
        # QMI), drivers/net/usb/cdc_mbim.c (cdc-wdm for MBIM), drivers/bus/mhi's mhi_wwan_ctrl
        # (wwan0qmi0, wwan0mbim0, wwan0at0), drivers/usb/class/cdc-acm.c (ttyACM).
        for transport, node, driver in (("qmi", "cdc-wdm9", "qmi_wwan"), ("mbim", "wwan0mbim0", "mhi_wwan_ctrl"),
                                        ("at", "ttyACM7", "cdc_acm")):
            with self.subTest(transport=transport), World(modem="pty", start_esimd=False) as w:
                missing = os.path.join(w.tmpdir, node)
                w.write_config({"Modem sim": {"Device": missing, "Transport": transport,
                                              "UseProxy": None if transport == "at" else "false"}})
                w.start_esimd(wait_ready=False)
                reason = w.client.wait_for(lambda: "No such file" in w.manager_prop("UnavailableReason") and
                                           w.manager_prop("UnavailableReason"), 30, "the cause")
                self.assertEqual(reason, f"modem sim: {missing}: No such file or directory: no modem port there now "
                                         f"(the modem is unplugged or off, or its kernel driver ({driver}) is not "
                                         "loaded; `mmcli -m 0` names a modem's ports); esimd waits for it")
                r = w.esimctl("status")
                self.assertIn("No such file or directory", r.stdout)
                self.assertIn(f"kernel driver ({driver})", r.stdout)
                time.sleep(5)  # several attempts to open it
                log = w.esimd.log()
                self.assertEqual(len([l for l in warnings(log) if "No such file or directory" in l]), 1,
                                 warnings(log))


class UnknownIccid(unittest.TestCase):
    """Item 15: an ICCID esimd does not know is looked up on the card before anything is sent."""

    def test_enable_disable_delete_of_unknown_iccids(self):
        orders = [order("ELSEWHERE", ICCID_ELSEWHERE)]
        with World(orders=orders) as w:
            sim = w.sim.ctl()
            for method in ("EnableProfile", "DisableProfile", "DeleteProfile"):
                with self.subTest(method=method):
                    before = sim.counters()["es10_by_tag"]
                    with self.assertRaises(GLib.Error) as e:
                        w.manager(method, GLib.Variant("(sa{sv})", (ICCID_NOWHERE, {})))
                    self.assertEqual(dbus_error_name(e.exception), "org.esim.Error.ProfileNotFound")
                    after = sim.counters()["es10_by_tag"]
                    for tag in ("BF31", "BF32", "BF33"):
                        self.assertEqual(after.get(tag, 0), before.get(tag, 0), tag)
                    self.assertGreater(after.get("BF2D", 0), before.get("BF2D", 0))  # a fresh list
            r = w.esimctl("enable", ICCID_NOWHERE)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("esimctl list --all", r.stderr)  # ProfileNotFound's hint

            # another LPA installs a profile behind esimd's back: esimd finds it on the card
            driver = os.path.join(os.environ.get("ESIMD_SOURCE_ROOT", "."), "tests", "smdp", "lpa-driver.py")
            r = subprocess.run(["/usr/bin/python3", driver, "--apdu-socket", w.sim.apdu_socket,
                                "--smdp-port", str(w.smdp.port), "--ca", w.pki["ca_pem"],
                                "--matching-id", "ELSEWHERE"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(w.profiles(), [])
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ELSEWHERE, {})))
            self.assertEqual([(p["iccid"], p["state"]) for p in w.profiles()], [(ICCID_ELSEWHERE, "enabled")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
