#!/usr/bin/python3
"""The module API's usage examples (tests/compat/examples/*.py) run as applications run them:
separate processes doing `from sim import esim`, through the real esimd, against the simulated
eUICC and the test SM-DP+. Each result is checked three ways: what the example printed and its
exit status, the card's state, and what the server received."""

import ast
import os
import unittest

import compattest as ct
from esimtest.world import DEFAULT_ORDERS, EID, World, activation_code

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
ICCID_CC = "8949449999999990037"
ICCID_TEST = "8949449999999990045"
# A field-loaded test profile (class 0): getProfileInfo(0) leaves it out, getProfileInfo(1) not.
TEST_ORDER = {"matchingId": "TEST-PROFILE", "iccid": ICCID_TEST,
              "profile": {"generate": {"size": 8192}},
              "metadata": {"serviceProviderName": "Test Lab", "profileName": "Field Test",
                           "profileClass": "test"}}
# One profile installed twice (two orders of the same ICCID).
AGAIN = [{"matchingId": f"AGAIN-{n}", "iccid": "8949449999999990078",
          "profile": {"generate": {"size": 8192}}} for n in (1, 2)]
# Given a wrong confirmation code.
WRONG_CODE_ORDER = {"matchingId": "WRONG-CODE", "iccid": "8949449999999990052",
                    "profile": {"generate": {"size": 8192}}, "confirmationCode": "24682468"}


def reports(out: str) -> dict:
    """{iccid: return value} from the examples' 'report X:RET' lines, where X is an ICCID or an
    entry of getProfileDelNotification() (a tuple whose first element is the ICCID)."""
    got = {}
    for line in out.splitlines():
        if line.startswith("report ") and ":" in line:
            target, ret = line[len("report "):].rsplit(":", 1)
            if target.startswith("("):
                target = ast.literal_eval(target)[0]
            got[target] = int(ret)
    return got


def delete_entries(out: str) -> list:
    """The ICCIDs of getProfileDelNotification()'s entries, as an example printed them, after
    checking the result's shape: (count, [(iccid, seq), ...])."""
    count, entries = ct.printed(out, "profile delete notifications")
    assert count == len(entries), out
    for entry in entries:
        assert isinstance(entry, tuple) and len(entry) == 2, entry
        assert isinstance(entry[0], str) and isinstance(entry[1], int), entry
    return [entry[0] for entry in entries]


class ExampleCase(unittest.TestCase):
    world_options: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.w = World(orders=DEFAULT_ORDERS + [TEST_ORDER, WRONG_CODE_ORDER], **cls.world_options)
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def example(self, name, *lines, ok=True):
        """Runs an example with LINES as its input; its output, once its exit status is checked."""
        proc = ct.run_example(name, self.w.bus.address, lines)
        self.assertEqual(proc.returncode, 0 if ok else 1, ct.describe(proc))
        return proc.stdout

    def card(self) -> dict:
        return {p["iccid"]: p for p in self.sim.state()["profiles"]}

    def card_states(self) -> dict:
        return {iccid: p["state"] for iccid, p in self.card().items()}

    def card_notifications(self) -> list:
        return [(n["pmo"], n["iccid"]) for n in self.sim.state()["notifications"]]

    def server_notifications(self) -> list:
        return [(n["operation"], n["iccid"]) for n in self.w.smdp.control.notifications()]


