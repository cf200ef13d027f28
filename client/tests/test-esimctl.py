#!/usr/bin/python3
"""test-esimctl.py — the esimctl binary without esimd: help, usage errors, exit statuses, JSON
errors, and an unreachable esimd on a private bus (the end-to-end tests with the real esimd
live with the daemon's integration tests)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ESIMCTL = os.environ.get("ESIMCTL")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def run(*args, env=None, stdin=subprocess.DEVNULL, timeout=20):
    e = dict(os.environ)
    # Nothing here may reach the machine's real system bus.
    e["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/esimctl-test"
    e.update(env or {})
    return subprocess.run([ESIMCTL, *args], env=e, stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


def commands():
    """The commands esimctl --help lists."""
    out = run("--help").stdout
    block = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


class Help(unittest.TestCase):
    def test_main_help_lists_every_command(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage:", r.stdout)
        names = commands()
        for expected in ["status", "eid", "info", "list", "download", "discover", "enable",
                         "disable", "delete", "nickname", "notifications", "default-smdp", "reset",
                         "refresh", "jobs", "job", "monitor", "help"]:
            self.assertIn(expected, names)
        self.assertIn("Exit status", r.stdout)

    def test_each_command_has_help(self):
        for name in commands():
            with self.subTest(name=name):
                r = run(name, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage:", r.stdout)
                self.assertIn("esimctl " + name, r.stdout)
                r2 = run("help", name)
                self.assertEqual(r2.returncode, 0, r2.stderr)
                self.assertEqual(r.stdout, r2.stdout)

    def test_sub_command_help(self):
        for sub in [["notifications", "list"], ["notifications", "send"],
                    ["notifications", "remove"], ["job", "show"], ["job", "wait"],
                    ["job", "confirm"], ["job", "cancel"]]:
            with self.subTest(sub=sub):
                r = run(*sub, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("esimctl " + " ".join(sub), r.stdout)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^esimctl \d+\.\d+\.\d+\n$")


class Usage(unittest.TestCase):
    CASES = [
        ["frobnicate"],
        ["--timeout", "0", "list"],
        ["list", "--bogus"],
        ["list", "extra"],
        ["enable"],
        ["enable", ""],
        # ("enable 12345" and "delete 89444765000012241X" are weighed against the profiles
        # first: either may be a nickname. test_caller_input.py checks them against esimd.)
        ["nickname", "8944476500001224158"],
        ["nickname", "8944476500001224158", "Name", "--clear"],
        ["download"],
        ["download", "1$a.b$X", "--smdp", "a.b"],
        ["download", "--matching-id", "X"],
        ["download", "1$a.b$X", "--imei", "123"],
        ["download", "1$a.b$X", "--confirmation-code", "1", "--confirmation-code-file", "f"],
        ["download", "--activation-code-file", "/nonexistent/ac.txt"],
        ["reset"],
        ["notifications", "frobnicate"],
        ["notifications", "--operation", "explode"],
        ["notifications", "--iccid", "12"],
        ["notifications", "remove", "seven"],
        ["job"],
        ["job", "show"],
        ["job", "show", "/org/esim/euicc/0"],
        ["default-smdp", "smdp.example.com", "--clear"],
        # issue 11: bad input is refused before esimd is asked (items 16-20)
        ["nickname", "8944476500001224158", "bad \udcff UTF-8"],
        ["nickname", "8944476500001224158", "two\nlines"],
        ["download", "1$a.example.com$X", "--nickname", "tab\there"],
        ["notifications", "send", "--seq", "-7"],
        ["notifications", "--seq", "4294967296"],
        ["notifications", "--seq", "7x"],
        ["--timeout", "-5", "list"],
        ["--timeout", "86401", "list"],
        ["download", ""],
        ["download", "  "],
        ["download", "not-a-code"],
        ["download", "1$a.example.com$AB_C"],
        ["download", "--smdp", "a.example.com", "--matching-id", "AB_C"],
        ["download", "--smdp", "https://a.example.com"],
        ["download", "1$a.example.com$X", "--confirmation-code", "1" * 33],
        ["download", "1$a.example.com$X", "--confirmation-code", "12\n34"],
    ]

    def test_usage_errors_exit_2_before_any_call(self):
        for args in self.CASES:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("esimctl: "), r.stderr)
                self.assertEqual(r.stdout, "")

    def test_one_rule_one_message(self):
        """A matching ID is judged by liblpa's one rule, with one sentence, however it is given."""
        rule = "the matching ID may hold only the letters A-Z and a-z, the digits 0-9 and '-'"
        for args in (["download", "1$a.example.com$AB_C"],
                     ["download", "--smdp", "a.example.com", "--matching-id", "AB_C"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(rule, r.stderr)
        # lower case is a matching ID like any other: the next step is the bus
        r = run("download", "1$a.example.com$ab-c")
        self.assertEqual(r.returncode, 4, r.stderr)
        r = run("download", "")
        self.assertIn("--default-smdp", r.stderr)

    def test_activation_code_files(self):
        with tempfile.TemporaryDirectory() as d:
            def code_file(name, data):
                path = os.path.join(d, name)
                with open(path, "wb") as f:
                    f.write(data)
                return path

            # A NUL byte would cut the code and download what comes before it.
            r = run("download", "--activation-code-file", code_file("nul", b"1$a.example.com$AB\0CD\n"))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("NUL", r.stderr)
            r = run("download", "-C", code_file("ccnul", b"1234\x005678"), "1$a.example.com$AB")
            self.assertEqual(r.returncode, 2, r.stderr)
            # A byte order mark in front (as editors write it) is no part of the code: the next
            # step is the bus, and nothing said a download started.
            r = run("download", "--activation-code-file",
                    code_file("bom", "\ufeffLPA:1$a.example.com$AB-CD\n\n".encode()))
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertNotIn("Downloading", r.stdout + r.stderr)

    def test_usage_error_as_json(self):
        r = run("--json", "enable", "")
        self.assertEqual(r.returncode, 2)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["error"]["exit_status"], 2)
        self.assertIsNone(doc["error"]["name"])

    def test_secrets_never_echoed(self):
        # A confirmation code given with an invalid argument must not reappear in any message.
        r = run("download", "--confirmation-code", "S3CR3T-CC", "--imei", "1",
                "1$smdp.example.com$MATCHING-SECRET")
        self.assertEqual(r.returncode, 2)
        for secret in ["S3CR3T-CC", "MATCHING-SECRET"]:
            self.assertNotIn(secret, r.stderr + r.stdout)


class NoBus(unittest.TestCase):
    def test_no_system_bus(self):
        r = run("list")
        self.assertEqual(r.returncode, 4)
        self.assertIn("cannot connect to the system bus", r.stderr)

    def test_no_system_bus_json(self):
        r = run("--json", "status")
        self.assertEqual(r.returncode, 4)
        doc = json.loads(r.stdout)
        self.assertEqual(doc, {"error": {"name": None, "message": doc["error"]["message"],
                                         "exit_status": 4}})


@unittest.skipUnless(shutil.which("dbus-daemon"), "dbus-daemon is not installed")
class EsimdNotRunning(unittest.TestCase):
    """A bus on which nobody owns org.esim and it cannot be activated."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="esimctl-bus-")
        sock = os.path.join(cls.dir, "bus")
        conf = os.path.join(cls.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(sock=sock))
        cls.bus = subprocess.Popen(["dbus-daemon", "--nofork", "--config-file=" + conf])
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        cls.env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + sock}

    @classmethod
    def tearDownClass(cls):
        cls.bus.terminate()
        cls.bus.wait()
        shutil.rmtree(cls.dir)

    def test_reading_commands_exit_4(self):
        for args in [["status"], ["list"], ["eid"], ["jobs"], ["info"], ["notifications"]]:
            with self.subTest(args=args):
                r = run(*args, env=self.env)
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn("Hint: is esimd running?", r.stderr)

    def test_changing_commands_exit_4(self):
        for args in [["enable", "8944476500001224158"], ["download", "1$smdp.example.com$X"],
                     ["refresh"], ["job", "cancel", "3"]]:
            with self.subTest(args=args):
                r = run(*args, env=self.env)
                self.assertEqual(r.returncode, 4, r.stderr)

    def test_json_error_names_the_bus_error(self):
        r = run("--json", "list", env=self.env)
        self.assertEqual(r.returncode, 4)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["error"]["name"], "org.freedesktop.DBus.Error.ServiceUnknown")
        self.assertEqual(doc["error"]["exit_status"], 4)

    def monitor(self, *args, until):
        """Runs esimctl monitor while a stranger and the owner of org.esim send look-alike
        signals, until @until is in its output; returns (output, stderr, exit status)."""
        try:
            import dbus
            import dbus.lowlevel
        except ImportError:
            self.skipTest("python3-dbus is not installed")
        address = self.env["DBUS_SYSTEM_BUS_ADDRESS"]
        p = subprocess.Popen([ESIMCTL, *args, "monitor"], env=dict(os.environ, **self.env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stranger = dbus.bus.BusConnection(address)
        owner = dbus.bus.BusConnection(address)
        owner.request_name("org.esim")

        def send(conn, path, iface, member, signature, *values):
            m = dbus.lowlevel.SignalMessage(path, iface, member)
            m.append(*values, signature=signature)
            conn.send_message(m)
            conn.flush()

        out = ""
        try:
            os.set_blocking(p.stdout.fileno(), False)
            deadline = time.time() + 10
            # Signals sent before monitor subscribed are lost: repeat until one shows.
            while time.time() < deadline and until not in out:
                send(stranger, "/org/esim/euicc/0", "org.esim.Manager", "NotificationPending",
                     "usss", dbus.UInt32(99), "delete", "8944476500001224158", "smdp.example.com")
                send(owner, "/org/esim/euicc/0", "org.esim.Manager", "NotificationPending",
                     "usss", dbus.UInt32(7), "delete", "8944476500001224158", "smdp.example.com")
                send(owner, "/org/esim/euicc/0", "org.freedesktop.DBus.Properties",
                     "PropertiesChanged", "sa{sv}as", "org.esim.Manager",
                     {"State": "busy",
                      "Profiles": dbus.Array([dbus.ObjectPath("/org/esim/euicc/0/profile/1")],
                                             signature="o")},
                     dbus.Array([], signature="s"))
                time.sleep(0.2)
                try:
                    out += os.read(p.stdout.fileno(), 65536).decode()
                except BlockingIOError:
                    pass
        finally:
            os.set_blocking(p.stdout.fileno(), True)
            p.send_signal(signal.SIGINT)
            rest, err = p.communicate(timeout=10)
            owner.close()
            stranger.close()
        return out + rest, err, p.returncode

    def test_monitor_json_prints_only_what_the_owner_of_org_esim_sends(self):
        out, err, status = self.monitor("--json", until='"changed"')
        self.assertEqual(status, 0, err)
        docs = [json.loads(line) for line in out.splitlines() if line]
        pending = [d for d in docs if d["signal"] == "NotificationPending"]
        self.assertTrue(pending, err)
        self.assertEqual(pending[0]["path"], "/org/esim/euicc/0")
        self.assertEqual(pending[0]["interface"], "org.esim.Manager")
        self.assertEqual(pending[0]["args"], {"seq": 7, "operation": "delete",
                                              "iccid": "8944476500001224158",
                                              "address": "smdp.example.com"})
        self.assertRegex(pending[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        # The stranger's look-alike signals are filtered out by sender.
        self.assertFalse([d for d in pending if d["args"]["seq"] == 99])
        changed = [d for d in docs if d["signal"] == "PropertiesChanged"][0]
        self.assertEqual(changed["args"], {"interface": "org.esim.Manager",
                                           "changed": {"state": "busy",
                                                       "profiles": ["/org/esim/euicc/0/profile/1"]},
                                           "invalidated": []})

    def test_monitor_text(self):
        out, err, status = self.monitor(until="PropertiesChanged")
        self.assertEqual(status, 0, err)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertTrue(any(re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  /org/esim/euicc/0  "
                                      r"NotificationPending  seq=7 operation=delete "
                                      r"iccid=8944476500001224158 address=smdp\.example\.com$", l)
                            for l in lines), out)
        self.assertTrue(any(l.endswith("PropertiesChanged  Manager State=busy "
                                       "Profiles=/org/esim/euicc/0/profile/1") for l in lines), out)
        self.assertNotIn("seq=99", out)

    def test_monitor_runs_until_interrupted(self):
        e = dict(os.environ, **self.env)
        p = subprocess.Popen([ESIMCTL, "--json", "monitor"], env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "monitor ended by itself")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "")


@unittest.skipUnless(shutil.which("dbus-daemon"), "dbus-daemon is not installed")
class BrokenEsimd(unittest.TestCase):
    """Whoever owns org.esim (another version of esimd, a broken one) may answer with types the
    API does not give: esimctl says so and fails, it never aborts (G_DEBUG=fatal-criticals makes
    a GLib critical an abort here) nor acts on what it could not read."""

    EUICC = "/org/esim/euicc/0"

    @classmethod
    def setUpClass(cls):
        try:
            import gi
            gi.require_version("Gio", "2.0")
            from gi.repository import Gio, GLib
        except (ImportError, ValueError):
            raise unittest.SkipTest("python3-gi is not installed")
        cls.dir = tempfile.mkdtemp(prefix="esimctl-bus-")
        sock = os.path.join(cls.dir, "bus")
        conf = os.path.join(cls.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(sock=sock))
        cls.bus = subprocess.Popen(["dbus-daemon", "--nofork", "--config-file=" + conf])
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        address = "unix:path=" + sock
        cls.env = {"DBUS_SYSTEM_BUS_ADDRESS": address}
        cls.answers = {}  # member -> (signature, values): what the owner answers
        E = cls.EUICC
        V = GLib.Variant
        objects = {
            E: {"org.esim.Manager": {"Eid": V("s", "89049032123451234512345678901235"),
                                     "State": V("s", "idle"), "Profiles": V("ao", [E + "/profile/1"])}},
            E + "/profile/1": {"org.esim.Profile": {"Iccid": V("s", "8944476500001224158")}},
            "/org/esim/job/3": {"org.esim.Job": {"Kind": V("s", "download"), "State": V("s", "running"),
                                                 "Euicc": V("o", E)}},
        }

        cls.objects = objects

        def answer(conn, msg, incoming):
            # GDBus runs filters in its worker thread: the answer goes out from there.
            if not incoming or msg.get_message_type() != Gio.DBusMessageType.METHOD_CALL \
                    or msg.get_destination() != "org.esim":
                return msg
            reply = msg.new_method_reply()
            member = msg.get_member()
            if member in cls.answers:
                signature, values = cls.answers[member]
                if signature:
                    reply.set_body(V(signature, values))
            elif member == "GetManagedObjects":
                reply.set_body(V("(a{oa{sa{sv}}})", (cls.objects,)))
            elif member == "GetAll":
                props = cls.objects.get(msg.get_path(), {}).get(msg.get_body().unpack()[0], {})
                reply.set_body(V("(a{sv})", (props,)))
            else:
                reply.set_body(V("(s)", ("unexpected",)))
            conn.send_message(reply, Gio.DBusSendMessageFlags.NONE)
            return None

        cls.owner = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        cls.owner.add_filter(answer)
        cls.owner.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            "RequestName", V("(su)", ("org.esim", 0)), None, 0, -1, None)

    @classmethod
    def tearDownClass(cls):
        cls.owner.close_sync(None)
        cls.bus.terminate()
        cls.bus.wait()
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.answers.clear()

    def test_a_reply_of_the_wrong_type(self):
        """Every method esimd answers (here all with one string) is read as the API types it."""
        for args, member in [(["list"], "ListProfiles"), (["info"], "GetInfo"),
                             (["notifications"], "ListNotifications"),
                             (["notifications", "send"], "SendNotifications"),
                             (["download", "1$smdp.example.com$X"], "Download"),
                             (["discover"], "Discover"), (["enable", "1"], "ListProfiles"),
                             (["enable", "8944476500001224158"], "EnableProfile"),
                             (["refresh"], "Refresh"), (["job", "cancel", "3"], "Cancel")]:
            for json_flag in ([], ["--json"]):
                with self.subTest(args=json_flag + args):
                    r = run(*json_flag, *args, env=self.env)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    self.assertIn("unexpected answer from esimd to " + member,
                                  r.stdout if json_flag else r.stderr)

    def download_while(self, sender):
        """esimctl download (--timeout 3) while @sender sends, to every other connection on the
        bus, the signals that would end the job: returns esimctl's outcome."""
        from gi.repository import Gio, GLib

        self.answers["Download"] = ("(o)", ("/org/esim/job/3",))
        p = subprocess.Popen([ESIMCTL, "--timeout", "3", "download", "1$smdp.example.com$X"],
                             env=dict(os.environ, **self.env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        me = sender.get_unique_name()
        signals = [
            ("/org/esim/job/3", "org.freedesktop.DBus.Properties", "PropertiesChanged",
             GLib.Variant("(sa{sv}as)", ("org.esim.Job", {"State": GLib.Variant("s", "succeeded")}, []))),
            ("/org/esim/job/3", "org.esim.Job", "Finished", GLib.Variant("(s)", ("succeeded",))),
        ]
        # Until esimctl ends, on its own or at its timeout.
        while p.poll() is None:
            names = sender.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "ListNames", None, None, 0, -1,
                                     None).unpack()[0]
            for name in names:
                if name.startswith(":") and name != me:
                    for path, iface, member, body in signals:
                        m = Gio.DBusMessage.new_signal(path, iface, member)
                        m.set_destination(name)
                        m.set_body(body)
                        sender.send_message(m, Gio.DBusSendMessageFlags.NONE)
            sender.flush_sync(None)
            time.sleep(0.1)
        out, err = p.communicate()
        return p.returncode, out, err

    def test_only_the_owner_of_org_esim_ends_a_job(self):
        """A signal addressed to esimctl itself reaches it whatever the match's sender= says:
        one from anyone else on the bus must not end the job esimctl waits for."""
        from gi.repository import Gio

        stranger = Gio.DBusConnection.new_for_address_sync(
            self.env["DBUS_SYSTEM_BUS_ADDRESS"], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(stranger.close_sync, None)
        status, out, err = self.download_while(stranger)
        self.assertEqual(status, 4, out + err)
        self.assertIn("no result within 3 s", err)
        self.assertNotIn("Done", out)
        # The same signals from the owner do end it.
        status, out, err = self.download_while(self.owner)
        self.assertNotIn("no result within", err)
        self.assertIn("Done", out)

    def test_control_characters_are_shown_not_obeyed(self):
        """Text esimd passes on (a modem's name, the card's addresses) never writes a control
        character to the terminal: an escape sequence would rewrite what the user sees."""
        from gi.repository import GLib

        manager = self.objects[self.EUICC]["org.esim.Manager"]
        self.addCleanup(manager.update, dict(manager))
        manager.update({"Name": GLib.Variant("s", "modem\x1b]0;title\x07"),
                        "Eid": GLib.Variant("s", "8904\x1b[2J"),
                        "DefaultSmdpAddress": GLib.Variant("s", "smdp\x1b[31m.example.com"),
                        "RootSmdsAddress": GLib.Variant("s", "smds\r.example.com")})
        for args in [["status"], ["eid"], ["default-smdp"], ["info"]]:
            with self.subTest(args=args):
                r = run(*args, env=self.env)
                self.assertNotRegex(r.stdout + r.stderr, "[\x00-\x08\x0b-\x1f\x7f]", r)
        self.assertIn("\ufffd", run("eid", env=self.env).stdout)

    def test_entries_without_their_keys(self):
        """Lists whose entries lack every key are shown with what there is; a profile chosen by
        number that has no ICCID is not acted on."""
        self.answers.update({"ListProfiles": ("(aa{sv})", ([{}],)), "GetInfo": ("(a{sv})", ({},)),
                             "ListNotifications": ("(aa{sv})", ([{}],)),
                             "Discover": ("(aa{sv})", ([{}],)), "EnableProfile": ("", ())})
        for args in [["list", "--all"], ["info"], ["notifications"], ["discover"]]:
            for json_flag in ([], ["--json"]):
                with self.subTest(args=json_flag + args):
                    r = run(*json_flag, *args, env=self.env)
                    self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("enable", "1", env=self.env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('profile "1" has no valid ICCID', r.stderr)



if __name__ == "__main__":
    if not ESIMCTL:
        print("ESIMCTL is not set", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
