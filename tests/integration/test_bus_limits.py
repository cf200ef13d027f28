#!/usr/bin/python3
"""What the system bus allows esimd's one connection is shared by all its callers: no caller, and
no number of calls, may use it up for the others.

A connection may wait for at most 128 answers at once (dbus-daemon's
max_replies_per_connection); esimd asks polkit about each call, and once 128 of its questions
waited, every further question failed at once: every other non-root user was refused
("polkit failed: The maximum number of pending replies per connection has been reached") for as
long as an unprivileged user's flood lasted. Here polkit is a stand-in on the World's bus that
holds every question about org.esim.refresh (as a polkitd busy with a flood, or one waiting on
an authentication agent that never answers) and allows everything else. The flooding user is
"daemon", run through setpriv; the other non-root user is "nobody". Runs as root.

A connection may also hold at most 512 match rules (max_match_rules_per_connection, lowered
here); sd-bus closes a connection whose match the bus refuses, and esimd then exits."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import threading
import unittest

SKIP = 77
FLOOD = 200  # Refresh calls, on two connections (each may wait for 128 answers)

POLICY = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>
</busconfig>
"""

# Run as the flooding user: FLOOD Refresh calls on two connections, then one line on stdout per
# answer, until killed.
FLOODER = """
import sys
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
address, count = sys.argv[1], int(sys.argv[2])
conns = [Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None) for _ in range(2)]
def done(c, res, i):
    try:
        c.call_finish(res)
        print("ok", flush=True)
    except GLib.Error as e:
        print(Gio.DBusError.get_remote_error(e) or "?", flush=True)
for i in range(count):
    conns[i % 2].call("org.esim", "/org/esim/euicc/0", "org.esim.Manager", "Refresh", None, None,
                      Gio.DBusCallFlags.NONE, 600000, None, done, i)
print("sent", flush=True)
GLib.MainLoop().run()
"""


class FakePolkit:
    """org.freedesktop.PolicyKit1 on @address: holds CheckAuthorization for org.esim.refresh
    until release(), allows every other action. CancelCheckAuthorization(id) is recorded in
    cancelled and ends the held question of that cancellation_id with polkit's Cancelled error,
    as polkitd does. GDBus runs the filter in its own thread."""

    def __init__(self, address):
        from gi.repository import Gio, GLib

        self.Gio, self.GLib = Gio, GLib
        self.lock = threading.Lock()
        self.held = []
        self.cancelled = []
        self.allowed = 0  # questions answered with yes at once
        self.hold = {"org.esim.refresh"}  # the actions whose questions wait
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.conn.add_filter(self._filter)
        self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            "RequestName", GLib.Variant("(su)", ("org.freedesktop.PolicyKit1", 0)),
                            None, 0, -1, None)

    def _answer(self, msg, authorized):
        reply = msg.new_method_reply()
        reply.set_body(self.GLib.Variant("((bba{ss}))", ((authorized, False, {}),)))
        self.conn.send_message(reply, self.Gio.DBusSendMessageFlags.NONE)

    def _filter(self, conn, msg, incoming):
        if not incoming or msg.get_message_type() != self.Gio.DBusMessageType.METHOD_CALL:
            return msg
        if msg.get_member() == "CancelCheckAuthorization":
            cancel_id = msg.get_body().unpack()[0]
            with self.lock:
                self.cancelled.append(cancel_id)
                ended = [m for m in self.held if self.cancellation_id(m) == cancel_id]
                self.held = [m for m in self.held if m not in ended]
            for m in ended:
                self.conn.send_message(m.new_method_error_literal(
                    "org.freedesktop.PolicyKit1.Error.Cancelled", "cancelled"), self.Gio.DBusSendMessageFlags.NONE)
            if not msg.get_flags() & self.Gio.DBusMessageFlags.NO_REPLY_EXPECTED:
                self.conn.send_message(msg.new_method_reply(), self.Gio.DBusSendMessageFlags.NONE)
            return None
        if msg.get_member() != "CheckAuthorization":
            return msg
        if msg.get_body().unpack()[1] in self.hold:
            with self.lock:
                self.held.append(msg)
        else:
            with self.lock:
                self.allowed += 1
            self._answer(msg, True)
        return None

    @staticmethod
    def cancellation_id(msg):
        return msg.get_body().unpack()[4]

    def held_ids(self):
        with self.lock:
            return [self.cancellation_id(m) for m in self.held]

    def n_held(self):
        with self.lock:
            return len(self.held)

    def release(self):
        with self.lock:
            held, self.held = self.held, []
        for msg in held:
            self._answer(msg, False)

    def close(self):
        self.release()
        self.conn.close_sync(None)


