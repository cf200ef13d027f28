"""A rig for esimd's discovery: esimd with no [Modem] section, finding simulated modems the way it
finds real ones, through the fake ModemManager (fakemm.py) or udev's records, and reaching them
through the real qmi-proxy and mbim-proxy.

Every simulated modem is one esim-sim.py with its own eUICC (or plain SIM) and fronts on
pseudo-terminals; the rig names them as the kernel would (cdc-wdm0, ttyUSB0) in a device
directory of its own, which esimd is pointed at with [Discovery] DeviceDirectory=. udev's side
is the test seam of discovery-udev.h: the rig writes udev's property records to a FIFO esimd
reads (ESIMD_TEST_UDEV_EVENTS).

The proxies' abstract sockets are per network namespace: the rig is used inside
`unshare -rn` (see run_in_namespace()).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Optional

from . import pki as pkimod
from .simctl import start_sim
from .smdpctl import start_smdp
from .world import (BUS_POLICY, DEFAULT_ORDERS, ESIMD, SMDP_HOST, SMDS_HOST, VALGRIND_EXIT, BusClient,
                    Esimd, PrivateBus, memcheck_findings)

MANAGER_IFACE = "org.esim.Manager"
EUICC_PREFIX = "/org/esim/euicc/"
FAKE_SERVICES_POLICY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-services.conf")
SKIP = 77
# esimd under valgrind (the valgrind pass of tools/run-tests) is many times slower: waits for
# what it does scale with it.
SLOW = 4 if os.environ.get("ESIMD_TEST_VALGRIND") == "1" else 1
PROXIES = ("/usr/libexec/qmi-proxy", "/usr/libexec/mbim-proxy")


def run_in_namespace(test_file: str):
    """Runs TEST_FILE's unittest.main() inside `unshare -rn` (user, network, pid and mount
    namespaces): the real proxies' sockets stay private and end with the test. Call from the
    test file's __main__; returns inside the namespace (with loopback up), exits outside."""
    import unittest

    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        unittest.main(verbosity=2)
        return
    for need in (*PROXIES, shutil.which("unshare"), shutil.which("ip")):
        if not need or not os.access(need, os.X_OK):
            print(f"missing {need}: skipping")
            sys.exit(SKIP)
    cmd = ["unshare", "-rn", "--pid", "--fork", "--kill-child", "--mount-proc",
           "/usr/bin/python3", os.path.abspath(test_file), "--inside", *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, timeout=1200).returncode)


class Modem:
    """One simulated modem: its simulator, EID (None for a plain SIM) and the port esimd sees."""

    def __init__(self, rig: "DiscoveryRig", index: int, front: str, eid: Optional[str], sim, port: str):
        self.rig = rig
        self.index = index
        self.front = front
        self.eid = eid
        self.sim = sim
        self.port = port  # the kernel's name, e.g. cdc-wdm0
        # where the rig's udev records say the modem sits (a USB device, one per modem)
        self.usb = f"/devices/pci0000:00/0000:00:14.0/usb1/1-{index + 1}"
        self.uid = "/sys" + self.usb
        self._ctl = None

    @property
    def ctl(self):
        """The simulator's control connection (one, closed with the rig)."""
        if self._ctl is None:
            self._ctl = self.sim.ctl()
        return self._ctl

    def close(self):
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None

    @property
    def node(self) -> str:
        return os.path.join(self.rig.dev_dir, self.port)

    def target(self) -> str:
        path = {"qmi": self.sim.pty, "mbim": self.sim.mbim_pty, "at": self.sim.at_pty}[self.front]
        return os.path.realpath(path)

    def plug(self):
        """The node appears, as the kernel makes it when the modem is plugged in."""
        if os.path.lexists(self.node):
            os.unlink(self.node)
        os.symlink(self.target(), self.node)

    def unplug(self):
        if os.path.lexists(self.node):
            os.unlink(self.node)

    def udev_record(self, action: str, **extra) -> dict:
        iface = f"{self.usb}/1-{self.index + 1}:1.4"
        if self.front == "at":
            props = {"DEVPATH": f"{iface}/{self.port}/tty/{self.port}", "SUBSYSTEM": "tty",
                     "ID_MM_PORT_TYPE_AT_PRIMARY": "1"}
        else:
            props = {"DEVPATH": f"{iface}/usbmisc/{self.port}", "SUBSYSTEM": "usbmisc",
                     "ID_USB_DRIVER": "qmi_wwan" if self.front == "qmi" else "cdc_mbim"}
        props.update({"ACTION": action, "DEVNAME": "/dev/" + self.port})
        props.update({k: str(v) for k, v in extra.items() if v is not None})
        for k in [k for k, v in extra.items() if v is None]:
            props.pop(k, None)
        return props