class Examples(ExampleCase):
    """One world, the examples in order (test names sort): EID, downloads, lists, enable/disable,
    delete, delete notifications."""

    def test_00_examples_import_only_the_module(self):
        names = sorted(n for n in os.listdir(ct.EXAMPLES) if n.endswith(".py"))
        self.assertGreaterEqual(len(names), 6)
        for name in names:
            imports = ct.imports_of(os.path.join(ct.EXAMPLES, name))
            self.assertIn("sim.esim", imports, name)
            self.assertLessEqual(imports, ct.ALLOWED_IMPORTS, name)

    def test_01_eid_and_empty_card(self):
        out = self.example("eid.py")
        self.assertEqual(ct.printed(out, "eUICC id", literal=False), EID)
        out = self.example("profile_info.py")
        self.assertEqual(ct.printed(out, "class-2 profiles"), (0, []))
        self.assertEqual(ct.printed(out, "all profiles"), (0, []))
        self.assertIn("there is no profileinfo in this esim!", out)

    def test_02_ota_and_callback(self):
        out = self.example("ota.py", activation_code("DEMO-ONE"), "")
        self.assertEqual(ct.printed(out, "OTA result"), 0)
        self.assertIn("success to download and install the profile!", out)
        self.assertEqual(self.card_states(), {ICCID_ONE: "disabled"})
        self.w.wait_idle()
        self.assertIn(("install", ICCID_ONE), self.server_notifications())

    def test_03_ota_with_confirmation_code(self):
        out = self.example("ota.py", activation_code("CODE-NEEDED", cc_required=True), "12345678")
        self.assertEqual(ct.printed(out, "OTA result"), 0)
        self.assertEqual(self.card_states(), {ICCID_ONE: "disabled", ICCID_CC: "disabled"})

    def test_04_ota_failures(self):
        # what esimd must not log, though no order has it (World checks the log at teardown)
        self.w.secrets.update({"NO-SUCH-ORDER", "87654321"})
        # the SM-DP+ knows no such order: esimd takes the download, the callback gets 1
        out = self.example("ota.py", activation_code("NO-SUCH-ORDER"), "", ok=False)
        self.assertEqual(ct.printed(out, "OTA result"), 1)
        self.assertIn("failed to download and install the profile!", out)
        # a wrong confirmation code, likewise
        out = self.example("ota.py", activation_code("WRONG-CODE", cc_required=True), "87654321",
                           ok=False)
        self.assertEqual(ct.printed(out, "OTA result"), 1)
        # refused before any server is asked: profileOTA itself returns -1 and no result follows
        out = self.example("ota.py", "LPA:1$$NO-HOST", "", ok=False)
        self.assertIn("failed to start the profile download!", out)
        self.assertNotIn("OTA result", out)
        self.assertEqual(set(self.card()), {ICCID_ONE, ICCID_CC})

    def test_05_class2_and_all_profiles(self):
        out = self.example("ota.py", activation_code("TEST-PROFILE"), "")
        self.assertEqual(ct.printed(out, "OTA result"), 0)
        self.assertEqual(self.card()[ICCID_TEST]["profile_class"], 0)
        out = self.example("profile_info.py")
        class2 = ct.printed(out, "class-2 profiles")
        everything = ct.printed(out, "all profiles")
        self.assertEqual(class2[0], 2)
        self.assertEqual(sorted(class2[1]), [(ICCID_ONE, 0), (ICCID_CC, 0)])
        self.assertEqual(everything[0], 3)
        self.assertEqual(sorted(everything[1]), [(ICCID_ONE, 0), (ICCID_CC, 0), (ICCID_TEST, 0)])
        self.assertEqual(ct.printed(out, "first profile state"), 0)

    def test_06_enable_or_disable_by_state(self):
        out = self.example("profile_handle.py", ICCID_ONE)
        self.assertIn("enable profile succeed!", out)
        self.assertEqual(self.card_states()[ICCID_ONE], "enabled")
        # the listing shows it, and existing code reading [1][0][1] of the list sees the state
        out = self.example("profile_info.py")
        class2 = ct.printed(out, "class-2 profiles")
        self.assertIn((ICCID_ONE, 1), class2[1])
        first = class2[1][0][0]
        self.assertEqual(ct.printed(out, "first profile state"),
                         1 if self.card_states()[first] == "enabled" else 0)
        # enabling another profile disables the one enabled (the eUICC's rule)
        out = self.example("profile_handle.py", ICCID_CC)
        self.assertIn("enable profile succeed!", out)
        self.assertEqual(self.card_states(), {ICCID_ONE: "disabled", ICCID_CC: "enabled",
                                              ICCID_TEST: "disabled"})
        # and an enabled one is disabled
        out = self.example("profile_handle.py", ICCID_CC)
        self.assertIn("disable profile succeed!", out)
        self.assertEqual(set(self.card_states().values()), {"disabled"})
        self.assertEqual(dict(ct.printed(out, "profile_list")[1]),
                         {ICCID_ONE: 0, ICCID_CC: 0, ICCID_TEST: 0})
        self.w.wait_idle()
        ops = self.server_notifications()
        self.assertIn(("enable", ICCID_CC), ops)
        self.assertIn(("disable", ICCID_CC), ops)

    def test_07_handle_failures(self):
        # no such profile
        out = self.example("profile_handle.py", "8949449999999999999", ok=False)
        self.assertIn("enable profile failed!", out)
        # an enabled profile cannot be deleted
        self.example("profile_handle.py", ICCID_ONE)
        out = self.example("delete_profile.py", ICCID_ONE, ok=False)
        self.assertIn("delete profile failed!", out)
        self.assertEqual(self.card_states()[ICCID_ONE], "enabled")
        self.example("profile_handle.py", ICCID_ONE)
        self.assertEqual(self.card_states()[ICCID_ONE], "disabled")

    def test_08_delete_and_pending_notification(self):
        w = self.w
        w.wait_idle()
        self.assertEqual(self.example("del_notification.py", "0").splitlines()[0],
                         "profile delete notifications:(0, [])")
        # Every delivery fails until the fault is cleared: the notification stays pending.
        w.smdp.control.add_fault(function="handleNotification", action="reset")
        try:
            out = self.example("delete_profile.py", ICCID_CC)
            self.assertIn("delete profile succeed!", out)
            self.assertNotIn(ICCID_CC, self.card())
            self.assertNotIn(ICCID_CC, dict(ct.printed(out, "profile_list")[1]))
            out = self.example("del_notification.py", "0")
            self.assertEqual(delete_entries(out), [ICCID_CC])
            self.assertIn(("delete", ICCID_CC), self.card_notifications())
            # reporting while the server cannot be reached fails, and the notification stays
            out = self.example("del_notification.py", "1", ok=False)
            self.assertEqual(reports(out), {ICCID_CC: -1})
            self.assertIn(("delete", ICCID_CC), self.card_notifications())
        finally:
            w.smdp.control.clear_faults()
        # esimd's own retry delivers it once the server is back; then nothing is listed
        w.client.wait_for(lambda: ("delete", ICCID_CC) in self.server_notifications(), 60,
                          "the delete notification at the SM-DP+")
        w.wait_idle()
        out = self.example("del_notification.py", "1")
        self.assertEqual(ct.printed(out, "profile delete notifications"), (0, []))
        self.assertNotIn(("delete", ICCID_CC), self.card_notifications())


