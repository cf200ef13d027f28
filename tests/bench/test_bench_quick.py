#!/usr/bin/python3
"""bench-quick: the benchmark's --quick run works end to end, and the counts it reports are exact:
at STORE DATA size 255 esimd sends exactly the floor of APDUs for a download, the BPP segments it
sends are the SM-DP+'s BPP cut as SGP.22 §2.5.5 says, byte for byte, and a refused block size
steps down, is stored and comes back after a restart. Timings are reported, never asserted."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import report, run  # noqa: E402


class QuickBench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
            os.environ.pop(k, None)
        cls.res = run.run(quick=True, log=lambda msg: print(msg, flush=True))
        cls.res["targets"] = report.targets(cls.res)
        print(report.render(cls.res), flush=True)

    def test_download_at_255_is_the_floor(self):
        (counted,) = self.res["counted"]
        f = counted["floor"]
        self.assertEqual(f["segment_size"], 255)
        self.assertTrue(f["segments_match_bpp"], "the segments sent differ from the delivered BPP's")
        self.assertEqual(f["max_block"], 255)
        self.assertEqual(f["apdus_refused"], 0)
        self.assertEqual(f["apdus"], f["floor"])
        self.assertEqual(f["apdus_bpp"], f["floor_bpp"])
        # AuthenticateServer and PrepareDownload do not fit one APDU: the formula is lower.
        self.assertGreater(f["floor"], f["floor_issue_formula"])
        self.assertEqual(set(f["other_commands"]), {"BF2E", "BF38", "BF21"})

    def test_download_answered_before_its_read_back(self):
        """Issue 18, target 2: the caller hears the outcome once the installation result is in;
        the card's profile list, the free memory and the notification list are read after it."""
        (counted,) = self.res["counted"]
        self.assertTrue(counted["answered_while_held"], "the outcome waited for a read-back APDU")
        self.assertEqual(counted["read_back"]["apdus"], 0, counted["read_back"])
        self.assertEqual(set(counted["read_back_after_answer"]["by_tag"]), {"BF22", "BF2D", "BF28"},
                         counted["read_back_after_answer"])
        self.assertEqual(counted["read_back_after_answer"]["apdus"], 3)

    def test_instruments_agree(self):
        (counted,) = self.res["counted"]
        tap_total = (counted["floor"]["apdus"] + counted["read_back"]["apdus"]
                     + counted["read_back_after_answer"]["apdus"] + counted["notification_delivery"]["apdus"])
        self.assertEqual(tap_total, counted["apdus_total"], "the QMI tap and the simulator disagree")
        for timed in self.res["timed"]:
            self.assertEqual(timed["apdus_total"], tap_total, "a timed run sent another number of APDUs")
        self.assertEqual(counted["http"]["handshakes"], 1, "one TLS connection carries the whole download")
        self.assertEqual([r["function"] for r in counted["http"]["requests"]],
                         ["initiateAuthentication", "authenticateClient", "getBoundProfilePackage",
                          "handleNotification"])

    def test_profile_operations_at_the_floor(self):
        """Enable, disable, delete, set nickname: the caller is answered after the operation's one
        ES10 command; what the answer does not need (notifications, free memory) comes after."""
        ops = {r["op"] for r in self.res["ops_counted"]}
        self.assertEqual(ops, {"enable", "disable", "nickname", "delete", "notify"})
        for r in self.res["ops_counted"]:
            if r["op"] == "notify":
                self.assertGreater(r["delivered"], 0)
                continue
            self.assertEqual(r["floor"]["apdus"], r["floor"]["floor"], r)
            self.assertEqual(r["answer"]["commands"], 1, r)
            self.assertNotIn("BF2D", r["after_answer"]["by_tag"], "the profile list was read back")

    def test_other_transports_at_the_floor(self):
        """The simulator's trace counts the same download over another front as the floor."""
        (at,) = self.res["transports"]
        self.assertEqual(at["transport"], "at")
        self.assertEqual(at["floor"]["apdus"], at["floor"]["floor"], at)
        self.assertTrue(at["floor"]["segment_lengths_match_bpp"])
        self.assertGreater(at["at"]["line_bytes_to_modem"], 2 * at["floor"]["payload_bytes"])
        # Left alone with the AT port open, esimd sleeps: nothing polls the line.
        self.assertEqual(at["idle"]["context_switches"], 0, at["idle"])

    def test_many_euiccs_and_cold_start(self):
        m, cs = self.res["many"], self.res["cold_start"]
        self.assertEqual(m["many"]["euiccs"], 2)
        self.assertEqual(len(m["many"]["each_ms"]), 2)
        # Start-up reads the card once: EID, EUICCInfo1 and 2, addresses, profiles, notifications.
        self.assertEqual(cs["apdus"], cs["floor"], cs)
        self.assertEqual(set(cs["es10_by_tag"]), {"BF3E", "BF20", "BF22", "BF3C", "BF2D", "BF28"})

    def test_heap_tracer_sees_the_bpp(self):
        heap = self.res["counted"][0]["heap"]
        roles = {b["role"] for b in heap["bpp_buffers"]}
        self.assertIn("HTTP response body, as received (http.c write_cb)", roles)
        self.assertIn("decoded BPP (lpa_base64_decode: the GBytes everything slices)", roles)
        self.assertGreaterEqual(heap["bpp_copies"], 2)
        self.assertGreater(heap["peak"], heap["live_before"])

    def test_adaptive_segment_size(self):
        ad = self.res["adaptive"]
        self.assertEqual(ad["initial_segment_size"], 255)
        first, second, restarted = ad["runs"]
        self.assertEqual((first["size_before"], first["size_after"], first["state_file"]), (255, 120, "120"))
        self.assertEqual((second["size_before"], second["size_after"], second["state_file"]), (120, 63, "63"))
        for r in (first, second):
            # one block refused at the old size, then the command again at the new one
            self.assertEqual(r["refused_apdus"], 1, r)
            self.assertEqual(r["apdus"], r["floor"] + 1, r)
            self.assertTrue(r["segments_match_bpp"])
        self.assertEqual(ad["after_restart_segment_size"], 63)
        self.assertEqual(restarted["refused_apdus"], 0)
        self.assertEqual(restarted["apdus"], restarted["floor"])
        self.assertGreater(restarted["floor"], restarted["floor_at_255"])

    def test_list_profiles_from_cache(self):
        for lp in self.res["listprofiles"]:
            self.assertEqual(lp["errors"], 0)
            self.assertEqual(lp["apdus_during"], 0, "ListProfiles reached the eUICC")
            if lp["method"] == "list":
                self.assertEqual(lp["profiles"], self.res["idle"]["profiles"])
            self.assertEqual(lp["calls"], lp["clients"] * run.QUICK["lp_calls"])

    def test_idle_and_baseline_measured(self):
        idle, base = self.res["idle"], self.res["baseline"]
        self.assertGreater(idle["memory"]["rss_anon"], 0)
        self.assertGreater(base["rss"], 0)
        self.assertTrue(any(w["thread"] == "esimd" for w in idle["thread_waits"]))
        # 13 targets, one per counted operation, and idle over the AT transport.
        self.assertEqual(len(self.res["targets"]), 14 + len(self.res["ops_counted"]))
        self.assertEqual({lp["method"] for lp in self.res["listprofiles"]}, {"list", "ping"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