class DiscoveryRig:
    """Private bus, SM-DP+, simulated modems and an esimd that is told nothing about them."""

    def __init__(self, tmpdir: Optional[str] = None, *, modemmanager: bool = True, udev: bool = True,
                 udev_events: bool = False, config: Optional[dict] = None, activation: bool = False,
                 orders: Optional[list] = None):
        self._own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="esimd-discovery-")
        self.dev_dir = os.path.join(self.tmpdir, "dev")
        os.makedirs(self.dev_dir, exist_ok=True)
        self.modems: list[Modem] = []
        self.bus = self.smdp = self.esimd = self.client = self.mm = None
        self.udev_fifo: Optional[str] = None
        self._udev_fd: Optional[int] = None
        self._counts = {"qmi": 0, "mbim": 0, "at": 0}
        try:
            self.pki = pkimod.generate(os.path.join(self.tmpdir, "pki"))
            policies = [BUS_POLICY] + ([FAKE_SERVICES_POLICY] if os.path.exists(FAKE_SERVICES_POLICY) else [])
            # activation: the bus may start esimd itself (write_activation_service())
            self.servicedir = os.path.join(self.tmpdir, "services") if activation else None
            if self.servicedir:
                os.makedirs(self.servicedir, exist_ok=True)
            self.bus = PrivateBus(self.tmpdir, policies, servicedir=self.servicedir)
            self.smdp = start_smdp(os.path.join(self.tmpdir, "smdp"), self.pki, orders or DEFAULT_ORDERS, ())
            self.client = BusClient(self.bus.address)
            if udev_events:
                self.udev_fifo = os.path.join(self.tmpdir, "udev-events")
                os.mkfifo(self.udev_fifo)
                # read-write: writing never blocks waiting for esimd, and never ends its reads
                self._udev_fd = os.open(self.udev_fifo, os.O_RDWR | os.O_NONBLOCK)
            self.config_path = os.path.join(self.tmpdir, "esimd.conf")
            self.write_config(modemmanager, udev, config or {})
        except BaseException:
            self.stop()
            raise

    # -- configuration --------------------------------------------------------------------

    def write_config(self, modemmanager: bool, udev: bool, overrides: dict):
        sections = {
            "Daemon": {"StateDirectory": os.path.join(self.tmpdir, "state"), "JobLinger": "30"},
            "HTTP": {
                "CiCertificateDirs": self.pki["ca_dir"],
                "TrustSystemCAs": "false",
                "ConnectTo": f"{SMDP_HOST}:443:127.0.0.1:{self.smdp.port};"
                             f"{SMDS_HOST}:443:127.0.0.1:{self.smdp.smds_port}",
                "ConnectTimeout": "5",
                "RequestTimeout": "20",
            },
            "Notifications": {"RetryInitial": "2", "RetryMax": "10"},
            "Discovery": {"ModemManager": str(modemmanager).lower(), "Udev": str(udev).lower(),
                          "DeviceDirectory": self.dev_dir, "ProbeTimeout": str(20 * SLOW)},
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
                f.write(f"[{section}]\n" + "".join(f"{k}={v}\n" for k, v in keys.items()) + "\n")

    # -- modems ---------------------------------------------------------------------------

    def add_modem(self, front: str = "qmi", *, euicc: bool = True, eid: Optional[str] = None, plug: bool = True,
                  **sim_options) -> Modem:
        """A simulated modem reached through FRONT (qmi, mbim, at): an eUICC (EID: the PKI's for
        the first, a new one for the others) or, with euicc=False, a plain SIM."""
        index = len(self.modems)
        sim_dir = os.path.join(self.tmpdir, f"modem{index}")
        os.makedirs(sim_dir, exist_ok=True)
        if eid is None:
            eid = pkimod.DEFAULT_EID if index == 0 else pkimod.make_eid(pkimod.DEFAULT_EID[:8], 1000 + index)
        identity = self.pki if eid == pkimod.DEFAULT_EID else pkimod.issue_euicc(self.pki["dir"], eid)
        kw = dict(sim_options)
        kw.update({"qmi": {"pty": True}, "mbim": {"mbim_pty": True}, "at": {"at_pty": True}}[front])
        if not euicc:
            kw["plain_sim"] = True
        sim = start_sim(sim_dir, identity, **kw)
        n = self._counts[front]
        self._counts[front] += 1
        port = f"ttyUSB{n}" if front == "at" else f"cdc-wdm{self._counts['qmi'] + self._counts['mbim'] - 1}"
        modem = Modem(self, index, front, eid if euicc else None, sim, port)
        self.modems.append(modem)
        if plug:
            modem.plug()
        return modem

    def udev(self, modem: Modem, action: str = "add", **extra):
        """Writes one udev record for MODEM's port to esimd's FIFO."""
        self.udev_raw(modem.udev_record(action, **extra))

    def udev_raw(self, props: dict):
        text = "".join(f"{k}={v}\n" for k, v in props.items()) + "\n"
        os.write(self._udev_fd, text.encode())

    # -- ModemManager (fakemm.py) ---------------------------------------------------------

    def start_mm(self):
        """The fake ModemManager comes on the bus (again: a restart numbers modems from 0)."""
        from . import fakemm

        self.mm = fakemm.FakeModemManager(self.bus.address)
        return self.mm

    def stop_mm(self):
        self.mm.stop()
        self.mm = None

    def mm_add(self, modem: Modem, **values):
        """MODEM as ModemManager exports it: its port (and a net port), Device, Drivers."""
        from . import fakemm

        kind = {"qmi": fakemm.PORT_QMI, "mbim": fakemm.PORT_MBIM, "at": fakemm.PORT_AT}[modem.front]
        driver = {"qmi": "qmi_wwan", "mbim": "cdc_mbim", "at": "option"}[modem.front]
        ports = [(modem.port, kind)] + ([] if modem.front == "at" else [(f"wwan{modem.index}", fakemm.PORT_NET)])
        values.setdefault("Drivers", [driver])
        return self.mm.add_modem(ports=ports, device=modem.uid, state=fakemm.STATE_REGISTERED,
                                 registration=fakemm.REG_HOME, **values)

    # -- esimd ----------------------------------------------------------------------------

    def start_esimd(self, args=(), env=None, wait_name: bool = True):
        env = dict(env or {})
        if self.udev_fifo:
            env["ESIMD_TEST_UDEV_EVENTS"] = self.udev_fifo
        self.esimd = Esimd(self.config_path, self.bus.address, os.path.join(self.tmpdir, "esimd.log"),
                           list(args), env=env)
        self.esimd.start()
        if wait_name:
            self.client.wait_for(lambda: self.client.name_has_owner() or not self.esimd.running(), 30 * SLOW,
                                 "esimd on the bus")
            if not self.esimd.running():
                raise RuntimeError("esimd exited; log:\n" + self.esimd.log())

    def write_activation_service(self, args=(), env=None):
        """org.esim.service in the bus's servicedir: the first call to org.esim starts esimd
        with this rig's configuration (and ARGS), as the system bus does on a machine."""
        env = dict(env or {})
        env.setdefault("DBUS_SYSTEM_BUS_ADDRESS", self.bus.address)
        env.setdefault("PCSCLITE_CSOCK_NAME", os.path.join(self.tmpdir, "no-pcscd.comm"))
        argv = ["/usr/bin/env", "-u", "SSL_CERT_FILE", "-u", "SSL_CERT_DIR", "-u", "CURL_CA_BUNDLE",
                "-u", "REQUESTS_CA_BUNDLE"] + [f"{k}={v}" for k, v in env.items()] + \
            [ESIMD, "--config", self.config_path] + list(args)
        with open(os.path.join(self.servicedir, "org.esim.service"), "w") as f:
            f.write("[D-BUS Service]\nName=org.esim\nExec=" + " ".join(argv) + "\n")

    def activated_pid(self) -> int:
        """Starts esimd by calling it (Peer.Ping to org.esim) and gives its process id."""
        from gi.repository import GLib

        self.client.call("/", "org.freedesktop.DBus.Peer", "Ping", timeout=60 * SLOW)
        reply = self.client.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                 GLib.Variant("(s)", ("org.esim",)), dest="org.freedesktop.DBus")
        return reply[0]

    def managers(self) -> dict:
        """{path: properties} of every org.esim.Manager on the bus."""
        objects = self.client.managed_objects()
        return {p: ifaces[MANAGER_IFACE] for p, ifaces in objects.items() if MANAGER_IFACE in ifaces}

    def manager_of(self, eid: str) -> Optional[str]:
        for path, props in self.managers().items():
            if props.get("Eid") == eid:
                return path
        return None

    def wait_manager(self, eid: str, state: Optional[str] = "ready", timeout: float = 60.0) -> str:
        """The path of the Manager whose Eid is EID, once its State is STATE."""
        from gi.repository import GLib

        def ready():
            path = self.manager_of(eid)
            try:
                if path and (state is None or self.client.get(path, MANAGER_IFACE, "State") == state):
                    return path
            except GLib.Error as e:
                # it left the bus between the two calls (its modem let go): not yet
                if "UnknownObject" not in str(e) and "UnknownInterface" not in str(e):
                    raise
            return None

        return self.client.wait_for(ready, timeout * SLOW, f"the eUICC {eid} {state or 'on the bus'}")

    def wait_gone(self, path: str, timeout: float = 60.0):
        self.client.wait_for(lambda: path not in self.managers(), timeout * SLOW, f"{path} to leave the bus")

    def wait_joined(self, path: str, timeout: float = 30.0):
        """Until the Manager at PATH names ModemManager's one modem object, which ModemManager
        exports anew after each InhibitDevice (an AT job) or slot switch: between the two it may
        have none, and esimd follows the new object once it appears."""
        def joined():
            modems = self.mm.modems()
            return len(modems) == 1 and self.prop(path, "ModemManagerModem") == modems[0].path

        self.client.wait_for(joined, timeout * SLOW, "the eUICC joined to the modem ModemManager probed anew")

    def prop(self, path: str, name: str):
        return self.client.get(path, MANAGER_IFACE, name)

    def wait_log(self, text: str, timeout: float = 60.0, after: int = 0) -> int:
        """Waits for TEXT in esimd's log (from byte AFTER on); returns where it ends."""
        def found():
            log = self.esimd.log()
            i = log.find(text, after)
            return i + len(text) if i >= 0 else None

        return self.client.wait_for(found, timeout * SLOW, f"{text!r} in esimd's log")

    def log_size(self) -> int:
        return len(self.esimd.log()) if self.esimd else 0

    # -- teardown -------------------------------------------------------------------------

    def stop(self):
        errors = []

        def guard(name, fn):
            try:
                fn()
            except Exception as e:
                errors.append(f"{name}: {e}")

        if self.esimd:
            rc = None

            def stop_esimd():
                nonlocal rc
                rc = self.esimd.stop(60 * SLOW)
                if rc != 0:
                    # the log goes with the rig's directory: say what memcheck found now
                    found = "\n" + memcheck_findings(self.esimd.log_path) if rc == VALGRIND_EXIT else ""
                    raise AssertionError(f"esimd exited with status {rc}; its log: {self.esimd.log_path}{found}")

            guard("esimd", stop_esimd)
        guard("client", lambda: self.client and self.client.close())
        if self.mm:
            guard("fake ModemManager", self.mm.stop)
        for m in self.modems:
            guard(f"sim {m.index}", m.close)
            guard(f"sim {m.index}", m.sim.stop)
        guard("smdp", lambda: self.smdp and self.smdp.stop())
        guard("bus", lambda: self.bus and self.bus.stop())
        if self._udev_fd is not None:
            os.close(self._udev_fd)
        if self._own_tmp and not os.environ.get("ESIMD_KEEP_TMP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
