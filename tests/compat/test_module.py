#!/usr/bin/python3
"""sim.esim's own behaviour, in application processes: -1 and getLastError() when the bus or
esimd is missing or an argument is wrong, choosing the eUICC, the callback's thread and that it
only hears this process's downloads, a download finishing after the application's last line,
and the callback hearing of esimd leaving the bus mid-download."""

import json
import subprocess
import tempfile
import textwrap
import unittest

from gi.repository import GLib

import compattest as ct
from esimtest.world import DEFAULT_ORDERS, EID, JOB_IFACE, PrivateBus, World, activation_code

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
SLOW = {"matchingId": "SLOW", "iccid": "8949449999999990060", "profile": {"generate": {"size": 8192}}}
HELD = {"matchingId": "HELD", "iccid": "8949449999999990086", "profile": {"generate": {"size": 8192}}}

# Prints one JSON line: what each call returned and getLastError() after it.
CALLS = textwrap.dedent("""\
    import json, sys
    from sim import esim
    out = []
    for call in sys.argv[1:]:
        ret = eval("esim." + call)
        out.append([call, ret, list(esim.getLastError())])
    print(json.dumps(out))
""")


def calls(bus_address, *exprs, env=None):
    """[(return value, error name), ...] of module calls made in order in one process."""
    proc = ct.run(["-c", CALLS] + list(exprs), bus_address, env=env, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(ct.describe(proc))
    return [(ret, err[0]) for _call, ret, err in json.loads(proc.stdout)]


class CallsCase(unittest.TestCase):
    def check_calls(self, bus_address, expected, env=None):
        """EXPECTED: [(expression, (return value, error name)), ...], called in order."""
        got = calls(bus_address, *(expr for expr, _ in expected), env=env)
        self.assertEqual(list(zip((expr for expr, _ in expected), got)), expected)


INVALID = (-1, "org.freedesktop.DBus.Error.InvalidArgs")
NO_EUICC = (-1, "org.esim.Error.NoEuicc")
DONE = (0, "")


class WithoutEsimd(CallsCase):
    """No esimd, or no bus: every call fails with -1 and says why; nothing raises."""

    def check_unreachable(self, address, expected_error):
        got = calls(address, "getEid()", "getEID()", "getProfileInfo(0)", "getProfileInfo(1)",
                    "profileOTA('LPA:1$testsmdpplus1.example.com$X', '')",
                    "profileHandle(0, '8949449999999990011')", "getProfileDelNotification()",
                    "reportProfileDelNotification('8949449999999990011')")
        self.assertEqual(len(got), 8)
        for ret, error in got:
            self.assertEqual(ret, -1)
            self.assertTrue(error.startswith(expected_error), error)

    def test_no_bus(self):
        self.check_unreachable("unix:path=/nonexistent/esim-test-bus", "g-io-error-quark:")

    def test_no_esimd(self):
        with tempfile.TemporaryDirectory() as tmp:
            bus = PrivateBus(tmp)
            try:
                self.check_unreachable(bus.address, "org.freedesktop.DBus.Error.ServiceUnknown")
            finally:
                bus.stop()

    def test_arguments(self):
        # refused before the bus is used: the error is the module's, not the connection's
        self.check_calls("unix:path=/nonexistent/esim-test-bus", [
            ("getProfileInfo(2)", INVALID),
            ("profileHandle(3, '8949449999999990011')", INVALID),
            ("profileHandle(0, 8949449999999990011)", INVALID),
            ("profileOTA(None, '')", INVALID),
            ("setCallback(42)", INVALID),
            ("setCallback(print)", DONE),
            ("setCallback(None)", DONE),
            ("reportProfileDelNotification(8949449999999990011)", INVALID),
            ("reportProfileDelNotification(())", INVALID),
            ("reportProfileDelNotification((8949449999999990011, 1))", INVALID),
            ("reportProfileDelNotification(('8949449999999990011', -1))", INVALID),
            ("reportProfileDelNotification(('8949449999999990011', '1'))", INVALID),
            ("setEuicc([0])", INVALID),
            ("setEuicc('sim')", DONE),
            ("setEuicc(None)", DONE),
            ("getLastError()", (["", ""], "")),
        ])


    def test_result_before_reply(self):
        # esimd's DownloadResult can reach the module's thread before profileOTA() has the
        # Download reply in hand; the result waits for it, other downloads are not reported, and
        # results kept from an esimd that has left never answer for a new one's jobs.
        with tempfile.TemporaryDirectory() as tmp:
            bus = PrivateBus(tmp)
            try:
                proc = ct.run_code("""\
                    import queue, threading, time
                    from gi.repository import GLib
                    from sim import esim
                    got = queue.Queue()
                    esim.setCallback(lambda r: got.put((r, threading.current_thread().name)))
                    session = esim._get_session()
                    def result(job, value):
                        error = "org.esim.Error.Cancelled" if value else ""
                        args = GLib.Variant("(ousss)", (job, value, "", error, ""))
                        session._on_download_result(None, ":1.1", "/org/esim/euicc/0", "org.esim.Manager",
                                                    "DownloadResult", args)
                    result("/org/esim/job/7", 1)
                    result("/org/esim/job/8", 0)
                    print("before:%d" % got.qsize())
                    session.track_download("/org/esim/job/7")
                    print("result:%s" % (got.get(timeout=10),))
                    print("error:%s" % esim.getLastError()[0])
                    print("others:%d" % got.qsize())
                    # esimd restarts and numbers its jobs anew: job 8 is now ours, not the old one
                    session._on_owner_changed(None, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                              "org.freedesktop.DBus", "NameOwnerChanged",
                                              GLib.Variant("(sss)", ("org.esim", ":1.1", "")))
                    session.track_download("/org/esim/job/8")
                    result("/org/esim/job/8", 1)
                    print("restarted:%s" % (got.get(timeout=10)[0],))
                    time.sleep(0.3)
                    print("stale:%d" % got.qsize())
                """, bus.address)
            finally:
                bus.stop()
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertEqual(ct.printed(proc.stdout, "before"), 0)
        results = [line for line in proc.stdout.splitlines() if line.startswith("result:")]
        self.assertEqual(results, ["result:(1, 'sim.esim')"])  # in the module's thread
        self.assertEqual(ct.printed(proc.stdout, "error", literal=False), "org.esim.Error.Cancelled")
        self.assertEqual(ct.printed(proc.stdout, "others"), 0)
        self.assertEqual(ct.printed(proc.stdout, "restarted"), 1)
        self.assertEqual(ct.printed(proc.stdout, "stale"), 0)


class WithEsimd(CallsCase):
    """One world; the scenarios in order (test names sort), the last one stops esimd."""

    @classmethod
    def setUpClass(cls):
        cls.w = World(orders=DEFAULT_ORDERS + [SLOW, HELD])
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def card(self):
        return {p["iccid"]: p["state"] for p in self.sim.state()["profiles"]}

    def script(self, code, *args):
        """Starts an application process running CODE; the test talks to it through its pipes."""
        return subprocess.Popen(["/usr/bin/python3", "-c", textwrap.dedent(code)] + list(args),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=ct.app_env(self.w.bus.address))

    def test_00_choosing_the_euicc(self):
        eid = (EID, "")
        self.check_calls(self.w.bus.address, [
            ("getEid()", eid),  # the first (here the only) eUICC
            ("getEID()", eid),
            ("setEuicc(0)", DONE), ("getEid()", eid),
            ("setEuicc('/org/esim/euicc/0')", DONE), ("getProfileInfo(1)", ([0, []], "")),
            ("setEuicc('sim')", DONE), ("getProfileDelNotification()", ([0, []], "")),
            (f"setEuicc({EID!r})", DONE), ("getEid()", eid),
            ("setEuicc(1)", DONE), ("getEid()", NO_EUICC),
            ("profileHandle(0, '8949449999999990011')", NO_EUICC),
            ("setEuicc('/org/esim/euicc/00')", DONE), ("getEid()", NO_EUICC),
            ("setEuicc(None)", DONE), ("getEid()", eid),
        ])
        # the environment chooses when the application does not
        self.check_calls(self.w.bus.address, [("getEid()", eid)], env={"ESIM_EUICC": "sim"})
        self.check_calls(self.w.bus.address, [("getEid()", NO_EUICC), ("setEuicc(0)", DONE),
                                              ("getEid()", eid)], env={"ESIM_EUICC": "modem2"})

    def test_01_errors_are_esimd_s(self):
        self.check_calls(self.w.bus.address, [
            ("profileHandle(0, '8949449999999999999')", (-1, "org.esim.Error.ProfileNotFound")),
            ("profileOTA('LPA:9$x.example.com$A', '')", (-1, "org.esim.Error.InvalidActivationCode")),
            # nothing pending for it: nothing was delivered, which is no success
            ("reportProfileDelNotification('8949449999999999999')",
             (-1, "org.esim.Error.NotificationNotFound")),
            ("reportProfileDelNotification(('8949449999999999999', 7))",
             (-1, "org.esim.Error.NotificationNotFound")),
        ])

    def test_02_callback_thread_and_only_our_downloads(self):
        app = self.script("""\
            import queue, sys, threading
            from sim import esim
            results = queue.Queue()
            def cb(result):
                results.put((result, threading.current_thread() is threading.main_thread()))
            esim.setCallback(cb)
            esim.getEid()  # connected and listening from here on
            print("ready", flush=True)
            input()  # meanwhile another client downloads a profile
            print("ret:%d" % esim.profileOTA(sys.argv[1], ""), flush=True)
            result, in_main_thread = results.get(timeout=120)
            print("result:%d" % result)
            print("in main thread:%s" % in_main_thread)
            # esimd's signals arrive in order: another download's result would be here by now
            print("other results:%d" % results.qsize())
        """, activation_code("DEMO-TWO"))
        try:
            self.assertEqual(app.stdout.readline(), "ready\n")
            _job, props = self.w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded")
            out, err = app.communicate("\n", timeout=120)
        finally:
            app.kill()
        self.assertEqual(app.returncode, 0, err)
        self.assertEqual(ct.printed(out, "ret"), 0)
        self.assertEqual(ct.printed(out, "result"), 0)
        self.assertEqual(ct.printed(out, "in main thread"), False)
        self.assertEqual(ct.printed(out, "other results"), 0)
        self.assertEqual(self.card(), {ICCID_ONE: "disabled", ICCID_TWO: "disabled"})

    def test_03_a_failing_callback_does_not_stop_later_results(self):
        self.w.secrets.update({"NO-SUCH-ORDER", "11111111"})  # esimd's log must not show them
        proc = ct.run_code("""\
            import sys
            from queue import Queue
            from sim import esim
            seen = Queue()
            def cb(result):
                seen.put((result, esim.getLastError()[0]))
                raise RuntimeError("the application's bug")
            esim.setCallback(cb)
            for code, cc in ((sys.argv[1], "11111111"), (sys.argv[2], "")):
                print("ret:%d" % esim.profileOTA(code, cc))
                print("result:%s" % (seen.get(timeout=120),), flush=True)
        """, self.w.bus.address, [activation_code("CODE-NEEDED", cc_required=True),
                                  activation_code("NO-SUCH-ORDER")])
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        results = [line for line in proc.stdout.splitlines() if line.startswith("result:")]
        self.assertEqual(results, ["result:(1, 'org.esim.Error.ConfirmationCodeRefused')",
                                   "result:(1, 'org.esim.Error.MatchingIdRefused')"])
        self.assertEqual(proc.stderr.count("RuntimeError: the application's bug"), 2, proc.stderr)

    def test_04_download_outlives_the_last_line(self):
        # The module API finishes a download whatever the application does next; esimd would
        # cancel one whose caller left the bus before loading: the module's exit waits for its
        # downloads, and the callback still runs.
        w = self.w
        proc = ct.run_code("""\
            import sys
            from sim import esim
            esim.setCallback(lambda result: print("OTA result:%d" % result, flush=True))
            print("ret:%d" % esim.profileOTA(sys.argv[1], ""), flush=True)
        """, w.bus.address, [activation_code("SLOW")])
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertEqual(ct.printed(proc.stdout, "OTA result"), 0, ct.describe(proc))
        self.assertEqual(self.card()[SLOW["iccid"]], "disabled")

    def test_04b_reads_answer_at_once_during_a_download(self):
        # A download stopped at its confirmation step holds the eUICC's queue. The reads are
        # served from esimd's cache, so they answer while it waits; the job is still waiting
        # when they have answered.
        w = self.w
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("HELD"), "", {
            "confirm": GLib.Variant("b", True)})))[0]
        try:
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation",
                              60, "the download to wait for its confirmation")
            installed = sorted([iccid, 1 if state == "enabled" else 0] for iccid, state in self.card().items())
            got = calls(w.bus.address, "getEid()", "getProfileInfo(1)", "getProfileDelNotification()")
            self.assertEqual(got[0], (EID, ""))
            self.assertEqual(got[1][0][0], len(installed))
            self.assertEqual(sorted(got[1][0][1]), installed)
            self.assertEqual(got[2], ([0, []], ""))
            self.assertEqual(w.client.get(job, JOB_IFACE, "State"), "awaiting-confirmation")
        finally:
            w.client.call(job, JOB_IFACE, "Cancel")
        w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "cancelled", 60,
                          "the download to be cancelled")
        w.wait_idle()
        self.assertNotIn(HELD["iccid"], self.card())

    def test_05_esimd_leaving_fails_the_download(self):
        w = self.w
        w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (SLOW["iccid"], {})))
        w.wait_idle()
        # the SM-DP+ is slow to hand out the profile; esimd dies meanwhile
        w.smdp.control.add_fault(function="getBoundProfilePackage", action="delay", ms=20000)
        app = self.script("""\
            import queue, sys
            from sim import esim
            results = queue.Queue()
            esim.setCallback(results.put)
            print("ret:%d" % esim.profileOTA(sys.argv[1], ""), flush=True)
            print("result:%d" % results.get(timeout=60))
            print("error:%s" % esim.getLastError()[0])
        """, activation_code(SLOW["matchingId"]))
        try:
            self.assertEqual(app.stdout.readline(), "ret:0\n")
            w.client.wait_for(lambda: w.smdp.control.calls().get("smdp:getBoundProfilePackage"), 60,
                              "the download to reach getBoundProfilePackage")
            w.esimd.kill()
            out, err = app.communicate(timeout=60)
        finally:
            app.kill()
        self.assertEqual(app.returncode, 0, err)
        self.assertEqual(ct.printed(out, "result"), 1)
        self.assertEqual(ct.printed(out, "error", literal=False),
                         "org.freedesktop.DBus.Error.ServiceUnknown")

if __name__ == "__main__":
    unittest.main(verbosity=2)
