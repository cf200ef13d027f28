#!/usr/bin/python3
"""Who may do what, with the real polkitd: reads are open to every local user; every method that
changes the eUICC or talks to a server needs polkit's yes; only root may own org.esim.

Runs as root inside a private mount namespace (unshare -m), where polkit's action and rule
directories are bind-mounted over with copies that add org.esim.policy and a test rule
("nobody" may do every org.esim action; "daemon" gets the defaults: admin authentication, which
nobody can give here; "bin" stands for the user of an active local session: it gets, without
authentication, exactly the actions the policy file allows an active session, read from it). The real /usr/lib/polkit-1/polkitd serves the private bus as user
polkitd; callers run as those two users through setpriv. Nothing outside the namespace changes.
"""

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
MAX_QUEUED = 6
POLKITD = "/usr/lib/polkit-1/polkitd"
POLKIT_BUS_POLICY = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"
RULE = """polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.esim.") == 0 && subject.user == "nobody")
        return polkit.Result.YES;
    if (subject.user == "bin" && %s.indexOf(action.id) >= 0)
        return polkit.Result.YES;
});
"""


def active_session_actions(policy):
    """The actions an active local session's user gets without authenticating (allow_active
    yes): what polkit gives a console user. Callers here run without a session, so the test
    rule gives them to "bin" by name."""
    return sorted(a.get("id") for a in ET.parse(policy).getroot().findall("action")
                  if a.findtext("defaults/allow_active") == "yes")


