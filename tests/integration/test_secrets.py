#!/usr/bin/python3
"""Secrets stay out of esimd's log. Every World checks its esimd.log at teardown for the matching
IDs, confirmation codes, EID and ICCIDs it knows of; this test shows that check can fail, and
that LogPersonalData lets EIDs and ICCIDs (only those) through."""

import os
import shutil
import tempfile
import unittest

from esimtest.world import EID, World, activation_code


class Secrets(unittest.TestCase):
    def test_scanner_catches_a_leak(self):
        with World() as w:
            w.download(activation_code("CODE-NEEDED"), "12345678")
            self.assertEqual(w.check_log_for_secrets(), [])
            # Planted in a copy: esimd keeps writing its own log, which must stay as it wrote it.
            planted = os.path.join(w.tmpdir, "planted.log")
            shutil.copyfile(w.esimd.log_path, planted)
            with open(planted, "a") as f:
                f.write("planted: the code was 12345678 for CODE-NEEDED on 89049032123451234512345678901235\n")
            hits = w.check_log_for_secrets(planted)
            self.assertEqual(len(hits), 3, hits)  # code, matching ID, EID

    def test_personal_data_when_asked(self):
        with World(config={"Daemon": {"LogPersonalData": "true"}}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded")
            log = w.esimd.log()
            self.assertIn(EID, log)
            self.assertIn("8949449999999990011", log)
            self.assertNotIn("DEMO-ONE", log)  # matching IDs never

    def test_personal_data_hidden_by_default(self):
        with World() as w:
            w.download(activation_code("DEMO-ONE"))
            log = w.esimd.log()
            self.assertIn("[hidden]", log)
            self.assertNotIn(EID, log)
            self.assertNotIn("8949449999999990011", log)


    def test_event_ids_reach_only_the_caller(self):
        """An SM-DS event ID is the matching ID of a later download (lpa_matching_id_problem()'s
        rule applies to both). Discover's caller gets it in the reply; the Job object is read by
        every local user (GetManagedObjects, Properties.Get) and its PropertiesChanged go to every
        connection on the bus, so its Result must not hold it."""
        from gi.repository import GLib

        orders = [{"matchingId": "EVENT-SECRET-42", "iccid": "8949449999999990102", "eid": EID,
                   "profile": {"generate": {"size": 4096}},
                   "metadata": {"serviceProviderName": "Pushed", "profileName": "Found"}}]
        events = [{"eid": EID, "eventId": "EVENT-SECRET-42", "rspServerAddress": "testsmdpplus1.example.com"}]
        with World(orders=orders, events=events) as w:
            found = w.manager("Discover", GLib.Variant("(a{sv})", ({},)))[0]
            self.assertEqual([e["event_id"] for e in found], ["EVENT-SECRET-42"])
            jobs = {path: ifaces["org.esim.Job"] for path, ifaces in w.client.managed_objects().items()
                    if ifaces.get("org.esim.Job", {}).get("Kind") == "discover"}
            self.assertEqual(len(jobs), 1, jobs)
            (path, props), = jobs.items()
            self.assertEqual(props["Result"], {"events": [{"smdp_address": "testsmdpplus1.example.com"}]})
            self.assertNotIn("EVENT-SECRET", repr(w.client.get(path, "org.esim.Job", "Result")))
            w.client.pump(0.2)
            seen = [s for s in w.client.signals if "EVENT-SECRET" in repr(s[3])]
            self.assertEqual(seen, [], "a signal every connection receives carried the event ID")

    def test_unwritable_state_directory(self):
        """A state file is named by the EID: when it cannot be written, GLib's error names the
        file, and the warning quoting it must not show the EID (issue 11, item 4). The World's
        scanner checks the whole log at teardown; here the line is found, redacted."""
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare for a read-only mount")
        tmp = tempfile.mkdtemp(prefix="esimd-world-")
        self.addCleanup(shutil.rmtree, tmp, True)
        state = os.path.join(tmp, "state")
        os.makedirs(os.path.join(state, "open-sessions"))
        # esimd runs in its own mount namespace in which the state directory is read-only, even
        # for root (EROFS), as on a full or read-only file system.
        readonly = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"',
                    "sh", state]
        with World(tmp, esimd_wrapper=readonly) as w:
            # the download does not start without its crash record (item 10); what esimd says
            # about that names the directory, never the EID-named file
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["Error"], "org.esim.Error.StateNotWritable", props)
            w.wait_idle()
            lines = [line for line in w.esimd.log().splitlines() if "open-sessions" in line]
            self.assertTrue(lines, "nothing said about the state directory")
            self.assertIn("open-sessions", props["ErrorMessage"])
            self.assertNotIn(EID, props["ErrorMessage"])
            self.assertNotIn(EID, w.esimd.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
