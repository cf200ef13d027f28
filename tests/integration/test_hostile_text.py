#!/usr/bin/python3
"""Server text that is not valid UTF-8 (issue 11, item 3). A JSON escape such as \\udc80 (a lone
surrogate) decodes to bytes that are not UTF-8; sd-bus refuses a whole message holding them, so
one such answer used to cost the Download caller its DownloadResult, every client its
GetManagedObjects until the job's linger ended, a SendNotifications caller its reply, and
Discover an event (with GLib CRITICALs). Everything must arrive, the text made valid (U+FFFD
for what was not), and the log must stay valid UTF-8 (every World checks that); only an SM-DS
event whose ID no download can take as its matching ID is left out, on its own."""

import unittest

from gi.repository import GLib

from esimtest.world import MANAGER, World, activation_code, dbus_error_name

BAD = "bad \udc80 text\n** INFO: forged line \x1b[2J"
EID = "89049032123451234512345678901235"


class HostileServerText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World(config={"Notifications": {"AutoSend": "false"}})
        cls.smdp = cls.w.smdp.control

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.smdp.clear_faults()
        self.w.wait_idle()

    def check_bus_still_serves(self):
        objects = self.w.client.call("/org/esim", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")[0]
        self.assertIn(MANAGER, objects)
        for verb in (["status"], ["list"]):
            r = self.w.esimctl(*verb)
            self.assertEqual(r.returncode, 0, r.stderr)

    def failed_download(self, **fault):
        self.smdp.add_fault(function="authenticateClient", action="status", endSession=True, **fault)
        self.w.client.signals.clear()
        job, props = self.w.download(activation_code("DEMO-TWO"))
        self.assertEqual(props["State"], "failed", props)
        msg = props["ErrorMessage"]
        self.assertIn("\ufffd", msg)
        self.assertNotIn("\n", msg)
        self.assertNotIn("\x1b", msg)
        results = [s[3] for s in self.w.client.signals_named("DownloadResult", MANAGER) if s[3][0] == job]
        self.assertEqual(len(results), 1, self.w.client.signals)
        self.assertEqual(results[0][1], 1)
        self.assertEqual(results[0][4], msg)
        self.check_bus_still_serves()
        r = self.w.esimctl("download", activation_code("DEMO-TWO"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("\ufffd", r.stderr)
        return props

    def test_failed_answer_with_invalid_utf8(self):
        props = self.failed_download(subjectCode="8.2.6", reasonCode="3.8", message=BAD)
        self.assertEqual(props["Error"], "org.esim.Error.MatchingIdRefused", props)
        self.assertIn("bad \ufffd", props["ErrorMessage"])

    def test_unparseable_answer_quoting_invalid_utf8(self):
        # json-glib refuses this body and quotes the offending bytes in its error message.
        props = self.failed_download(subjectCode="8.2.6\udc80", reasonCode="3.8", message="x")
        self.assertEqual(props["Error"], "org.esim.Error.ProtocolError", props)

    def test_server_text_quoting_the_secrets(self):
        """A server whose refusal quotes the matching ID and the confirmation code it was given
        (its statusCodeData message is free text): the log (info level) would show them, and
        the Job's ErrorMessage and the DownloadResult signal, which every local user reads,
        would carry them. Each shows "[secret]" instead."""
        self.smdp.add_fault(function="authenticateClient", action="status", endSession=True,
                            subjectCode="8.2.6", reasonCode="3.8",
                            message="matchingId CODE-NEEDED with code 12345678 unknown")
        self.w.client.signals.clear()
        job, props = self.w.download(activation_code("CODE-NEEDED"), "12345678")
        self.assertEqual(props["Error"], "org.esim.Error.MatchingIdRefused", props)
        self.assertIn("matchingId [secret] with code [secret] unknown", props["ErrorMessage"])
        results = [s[3] for s in self.w.client.signals_named("DownloadResult", MANAGER) if s[3][0] == job]
        self.assertEqual(len(results), 1, self.w.client.signals)
        self.assertEqual(results[0][4], props["ErrorMessage"])
        self.w.wait_idle()
        self.assertEqual(self.w.check_log_for_secrets(), [])
        self.assertIn("matchingId [secret] with code [secret] unknown", self.w.esimd.log())

    def test_send_notifications_gets_its_reply(self):
        self.smdp.add_fault(function="handleNotification", action="status", subjectCode="8.1",
                            reasonCode="6.1\udc80", message=BAD)
        job, props = self.w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        # The notification list is read after the download's outcome.
        self.w.client.wait_for(lambda: len(self.w.notifications()) > 0, 30, "the install notification listed")
        try:
            delivered = self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=60)
            outcome = ("result", delivered)
        except GLib.Error as e:
            outcome = (dbus_error_name(e), e.message)
        self.assertNotIn("Timeout", outcome[0])
        self.assertNotIn("NoReply", outcome[0])
        self.check_bus_still_serves()
        self.smdp.clear_faults()
        self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=60)
        self.assertEqual(self.w.notifications(), [])

    def test_discover_leaves_out_an_event_id_no_download_takes(self):
        """An event ID is the matching ID of the event's download, which refuses one that is not
        letters, digits and '-' up to 255 (lpa_matching_id_problem()). Such entries (text that is
        not UTF-8, a control character, 300 characters, none) were answered, made valid with
        U+FFFD, as events nobody could download; they are left out, each on its own, the good
        one still answered, and the log counts them without their IDs."""
        self.smdp.reset()  # the events other tests added
        self.addCleanup(self.smdp.reset)
        bad = ["EV-\udc80-1", "EV-TAB\t-2", "EV-LONG-" + "L" * 300, ""]
        for event_id in bad:
            self.smdp.add_event(EID, event_id, "testsmdpplus1.example.com")
        self.smdp.add_event(EID, "EV-GOOD-2", "testsmdpplus1.example.com")
        events = self.w.manager("Discover", GLib.Variant("(a{sv})", ({},)), timeout=60)[0]
        self.assertEqual([e["event_id"] for e in events], ["EV-GOOD-2"], events)
        log = self.w.esimd.log()
        self.assertIn("4 event entries that cannot be used", log)
        self.assertNotIn("EV-LONG-", log)
        self.assertNotIn("EV-TAB", log)
        self.check_bus_still_serves()

    def test_discover_keeps_a_bounded_number_of_events(self):
        """An SM-DS answer (up to MaxResponseSize) could list thousands of events, each returned
        and listed in the Job's Result that every connection receives. At most 64 are kept, in
        the SM-DS's order; the rest are counted as left out."""
        self.smdp.reset()
        self.addCleanup(self.smdp.reset)
        for i in range(70):
            self.smdp.add_event(EID, "EV-MANY-%d" % i, "testsmdpplus1.example.com")
        events = self.w.manager("Discover", GLib.Variant("(a{sv})", ({},)), timeout=60)[0]
        self.assertEqual([e["event_id"] for e in events], ["EV-MANY-%d" % i for i in range(64)])
        self.assertIn("6 event entries that cannot be used", self.w.esimd.log())

    def test_discover_leaves_out_an_unusable_event(self):
        """An SM-DS entry whose SM-DP+ address is no host name cannot be downloaded; the others
        still can, so Discover answers them and the log says one was left out."""
        self.smdp.add_event(EID, "EV-UNUSABLE-1", "https://testsmdpplus1.example.com/x")
        self.smdp.add_event(EID, "EV-USABLE-2", "testsmdpplus1.example.com")
        events = self.w.manager("Discover", GLib.Variant("(a{sv})", ({},)), timeout=60)[0]
        ids = [e["event_id"] for e in events]
        self.assertIn("EV-USABLE-2", ids)
        self.assertNotIn("EV-UNUSABLE-1", ids)
        log = self.w.esimd.log()
        self.assertIn("1 event entry that cannot be used", log)
        self.assertNotIn("EV-UNUSABLE-1", log)  # an event ID is a matching ID: never logged


if __name__ == "__main__":
    unittest.main(verbosity=2)