class ReportedByTheApplication(ExampleCase):
    """With esimd's automatic delivery off, only reportProfileDelNotification() tells the
    server: the report is the application's, deterministically."""

    world_options = {"config": {"Notifications": {"AutoSend": "false"}}}

    def test_report_delete_notification(self):
        out = self.example("ota.py", activation_code("DEMO-TWO"), "")
        self.assertEqual(ct.printed(out, "OTA result"), 0)
        self.example("delete_profile.py", ICCID_TWO)
        self.assertEqual(self.card_states(), {})
        # the install notification is pending too, but it is not a delete notification
        self.assertEqual(sorted(self.card_notifications()), [("delete", ICCID_TWO), ("install", ICCID_TWO)])
        out = self.example("del_notification.py", "0")
        self.assertEqual(delete_entries(out), [ICCID_TWO])
        self.assertEqual(self.server_notifications(), [])

        out = self.example("del_notification.py", "1")
        self.assertEqual(reports(out), {ICCID_TWO: 0})
        self.assertEqual(self.server_notifications(), [("delete", ICCID_TWO)])
        self.assertTrue(all(n["verified"] for n in self.w.smdp.control.notifications()))
        # only the delete notification left the card
        self.assertEqual(self.card_notifications(), [("install", ICCID_TWO)])
        out = self.example("del_notification.py", "0")
        self.assertEqual(ct.printed(out, "profile delete notifications"), (0, []))

    def test_reported_by_entry_only_that_one(self):
        # the same profile installed and deleted twice: two delete notifications of one ICCID;
        # an entry reports its own notification, an ICCID every one of that profile
        iccid = AGAIN[0]["iccid"]
        for order in AGAIN:
            self.w.smdp.control.add_order(order)
            out = self.example("ota.py", activation_code(order["matchingId"]), "")
            self.assertEqual(ct.printed(out, "OTA result"), 0)
            self.example("delete_profile.py", iccid)
        deletes = lambda: [n for n in self.server_notifications() if n == ("delete", iccid)]
        proc = ct.run_code("""\
            from sim import esim
            entries = esim.getProfileDelNotification()[1]
            print("before:%r" % (entries,))
            print("ret:%d" % esim.reportProfileDelNotification(entries[-1]))
            print("after:%r" % (esim.getProfileDelNotification()[1],))
            print("again:%d" % esim.reportProfileDelNotification(entries[-1]))
            print("error:%s" % esim.getLastError()[0])
        """, self.w.bus.address)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        before = ct.printed(proc.stdout, "before")
        self.assertEqual([e[0] for e in before], [iccid, iccid])
        self.assertNotEqual(before[0][1], before[1][1])
        self.assertEqual(ct.printed(proc.stdout, "ret"), 0)
        self.assertEqual(ct.printed(proc.stdout, "after"), [before[0]])
        self.assertEqual(ct.printed(proc.stdout, "again"), -1)
        self.assertEqual(ct.printed(proc.stdout, "error", literal=False),
                         "org.esim.Error.NotificationNotFound")
        self.assertEqual(len(deletes()), 1)
        # the ICCID alone reports what is left of that profile's
        out = self.example("del_notification.py", "1")
        self.assertEqual(reports(out), {iccid: 0})
        self.assertEqual(len(deletes()), 2)

    def test_vendor_indexing(self):
        # the vendor's guide reads the ICCID as getProfileDelNotification()[1][0][0]
        out = self.example("ota.py", activation_code("DEMO-ONE"), "")
        self.assertEqual(ct.printed(out, "OTA result"), 0)
        self.example("delete_profile.py", ICCID_ONE)
        out = self.example("report_first_notification.py")
        self.assertEqual(reports(out), {ICCID_ONE: 0})
        self.assertIn("report profile delete notification succeed!", out)
        self.assertIn(("delete", ICCID_ONE), self.server_notifications())
        out = self.example("report_first_notification.py")
        self.assertIn("no profile delete notification!", out)
        # reporting what is not pending is no success: nothing reached the server
        proc = ct.run_code("""\
            import sys
            from sim import esim
            print("ret:%d" % esim.reportProfileDelNotification(sys.argv[1]))
            print("error:%s" % (esim.getLastError(),))
        """, self.w.bus.address, [ICCID_ONE])
        self.assertEqual(ct.printed(proc.stdout, "ret"), -1, ct.describe(proc))
        name, message = ct.printed(proc.stdout, "error")
        self.assertEqual(name, "org.esim.Error.NotificationNotFound")
        self.assertIn(ICCID_ONE, message)


if __name__ == "__main__":
    unittest.main(verbosity=2)
