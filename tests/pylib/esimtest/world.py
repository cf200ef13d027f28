"""The whole test world around a real esimd: test PKI, a private system bus with the project's
bus policy, the simulated eUICC behind a fake QMI modem, the test SM-DP+/SM-DS, and esimd
configured to reach all of them by configuration alone (as it would a real modem and server).

Used by the integration tests, the demo (tools/run-demo) and the benchmarks.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from typing import Callable, Optional

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from . import pcscd as pcscdmod  # noqa: E402
from . import pki as pkimod  # noqa: E402
from .simctl import start_sim  # noqa: E402
from .smdpctl import start_smdp  # noqa: E402

SOURCE_ROOT = os.environ.get(
    "ESIMD_SOURCE_ROOT", os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
)
BUILD_ROOT = os.environ.get("ESIMD_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
# The programs and bus policy under test: the build's, or others (tools/run-demo --installed:
# those a package or `meson install` put on this machine).
ESIMD = os.environ.get("ESIMD_PROGRAM") or os.path.join(BUILD_ROOT, "daemon", "esimd")
ESIMCTL = os.environ.get("ESIMCTL_PROGRAM") or os.path.join(BUILD_ROOT, "client", "esimctl")
BUS_POLICY = os.environ.get("ESIMD_BUS_POLICY") or os.path.join(SOURCE_ROOT, "dbus", "org.esim.conf")

SMDP_HOST = pkimod.DEFAULT_SMDP_HOST
SMDS_HOST = pkimod.DEFAULT_SMDS_HOST
EID = pkimod.DEFAULT_EID
SIM_IMEI = "356938035643809"  # what the simulated modem reports by default (esimsim/qmi.py)
MANAGER = "/org/esim/euicc/0"
MANAGER_IFACE = "org.esim.Manager"
JOB_IFACE = "org.esim.Job"
PROFILE_IFACE = "org.esim.Profile"

# Three orders most scenarios need; tests add their own through the control socket.
DEFAULT_ORDERS = [
    {"matchingId": "DEMO-ONE", "iccid": "8949449999999990011",
     "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "Test Operator", "profileName": "Everyday Plan"}},
    {"matchingId": "DEMO-TWO", "iccid": "8949449999999990029",
     "profile": {"generate": {"size": 12288}},
     "metadata": {"serviceProviderName": "Second Operator", "profileName": "Travel Plan"}},
    {"matchingId": "CODE-NEEDED", "iccid": "8949449999999990037",
     "profile": {"generate": {"size": 12288}}, "confirmationCode": "12345678",
     "metadata": {"serviceProviderName": "Careful Operator", "profileName": "Locked Plan"}},
]


def activation_code(matching_id: str, cc_required: bool = False, host: str = SMDP_HOST) -> str:
    return f"LPA:1${host}${matching_id}" + ("$$1" if cc_required else "")


class PrivateBus:
    """A dbus-daemon of type system with the system bus's default policy and esimd's own policy
    file, listening on a socket in a temporary directory. With SERVICEDIR, the bus starts the
    services whose .service files are there (D-Bus activation, as dbus-daemon does it without
    systemd: it runs Exec= itself)."""

    def __init__(self, tmpdir: str, policies=(BUS_POLICY,), servicedir: Optional[str] = None):
        self.tmpdir = tmpdir
        self.socket = os.path.join(tmpdir, "system_bus_socket")
        self.config = os.path.join(tmpdir, "bus.conf")
        includes = "\n".join(f"  <include>{p}</include>" for p in policies)
        if servicedir:
            includes += f"\n  <servicedir>{servicedir}</servicedir>"
        with open(self.config, "w") as f:
            f.write(textwrap.dedent(f"""\
                <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
                 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
                <busconfig>
                  <type>system</type>
                  <auth>EXTERNAL</auth>
                  <listen>unix:path={self.socket}</listen>
                  <policy context="default">
                    <allow user="*"/>
                    <deny own="*"/>
                    <deny send_type="method_call"/>
                    <allow send_type="signal"/>
                    <allow send_requested_reply="true" send_type="method_return"/>
                    <allow send_requested_reply="true" send_type="error"/>
                    <allow receive_type="method_call"/>
                    <allow receive_type="method_return"/>
                    <allow receive_type="error"/>
                    <allow receive_type="signal"/>
                    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
                    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
                    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
                  </policy>
                  <policy user="root">
                    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
                  </policy>
                """) + includes + "\n</busconfig>\n")
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--nopidfile", "--print-address=1", f"--config-file={self.config}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            raise RuntimeError("dbus-daemon did not start")
        self.address = line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()


class BusClient:
    """A D-Bus connection (Gio) to the private bus with call, property and signal helpers."""

    def __init__(self, address: str):
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.signals: list[tuple[str, str, str, tuple]] = []  # (path, interface, member, args)
        self._sub = self.conn.signal_subscribe(
            None, None, None, None, None, Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, member, params):
        self.signals.append((path, iface, member, params.unpack()))

    def close(self):
        self.conn.signal_unsubscribe(self._sub)
        self.conn.close_sync(None)

    def pump(self, seconds: float = 0.0):
        """Lets queued signals and replies arrive."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def wait_for(self, predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def call(self, path: str, iface: str, method: str, args: Optional[GLib.Variant] = None,
             reply_type: Optional[str] = None, timeout: float = 120.0, dest: str = "org.esim",
             interactive: bool = False):
        flags = Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION if interactive else Gio.DBusCallFlags.NONE
        result = self.conn.call_sync(dest, path, iface, method, args,
                                     GLib.VariantType.new(reply_type) if reply_type else None,
                                     flags, int(timeout * 1000), None)
        return result.unpack() if result is not None else None

    def call_async(self, path: str, iface: str, method: str, args: Optional[GLib.Variant] = None,
                   timeout: float = 300.0, dest: str = "org.esim"):
        """Starts a call; returns a dict filled in with "result" or "error" when it completes."""
        out: dict = {}

        def done(conn, res):
            try:
                out["result"] = conn.call_finish(res).unpack()
            except GLib.Error as e:
                out["error"] = e

        self.conn.call(dest, path, iface, method, args, None, Gio.DBusCallFlags.NONE,
                       int(timeout * 1000), None, done)
        return out

    def get(self, path: str, iface: str, prop: str):
        return self.call(path, "org.freedesktop.DBus.Properties", "Get", GLib.Variant("(ss)", (iface, prop)))[0]

    def get_all(self, path: str, iface: str) -> dict:
        return self.call(path, "org.freedesktop.DBus.Properties", "GetAll", GLib.Variant("(s)", (iface,)))[0]

    def managed_objects(self) -> dict:
        return self.call("/org/esim", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")[0]

    def name_has_owner(self, name: str = "org.esim") -> bool:
        return self.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                         GLib.Variant("(s)", (name,)), dest="org.freedesktop.DBus")[0]

    def signals_named(self, member: str, path: Optional[str] = None) -> list:
        return [s for s in self.signals if s[2] == member and (path is None or s[0] == path)]