LIMIT_MATCHES = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <limit name="max_match_rules_per_connection">40</limit>
</busconfig>
"""


def hold_the_queue(w) -> str:
    """A download of the SM-DP+ double's HOLD order that waits for its confirmation, holding the
    eUICC's queue until it is cancelled: the Job's path, once its preview is there."""
    from gi.repository import GLib
    from esimtest.world import JOB_IFACE, activation_code

    w.smdp.control.add_order({"matchingId": "HOLD", "iccid": "8949449999999990300",
                              "profile": {"generate": {"size": 4096}},
                              "metadata": {"serviceProviderName": "Hold", "profileName": "Hold"}})
    hold = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("HOLD"), "",
                                                            {"confirm": GLib.Variant("b", True)})))[0]
    w.client.wait_for(lambda: w.client.get(hold, JOB_IFACE, "State") == "awaiting-confirmation", 60,
                      "the preview")
    return hold


class MatchRules(unittest.TestCase):
    def test_downloads_in_a_row_leave_no_match_rule_behind(self):
        """A download's caller is watched (a match rule) while the job runs; its Job object
        lingers after. 45 failed downloads in a row, their Jobs all lingering, with room for 40
        match rules: esimd keeps its bus."""
        from esimtest.world import World, activation_code

        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "esimd-bus-limit-%d" % os.getpid())
        os.makedirs(tmp, exist_ok=True)
        self.addCleanup(shutil.rmtree, tmp, True)
        limit = os.path.join(tmp, "limit.conf")
        with open(limit, "w") as f:
            f.write(LIMIT_MATCHES)
        with World(bus_policies=(limit,), config={"Daemon": {"JobLinger": "3600"}}) as w:
            for i in range(45):
                job, props = w.download(activation_code("NO-SUCH-ORDER-%d" % i))
                self.assertEqual(props["Error"], "org.esim.Error.MatchingIdRefused", (i, props))
            self.assertEqual(w.manager_prop("State"), "ready")


STATS = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
</busconfig>
"""


class MatchRulesCounted(unittest.TestCase):
    def test_queued_downloads_add_no_match_rule(self):
        """Each download waiting in a queue had its own match rule (sd_bus_track, one per job):
        with 32 eUICCs and their queues, or one caller's queued downloads, esimd's rules passed
        the 512 the system bus allows a connection, and sd-bus closes a connection whose
        AddMatch is refused. One rule now watches every caller: the count, from dbus-daemon's
        own statistics (org.freedesktop.DBus.Debug.Stats.GetConnectionStats "MatchRules"), does
        not grow with the jobs or their callers."""
        from gi.repository import Gio, GLib
        from esimtest.world import JOB_IFACE, World, activation_code

        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "esimd-bus-stats-%d" % os.getpid())
        os.makedirs(tmp, exist_ok=True)
        self.addCleanup(shutil.rmtree, tmp, True)
        stats = os.path.join(tmp, "stats.conf")
        with open(stats, "w") as f:
            f.write(STATS)
        with World(bus_policies=(stats,), config={"Daemon": {"MaxQueuedJobs": "200"}}) as w:
            def match_rules():
                owner = w.client.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                      GLib.Variant("(s)", ("org.esim",)), dest="org.freedesktop.DBus")[0]
                return w.client.call("/org/freedesktop/DBus", "org.freedesktop.DBus.Debug.Stats",
                                     "GetConnectionStats", GLib.Variant("(s)", (owner,)),
                                     dest="org.freedesktop.DBus")[0]["MatchRules"]

            w.wait_idle()
            hold = hold_the_queue(w)
            before = match_rules()
            # queued downloads from this connection and from 20 others
            callers = [Gio.DBusConnection.new_for_address_sync(
                w.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None) for _ in range(20)]
            jobs = []
            for i in range(60):
                args = GLib.Variant("(ssa{sv})", (activation_code("NO-SUCH-%d" % i), "", {}))
                if i < 40:
                    jobs.append(w.manager("Download", args)[0])
                else:
                    jobs.append(callers[i - 40].call_sync("org.esim", "/org/esim/euicc/0", "org.esim.Manager",
                                                          "Download", args, None, 0, 30000, None)[0])
            self.assertEqual(sorted(set(w.client.get(j, JOB_IFACE, "State") for j in jobs)), ["queued"])
            self.assertEqual(match_rules(), before)
            # a caller that leaves still has its queued download cancelled
            callers[0].close_sync(None)
            w.client.wait_for(lambda: w.client.get(jobs[40], JOB_IFACE, "State") == "cancelled", 30,
                              "the download of the caller that left cancelled")
            self.assertEqual(w.client.get(jobs[41], JOB_IFACE, "State"), "queued")
            for c in callers[1:]:
                c.close_sync(None)
            for j in jobs[:40] + [hold]:
                w.client.call(j, JOB_IFACE, "Cancel")
            w.wait_idle()
            self.assertEqual(match_rules(), before)


