#!/usr/bin/python3
"""The systemd units as installed: esimd.service's sandbox fits the hardware (device groups that
exist in the kernel's /proc/devices naming, the proxies outside it) with an exposure of 2.0 or
better, restarts on failure, has a watchdog that esimd feeds from its main loop; the proxies'
units start the very program libqmi/libmbim would start, skip when a proxy already serves the
socket, and count as started only once the socket is there (their commands are run here, in a
private network namespace, against the real qmi-proxy and mbim-proxy)."""

import ctypes
import fnmatch
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from esimtest import world as worldmod

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]
HERE = os.path.dirname(os.path.abspath(__file__))

# Each kind of port esimd reaches (itself, or the proxies for it), as a device node, with the name
# the kernel gives its major in /proc/devices, which is what DeviceAllow=char-NAME matches, and
# the module that registers that name (None: built into the kernels of the machines that have it).
# systemd resolves the names once, when the unit starts, from /proc/devices, which lists only the
# drivers loaded then (systemd.resource-control(5), DeviceAllow=: "should only reference device
# groups which are resolvable at the time the unit is started ... consider ... Wants= and After=
# modprobe@xyz.service"): a module not loaded yet must be loaded before the unit starts, or a
# modem plugged in later is denied its ports.
#   usb        drivers/usb/core/file.c: register_chrdev(USB_MAJOR (180), "usb") - cdc-wdm,
#              whose class is "usbmisc", but the class is not what systemd matches
#   wwan_port  drivers/net/wwan/wwan_core.c, wwan_init(): register_chrdev(0, "wwan_port")
#   ttyUSB     drivers/usb/serial/usb-serial.c, usb_serial_init(): the tty driver "ttyUSB"
#   ttyACM     drivers/usb/class/cdc-acm.c, acm_init(): the tty driver "ttyACM"
#   ttyS       8250 (x86, MediaTek and most routers' SoCs), ttyAMA PL011 (Raspberry Pi), ttyHS
#              qcom_geni_serial/msm_serial_hs, ttyMSM msm_serial: serial_core registers the
#              uart_driver's dev_name; UARTs a module's AT port is wired to (esimd.conf(5) names
#              /dev/ttyS1 and /dev/ttyHS0)
PORTS = {
    "/dev/cdc-wdm0": ("usb", "usbcore", "qmi/mbim"),
    "/dev/wwan0qmi0": ("wwan_port", "wwan", "qmi"),
    "/dev/wwan0mbim0": ("wwan_port", "wwan", "mbim"),
    "/dev/wwan0at0": ("wwan_port", "wwan", "at"),
    "/dev/ttyUSB2": ("ttyUSB", "usbserial", "at"),
    "/dev/ttyACM0": ("ttyACM", "cdc_acm", "at"),
    "/dev/ttyS1": ("ttyS", None, "at"),
    "/dev/ttyAMA0": ("ttyAMA", None, "at"),
    "/dev/ttyHS0": ("ttyHS", None, "at"),
    "/dev/ttyMSM1": ("ttyMSM", None, "at"),
}
# Names that look right but match nothing (classes, not majors) or give more than needed.
NOT_MAJORS = {"usbmisc", "wwan", "usb_device"}
# Groups no unit may allow: consoles and terminals (tty: /dev/tty1..; pts; "*" and "tty*").
NEVER = {"tty", "pts", "ptm", "vcs", "mem", "misc", "input", "hidraw"}


def tty_prefix(path: str) -> str:
    """/dev/ttyUSB2 -> ttyUSB: the tty driver's name, which /proc/devices lists."""
    return re.match(r"/dev/(tty[A-Za-z]+)", path).group(1)


def unit_values(text: str, key: str) -> list:
    return re.findall(rf"^{key}=(.*)$", text, re.M)