class Authorization(unittest.TestCase):
    holds = 0

    @classmethod
    def setUpClass(cls):
        from esimtest.world import World, activation_code

        cls.pk = tempfile.mkdtemp(prefix="esimd-polkit-")
        actions = os.path.join(cls.pk, "actions")
        rules = os.path.join(cls.pk, "rules.d")
        os.makedirs(actions)
        os.makedirs(rules)
        for f in glob.glob("/usr/share/polkit-1/actions/*"):
            shutil.copy(f, actions)
        policy = os.path.join(os.environ["ESIMD_SOURCE_ROOT"], "dbus", "org.esim.policy")
        shutil.copy(policy, actions)
        with open(os.path.join(rules, "10-esimd-test.rules"), "w") as f:
            f.write(RULE % json.dumps(active_session_actions(policy)))
        os.chmod(cls.pk, 0o755)
        os.chmod(actions, 0o755)
        os.chmod(rules, 0o755)
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        subprocess.run(["mount", "--bind", actions, "/usr/share/polkit-1/actions"], check=True)
        subprocess.run(["mount", "--bind", rules, "/etc/polkit-1/rules.d"], check=True)

        # A small queue, so that one user's share of it (half) is quickly taken.
        cls.w = World(bus_policies=(POLKIT_BUS_POLICY,), config={"Daemon": {"MaxQueuedJobs": str(MAX_QUEUED)}})
        # other users reach the bus socket (and nothing else) through the world's directory
        os.chmod(cls.w.tmpdir, 0o711)
        cls.w.download(activation_code("DEMO-ONE"))
        cls.w.wait_idle()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=cls.w.bus.address)
        cls.polkitd_log = open(os.path.join(cls.w.tmpdir, "polkitd.log"), "ab")
        # polkitd starts as root and switches to its own user itself
        cls.polkitd = subprocess.Popen([POLKITD, "--no-debug"], env=env,
                                       stdout=cls.polkitd_log, stderr=cls.polkitd_log)
        try:
            cls.w.client.wait_for(lambda: cls.w.client.name_has_owner("org.freedesktop.PolicyKit1"), 30, "polkitd")
        except TimeoutError:
            with open(cls.polkitd_log.name, errors="replace") as f:
                raise RuntimeError("polkitd did not come up:\n" + f.read()) from None

    @classmethod
    def tearDownClass(cls):
        cls.polkitd.terminate()
        cls.polkitd.wait(10)
        cls.polkitd_log.close()
        cls.w.stop()
        shutil.rmtree(cls.pk, ignore_errors=True)

    def call_as(self, user, path, iface, method, signature="", args=(), count=None, expect=None):
        """One call as `user`; with `count`, that many at once, returning once `expect` replied
        (bus_as_user.py)."""
        pw = pwd.getpwnam(user)
        # The script comes on stdin: the source tree may sit where the other user cannot read
        # (a clone inside a mode-0700 temporary directory, as CI makes).
        with open(os.path.join(HERE, "bus_as_user.py")) as f:
            script = f.read()
        out = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                              "/usr/bin/python3", "-", self.w.bus.address,
                              path, iface, method, signature, json.dumps(list(args)),
                              *([str(count), str(expect)] if count else [])],
                             input=script, capture_output=True, text=True, timeout=90, cwd="/",
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=""))
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def manager_as(self, user, method, signature="", args=(), **kw):
        return self.call_as(user, "/org/esim/euicc/0", "org.esim.Manager", method, signature, args, **kw)

    def hold_queue(self):
        """A download that waits for confirmation holds the eUICC's queue: what comes after it
        waits. Returns its Job path (cancel it to let the queue go)."""
        from gi.repository import GLib
        from esimtest.world import activation_code

        type(self).holds += 1
        mid = "HOLD-%d" % self.holds
        self.w.smdp.control.add_order({"matchingId": mid, "iccid": "894944999999999%04d" % self.holds,
                                       "profile": {"generate": {"size": 4096}},
                                       "metadata": {"serviceProviderName": "Hold", "profileName": mid}})
        self.w.wait_idle()
        job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid), "",
                                                                   {"confirm": GLib.Variant("b", True)})))[0]
        self.w.client.wait_for(lambda: self.w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation",
                               60, "the preview")
        return job

    def queued_jobs(self, kind):
        objects = self.w.client.call("/org/esim", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")[0]
        return [path for path, ifaces in objects.items()
                if ifaces.get("org.esim.Job", {}).get("Kind") == kind
                and ifaces["org.esim.Job"].get("State") == "queued"]

    def test_reads_are_open(self):
        for user in ("daemon", "nobody"):
            r = self.manager_as(user, "ListProfiles", "(b)", [True])
            self.assertIn("result", r, r)
            self.assertEqual(r["result"][0][0]["iccid"], "8949449999999990011")
            r = self.call_as(user, "/org/esim/euicc/0", "org.freedesktop.DBus.Properties", "Get", "(ss)",
                             ["org.esim.Manager", "Eid"])
            self.assertIn("result", r, r)

    def test_changes_need_polkit(self):
        iccid = "8949449999999990011"
        denied = [
            ("EnableProfile", "(sa{sv})", [iccid, {}]),
            ("DeleteProfile", "(sa{sv})", [iccid, {}]),
            ("SetNickname", "(ss)", [iccid, "x"]),
            ("Download", "(ssa{sv})", ["LPA:1$testsmdpplus1.example.com$DEMO-TWO", "", {}]),
            ("SendNotifications", "(a{sv})", [{}]),
            ("ResetMemory", "(u)", [1]),
            ("SetDefaultSmdpAddress", "(s)", ["x.example.com"]),
            ("Discover", "(a{sv})", [{}]),
            ("Refresh", "", []),
        ]
        for method, sig, args in denied:
            r = self.manager_as("daemon", method, sig, args)
            self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", (method, r))
        # the rest of the Manager's changes, and the Profile object's own methods
        for method, sig, args in [("DisableProfile", "(sa{sv})", [iccid, {}]),
                                  ("RemoveNotification", "(u)", [1]), ("SwitchSlot", "(u)", [2])]:
            r = self.manager_as("daemon", method, sig, args)
            self.assertIn(r.get("error"), ("org.esim.Error.NotAuthorized", "org.esim.Error.NotificationNotFound"),
                          (method, r))
        profile = "/org/esim/euicc/0/profile/" + iccid
        for method, sig, args in [("Enable", "(a{sv})", [{}]), ("Disable", "(a{sv})", [{}]),
                                  ("Delete", "(a{sv})", [{}]), ("SetNickname", "(s)", ["x"])]:
            r = self.call_as("daemon", profile, "org.esim.Profile", method, sig, args)
            self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", (method, r))
        self.assertEqual(self.w.sim.ctl().state()["profiles"][0]["state"], "disabled")
        # the user the rule allows
        r = self.manager_as("nobody", "EnableProfile", "(sa{sv})", [iccid, {}])
        self.assertIn("result", r, r)
        self.assertEqual(self.w.sim.ctl().state()["profiles"][0]["state"], "enabled")
        r = self.manager_as("nobody", "DisableProfile", "(sa{sv})", [iccid, {}])
        self.assertIn("result", r, r)

    def test_console_user_may_send_but_not_discard_notifications(self):
        """A console user (an active session: org.esim.notifications needs no authentication)
        may send pending notifications, but not discard one undelivered: RemoveNotification hid
        another user's enable, disable or delete from its operator for good. Discarding needs
        org.esim.discard-notifications, which asks for an administrator."""
        from gi.repository import GLib

        iccid = "8949449999999990011"
        self.assertIn("org.esim.notifications", active_session_actions(
            os.path.join(os.environ["ESIMD_SOURCE_ROOT"], "dbus", "org.esim.policy")))
        smdp = self.w.smdp.control
        # the server fails every delivery: the enable and disable stay pending
        smdp.add_fault(function="handleNotification", action="http", status=503, times=1000)
        try:
            self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
            self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
            self.w.wait_idle()
            pending = self.w.notifications()
            self.assertTrue(pending, pending)
            for n in pending:
                r = self.manager_as("bin", "RemoveNotification", "(u)", [n["seq"]])
                self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", r)
            self.assertEqual([n["seq"] for n in self.w.notifications()], [n["seq"] for n in pending])
            self.assertEqual(len(self.w.sim.ctl().state()["notifications"]), len(pending))
        finally:
            smdp.clear_faults()
        # sending stays open to the console user: every one reaches its server
        before = smdp.calls().get("smdp:handleNotification", 0)
        r = self.manager_as("bin", "SendNotifications", "(a{sv})", [{}])
        self.assertIn("result", r, r)
        self.assertEqual(smdp.calls().get("smdp:handleNotification", 0) - before, len(pending))
        self.assertEqual(self.w.sim.ctl().state()["notifications"], [])
        self.w.wait_idle()

    def test_esimd_own_jobs_need_polkit_to_cancel(self):
        """esimd's own work is a Job without a caller (issue 11, item 7): cancelling it needs the
        action of its kind (send-notifications: org.esim.notifications), like any change."""
        from gi.repository import GLib
        from esimtest.world import activation_code

        smdp = self.w.smdp.control
        smdp.add_order({"matchingId": "OWN-JOB", "iccid": "8949449999999990086", "profile": {"generate": {"size": 4096}},
                        "metadata": {"serviceProviderName": "Own", "profileName": "Own job"}})
        # the server holds every notification: esimd's delivery of the install result runs on
        smdp.add_fault(function="handleNotification", action="delay", ms=120000, times=10)
        try:
            download, _ = self.w.download(activation_code("OWN-JOB"))
            # the download holds the queue for its read-back after its answer: wait for the delivery
            job = self.w.wait_current_job("send-notifications", exclude=(download,))
            self.assertEqual(self.w.client.get(job, "org.esim.Job", "Caller"), "")
            r = self.call_as("daemon", job, "org.esim.Job", "Cancel")
            self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", r)
            self.assertEqual(self.w.client.get(job, "org.esim.Job", "State"), "running")
            r = self.call_as("nobody", job, "org.esim.Job", "Cancel")
            self.assertIn("result", r, r)
            self.w.client.wait_for(lambda: self.w.client.signals_named("Finished", job), 30, "the cancel")
        finally:
            smdp.clear_faults()
            # the delivery is postponed by the cancel; send it now so later tests start clean
            self.w.wait_idle()
            self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))
            self.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", ("8949449999999990086", {})))
            self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))

    def test_another_users_job_needs_polkit(self):
        """Root's download waiting for its confirmation: another user may neither confirm it,
        nor give it a confirmation code, nor cancel it, without polkit's word (org.esim.download)."""
        job = self.hold_queue()
        try:
            for method, sig, args in [("Confirm", "", []), ("SupplyConfirmationCode", "(s)", ["12345678"]),
                                      ("Cancel", "", [])]:
                r = self.call_as("daemon", job, "org.esim.Job", method, sig, args)
                self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", (method, r))
            self.assertEqual(self.w.client.get(job, "org.esim.Job", "State"), "awaiting-confirmation")
            # the user the rule allows may cancel it
            r = self.call_as("nobody", job, "org.esim.Job", "Cancel")
            self.assertIn("result", r, r)
        finally:
            if self.w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation":
                self.w.client.call(job, "org.esim.Job", "Cancel")
        self.w.client.wait_for(lambda: self.w.client.signals_named("Finished", job), 60, "the cancel")
        self.w.wait_idle()

    def test_one_user_gets_a_share_of_the_queue(self):
        """One user (here one the polkit rule allows everything) may fill only half of the
        queue: root's work still finds room (issue 11: one client jammed every queue)."""
        share = (MAX_QUEUED + 1) // 2
        hold = self.hold_queue()
        try:
            sent = MAX_QUEUED + 1
            r = self.manager_as("nobody", "SendNotifications", "(a{sv})", [{}], count=sent, expect=sent - share)
            refused = [x for x in r["results"] if "error" in x]
            self.assertEqual(len(refused), sent - share, r)
            for x in refused:
                self.assertEqual(x["error"], "org.esim.Error.Busy", x)
                self.assertIn("share", x["message"])
            self.w.client.wait_for(lambda: len(self.queued_jobs("send-notifications")) == share, 30,
                                   "the user's share queued")
            # root's work is queued all the same
            out = self.w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "Refresh")
            self.w.client.wait_for(lambda: self.queued_jobs("refresh") or out, 30, "root's job queued")
            self.assertEqual(out, {})
        finally:
            self.w.client.call(hold, "org.esim.Job", "Cancel")
        self.w.client.wait_for(lambda: out, 60, "root's job done")
        self.assertIn("result", out, out)
        self.w.wait_idle()

    def test_refresh_joins_a_waiting_refresh(self):
        from gi.repository import GLib

        hold = self.hold_queue()
        try:
            outs = [self.w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "Refresh") for _ in range(5)]
            # A job queued after the five calls: once it is there, all five have been handled.
            marker = self.w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "SendNotifications",
                                              GLib.Variant("(a{sv})", ({},)))
            self.w.client.wait_for(lambda: self.queued_jobs("send-notifications"), 30, "the marker job queued")
            self.assertEqual(len(self.queued_jobs("refresh")), 1)
        finally:
            self.w.client.call(hold, "org.esim.Job", "Cancel")
        self.w.client.wait_for(lambda: all(outs) and marker, 60, "every Refresh answered")
        for out in outs:
            self.assertIn("result", out, out)
        self.w.wait_idle()

    def test_only_root_owns_the_name(self):
        r = self.call_as("nobody", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "(su)",
                         ["org.esim", 0])
        self.assertEqual(r.get("error"), "org.freedesktop.DBus.Error.AccessDenied", r)

    def test_without_polkit_only_root(self):
        self.polkitd.terminate()
        self.polkitd.wait(10)
        try:
            self.w.client.wait_for(lambda: not self.w.client.name_has_owner("org.freedesktop.PolicyKit1"), 10)
            r = self.manager_as("nobody", "EnableProfile", "(sa{sv})", ["8949449999999990011", {}])
            self.assertEqual(r.get("error"), "org.esim.Error.NotAuthorized", r)
            self.assertIn("polkit", r["message"])
        finally:
            env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.w.bus.address)
            type(self).polkitd = subprocess.Popen([POLKITD, "--no-debug"], env=env,
                                                  stdout=self.polkitd_log, stderr=self.polkitd_log)
            self.w.client.wait_for(lambda: self.w.client.name_has_owner("org.freedesktop.PolicyKit1"), 30)


def main():
    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        unittest.main(verbosity=2)
        return
    if os.geteuid() != 0:
        print("needs root (a mount namespace and other users): skipping")
        sys.exit(SKIP)
    for need in (POLKITD, POLKIT_BUS_POLICY, shutil.which("setpriv"), shutil.which("unshare")):
        if not need or not os.path.exists(need):
            print(f"missing {need}: skipping")
            sys.exit(SKIP)
    for user in ("polkitd", "nobody", "daemon"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            print(f"no user {user}: skipping")
            sys.exit(SKIP)
    cmd = ["unshare", "-m", "/usr/bin/python3", os.path.abspath(__file__), "--inside", *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, timeout=600).returncode)


if __name__ == "__main__":
    main()
