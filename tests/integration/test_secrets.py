#!/usr/bin/python3
"""Secrets stay out of esimd's log. Every World checks its esimd.log at teardown for the matching
IDs, confirmation codes, EID and ICCIDs it knows of; this test shows that check can fail, and
that LogPersonalData lets EIDs and ICCIDs (only those) through."""

import os
import shutil
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