def dbus_error_name(error: GLib.Error) -> str:
    return Gio.DBusError.get_remote_error(error) or ""


VALGRIND_EXIT = 99


def esimd_is_sanitized() -> bool:
    """Whether esimd was built with AddressSanitizer: valgrind cannot run it, and its memory
    (freed blocks held in quarantine) says nothing about leaks, which LeakSanitizer checks."""
    with open(ESIMD, "rb") as f:
        return b"__asan_init" in f.read()


def memcheck_findings(log_path: str, limit: int = 12000) -> str:
    """The parts of a memcheck log that say what is wrong: each error and each definitely or
    indirectly lost record with its stack, then the summaries. The possibly-lost records that
    precede them are left out, or they would crowd out what failed the run."""
    with open(log_path, errors="replace") as f:
        lines = [l for l in f if re.match(r"==\d+== ", l)]
    keep, taking = [], False
    for line in lines:
        body = line.split("== ", 1)[1] if "== " in line else ""
        if not body.strip():
            taking = False
            continue
        if not body.startswith(" "):
            taking = not (" are possibly lost " in body or " still reachable " in body
                          or body.startswith(("HEAP SUMMARY", "Memcheck,", "Copyright",
                                              "Using Valgrind", "Command:", "Reachable",
                                              "To see them", "For lists")))
        if taking or "lost:" in body or "ERROR SUMMARY" in body:
            keep.append(line)
    return "".join(keep)[:limit]


