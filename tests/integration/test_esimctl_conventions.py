#!/usr/bin/python3
"""esimctl behaves as systemctl and mmcli do (issue 16, items 6 to 10): hidden profiles are
counted, destructive verbs need --yes when there is no terminal to ask, repeating a state change
succeeds and says so, profiles are named by ICCID, number or nickname, and the JSON documents
use null, {} and one name per field."""

import json
import os
import pty
import re
import subprocess
import unittest

from gi.repository import GLib

from esimtest.world import DEFAULT_ORDERS, ESIMCTL, World, activation_code, dbus_error_name

OK, FAILED, USAGE, CANCELLED = 0, 1, 2, 6
ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
ICCID_TEST = "8949449999999990060"


class Conventions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        orders = DEFAULT_ORDERS + [
            {"matchingId": "TEST-CLASS", "iccid": ICCID_TEST, "profile": {"generate": {"size": 4096}},
             "metadata": {"serviceProviderName": "Test House", "profileName": "Field Test",
                          "profileClass": "test"}}]
        cls.w = World(orders=orders)
        for code, nickname in (("DEMO-ONE", "Work"), ("TEST-CLASS", None), ("DEMO-TWO", None)):
            opts = {"nickname": nickname} if nickname else {}
            job, props = cls.w.download(activation_code(code), options=opts)
            assert props["State"] == "succeeded", props
        cls.w.wait_idle()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def run_esimctl(self, *args, status=OK, input=""):
        r = self.w.esimctl(*args, input=input)
        self.assertEqual(r.returncode, status, f"esimctl {' '.join(args)}:\n{r.stdout}{r.stderr}")
        return r

    def json(self, *args, status=OK):
        r = self.run_esimctl("--json", *args, status=status)
        return json.loads(r.stdout)

    def state_of(self, iccid):
        return {p["iccid"]: p["state"] for p in self.w.profiles()}.get(iccid)

    def numbers(self):
        """ICCID -> the number esimctl list --all shows."""
        out = self.run_esimctl("list", "--all").stdout
        return {m.group(2): m.group(1) for m in re.finditer(r"^(\d+)\s+(\d{18,20})\s", out, re.M)}

    def test_1_hidden_profiles_are_counted(self):
        out = self.run_esimctl("list").stdout
        self.assertNotIn(ICCID_TEST, out)
        self.assertIn("1 test profile is not listed (esimctl list --all).", out)
        doc = self.json("list")
        self.assertEqual(doc["hidden"], 1)
        self.assertEqual(sorted(p["iccid"] for p in doc["profiles"]), [ICCID_ONE, ICCID_TWO])
        out = self.run_esimctl("list", "--all").stdout
        self.assertIn(ICCID_TEST, out)
        self.assertNotIn("not listed", out)
        self.assertEqual(self.json("list", "--all")["hidden"], 0)
        self.assertRegex(self.run_esimctl("status").stdout, r"Profiles: +3 \(1 test: esimctl list --all\)")
        # A profile's number does not depend on --all.
        numbers = self.numbers()
        plain = self.run_esimctl("list").stdout
        for iccid in (ICCID_ONE, ICCID_TWO):
            self.assertRegex(plain, rf"(?m)^{numbers[iccid]}\s+{iccid}\s")

    def test_2_profiles_by_nickname_number_or_iccid(self):
        numbers = self.numbers()
        self.run_esimctl("enable", "Work")
        self.assertEqual(self.state_of(ICCID_ONE), "enabled")
        self.run_esimctl("enable", numbers[ICCID_TWO])  # switches
        self.assertEqual(self.state_of(ICCID_TWO), "enabled")
        self.run_esimctl("nickname", "work", "Office")  # a nickname, case aside
        self.run_esimctl("enable", "Office")
        self.assertEqual(self.state_of(ICCID_ONE), "enabled")
        self.run_esimctl("nickname", ICCID_TWO, "Travel")
        self.run_esimctl("nickname", numbers[ICCID_TEST], "Office")
        # Now two are called Office: esimctl names the choices instead of guessing.
        r = self.run_esimctl("disable", "Office", status=USAGE)
        self.assertIn('several profiles are called "Office"', r.stderr)
        self.assertIn(ICCID_ONE, r.stderr)
        self.assertEqual(self.state_of(ICCID_ONE), "enabled")
        r = self.run_esimctl("disable", "Holiday", status=USAGE)
        self.assertIn('no profile is called "Holiday"', r.stderr)
        self.assertIn(f"{numbers[ICCID_TWO]} {ICCID_TWO} (Travel)", r.stderr)
        r = self.run_esimctl("disable", "9", status=USAGE)
        self.assertIn('no profile is numbered "9"', r.stderr)
        self.run_esimctl("disable", "12345", status=USAGE)
        self.run_esimctl("nickname", numbers[ICCID_TEST], "--clear")
        self.run_esimctl("disable", "Office")
        self.assertEqual(self.state_of(ICCID_ONE), "disabled")
        # An ICCID that is not installed is esimd's ProfileNotFound.
        r = self.run_esimctl("enable", "8949449999999999999", status=FAILED)
        self.assertIn("ProfileNotFound", r.stderr)

    def test_2b_euicc_by_eid(self):
        status = self.json("status")["euiccs"][0]
        eid = status["eid"]
        self.assertRegex(eid, r"^\d{32}$")
        doc = self.json("--euicc", eid, "list", "--all")
        self.assertEqual(doc["euicc"], status["path"])
        self.assertEqual(self.json("-e", eid, "eid")["eid"], eid)
        self.run_esimctl("-e", eid, "nickname", ICCID_ONE, "Work")  # a verb that changes
        self.assertEqual({p["iccid"]: p["nickname"] for p in self.w.profiles()}[ICCID_ONE], "Work")
        wrong = "8904" + "0" * 28
        r = self.run_esimctl("-e", wrong, "list", status=USAGE)
        self.assertIn(f'no eUICC "{wrong}"', r.stderr)
        self.assertIn(eid, r.stderr)  # the choices, by EID

    def test_3_repeating_a_state_change_succeeds(self):
        self.run_esimctl("enable", ICCID_TWO)
        r = self.run_esimctl("enable", ICCID_TWO)
        self.assertIn(f"Profile {ICCID_TWO} is already enabled.", r.stdout)
        doc = self.json("enable", "Travel")
        self.assertEqual((doc["iccid"], doc["changed"]), (ICCID_TWO, False))
        # The D-Bus method still says what happened.
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_TWO, {})))
        self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.WrongProfileState")
        doc = self.json("disable", ICCID_TWO)
        self.assertEqual(doc["changed"], True)
        r = self.run_esimctl("disable", ICCID_TWO)
        self.assertIn(f"Profile {ICCID_TWO} is already disabled.", r.stdout)
        # Deleting an enabled profile is no repetition: it fails as before.
        self.run_esimctl("enable", ICCID_TWO)
        r = self.run_esimctl("delete", "--yes", ICCID_TWO, status=FAILED)
        self.assertIn("WrongProfileState", r.stderr)
        self.run_esimctl("disable", ICCID_TWO)

    def test_4_destructive_verbs_need_yes_without_a_terminal(self):
        self.w.wait_idle()
        for args in (["delete", ICCID_TWO], ["reset", "--test"]):
            r = self.run_esimctl(*args, status=USAGE)
            self.assertIn("--yes", r.stderr)
        self.assertEqual(self.state_of(ICCID_TWO), "disabled")
        self.assertIn(ICCID_TEST, [p["iccid"] for p in self.w.profiles()])
        # On a terminal they ask; "n" keeps the profile.
        r = self.on_terminal(["delete", ICCID_TWO], "n\n")
        self.assertEqual(r[0], CANCELLED, r[1])
        self.assertIn("Delete profile", r[1])
        self.assertEqual(self.state_of(ICCID_TWO), "disabled")
        r = self.on_terminal(["delete", "Travel"], "y\n")
        self.assertEqual(r[0], OK, r[1])
        self.assertIsNone(self.state_of(ICCID_TWO))
        # notifications remove discards for good: the same rule.
        self.w.smdp.control.add_fault(function="handleNotification", action="reset", times=1000)
        try:
            self.run_esimctl("enable", ICCID_ONE)
            pending = self.json("notifications")["notifications"]
            self.assertTrue(pending)
            seq = str(pending[0]["seq"])
            r = self.run_esimctl("notifications", "remove", seq, status=USAGE)
            self.assertIn("--yes", r.stderr)
            self.run_esimctl("notifications", "remove", "--yes", seq)
            self.assertNotIn(int(seq), [n["seq"] for n in self.json("notifications")["notifications"]])
        finally:
            self.w.smdp.control.clear_faults()
            self.run_esimctl("notifications", "send")

    def on_terminal(self, args, answer):
        """Runs esimctl with a pseudo-terminal as standard input, answering @answer."""
        master, slave = pty.openpty()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.w.bus.address)
        p = subprocess.Popen([ESIMCTL, *args], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=env, text=True)
        os.close(slave)
        os.write(master, answer.encode())
        out, _ = p.communicate(timeout=120)
        os.close(master)
        return p.returncode, out

    def test_5_json_null_empty_objects_and_one_name_per_field(self):
        self.w.wait_idle()
        raw = self.run_esimctl("--json", "status").stdout
        status = json.loads(raw)["euiccs"][0]
        self.assertIsNone(status["current_job"])  # no running job: null, not "/"
        info = self.json("info")
        self.assertEqual(info["euicc"], status["path"])  # a path, as in every other document
        self.assertNotIn("path", info)
        self.assertEqual(info["eid"], status["eid"])
        self.assertEqual(info["info"]["free_non_volatile_memory"], status["free_non_volatile_memory"])
        self.run_esimctl("disable", ICCID_ONE)
        status = self.json("status")["euiccs"][0]
        self.assertIsNone(status["active_profile"])
        self.assertIsNone(status["active_iccid"])
        # A job that ended well: no error, and its empty dictionaries print as {}.
        self.run_esimctl("nickname", ICCID_ONE, "Home")
        raw = self.run_esimctl("--json", "jobs").stdout
        jobs = json.loads(raw)["jobs"]
        nick = [j for j in jobs if j["kind"] == "set-nickname"][-1]
        self.assertIsNone(nick["error"])
        self.assertNotIn("error_message", nick)
        self.assertEqual(nick["profile_metadata"], {})
        self.assertIn('"profile_metadata" : {}', raw)
        self.assertNotRegex(raw, r"\{\s+\}")
        shown = self.json("job", "show", nick["path"].rsplit("/", 1)[1])
        self.assertEqual(shown, nick)
        # A job that failed: the same "error" object as a failed command's.
        doc = self.json("download", activation_code("NO-SUCH-ORDER"), status=FAILED)
        self.assertEqual(sorted(doc["error"]), ["exit_status", "message", "name"])
        self.assertIsNone(doc["profile"])
        self.assertIn("profile_metadata", doc)
        failed = [j for j in self.json("jobs")["jobs"] if j["path"] == doc["job"]][0]
        self.assertEqual(failed["error"]["name"], doc["error"]["name"])
        self.assertEqual(failed["error"]["exit_status"], doc["error"]["exit_status"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