class Units(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="esimd-units-")
        subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.dest, "--no-rebuild", "--quiet"],
                       check=True, capture_output=True)
        cls.units = {}
        for root, _, files in os.walk(cls.dest):
            for f in files:
                if f.endswith(".service") and (f.startswith("esimd") or f == "dbus-org.esim.service"):
                    path = os.path.join(root, f)
                    with open(path) as fh:
                        cls.units[f] = (path, fh.read())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def unit(self, name):
        self.assertIn(name, self.units)
        return self.units[name][1]

    def test_the_four_units(self):
        self.assertEqual(sorted(self.units), ["dbus-org.esim.service", "esimd-mbim-proxy.service",
                                              "esimd-qmi-proxy.service", "esimd.service"])

    def test_on_demand_is_the_same_esimd(self):
        """D-Bus activation's unit is esimd.service with --idle-timeout, not enabled, and without
        Conflicts= (which would cancel esimd.service's start when a client calls first at boot)."""
        resident, on_demand = self.unit("esimd.service"), self.unit("dbus-org.esim.service")
        self.assertEqual(unit_values(on_demand, "ExecStart"),
                         [unit_values(resident, "ExecStart")[0] + " --idle-timeout=30"])
        self.assertEqual(unit_values(resident, "WantedBy"), ["multi-user.target"])
        self.assertEqual(unit_values(resident, "Alias"), [])
        self.assertNotIn("[Install]", on_demand)
        self.assertEqual(unit_values(on_demand, "Conflicts") + unit_values(resident, "Conflicts"), [])
        self.assertEqual(unit_values(resident, "Type") + unit_values(resident, "BusName"), ["dbus", "org.esim"])
        # systemd refuses two units with the same BusName=; esimd says READY=1 once it serves.
        self.assertEqual(unit_values(on_demand, "Type") + unit_values(on_demand, "BusName"), ["notify"])
        strip = lambda text: [line for line in text.splitlines()
                              if line and not line.startswith(("#", "Description=", "ExecStart=", "WantedBy=", "[",
                                                               "Type=", "BusName="))]
        self.assertEqual(strip(on_demand), strip(resident))

    def test_exposure(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        for name, (path, _) in sorted(self.units.items()):
            with self.subTest(unit=name):
                out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                                     capture_output=True, text=True)
                m = re.search(rf"Overall exposure level for {re.escape(name)}: ([0-9.]+)", out.stdout)
                self.assertIsNotNone(m, out.stdout + out.stderr)
                print(f"systemd-analyze security {name}: exposure {m.group(1)}")
                self.assertLessEqual(float(m.group(1)), 2.0)

    def test_systemd_reads_every_line(self):
        """systemd-analyze verify: no unknown key or bad value (esimd itself is not installed on
        this machine, which is the one thing it may say)."""
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        for name, (path, text) in sorted(self.units.items()):
            with self.subTest(unit=name):
                out = subprocess.run(["systemd-analyze", "verify", "--man=no", path], capture_output=True, text=True)
                exec_start = unit_values(text, "ExecStart")[0].split()[0]
                lines = [line for line in (out.stdout + out.stderr).splitlines()
                         if line.strip() and f"Command {exec_start} is not executable" not in line]
                self.assertEqual(lines, [])

    def allowed_groups(self, text):
        self.assertEqual(unit_values(text, "DevicePolicy"), ["closed"])
        groups = []
        for entry in unit_values(text, "DeviceAllow"):
            spec, access = entry.split()
            self.assertEqual(access, "rw", entry)
            self.assertTrue(spec.startswith("char-"), f"{entry}: a path is resolved once, at start: no hot-plug")
            groups.append(spec[len("char-"):])
        return groups

    def test_devices(self):
        """Each port esimd (or its proxy) opens is in a device group the unit allows (matched as
        systemd does, fnmatch on the /proc/devices name), the group's module is loaded before the
        unit starts, and nothing else is allowed."""
        for name, kinds in (("esimd.service", ("qmi/mbim", "qmi", "mbim", "at")),
                            ("dbus-org.esim.service", ("qmi/mbim", "qmi", "mbim", "at")),
                            ("esimd-qmi-proxy.service", ("qmi/mbim", "qmi")),
                            ("esimd-mbim-proxy.service", ("qmi/mbim", "mbim"))):
            text = self.unit(name)
            groups = self.allowed_groups(text)
            wants = " ".join(unit_values(text, "Wants")).split()
            after = " ".join(unit_values(text, "After")).split()
            needed = set()
            for path, (major, module, kind) in PORTS.items():
                if kind not in kinds:
                    continue
                with self.subTest(unit=name, port=path):
                    self.assertTrue(any(fnmatch.fnmatchcase(major, g) for g in groups),
                                    f"{path} (/proc/devices: {major}) is denied by {name}: DeviceAllow {groups}")
                    needed.add(major)
                    if module:
                        self.assertIn(f"modprobe@{module}.service", wants)
                        self.assertIn(f"modprobe@{module}.service", after)
            with self.subTest(unit=name, check="nothing more"):
                for g in groups:
                    self.assertNotIn(g, NOT_MAJORS)
                    self.assertFalse(any(fnmatch.fnmatchcase(n, g) for n in NEVER), g)
                    self.assertTrue(any(fnmatch.fnmatchcase(m, g) for m in needed), f"{g}: no port needs it")
        # Where this kernel has the drivers loaded, the names are the ones it uses.
        with open("/proc/devices") as f:
            chars = f.read().split("Block devices:")[0].splitlines()[1:]
        majors = {name: int(major) for major, name in (line.split() for line in chars if line.strip())}
        if "usb" in majors:
            self.assertEqual(majors["usb"], 180)

    def test_documented_ports_are_allowed(self):
        """Every tty the manual pages and the example configuration name as a modem's port is one
        the unit allows: a Device= copied from the docs is not denied by the sandbox."""
        docs = ""
        for rel in ("daemon/man/esimd.conf.5.in", "daemon/man/esimd.8.in", "daemon/esimd.conf.example", "README.md"):
            with open(os.path.join(SOURCE, rel)) as f:
                docs += f.read().replace("\\-", "-")
        ttys = set(re.findall(r"/dev/(tty[A-Za-z]+)[0-9]", docs))
        self.assertIn("ttyUSB", ttys)
        known = {tty_prefix(p) for p in PORTS if p.startswith("/dev/tty")}
        groups = self.allowed_groups(self.unit("esimd.service"))
        for tty in sorted(ttys):
            with self.subTest(tty=tty):
                self.assertIn(tty, known, "a port the docs name that this test does not know")
                self.assertTrue(any(fnmatch.fnmatchcase(tty, g) for g in groups), f"/dev/{tty}N is denied: {groups}")

    def test_no_private_network_and_unix_sockets(self):
        """The proxies' sockets are abstract, so per network namespace; pcscd's is a path in /run."""
        for name, (_, text) in self.units.items():
            with self.subTest(unit=name):
                self.assertEqual(unit_values(text, "PrivateNetwork"), [])
                self.assertIn("AF_UNIX", unit_values(text, "RestrictAddressFamilies")[0].split())
                for key in ("InaccessiblePaths", "TemporaryFileSystem", "ReadOnlyPaths"):
                    for value in unit_values(text, key):
                        self.assertNotRegex(value, r"(^|\s)-?/run(/pcscd)?(\s|$)")

    def test_restart_and_watchdog(self):
        text = self.unit("esimd.service")
        self.assertEqual(unit_values(text, "Restart"), ["on-failure"])
        self.assertEqual(len(unit_values(text, "RestartSec")), 1)
        self.assertEqual(unit_values(text, "WatchdogSec"), ["3min"])
        self.assertEqual(unit_values(text, "NotifyAccess"), ["main"])

    def test_every_transport_under_the_units_system_call_filter(self):
        """The demo (download, enable, disable, delete, notifications over HTTPS) through each
        transport, with esimd under esimd.service's SystemCallFilter=, its EPERM for the rest,
        NoNewPrivileges=, MemoryDenyWriteExecute=, and its file system as ProtectSystem=strict,
        ProtectHome=, InaccessiblePaths= and ProcSubset=pid leave it (unit-sandbox; no systemd
        runs here): a system call the filter leaves out, a writable and executable mapping
        (GnuTLS loading the system CA store through p11-kit, say) or a write outside the state
        directory fails a step."""
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1" or worldmod.esimd_is_sanitized():
            self.skipTest("valgrind and the sanitizers make system calls of their own: the plain pass checks this")
        try:
            ctypes.CDLL("libseccomp.so.2")
        except OSError:
            self.skipTest("libseccomp is not installed")
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            wrapper = os.path.join(tmp, "esimd")
            used = os.path.join(tmp, "used")
            # systemd runs esimd from /usr/sbin. The build's esimd may be in a clone under /root
            # or /home, which ProtectHome=yes hides: exec'd from there it is "No such file or
            # directory" under the sandbox. A copy in the temporary directory stays in reach.
            program = os.path.join(tmp, "esimd.bin")
            shutil.copy2(worldmod.ESIMD, program)
            with open(wrapper, "w") as f:
                # The test world (and esimd's StateDirectory in it) lives in the temporary
                # directory: that one stays writable. (Left read-only, esimd warns "cannot create
                # the state directory ...: Read-only file system" and the demo's download fails
                # with StateNotWritable: the mounts are in force.)
                f.write(f"#!/bin/sh\necho >> {used}\nexport UNIT_SANDBOX_MOUNTS=1 "
                        f"UNIT_SANDBOX_WRITABLE={os.path.realpath(tempfile.gettempdir())}\n"
                        f"exec /usr/bin/python3 {os.path.join(HERE, 'unit-sandbox')} "
                        f"{self.units['esimd.service'][0]} {program} \"$@\"\n")
            os.chmod(wrapper, 0o755)
            for transport in ("qmi", "mbim", "at", "pcsc"):
                with self.subTest(transport=transport):
                    env = dict(os.environ, ESIMD_PROGRAM=wrapper)
                    r = subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "tools", "demo.py"),
                                        "--transport", transport], capture_output=True, text=True, timeout=600,
                                       env=env)
                    self.assertIn("Demo finished: every step succeeded.", r.stdout, r.stdout[-4000:] + r.stderr[-2000:])
            self.assertTrue(os.path.exists(used), "the demo did not run esimd through unit-sandbox")

    def test_refused_configuration_is_not_restarted(self):
        """esimd refusing its configuration exits with a status of its own, which the units do
        not restart on: at RestartSec=5s the start limit (5 starts in 10 s) never trips, so a
        typo in esimd.conf meant an esimd started and refused every 5 s, forever. A lost bus
        (status 1) is still restarted."""
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "esimd.conf")
            with open(conf, "w") as f:
                f.write("[Modem a]\nDevice=dev\nRefresh=sometimes\n")
            r = subprocess.run([os.path.join(BUILD, "daemon", "esimd"), "--config", conf],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + os.path.join(tmp, "none")))
        self.assertIn("[Modem a] Refresh", r.stderr)
        self.assertNotIn(r.returncode, (0, 1), r.stderr)
        for name in ("esimd.service", "dbus-org.esim.service"):
            with self.subTest(unit=name):
                text = self.unit(name)
                self.assertEqual(unit_values(text, "Restart"), ["on-failure"])
                self.assertEqual(unit_values(text, "RestartPreventExitStatus"), [str(r.returncode)])

    def library_proxy_path(self, package: str, soname: str, program: str) -> str:
        """The path of the proxy compiled into the library (the one esimd links with)."""
        libdir = subprocess.run(["pkg-config", "--variable=libdir", package], capture_output=True,
                                text=True).stdout.strip()
        if not libdir or not os.path.exists(os.path.join(libdir, soname)):
            self.skipTest(f"{package} is not installed")
        with open(os.path.join(libdir, soname), "rb") as f:
            found = re.findall(rb"\0(/[^\0]*/" + program.encode() + rb")\0", f.read())
        self.assertEqual(len(set(found)), 1, found)
        return found[0].decode()

    def test_proxies_are_the_libraries_and_not_in_esimds_sandbox(self):
        inaccessible = " ".join(unit_values(self.unit("esimd.service"), "InaccessiblePaths")).split()
        for package, soname, program in (("qmi-glib", "libqmi-glib.so", "qmi-proxy"),
                                         ("mbim-glib", "libmbim-glib.so", "mbim-proxy")):
            with self.subTest(proxy=program):
                path = self.library_proxy_path(package, soname, program)
                self.assertIn("-" + path, inaccessible)
                unit = self.unit(f"esimd-{program}.service")
                self.assertEqual(unit_values(unit, "ExecStart"), [path + " --no-exit"])
                self.assertTrue(os.access(path, os.X_OK), path)
        esimd = self.unit("esimd.service")
        wants = " ".join(unit_values(esimd, "Wants")).split()
        after = " ".join(unit_values(esimd, "After")).split()
        for proxy in ("esimd-qmi-proxy.service", "esimd-mbim-proxy.service"):
            self.assertIn(proxy, wants)
            self.assertIn(proxy, after)
            self.assertIn("ModemManager.service", " ".join(unit_values(self.unit(proxy), "Before")).split())
        # Transport=pcsc: pcscd's socket listens before esimd starts (integration-pcsc runs esimd
        # with that socket's directory read-only, as ProtectSystem=strict leaves /run).
        self.assertIn("pcscd.socket", wants)
        self.assertIn("pcscd.socket", after)
        self.assertEqual(unit_values(esimd, "ProtectSystem"), ["strict"])

    def test_proxies_stay_when_idle(self):
        """The proxy a unit runs does not leave when it has no client: esimd's sandbox cannot start
        another (libqmi/libmbim would spawn it as esimd's child; the unit hides the programs), so
        one that left after its idle time (300 s by default: mbim-proxy.c EMPTY_TIMEOUT_DEFAULT),
        e.g. at boot with no modem yet, was gone when a modem came. The unit's command is run as
        systemd would, in a private network namespace, with the idle time cut to 1 s (waiting the
        default out is too long for a test): it must still serve after three."""
        if not shutil.which("unshare"):
            self.skipTest("unshare is not installed")
        for program in ("qmi-proxy", "mbim-proxy"):
            with self.subTest(proxy=program):
                unit = self.unit(f"esimd-{program}.service")
                start = unit_values(unit, "ExecStart")[0]
                post = unit_values(unit, "ExecStartPost")[0].replace("$$", "$")
                script = (f"{start} --empty-timeout=1 & proxy=$!; {post}; echo post=$?; sleep 3; "
                          f"grep -qs '@{program}$' /proc/self/net/unix && echo still-serving; kill $proxy")
                r = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, text=True, timeout=60)
                self.assertIn("post=0\n", r.stdout, r.stderr)
                self.assertIn("still-serving\n", r.stdout, r.stderr)

    def test_proxy_programs_come_with_esimd(self):
        """A proxy unit's program is installed with esimd: its Debian package is one of esimd's
        Depends (Debian 12's libqmi-glib5 depends on libmbim-proxy but not on libqmi-proxy, so
        without ModemManager nothing else brings qmi-proxy, and esimd-qmi-proxy.service would fail
        at every boot: a degraded system, and no QMI modem for esimd); and where the program is
        missing all the same (a `meson install`), the unit is skipped by a condition, not failed."""
        if not shutil.which("dpkg-query"):
            self.skipTest("not a Debian system")
        with open(os.path.join(SOURCE, "debian", "control")) as f:
            stanzas = f.read().split("\n\n")
        esimd = next(st for st in stanzas if re.search(r"^Package: esimd$", st, re.M))
        depends = re.search(r"^Depends:(.*?)(?=^\S)", esimd + "\nEnd:", re.M | re.S).group(1)
        depends = {d.split()[0] for alt in depends.split(",") for d in alt.split("|") if d.strip()}
        for program in ("qmi-proxy", "mbim-proxy"):
            with self.subTest(proxy=program):
                unit = self.unit(f"esimd-{program}.service")
                path = unit_values(unit, "ExecStart")[0].split()[0]
                self.assertEqual(unit_values(unit, "ConditionFileIsExecutable"), [path])
                owner = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
                if owner.returncode != 0:
                    self.skipTest(f"{path} belongs to no Debian package here")
                package = owner.stdout.split(":")[0]
                self.assertIn(package, depends, f"{path} comes with {package}, which esimd does not depend on")

    def test_proxy_unit_commands(self):
        """ExecCondition and ExecStartPost, as systemd would run them, in a private network
        namespace: the unit runs when no proxy serves the socket, is skipped when one does, and is
        started once its proxy listens."""
        if not shutil.which("unshare"):
            self.skipTest("unshare is not installed")
        for program in ("qmi-proxy", "mbim-proxy"):
            with self.subTest(proxy=program):
                unit = self.unit(f"esimd-{program}.service")
                # systemd turns $$ into $ and hands the rest to the program as words.
                condition = unit_values(unit, "ExecCondition")[0].replace("$$", "$")
                post = unit_values(unit, "ExecStartPost")[0].replace("$$", "$")
                start = unit_values(unit, "ExecStart")[0]
                script = (f"{condition}; echo condition-empty=$?; "
                          f"{start} --empty-timeout=30 & proxy=$!; {post}; echo post=$?; "
                          f"{condition}; echo condition-served=$?; kill $proxy")
                r = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, text=True, timeout=60)
                self.assertIn("condition-empty=0\n", r.stdout, r.stderr)
                self.assertIn("post=0\n", r.stdout, r.stderr)
                self.assertRegex(r.stdout, r"condition-served=[1-9]")