def valgrind_memcheck() -> list:
    """The memcheck command line esimd runs under when ESIMD_TEST_VALGRIND=1: any error, and any
    definitely or indirectly lost block at exit, makes esimd exit with VALGRIND_EXIT."""
    cmd = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
           f"--error-exitcode={VALGRIND_EXIT}", "--num-callers=30"]
    supp = "/usr/share/glib-2.0/valgrind/glib.supp"
    if os.path.exists(supp):
        cmd.append("--suppressions=" + supp)
    return cmd


class Esimd:
    """The esimd process under test."""

    def __init__(self, config_path: str, bus_address: str, log_path: str, extra_args=(), env=None,
                 wrapper=()):
        self.config_path = config_path
        self.bus_address = bus_address
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.env = env or {}
        if not wrapper and os.environ.get("ESIMD_TEST_VALGRIND") == "1":
            wrapper = valgrind_memcheck()
        self.wrapper = list(wrapper)
        self.proc: Optional[subprocess.Popen] = None

    def start(self):
        env = dict(os.environ)
        for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
            env.pop(k, None)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        # Discovery follows pcscd's readers: never the machine's pcscd (a test that wants one
        # passes its private pcscd's PCSCLITE_CSOCK_NAME).
        env["PCSCLITE_CSOCK_NAME"] = os.path.join(os.path.dirname(os.path.abspath(self.log_path)), "no-pcscd.comm")
        env.update(self.env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.wrapper + [ESIMD, "--config", self.config_path, "--debug"] + self.extra_args,
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
        log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


class World:
    """Everything a scenario needs, started in order and stopped in reverse.

    modem: "proxy-socket" (the simulator speaks the qmi-proxy protocol on a private abstract
    socket; esimd opens through it with no device node), "pty" (esimd opens the simulator's
    pseudo-terminal directly, like a cdc-wdm node), or "qmi-proxy" (the real qmi-proxy in front
    of the pseudo-terminal: only inside a private network namespace, see tests/integration).

    transport: the Transport= esimd uses and the simulator front it reaches (default: the
    environment variable ESIMD_TEST_TRANSPORT, else "qmi", where `modem` says how). "at": the
    simulator's AT pty (esimd opens its symlink, which moves when the modem disappears and comes
    back), with the AT quirks of ESIMD_TEST_AT_QUIRKS (space-separated --at-quirk values, e.g.
    "no_cgla max_line=300") unless sim_options names at_quirks. "mbim": the simulator's MBIM pty
    with Transport=mbim; "qmi-over-mbim": the same pty with Transport=qmi and QmiMode=mbim (QMI
    inside MBIM). Both open the pty's symlink too, through the real mbim-proxy when
    ESIMD_TEST_NETNS=1 says the test runs in a private network namespace
    (tests/integration/netns-run: libmbim cannot name another proxy socket), else directly.
    "pcsc": a private pcscd (esimtest.pcscd: Debian's real pcscd in namespaces of its own, with
    vsmartcard's vpcd driver as its reader) whose reader holds the simulator as its card, a T=0
    card as real eUICCs are (61xx answers collected by GET RESPONSE, 6Cxx for a wrong Le) unless
    sim_options say otherwise; esimd runs with Transport=pcsc and no Reader=, so it finds the
    card among pcscd's two readers itself, and Refresh=power-cycle (a reader runs no SIM toolkit:
    the card reset through pcscd is how a switch takes effect). Its "disappear"/"appear" are the
    card pulled out of the reader and put back.
    """

    TRANSPORTS = ("qmi", "at", "mbim", "qmi-over-mbim", "pcsc")

    def __init__(self, tmpdir: Optional[str] = None, *, orders=None, events=(), modem: str = "proxy-socket",
                 sim_options: Optional[dict] = None, smdp_options: Optional[dict] = None,
                 config: Optional[dict] = None, start_esimd: bool = True, esimd_args=(), esimd_wrapper=(),
                 wait_ready: bool = True, bus_policies=(), transport: Optional[str] = None,
                 extra_hosts: Optional[dict] = None):
        self._own_tmp = tmpdir is None
        self.transport = transport or os.environ.get("ESIMD_TEST_TRANSPORT") or "qmi"
        if self.transport not in self.TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r} (known: {', '.join(self.TRANSPORTS)})")
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="esimd-world-")
        self.orders = DEFAULT_ORDERS if orders is None else orders
        self.modem = modem
        # More servers for esimd's ConnectTo: host name -> "address:port" (e.g. a server that is
        # down, for notifications addressed to it).
        self.extra_hosts = dict(extra_hosts or {})
        self.bus = self.sim = self.smdp = self.esimd = self.client = self.pcscd = None
        # Values that must never reach esimd's log (EIDs and ICCIDs only with LogPersonalData).
        self.secrets: set[str] = set()
        self.personal: set[str] = {EID, SIM_IMEI}
        self.log_personal_data = False
        try:
            self.pki = pkimod.generate(os.path.join(self.tmpdir, "pki"))
            self.bus = PrivateBus(self.tmpdir, (BUS_POLICY, *bus_policies))
            sim_kw = dict(sim_options or {})
            if self.transport == "at":
                sim_kw["at_pty"] = True
                sim_kw.setdefault("at_quirks", os.environ.get("ESIMD_TEST_AT_QUIRKS", "").split())
            elif self.transport in ("mbim", "qmi-over-mbim"):
                sim_kw["mbim_pty"] = True
            elif self.transport == "pcsc":
                why = pcscdmod.available()
                if why:
                    raise RuntimeError("transport pcsc: no private pcscd here: " + why)
                self.pcscd = pcscdmod.Pcscd(self.tmpdir)
                self.pcscd.start()
                # The simulator reaches vpcd's port inside the rig's network namespace.
                sim_kw.update(prefix=self.pcscd.enter(), vpcd_port=self.pcscd.port)
                sim_kw.setdefault("get_response", True)
                sim_kw.setdefault("wrong_le", True)
            elif modem == "proxy-socket":
                sim_kw["qmi_proxy_socket"] = True
            else:
                sim_kw["pty"] = True
            self.sim = start_sim(self.tmpdir, self.pki["dir"], **sim_kw)
            self.smdp = start_smdp(os.path.join(self.tmpdir, "smdp"), self.pki, self.orders, events,
                                   **(smdp_options or {}))
            self.config_path = os.path.join(self.tmpdir, "esimd.conf")
            self.write_config(config or {})
            self.log_personal_data = (str((config or {}).get("Daemon", {}).get("LogPersonalData", "")).lower()
                                      == "true" or "--log-personal-data" in esimd_args)
            self.client = BusClient(self.bus.address)
            self.esimd = Esimd(self.config_path, self.bus.address, os.path.join(self.tmpdir, "esimd.log"),
                               esimd_args, env=self.pcscd.env() if self.pcscd else None, wrapper=esimd_wrapper)
            if start_esimd:
                self.start_esimd(wait_ready)
        except BaseException:
            self.stop()
            raise

    # -- configuration --------------------------------------------------------------------

    def write_config(self, overrides: dict):
        """Writes esimd.conf; overrides maps "Section" -> {key: value} (None removes a key)."""
        modem = {
            "Transport": "qmi",
            "Slot": "1",
            "Refresh": "refresh-flag",
        }
        if self.transport == "at":
            modem = {"Transport": "at", "Device": self.sim.at_pty, "Refresh": "refresh-flag"}
        elif self.transport in ("mbim", "qmi-over-mbim"):
            modem.update({"Device": self.sim.mbim_pty,
                          "UseProxy": "true" if os.environ.get("ESIMD_TEST_NETNS") == "1" else "false"})
            if self.transport == "mbim":
                modem["Transport"] = "mbim"
            else:
                modem["QmiMode"] = "mbim"
        elif self.transport == "pcsc":
            modem = {"Transport": "pcsc", "Refresh": "power-cycle"}
        elif self.modem == "proxy-socket":
            modem.update({"Device": "/dev/esim-sim-modem", "UseProxy": "true", "NoFileCheck": "true",
                          "ProxySocket": self.sim.qmi_proxy_socket})
        elif self.modem == "pty":
            modem.update({"Device": os.path.realpath(self.sim.pty), "UseProxy": "false"})
        else:
            modem.update({"Device": os.path.realpath(self.sim.pty), "UseProxy": "true"})
        sections = {
            "Daemon": {"StateDirectory": os.path.join(self.tmpdir, "state"), "JobLinger": "30"},
            "HTTP": {
                "CiCertificateDirs": self.pki["ca_dir"],
                "TrustSystemCAs": "false",
                "ConnectTo": ";".join([f"{SMDP_HOST}:443:127.0.0.1:{self.smdp.port}",
                                       f"{SMDS_HOST}:443:127.0.0.1:{self.smdp.smds_port}"] +
                                      [f"{h}:443:{a}" for h, a in self.extra_hosts.items()]),
                "ConnectTimeout": "5",
                "RequestTimeout": "20",
                "BppTimeout": "60",
            },
            "Notifications": {"RetryInitial": "2", "RetryMax": "10"},
            # The test's modem only: never the machine's own (ModemManager's, udev's).
            "Discovery": {"ModemManager": "false", "Udev": "false"},
            "Modem sim": modem,
        }
        for section, keys in overrides.items():
            target = sections.setdefault(section, {})
            for k, v in keys.items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = str(v)
        with open(self.config_path, "w") as f:
            for section, keys in sections.items():
                f.write(f"[{section}]\n")
                for k, v in keys.items():
                    f.write(f"{k}={v}\n")
                f.write("\n")

    # -- esimd ----------------------------------------------------------------------------

    def start_esimd(self, wait_ready: bool = True):
        self.esimd.start()
        try:
            self.client.wait_for(lambda: self.client.name_has_owner() or not self.esimd.running(),
                                 30, "esimd on the bus")
            if not self.esimd.running():
                raise RuntimeError("esimd exited; log:\n" + self.esimd.log())
            if wait_ready:
                self.wait_state("ready")
        except BaseException:
            raise

    def wait_state(self, state: str, timeout: float = 60.0):
        return self.client.wait_for(lambda: self.manager_prop("State") == state, timeout,
                                    f"eUICC state {state}")

    def manager_prop(self, prop: str):
        return self.client.get(MANAGER, MANAGER_IFACE, prop)

    def manager(self, method: str, args: Optional[GLib.Variant] = None, **kw):
        return self.client.call(MANAGER, MANAGER_IFACE, method, args, **kw)

    def wait_idle(self, timeout: float = 120.0):
        """Waits until no job runs or waits (e.g. automatic notification delivery)."""
        return self.client.wait_for(lambda: self.manager_prop("State") == "ready" and
                                    self.manager_prop("CurrentJob") == "/", timeout, "an idle queue")

    def wait_current_job(self, kind: str, exclude=(), timeout: float = 30.0) -> str:
        """Waits until CurrentJob is a job of this kind other than those in exclude; returns it.
        A download is answered once the card installed the profile and holds the queue for its
        read-back after that: right after download() CurrentJob may still be the download's, so
        a test that wants esimd's own delivery must wait for that job by its kind."""
        def current():
            j = self.manager_prop("CurrentJob")
            if j == "/" or j in exclude:
                return None
            try:
                return j if self.client.get(j, "org.esim.Job", "Kind") == kind else None
            except GLib.Error:
                return None  # it ended between the two reads

        return self.client.wait_for(current, timeout, f"a {kind} job as CurrentJob")

    def download(self, code: str, cc: str = "", options: Optional[dict] = None, timeout: float = 120.0):
        """Download() and wait for the job to finish; returns (job path, final Job properties)."""
        if cc:
            self.secrets.add(cc)
        opts = {k: (GLib.Variant("b", v) if isinstance(v, bool) else GLib.Variant("s", v))
                for k, v in (options or {}).items()}
        job = self.manager("Download", GLib.Variant("(ssa{sv})", (code, cc, opts)))[0]
        return job, self.wait_job(job, timeout)

    def wait_job(self, job: str, timeout: float = 120.0) -> dict:
        def finished():
            for path, iface, member, args in self.client.signals:
                if path == job and member == "Finished":
                    return True
            return False

        self.client.wait_for(finished, timeout, f"{job} to finish")
        return self.client.get_all(job, JOB_IFACE)

    def profiles(self, include_all: bool = True) -> list:
        return self.manager("ListProfiles", GLib.Variant("(b)", (include_all,)))[0]

    def notifications(self, filt: Optional[dict] = None) -> list:
        return self.manager("ListNotifications", GLib.Variant("(a{sv})", (filt or {},)))[0]

    def esimctl(self, *args, check: bool = False, input: Optional[str] = None, timeout: float = 180.0,
                env: Optional[dict] = None) -> subprocess.CompletedProcess:
        for i, a in enumerate(args):
            if a in ("-c", "--confirmation-code") and i + 1 < len(args):
                self.secrets.add(args[i + 1])
        e = dict(os.environ)
        e["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        e.update(env or {})
        return subprocess.run([ESIMCTL] + list(args), capture_output=True, text=True, input=input,
                              timeout=timeout, env=e, check=check)

    # -- secrets ------------------------------------------------------------------------

    def collect_secrets(self):
        """Every matching ID, confirmation code and ICCID the test SM-DP+ knows (tests add orders
        at run time), in the forms a careless log line could carry them."""
        try:
            orders = self.smdp.control.orders()
        except Exception:
            orders = []
        for o in list(self.orders) + list(orders):
            mid = o.get("matchingId")
            if mid and len(mid) >= 4:
                self.secrets.add(mid)
            cc = o.get("confirmationCode")
            if cc:
                self.secrets.add(cc)
            if o.get("iccid"):
                iccid = o["iccid"]
                self.personal.add(iccid)
                # its EF_ICCID form, as a hex dump would show it
                padded = iccid + "F" * (20 - len(iccid))
                self.personal.add("".join(padded[i + 1] + padded[i] for i in range(0, 20, 2)))

    def check_log_for_secrets(self, path=None) -> list:
        """Lines of esimd's log (or of the file at path) that show a secret (or, unless
        LogPersonalData, an EID/ICCID)."""
        path = path or (self.esimd and self.esimd.log_path)
        if not path or not os.path.exists(path):
            return []
        self.collect_secrets()
        forbidden = set(self.secrets)
        if not self.log_personal_data:
            forbidden |= self.personal
        # Whole tokens only: a test confirmation code may be a run of digits inside the EID.
        patterns = [(v, re.compile(r"(?<![0-9A-Za-z])" + re.escape(v) + r"(?![0-9A-Za-z])")) for v in forbidden]
        hits = []
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                for value, pattern in patterns:
                    if pattern.search(line):
                        hits.append(f"{os.path.basename(path)}:{n}: shows {value!r}: {line.strip()[:160]}")
        return hits

    # -- teardown -------------------------------------------------------------------------

    def stop(self):
        errors = []
        for name, stopper in (("esimd", self._stop_esimd),
                              ("secrets in the log", self._assert_no_secrets),
                              ("text of the log", self._assert_log_is_text),
                              ("client", lambda: self.client and self.client.close()),
                              ("smdp", lambda: self.smdp and self.smdp.stop()),
                              ("sim", lambda: self.sim and self.sim.stop()),
                              ("pcscd", lambda: self.pcscd and self.pcscd.stop()),
                              ("bus", lambda: self.bus and self.bus.stop())):
            try:
                stopper()
            except Exception as e:  # keep tearing down; report the first problem
                errors.append(f"{name}: {e}")
        if self._own_tmp and not os.environ.get("ESIMD_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))

    def _stop_esimd(self):
        """SIGTERM must end esimd in time and cleanly: a non-zero status is also how the
        sanitizers (ASan, UBSan, LeakSanitizer) report what they found."""
        if not self.esimd:
            return
        rc = self.esimd.stop(120 if self.esimd.wrapper else 40)
        if rc != 0:
            found = ""
            if rc == VALGRIND_EXIT:
                found = "\n" + memcheck_findings(self.esimd.log_path)
            raise AssertionError(f"esimd exited with status {rc}; its log: {self.esimd.log_path}{found}")

    def _assert_no_secrets(self):
        hits = self.check_log_for_secrets()
        if hits:
            raise AssertionError("esimd logged secrets:\n" + "\n".join(hits[:20]))

    def _assert_log_is_text(self):
        """Whatever a server, a card or a user sent, esimd's log is valid UTF-8 without control
        characters but newlines and tabs (a forged line or a terminal escape would be one)."""
        path = self.esimd and self.esimd.log_path
        if not path or not os.path.exists(path):
            return
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError(f"{path}: not UTF-8 at byte {e.start}: {data[max(0, e.start - 80):e.start + 20]!r}")
        bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)
        if bad:
            raise AssertionError(f"{path}: control character at {bad.start()}: "
                                 f"{text[max(0, bad.start() - 80):bad.start() + 20]!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