class LingeringJobs(unittest.TestCase):
    def test_finished_jobs_linger_in_a_bounded_number(self):
        """A finished Job stays on the bus for JobLinger so that a client can read its outcome;
        a caller's jobs in a row must not make that any number of objects (and their memory).
        At most MaxQueuedJobs of an eUICC's finished jobs linger: the one that finished first
        leaves early, its Finished already sent."""
        from esimtest.world import World

        runs = 10
        cfg = {"Daemon": {"JobLinger": "3600", "MaxQueuedJobs": "4"}, "Notifications": {"AutoSend": "false"}}
        with World(config=cfg) as w:
            w.wait_idle()
            finished = lambda: [s[0] for s in w.client.signals_named("Finished")]
            before = len(finished())
            for _ in range(runs):
                w.manager("Refresh")
            w.client.wait_for(lambda: len(finished()) == before + runs, 60, "every Refresh's Finished")
            lingering = sorted(p for p in w.client.managed_objects() if p.startswith("/org/esim/job/"))
            self.assertEqual(lingering, sorted(finished()[-4:]))
            # the newest's outcome is still there to read
            self.assertEqual(w.client.get(finished()[-1], "org.esim.Job", "State"), "succeeded")


# Run as another user: connects, says "ready", and on a line on stdin sends COUNT calls of METHOD
# to the first eUICC at once; then one line per answer, as JSON: [index, error name or null,
# message or the answer's notification operations].
CALLER = """
import json, sys
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
address, method, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
args = GLib.Variant("(a{sv})", ({},)) if method == "ListNotifications" else None
def done(c, res, i):
    try:
        r = c.call_finish(res).unpack()
        print(json.dumps([i, None, [n["operation"] for n in r[0]] if r else None]), flush=True)
    except GLib.Error as e:
        print(json.dumps([i, Gio.DBusError.get_remote_error(e), e.message]), flush=True)
def go(source, condition):
    sys.stdin.readline()
    for i in range(count):
        c.call("org.esim", "/org/esim/euicc/0", "org.esim.Manager", method, args, None,
               Gio.DBusCallFlags.NONE, 600000, None, done, i)
    return False
print("ready", flush=True)
GLib.io_add_watch(sys.stdin, GLib.IO_IN, go)
GLib.MainLoop().run()
"""


class UserCalls:
    """COUNT calls of METHOD as USER (a name, or a (uid, gid) pair), sent on go(); answers holds
    their outcomes as they come, by index: (error name or None, message or the listed
    operations)."""

    def __init__(self, test, w, user, method, count):
        uid, gid = user if isinstance(user, tuple) else pwd.getpwnam(user)[2:4]
        self.count = count
        self.answers = {}
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
             "/usr/bin/python3", "-c", CALLER, w.bus.address, method, str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/",
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=""))
        test.addCleanup(self.proc.stdout.close)
        test.addCleanup(self.proc.wait, 30)
        test.addCleanup(self.proc.kill)
        test.assertEqual(self.proc.stdout.readline().strip(), "ready")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            i, name, detail = json.loads(line)
            self.answers[i] = (name, detail)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def outcomes(self):
        return [self.answers.get(i) for i in range(self.count)]


