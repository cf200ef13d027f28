"""The fault matrix's test world: one World reused across cases, reset between them through the
simulator's and the SM-DP+'s control sockets, with snapshots of every party for the invariants."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Optional

from gi.repository import GLib

from esimtest.world import JOB_IFACE, MANAGER, MANAGER_IFACE, World, activation_code, dbus_error_name

# Short server timeouts so that the "timeout" faults cost seconds, not minutes; long enough that
# a loaded CI machine never times out a healthy exchange with the loopback SM-DP+.
CONFIG = {
    # Finished jobs leave the bus after 5 s: what lingers is bounded, so memory growth means a leak.
    "Daemon": {"JobLinger": "5"},
    "HTTP": {"ConnectTimeout": "3", "RequestTimeout": "4", "BppTimeout": "4"},
    # A back-off long enough that a notification only goes out early when esimd has a reason to
    # send it (a new operation, a returning modem, a success): waiting out a back-off would hide
    # a notification esimd forgot.
    "Notifications": {"RetryInitial": "20", "RetryMax": "60"},
    "Modem sim": {"CommandTimeout": "8"},
}
SERVER_TIMEOUT = 4  # the RequestTimeout above
# A notification server that is down (connections refused): profiles can name it in their
# notificationConfigurationInfo.
DEAD_HOST = "notifications.dead.example"
DEAD_ADDRESS = "127.0.0.1:1"
ICCID_BASE = 8949449990000000000  # per-order ICCIDs: ICCID_BASE + order number (19 digits)
PROFILE_SIZE = 4096  # five 86 blocks: every BPP part appears at least once


class RigError(Exception):
    """The rig could not bring the world back to a clean state (reported as a case failure)."""


@dataclass
class Snapshot:
    """What every party holds at one moment."""

    card: dict  # the simulator's state (profiles, notifications, session, ...)
    esimd_profiles: list  # ListProfiles(True), (iccid, state)
    esimd_notifications: list  # ListNotifications({}) sequence numbers
    server_sessions: list
    server_notifications: list
    orders: list


@dataclass
class Outcome:
    """How a download ended for its caller."""

    job: Optional[str] = None
    call_error: Optional[str] = None  # the Download() call itself failed (D-Bus error name)
    call_message: str = ""
    props: Optional[dict] = None  # the Job's properties once Finished
    results: list = field(default_factory=list)  # DownloadResult signals for the job
    finished: bool = False
    killed: bool = False  # esimd was SIGKILLed on purpose during the case
    stage_at_kill: str = ""
    seconds: float = 0.0

    @property
    def state(self) -> str:
        if self.call_error:
            return "refused"
        return self.props["State"] if self.props else "silent"

    @property
    def error(self) -> str:
        if self.call_error:
            return self.call_error
        return self.props.get("Error", "") if self.props else ""

    @property
    def message(self) -> str:
        if self.call_error:
            return self.call_message
        return self.props.get("ErrorMessage", "") if self.props else ""


class Rig:
    def __init__(self, tmpdir: Optional[str] = None, verbose: bool = False, transport: Optional[str] = None):
        self.verbose = verbose
        self.case_no = 0
        self.order_no = 0
        # transport: the Transport= of esimd and the simulator's front (World's default: qmi).
        self.w = World(tmpdir, orders=[], config=CONFIG, sim_options={"log_level": "warning"}, transport=transport,
                       extra_hosts={DEAD_HOST: DEAD_ADDRESS})
        self.wrapped = False  # esimd runs under a case's wrapper (a private mount namespace)
        self.base_wrapper = list(self.w.esimd.wrapper)  # valgrind, when the test asks for it
        self.sim = self.w.sim.ctl()
        self.smdp = self.w.smdp.control
        self.client = self.w.client
        self.w.wait_idle(60)

    def stop(self):
        try:
            self.sim.close()
        finally:
            self.w.stop()

    def log(self, msg: str):
        if self.verbose:
            print("    " + msg, flush=True)

    # -- esimd --------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        p = self.w.esimd.proc
        return p.pid if p is not None and p.poll() is None else None

    def esimd_alive(self) -> bool:
        return self.w.esimd.running()

    def kill_esimd(self):
        self.w.esimd.kill()

    def start_esimd(self):
        self.client.signals.clear()
        self.w.start_esimd(wait_ready=False)

    def restart_esimd(self, wrapper=()):
        """Stops esimd (SIGTERM: it must stop cleanly) and starts it again, under @wrapper."""
        rc = self.w.esimd.stop()
        if rc != 0:
            raise RigError("esimd exited with status %d when stopped" % rc)
        self.w.esimd.wrapper = list(wrapper) + self.base_wrapper
        self.wrapped = bool(wrapper)
        self.start_esimd()
        self.wait_ready_idle()

    @property
    def state_dir(self) -> str:
        return os.path.join(self.w.tmpdir, "state")

    def resources(self) -> tuple[int, int]:
        """(open fds, RssAnon in KiB) of the running esimd."""
        pid = self.pid
        if pid is None:
            raise RigError("esimd is not running")
        fds = len(os.listdir("/proc/%d/fd" % pid))
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    rss = int(line.split()[1])
        return fds, rss

    def prop(self, name: str, timeout: float = 5.0):
        return self.client.call(MANAGER, "org.freedesktop.DBus.Properties", "Get",
                                GLib.Variant("(ss)", (MANAGER_IFACE, name)), timeout=timeout)[0]

    def wait_ready_idle(self, timeout: float = 60.0, stable: bool = False):
        """esimd answers, its modem is back and no job runs or waits (with @stable: still so a
        moment later, as a job's end may queue the next one from an idle callback)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.client.pump()
            if not self.esimd_alive():
                raise RigError("esimd is not running")
            try:
                state, current = self.prop("State"), self.prop("CurrentJob")
                last = (state, current)
                if state == "ready" and current == "/":
                    if not stable:
                        return
                    time.sleep(0.15)
                    if self.prop("State") == "ready" and self.prop("CurrentJob") == "/":
                        return
            except GLib.Error as e:
                last = dbus_error_name(e) or str(e)
            time.sleep(0.05)
        raise RigError("esimd not ready and idle after %d s (last: %s)" % (timeout, last))

    # -- the parties' views -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        # A list esimd could not read is an error to its caller, not an empty list: recorded as
        # such, it differs from whatever the card holds (not settled, and a failed check if it
        # stays so).
        try:
            esimd_profiles = sorted((p["iccid"], p["state"]) for p in self.w.profiles())
        except GLib.Error as e:
            esimd_profiles = [("unreadable", e.message)]
        try:
            esimd_notifications = sorted(n["seq"] for n in self.w.notifications())
        except GLib.Error as e:
            esimd_notifications = ["unreadable: " + e.message]
        return Snapshot(
            card=self.sim.state(),
            esimd_profiles=esimd_profiles,
            esimd_notifications=esimd_notifications,
            server_sessions=self.smdp.sessions(),
            server_notifications=self.smdp.notifications(),
            orders=self.smdp.orders(),
        )

    # -- between cases ------------------------------------------------------------------

    def new_order(self, **extra) -> tuple[str, str]:
        """A fresh order (matching ID and ICCID never used before): (activation code, ICCID)."""
        self.order_no += 1
        iccid = str(ICCID_BASE + self.order_no)
        mid = "FX-%05d" % self.order_no
        order = {"matchingId": mid, "iccid": iccid, "profile": {"generate": {"size": PROFILE_SIZE}},
                 "metadata": {"serviceProviderName": "Fault Matrix", "profileName": "Case %d" % self.case_no}}
        order.update(extra)
        self.smdp.add_order(order)
        return activation_code(mid, "confirmationCode" in extra), iccid

    def clean(self, timeout: float = 60.0):
        """Back to a world with no profile, no pending notification, no fault and no session:
        the normal way (through esimd) where it works, the simulator's reset where it does not."""
        self.sim.clear_faults()
        self.smdp.clear_faults()
        if self.wrapped:
            self.restart_esimd()
        if not self.esimd_alive():
            self.start_esimd()
        if self.sim.state().get("present") is False:
            self.sim.appear()
        self.wait_ready_idle(timeout)
        for iccid, state in sorted((p["iccid"], p["state"]) for p in self.sim.state()["profiles"]):
            try:
                if state == "enabled":
                    self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})), timeout=30)
                self.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {})), timeout=30)
            except GLib.Error as e:
                self.log("cleanup of %s through esimd failed: %s" % (iccid, e.message))
        self.wait_ready_idle(timeout)
        if self.sim.state()["notifications"]:
            try:
                self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=30)
            except GLib.Error as e:
                self.log("SendNotifications: %s" % e.message)
            self.wait_ready_idle(timeout)
        card = self.sim.state()
        if card["profiles"] or card["notifications"]:
            # esimd could not clean up (that case has failed already): start over from scratch
            self.log("resetting the simulator")
            self.sim.reset()
            self.w.manager("Refresh", timeout=30)
            self.wait_ready_idle(timeout)
        self.smdp.reset()
        self.sim.counters(reset=True)
        self.sim.call("trace", reset=True)
        self.client.signals.clear()

    # -- running a download -------------------------------------------------------------

    def start_download(self, code: str, cc: str = "", options: Optional[dict] = None) -> Outcome:
        opts = {k: (GLib.Variant("b", v) if isinstance(v, bool) else GLib.Variant("s", v))
                for k, v in (options or {}).items()}
        out = Outcome()
        try:
            out.job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (code, cc, opts)), timeout=10)[0]
        except GLib.Error as e:
            out.call_error = dbus_error_name(e) or "(no D-Bus error name)"
            out.call_message = e.message
            out.finished = True
        return out

    def job_state(self, job: str) -> Optional[str]:
        try:
            return self.client.get(job, JOB_IFACE, "State")
        except GLib.Error:
            return None

    def job_prop(self, job: str, prop: str):
        try:
            return self.client.get(job, JOB_IFACE, prop)
        except GLib.Error:
            return None

    def finished(self, out: Outcome) -> bool:
        return any(s[0] == out.job and s[2] == "Finished" for s in self.client.signals)

    def wait_finished(self, out: Outcome, timeout: float) -> Outcome:
        """Waits for the job's Finished signal; records its properties and DownloadResult."""
        if out.call_error:
            return out
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.client.pump()
            if self.finished(out):
                out.finished = True
                break
            if not self.esimd_alive():
                break
            time.sleep(0.02)
        if out.finished:
            # DownloadResult comes before Finished (Finished is the last word): what a client has
            # when Finished arrives is all it gets, so nothing more is waited for here.
            out.results = [s[3] for s in self.client.signals_named("DownloadResult", MANAGER) if s[3][0] == out.job]
            out.props = self.client.get_all(out.job, JOB_IFACE)
        return out

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.client.pump()
            v = predicate()
            if v:
                return v
            time.sleep(0.01)
        raise RigError("timed out after %.0f s waiting for %s" % (timeout, what))

    def sim_fault_fired(self, fault_id: int) -> bool:
        return self.sim.fault(fault_id)["fired"] > 0

    def server_calls(self, function: str) -> int:
        return self.smdp.call("calls")["calls"].get("smdp:" + function, 0)

    def trace(self) -> list:
        return self.sim.call("trace")["apdus"]
