#!/usr/bin/python3
"""esimctl against the real esimd: every verb a person uses, its --json output, and the exit
status of each class of failure (esimctl(1) EXIT STATUS)."""

import json
import unittest

from gi.repository import GLib

from esimtest.world import World, activation_code

ICCID = "8949449999999990011"
OK, FAILED, USAGE, UNAUTHORIZED, UNREACHABLE, NETWORK, CANCELLED = 0, 1, 2, 3, 4, 5, 6


class Esimctl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def run_ok(self, *args):
        r = self.w.esimctl(*args)
        self.assertEqual(r.returncode, OK, f"esimctl {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def json(self, *args, status=OK):
        r = self.w.esimctl("--json", *args)
        self.assertEqual(r.returncode, status, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def test_1_read(self):
        self.assertEqual(self.run_ok("eid").strip(), "89049032123451234512345678901235")
        status = self.json("status")["euiccs"][0]
        self.assertEqual((status["state"], status["name"], status["segment_size"]), ("ready", "sim", 255))
        self.assertIn("EID:", self.run_ok("status"))
        info = self.run_ok("info")
        self.assertIn("Free non-volatile memory", info)
        self.assertEqual(self.json("list", "--all")["profiles"], [])

    def test_2_download_and_manage(self):
        out = self.json("download", activation_code("DEMO-ONE"), "--nickname", "Home")
        self.assertEqual((out["state"], out["iccid"]), ("succeeded", ICCID))
        table = self.run_ok("list")
        self.assertRegex(table, rf"{ICCID}\s+disabled\s+operational\s+Test Operator\s+Everyday Plan\s+Home")
        self.run_ok("enable", ICCID)
        self.assertEqual(self.json("list")["profiles"][0]["state"], "enabled")
        self.run_ok("nickname", ICCID, "Office")
        self.assertEqual(self.json("list")["profiles"][0]["nickname"], "Office")
        self.w.wait_idle()
        self.assertEqual(self.json("notifications")["notifications"], [])
        jobs = self.json("jobs")["jobs"]
        self.assertIn("download", [j["kind"] for j in jobs])

    def test_3_failures_have_their_exit_status(self):
        r = self.w.esimctl("enable", ICCID)  # already enabled: says so, as systemctl start does
        self.assertEqual(r.returncode, OK, r.stderr)
        self.assertIn("already enabled", r.stdout)
        self.assertEqual(self.w.esimctl("enable", "12345").returncode, USAGE)
        self.assertEqual(self.w.esimctl("download", "LPA:9$x$y").returncode, USAGE)
        self.assertEqual(self.w.esimctl("nickname", ICCID, "n" * 65).returncode, USAGE)
        r = self.w.esimctl("--json", "delete", "--yes", ICCID)  # enabled: refused
        self.assertEqual(r.returncode, FAILED)
        self.assertEqual(json.loads(r.stdout)["error"]["name"], "org.esim.Error.WrongProfileState")
        r = self.w.esimctl("download", activation_code("CODE-NEEDED"), "--confirmation-code", "99999999")
        self.assertEqual(r.returncode, FAILED, r.stderr)
        self.assertNotIn("99999999", r.stdout + r.stderr)

    def test_4_disable_delete_and_notifications(self):
        self.run_ok("disable", ICCID + "F")  # as an EF_ICCID dump prints it
        self.w.smdp.control.add_fault(function="handleNotification", action="reset", times=1000)
        self.run_ok("delete", "--yes", ICCID)
        pending = self.json("notifications", "--operation", "delete")["notifications"]
        self.assertEqual([(n["operation"], n["iccid"]) for n in pending], [("delete", ICCID)])
        # the ICCID as an EF_ICCID dump prints it, and pasted with a newline: the same filter,
        # whether esimctl or esimd reads it
        self.assertEqual(self.json("notifications", "--operation", "delete", "--iccid", ICCID + "f")
                         ["notifications"], pending)
        self.assertEqual([(n["seq"], n["operation"], n["iccid"])
                          for n in self.w.notifications({"operation": GLib.Variant("s", "delete"),
                                                         "iccid": GLib.Variant("s", ICCID + "F\n")})],
                         [(n["seq"], n["operation"], n["iccid"]) for n in pending])
        r = self.w.esimctl("notifications", "send", "--iccid", ICCID)
        self.assertEqual(r.returncode, NETWORK, r.stdout + r.stderr)
        self.w.smdp.control.clear_faults()
        self.run_ok("notifications", "send", "--operation", "delete")
        self.assertEqual(self.json("notifications", "--operation", "delete")["notifications"], [])
        # the disable notification met the same fault; send whatever is left
        self.run_ok("notifications", "send")
        self.assertEqual(self.json("notifications")["notifications"], [])
        self.assertEqual(self.json("notifications", "--operation", "rpm-delete")["notifications"], [])
        self.assertEqual(self.json("list", "--all")["profiles"], [])

    def test_5_default_smdp_reset_refresh(self):
        self.run_ok("default-smdp", "testsmdpplus1.example.com")
        self.assertIn("testsmdpplus1.example.com", self.run_ok("default-smdp"))
        self.run_ok("reset", "--default-smdp", "--yes")
        self.assertEqual(self.json("status")["euiccs"][0]["default_smdp_address"], "")
        self.run_ok("refresh")

    def test_6_unreachable(self):
        r = self.w.esimctl("status", env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
        self.assertEqual(r.returncode, UNREACHABLE)


class EsimctlTls(unittest.TestCase):
    def test_untrusted_server_is_a_network_failure(self):
        with World(smdp_options={"tls_cert_set": "bad"}) as w:
            r = w.esimctl("download", activation_code("DEMO-ONE"))
            self.assertEqual(r.returncode, NETWORK, r.stdout + r.stderr)
            self.assertIn("TlsVerificationFailed", r.stderr)


class EsimctlQuiet(unittest.TestCase):
    """-q/--quiet: nothing on success but what was asked for; errors as ever."""

    def test_quiet(self):
        iccid = "8949449999999990029"
        with World() as w:
            def run(*args, status=OK):
                r = w.esimctl(*args)
                self.assertEqual(r.returncode, status, f"esimctl {' '.join(args)}: {r.stdout}{r.stderr}")
                return r

            r = run("-q", "download", activation_code("DEMO-TWO"))
            self.assertEqual((r.stdout, r.stderr), ("", ""))
            self.assertRegex(run("-q", "list").stdout, rf"{iccid}\s+disabled")
            self.assertEqual(run("-q", "eid").stdout.strip(), "89049032123451234512345678901235")
            # the option may follow the command, like every global option
            self.assertEqual(run("enable", "--quiet", iccid).stdout, "")
            self.assertIn(f"Disabled profile {iccid}", run("disable", iccid).stdout)  # not quiet: said
            self.assertEqual(run("-q", "enable", iccid).stdout, "")
            self.assertEqual(run("-q", "nickname", iccid, "Work").stdout, "")
            self.assertEqual(run("-q", "default-smdp", "smdp.example.com").stdout, "")
            self.assertIn("smdp.example.com", run("-q", "default-smdp").stdout)  # asked for: shown
            w.wait_idle()
            self.assertEqual(run("-q", "notifications", "send").stdout, "")
            # a failure still says why, on stderr (deleting the enabled profile)
            r = run("-q", "delete", "--yes", iccid, status=FAILED)
            self.assertEqual(r.stdout, "")
            self.assertIn("WrongProfileState", r.stderr)
            self.assertEqual(run("-q", "disable", iccid).stdout, "")
            self.assertEqual(run("-q", "delete", "--yes", iccid).stdout, "")
            self.assertNotIn(iccid, run("-q", "list", "--all").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