def other_users_may_connect(w):
    # other users reach the bus socket (and nothing else) through the world's directory
    os.chmod(w.tmpdir, 0o711)


class JoinedRefreshes(unittest.TestCase):
    def test_refresh_calls_joining_a_waiting_refresh_are_bounded(self):
        """Refresh calls that come while a refresh waits in the queue share its outcome: each
        call is kept until then. org.esim.refresh is allowed to every active user by default, and
        a download may hold the queue for minutes: a user's Refresh calls (128 per connection,
        on many connections) were all kept. At most 32 join one refresh, and one user (root too)
        at most 8 of them: the others are refused at once with Busy. One user's flood once took
        all 32, and every other user's Refresh (root's settings panel) was Busy."""
        from esimtest.world import World

        policy = os.path.join(os.environ.get("TMPDIR", "/tmp"), "esimd-fake-polkit-%d.conf" % os.getpid())
        with open(policy, "w") as f:
            f.write(POLICY)
        self.addCleanup(os.unlink, policy)
        with World(bus_policies=(policy,), config={"Notifications": {"AutoSend": "false"}}) as w:
            other_users_may_connect(w)
            polkit = FakePolkit(w.bus.address)  # allows every action to every user
            polkit.hold = set()
            try:
                self.refresh_flood(w, polkit)
            finally:
                polkit.close()

    def refresh_flood(self, w, polkit):
        from esimtest.world import JOB_IFACE, dbus_error_name

        share, flood = 8, 16  # a user's flood: 16 calls may wait for polkit at once
        floods = [UserCalls(self, w, user, "Refresh", flood) for user in ("daemon", "bin")]
        other = UserCalls(self, w, "nobody", "Refresh", share + 1)
        w.wait_idle()
        hold = hold_the_queue(w)
        # root's first Refresh queues the refresh, behind the download
        outs = [w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "Refresh")]
        w.client.wait_for(lambda: len(w.client.get("/org/esim/euicc/0", "org.esim.Manager", "Jobs")) == 2, 60,
                          "the refresh queued")
        # two users' floods (polkit allows them): all 32 joined it before
        for f in floods:
            f.go()
        w.client.wait_for(lambda: polkit.allowed == 2 * flood, 60, "the floods' calls allowed by polkit")
        # another user still gets its share in: its call beyond it is the one refused (once, every
        # one of its calls was: the floods held all 32). Answers come in order.
        other.go()
        w.client.wait_for(lambda: other.answers, 60, "the other user's call beyond its share refused")
        self.assertEqual(list(other.answers), [share], other.answers)
        self.assertEqual(other.answers[share][0], "org.esim.Error.Busy")
        self.assertIn("this user already has 8 Refresh calls", other.answers[share][1])
        # root's take 8 more, the last 32; the next is refused as beyond them
        outs += [w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "Refresh") for _ in range(share + 1)]
        w.client.wait_for(lambda: outs[-1], 60, "root's call beyond the 32 refused")
        self.assertEqual([o for o in outs[:-1] if o], [], outs)
        self.assertEqual(dbus_error_name(outs[-1]["error"]), "org.esim.Error.Busy")
        self.assertIn("32 Refresh calls already wait", outs[-1]["error"].message)
        w.client.call(hold, JOB_IFACE, "Cancel")
        w.client.wait_for(lambda: all(outs) and all(len(f.answers) == flood for f in floods)
                          and len(other.answers) == share + 1, 60, "every Refresh answered")
        self.assertEqual(sum(1 for o in outs if "result" in o), share + 1)
        self.assertEqual(other.outcomes()[:share], [(None, None)] * share, other.answers)
        for f in floods:
            self.assertEqual([a[0] for a in f.outcomes()], [None] * share + ["org.esim.Error.Busy"] * (flood - share),
                             f.answers)
            self.assertIn("this user already has 8 Refresh calls", f.answers[flood - 1][1])
        w.wait_idle()