class Notify(unittest.TestCase):
    """esimd talks to its service manager: a watchdog ping from the main loop at half the period
    it is given, its status, and that it is stopping."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="esimd-notify-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bus = worldmod.PrivateBus(self.tmp)
        self.addCleanup(self.bus.stop)
        self.conf = os.path.join(self.tmp, "esimd.conf")
        with open(self.conf, "w") as f:
            # Discovery off: the test must not find this machine's own modems.
            f.write(f"[Daemon]\nStateDirectory={self.tmp}/state\n[Discovery]\nModemManager=false\nUdev=false\n")
        self.sock_path = os.path.join(self.tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.addCleanup(self.sock.close)

    def messages_until(self, predicate, timeout, what):
        got = []
        deadline = time.monotonic() + timeout
        while not predicate(got):
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"no {what} from esimd; it sent {got}")
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return got

    def start(self, env):
        esimd = worldmod.Esimd(self.conf, self.bus.address, os.path.join(self.tmp, "esimd.log"),
                               env=dict(env, NOTIFY_SOCKET=self.sock_path))
        esimd.start()
        self.addCleanup(esimd.stop)
        return esimd

    def test_watchdog_status_stopping(self):
        esimd = self.start({"WATCHDOG_USEC": "2000000"})
        got = self.messages_until(lambda m: sum(x == "WATCHDOG=1" for x in m) >= 3, 60, "three watchdog pings")
        self.assertIn("STATUS=serving org.esim: 0 eUICC(s)", got)
        esimd.proc.send_signal(signal.SIGTERM)
        got = self.messages_until(lambda m: any(x.startswith("STOPPING=1") for x in m), 60, "STOPPING=1")
        self.assertEqual(esimd.proc.wait(60), 0, esimd.log())

    def test_no_watchdog_unless_asked(self):
        esimd = self.start({})
        got = self.messages_until(lambda m: any(x.startswith("STATUS=serving") for x in m), 60, "a status")
        esimd.proc.send_signal(signal.SIGTERM)
        got += self.messages_until(lambda m: any(x.startswith("STOPPING=1") for x in m), 60, "STOPPING=1")
        self.assertNotIn("WATCHDOG=1", got)
        self.assertEqual(esimd.proc.wait(60), 0, esimd.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