class WaitingLists(unittest.TestCase):
    def test_list_notifications_waiting_for_the_list_are_bounded(self):
        """A ListNotifications that comes while the notification list is read again after an
        operation (the new notification must be in its answer) is kept until that read ends.
        Reading is open to every local user, without polkit: each such call was kept. At most 32
        calls of users other than root wait per eUICC, and one user at most 8 of them; the next
        are refused at once with Busy, the others answered as before. One user's flood once took
        all 32, and every other user's ListNotifications was Busy. Root's calls always wait (the
        administrator's clients, fifty in tests/faults/test_load.py, read right after their own
        operations). The card answers slowly here (1 s per APDU), so that the calls come while
        the list is read."""
        from gi.repository import GLib
        from esimtest.world import World, activation_code

        share = 8
        with World(config={"Notifications": {"AutoSend": "false"}}) as w:
            other_users_may_connect(w)
            flood = UserCalls(self, w, "daemon", "ListNotifications", 40)
            other = UserCalls(self, w, "nobody", "ListNotifications", share + 1)
            w.download(activation_code("DEMO-ONE"))
            w.wait_idle()
            sim = w.sim.ctl()
            sim.add_fault(kind="delay", ms=1000)
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", ("8949449999999990011", {})))
            # one user's flood: answered in order, the first 8 wait, the next are refused at once
            flood.go()
            w.client.wait_for(lambda: len(flood.answers) >= share, 60, "the flood's calls refused")
            # another user, and root, still get their share in
            other.go()
            outs = [w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "ListNotifications",
                                        GLib.Variant("(a{sv})", ({},))) for _ in range(share + 1)]
            w.client.wait_for(lambda: all(outs) and len(flood.answers) == 40 and len(other.answers) == share + 1,
                              120, "every ListNotifications answered")
            sim.clear_faults()
            # the other users' calls within their share waited and were answered (once, the flood
            # held all 32 and they were refused), with the new notification
            for calls in (other, flood):
                for name, operations in calls.outcomes()[:share]:
                    self.assertIsNone(name, calls.answers)
                    self.assertIn("enable", operations)
            # root's calls, beyond any share too, all waited
            for o in outs:
                self.assertIn("enable", [n["operation"] for n in o["result"][0]], o)
            for name, message in flood.outcomes()[share:] + [other.answers[share]]:
                self.assertEqual(name, "org.esim.Error.Busy")
                self.assertIn("this user already has 8 ListNotifications calls", message)
            w.wait_idle()


def other_accounts(n):
    """N accounts other than root with distinct uids, as (uid, gid): Debian's static system
    accounts (base-passwd's uids 1-99: daemon, bin, sys, games, man...), which no process of the
    test machine runs as. A uid with no account will not do: dbus-daemon looks up the groups of
    every connecting uid and refuses the connection when there is no account to look up
    (bus_policy_allow_unix_user(): "On OOM or error we always reject the user"), whatever its
    policy says."""
    found = {}
    for pw in sorted(pwd.getpwall(), key=lambda pw: pw.pw_uid):
        if 0 < pw.pw_uid < 100 and pw.pw_uid not in found:
            found[pw.pw_uid] = (pw.pw_uid, pw.pw_gid)
    if len(found) < n:
        raise unittest.SkipTest(f"fewer than {n} accounts with uids 1-99")
    return list(found.values())[:n]


class WaitingListsTotal(unittest.TestCase):
    def test_the_33rd_waiting_list_notifications_is_busy(self):
        """The total of 32 waiting ListNotifications per eUICC (test_list_notifications_waiting_
        for_the_list_are_bounded reaches only the share of 8 per user): four users hold 8 each,
        the 32; a fifth user's first call is refused at once with Busy, naming the total, while
        the 32 (and root's, never counted) wait for the list and are answered with the new
        notification. The users are five system accounts (other_accounts()): the World's bus
        admits them (its default policy allows user "*", esimd's org.esim.conf lets every user
        call org.esim.Manager). Each filling user sends a
        9th call: its Busy (beyond its share) comes after its 8 were counted, so the fifth user's
        call is sent only once all 32 wait."""
        from gi.repository import GLib
        from esimtest.world import World, activation_code

        if os.geteuid() != 0:
            self.skipTest("needs root to run callers as other users")
        share, total = 8, 32
        users = other_accounts(total // share + 1)
        with World(config={"Notifications": {"AutoSend": "false"}}) as w:
            other_users_may_connect(w)
            fillers = [UserCalls(self, w, user, "ListNotifications", share + 1) for user in users[:-1]]
            late = UserCalls(self, w, users[-1], "ListNotifications", 1)
            w.download(activation_code("DEMO-ONE"))
            w.wait_idle()
            sim = w.sim.ctl()
            sim.add_fault(kind="delay", ms=1000)
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", ("8949449999999990011", {})))
            for f in fillers:
                f.go()
            w.client.wait_for(lambda: all(share in f.answers for f in fillers), 60,
                              "each filling user's call beyond its share refused")
            self.assertEqual([len(f.answers) for f in fillers], [1] * len(fillers),
                             "a call within a user's share was answered before the list was read")
            root = w.client.call_async("/org/esim/euicc/0", "org.esim.Manager", "ListNotifications",
                                       GLib.Variant("(a{sv})", ({},)))
            late.go()
            w.client.wait_for(lambda: late.answers, 60, "the fifth user's call answered")
            name, message = late.answers[0]
            self.assertEqual(name, "org.esim.Error.Busy", late.answers)
            self.assertIn("32 ListNotifications calls already wait", message)
            # refused at once: the list is still being read, the 32 still wait
            self.assertEqual([len(f.answers) for f in fillers], [1] * len(fillers))
            w.client.wait_for(lambda: root and all(len(f.answers) == share + 1 for f in fillers), 120,
                              "every waiting ListNotifications answered")
            sim.clear_faults()
            for f in fillers:
                for name, operations in f.outcomes()[:share]:
                    self.assertIsNone(name, f.answers)
                    self.assertIn("enable", operations)
                # beyond its share; one sent once the others' filled the 32 is beyond the total
                # as well, which is checked first
                self.assertEqual(f.answers[share][0], "org.esim.Error.Busy")
                self.assertRegex(f.answers[share][1], "this user already has 8 ListNotifications calls|"
                                 "32 ListNotifications calls already wait")
            self.assertIn("enable", [n["operation"] for n in root["result"][0]], root)
            w.wait_idle()


class AuthorizationFlood(unittest.TestCase):
    def setUp(self):
        from esimtest.world import World

        self.policy_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "esimd-fake-polkit-%d" % os.getpid())
        os.makedirs(self.policy_dir, exist_ok=True)
        self.addCleanup(shutil.rmtree, self.policy_dir, True)
        policy = os.path.join(self.policy_dir, "polkit.conf")
        with open(policy, "w") as f:
            f.write(POLICY)
        self.w = World(bus_policies=(policy,))
        self.addCleanup(self.w.stop)
        # other users reach the bus socket (and nothing else) through the world's directory
        os.chmod(self.w.tmpdir, 0o711)
        self.polkit = FakePolkit(self.w.bus.address)
        self.addCleanup(self.polkit.close)

    def as_user(self, user, *argv, **kw):
        pw = pwd.getpwnam(user)
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
                "/usr/bin/python3", *argv], dict(cwd="/", env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                                                                    PYTHONPATH=""), **kw)

    def flood(self):
        """Sends the flood as user daemon; returns the list its answers go to (error names, or
        "ok") once every call has been dealt with: its question waits at polkit, or it was
        answered without one."""
        cmd, kw = self.as_user("daemon", "-", self.w.bus.address, str(FLOOD))
        flooder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **kw)
        self.addCleanup(flooder.stdout.close)
        self.addCleanup(flooder.wait, 30)
        self.addCleanup(flooder.kill)
        flooder.stdin.write(FLOODER)
        flooder.stdin.close()
        answers = []
        reader = threading.Thread(target=lambda: answers.extend(line.strip() for line in flooder.stdout
                                                                if line.strip() != "sent"), daemon=True)
        reader.start()
        self.w.client.wait_for(lambda: self.polkit.n_held() + len(answers) == FLOOD, 60,
                               "every call of the flood handled")
        self.assertGreater(self.polkit.n_held(), 0)
        return answers

    def test_a_flood_waiting_for_polkit_leaves_room_for_the_others(self):
        from gi.repository import GLib

        answers = self.flood()
        # Another user's change (polkit allows it) and root's (no polkit) go through meanwhile.
        cmd, kw = self.as_user("nobody", "-c", """
import sys, gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
c = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
try:
    c.call_sync("org.esim", "/org/esim/euicc/0", "org.esim.Manager", "SendNotifications",
                GLib.Variant("(a{sv})", ({},)), None, 0, 60000, None)
    print("ok")
except GLib.Error as e:
    print(Gio.DBusError.get_remote_error(e), e.message)
""", self.w.bus.address)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=90, **kw)
        self.assertEqual(out.stdout.strip(), "ok", out.stdout + out.stderr)
        self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))

        # The flooder's calls beyond its share were told at once that it has too many waiting.
        self.assertTrue(answers)
        self.assertEqual(set(answers), {"org.esim.Error.Busy"}, answers)
        self.polkit.release()
        self.w.client.wait_for(lambda: len(answers) == FLOOD, 60, "every call of the flood answered")

    def test_a_caller_that_leaves_has_its_polkit_question_cancelled(self):
        """A caller (a settings panel closed, a script killed) leaves while polkit is asked about
        its call, e.g. while an authentication agent shows a password dialog: esimd asked with
        an empty cancellation_id and never cancelled, so the dialog stayed up and the question
        held the user's share of questions for up to 300 s. Now esimd gives each question a
        cancellation_id and calls CancelCheckAuthorization with it when the caller leaves
        (polkit's org.freedesktop.PolicyKit1.Authority interface)."""
        cmd, kw = self.as_user("nobody", "-c", """
import sys, gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
c = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
c.call("org.esim", "/org/esim/euicc/0", "org.esim.Manager", "Refresh", None, None,
       Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION, 600000, None, None, None)
c.flush_sync(None)
print("sent", flush=True)
GLib.MainLoop().run()
""", self.w.bus.address)
        caller = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
        self.addCleanup(caller.stdout.close)
        self.addCleanup(caller.wait, 30)
        self.addCleanup(caller.kill)
        self.assertEqual(caller.stdout.readline().strip(), "sent")
        self.w.client.wait_for(lambda: self.polkit.n_held() == 1, 30, "the question at polkit")
        (cancel_id,) = self.polkit.held_ids()
        self.assertTrue(cancel_id, "asked without a cancellation_id: it cannot be cancelled")
        caller.kill()
        self.w.client.wait_for(lambda: cancel_id in self.polkit.cancelled, 30, "CancelCheckAuthorization")
        self.assertEqual(self.polkit.n_held(), 0)
        # the ids are unique: a second question gets another
        answers = self.flood()
        ids = self.polkit.held_ids()
        self.assertEqual(len(set(ids)), len(ids))
        self.assertNotIn(cancel_id, ids)
        self.polkit.release()
        self.w.client.wait_for(lambda: len(answers) == FLOOD, 60, "every call of the flood answered")

    def test_a_job_that_ends_has_the_polkit_questions_about_it_cancelled(self):
        """Another user asks to confirm a download (polkit is asked: the job is not theirs, and
        an agent may show a password dialog); the download ends meanwhile (its owner cancels
        it). The question is moot: polkit is told to forget it, and the call is answered at once
        that the job is no longer waiting."""
        from gi.repository import GLib
        from esimtest.world import JOB_IFACE, activation_code

        self.polkit.hold.add("org.esim.download")
        self.w.smdp.control.add_order({"matchingId": "MOOT", "iccid": "8949449999999990318",
                                       "profile": {"generate": {"size": 4096}},
                                       "metadata": {"serviceProviderName": "Op", "profileName": "Moot"}})
        job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("MOOT"), "",
                                                                    {"confirm": GLib.Variant("b", True)})))[0]
        self.w.client.wait_for(lambda: self.w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60,
                               "the preview")
        # The script comes on stdin: the source tree may sit where the other user cannot read
        # (a clone inside a mode-0700 temporary directory, as CI makes).
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bus_as_user.py")) as f:
            script = f.read()
        cmd, kw = self.as_user("nobody", "-", self.w.bus.address, job, JOB_IFACE, "Confirm", "", "[]")
        other = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **kw)
        other.stdin.write(script)
        other.stdin.close()
        self.addCleanup(other.stdout.close)
        self.addCleanup(other.wait, 30)
        self.addCleanup(other.kill)
        self.w.client.wait_for(lambda: self.polkit.n_held() == 1, 30, "the question at polkit")
        (cancel_id,) = self.polkit.held_ids()
        self.w.client.call(job, JOB_IFACE, "Cancel")
        self.w.client.wait_for(lambda: cancel_id in self.polkit.cancelled, 30, "CancelCheckAuthorization")
        out = json.loads(other.stdout.read())
        self.assertEqual(out.get("error"), "org.esim.Error.WrongJobState", out)
        self.assertEqual(self.w.wait_job(job)["State"], "cancelled")

    def test_file_descriptors_sent_with_calls_are_refused(self):
        """No method of esimd takes a file descriptor, but the bus delivered those a caller
        attached to any call, and esimd held them as long as it held the call: for as long as
        polkit was asked (up to 300 s when an authentication agent, which any user may register
        for their own session, never answers). 16 calls with 16 descriptors each (the most a
        message may carry) took 256 of esimd's 1024; four users, and esimd could open neither a
        modem nor an HTTPS connection. esimd now tells the bus it takes no descriptors: the bus refuses such a
        call to its sender (NotSupported), and esimd's descriptors stay as they are."""
        self.polkit.hold.add("org.esim.download")
        pid = self.w.esimd.proc.pid
        self.w.wait_idle()
        before = len(os.listdir("/proc/%d/fd" % pid))
        cmd, kw = self.as_user("nobody", "-c", """
import sys, gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
c = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
answers = []
def done(conn, res, data):
    try:
        conn.send_message_with_reply_finish(res).to_gerror()
        answers.append("ok")
    except GLib.Error as e:
        answers.append(Gio.DBusError.get_remote_error(e) or e.message)
    if len(answers) == 16:
        print(" ".join(sorted(set(answers))), flush=True)
for i in range(16):
    fds = Gio.UnixFDList()
    for _ in range(16):  # the most a message may carry on the system bus (max_message_unix_fds)
        fds.append(0)
    msg = Gio.DBusMessage.new_method_call("org.esim", "/org/esim/euicc/0", "org.esim.Manager", "Download")
    msg.set_body(GLib.Variant("(ssa{sv})", ("LPA:1$x.example.com$FD-%d" % i, "", {})))
    msg.set_unix_fd_list(fds)
    c.send_message_with_reply(msg, Gio.DBusSendMessageFlags.NONE, 600000, None, done, None)
c.flush_sync(None)
print("sent", flush=True)
GLib.MainLoop().run()
""", self.w.bus.address)
        caller = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, **kw)
        self.addCleanup(caller.stdout.close)
        self.addCleanup(caller.wait, 30)
        self.addCleanup(caller.kill)
        self.assertEqual(caller.stdout.readline().strip(), "sent")
        # every call answered by the bus, or held at polkit
        answered = []
        reader = threading.Thread(target=lambda: answered.append(caller.stdout.readline().strip()), daemon=True)
        reader.start()
        self.w.client.wait_for(lambda: answered or self.polkit.n_held() == 16, 30, "the calls dealt with")
        held = len(os.listdir("/proc/%d/fd" % pid)) - before
        self.assertLess(held, 16, "esimd holds %d more file descriptors" % held)
        reader.join(30)
        self.assertEqual(answered, ["org.freedesktop.DBus.Error.NotSupported"], answered)
        self.assertEqual(self.polkit.n_held(), 0)

    def test_stopping_answers_the_calls_waiting_for_polkit(self):
        """esimd stops while questions wait at polkit: their callers hear that it stops (not the
        bus's NoReply), and nothing the checks held is left behind (the valgrind setup's leak
        check: the calls held the bus connection itself)."""
        answers = self.flood()
        held = self.polkit.held_ids()
        self.assertEqual(self.w.esimd.stop(), 0)
        self.w.client.wait_for(lambda: len(answers) == FLOOD, 60, "every call of the flood answered")
        self.assertEqual(answers.count("org.esim.Error.Unavailable"), len(held), answers)
        # and polkit was told to forget them (an agent's dialog for them closes)
        self.w.client.wait_for(lambda: set(held) <= set(self.polkit.cancelled), 30, "the questions cancelled")


def main():
    if os.geteuid() != 0:
        print("needs root (other users): skipping")
        sys.exit(SKIP)
    if not shutil.which("setpriv"):
        print("missing setpriv: skipping")
        sys.exit(SKIP)
    for user in ("nobody", "daemon", "bin"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            print(f"no user {user}: skipping")
            sys.exit(SKIP)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
