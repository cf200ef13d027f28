#!/usr/bin/python3
"""Installing esimd gives a system that works.

ReadmeInstall runs the README's own install line (into a staging root, DESTDIR) and checks that
every file lands where the program that reads it looks, asking those programs and their
pkg-config files: the bus policy where the system bus's configuration includes it, the activation
file in the bus's service directory, the polkit actions where polkitd reads them, the unit in one
of systemd's unit paths, the configuration where the docs say (/etc/esimd/esimd.conf), the man
pages in man's path and the Python module in python3's; with other prefixes (introspected, not
built) the system daemons' files still go where those daemons look.

Install checks what is installed from this build: the unit and activation agree, the policies
parse, the example configuration (the units' sandbox: test_systemd.py).

BusName checks that esimd says why it cannot own org.esim: a bus without its policy, or another
process owning the name."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

from esimtest import world as worldmod

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]


def pkg_config(package: str, variable: str) -> str:
    out = subprocess.run(["pkg-config", f"--variable={variable}", package], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise unittest.SkipTest(f"pkg-config knows no {package} {variable} (its -dev package is missing)")
    return out.stdout.strip()


def readme_install_line() -> str:
    """The install command of the README's "Using esimd" table."""
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    m = re.search(r"^\| install from source \| `([^`]+)`", readme, re.M)
    assert m, "README: no 'install from source' row"
    return m.group(1)


def system_bus_dirs():
    """(policy directories, service directories) of the system bus, from its own configuration."""
    datadir = pkg_config("dbus-1", "datadir")
    conf = os.path.join(datadir, "dbus-1", "system.conf")
    root = ET.parse(conf).getroot()
    policy_dirs = [os.path.normpath(os.path.join(os.path.dirname(conf), e.text.strip()))
                   for e in root.iter("includedir")]
    service_dirs = [e.text.strip() for e in root.iter("servicedir")]
    if root.find("standard_system_servicedirs") is not None:
        service_dirs.append(pkg_config("dbus-1", "system_bus_services_dir"))
    return policy_dirs, service_dirs


def systemd_unit_paths() -> list:
    out = subprocess.run(["systemd-analyze", "unit-paths"], capture_output=True, text=True)
    if out.returncode != 0:
        raise unittest.SkipTest("systemd-analyze unit-paths failed: " + out.stderr)
    return [os.path.normpath(p) for p in out.stdout.split()]


def skip_unless_plain_pass():
    """The layout depends on neither sanitizers nor valgrind: it is built and checked once, in
    the plain pass of tools/run-tests."""
    if worldmod.esimd_is_sanitized() or os.environ.get("ESIMD_TEST_VALGRIND") == "1":
        raise unittest.SkipTest("the install layout is checked in the plain pass")


class ReadmeInstall(unittest.TestCase):
    """The README's install line, run as written (its build directory in a temporary place and
    DESTDIR set): this is what a user gets."""

    @classmethod
    def setUpClass(cls):
        skip_unless_plain_pass()
        cls.tmp = tempfile.mkdtemp(prefix="esimd-readme-install-")
        cls.dest = os.path.join(cls.tmp, "root")
        line = readme_install_line()
        builddir = re.search(r"meson setup (\S+)", line).group(1)
        cls.line = line.replace(builddir, os.path.join(cls.tmp, builddir))
        env = dict(os.environ, DESTDIR=cls.dest)
        out = subprocess.run(["sh", "-c", cls.line], cwd=SOURCE, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError(f"{cls.line}: exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        cls.files = {}
        for root, dirs, files in os.walk(cls.dest):
            for f in files:
                path = "/" + os.path.relpath(os.path.join(root, f), cls.dest)
                cls.files.setdefault(f, []).append(path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def installed(self, name: str) -> str:
        """The one installed path (as on the target system) of the file called @name."""
        paths = self.files.get(name, [])
        self.assertEqual(len(paths), 1, f"{name}: {paths}")
        return paths[0]

    def staged(self, path: str) -> str:
        return os.path.join(self.dest, path.lstrip("/"))

    def test_bus_policy_where_the_system_bus_reads_it(self):
        policy_dirs, _ = system_bus_dirs()
        self.assertIn(os.path.dirname(self.installed("org.esim.conf")), policy_dirs)

    def test_activation_where_the_system_bus_looks(self):
        _, service_dirs = system_bus_dirs()
        path = self.installed("org.esim.service")
        self.assertIn(os.path.dirname(path), service_dirs)
        with open(self.staged(path)) as f:
            service = f.read()
        unit = re.search(r"^SystemdService=(\S+)", service, re.M).group(1)
        # D-Bus activation's own unit, installed where systemd looks, running the installed esimd
        self.assertIn(os.path.dirname(self.installed(unit)), systemd_unit_paths())
        with open(self.staged(self.installed(unit))) as f:
            exec_start = re.search(r"^ExecStart=(\S+)", f.read(), re.M).group(1)
        self.assertEqual(exec_start, self.installed("esimd"))

    def test_polkit_actions_where_polkitd_reads_them(self):
        self.assertEqual(os.path.dirname(self.installed("org.esim.policy")),
                         pkg_config("polkit-gobject-1", "actiondir"))

    def test_unit_where_systemd_looks_and_runs_what_was_installed(self):
        unit = self.installed("esimd.service")
        self.assertIn(os.path.dirname(unit), systemd_unit_paths())
        with open(self.staged(unit)) as f:
            exec_start = re.search(r"^ExecStart=(\S+)", f.read(), re.M).group(1)
        self.assertEqual(exec_start, self.installed("esimd"))
        self.assertTrue(os.access(self.staged(exec_start), os.X_OK))

    def test_configuration_where_the_docs_say(self):
        esimd = self.staged(self.installed("esimd"))
        out = subprocess.run([esimd, "--help"], capture_output=True, text=True).stdout
        self.assertIn("(default /etc/esimd/esimd.conf)", out)
        for page in ("esimd.8", "esimd.conf.5"):
            with open(self.staged(self.installed(page))) as f:
                self.assertIn("/etc/esimd/esimd.conf", f.read().replace("\\-", "-"), page)
        self.assertIn("/etc/esimd/esimd.conf", self.line_of_readme_configure())

    def line_of_readme_configure(self) -> str:
        with open(os.path.join(SOURCE, "README.md")) as f:
            return re.search(r"^\| configure \|.*$", f.read(), re.M).group(0)

    def test_ci_directory_is_where_esimd_looks(self):
        esimd = self.staged(self.installed("esimd"))
        empty = os.path.join(self.tmp, "empty.conf")
        open(empty, "w").close()
        out = subprocess.run([esimd, "--check-config", "--config", empty], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        dirs = re.search(r"^CiCertificateDirs=(.*)$", out.stdout, re.M).group(1).split(";")
        self.assertTrue(os.path.isdir(self.staged(dirs[0])), dirs)

    def test_man_pages_in_man_path(self):
        if not shutil.which("manpath"):
            self.skipTest("man-db is not installed")
        path = subprocess.run(["manpath", "-g"], capture_output=True, text=True).stdout.strip().split(":")
        for page in ("esimd.8", "esimd.conf.5", "esimctl.1"):
            with self.subTest(page=page):
                self.assertIn(os.path.dirname(os.path.dirname(self.installed(page))), path)

    def test_completions_where_the_shells_look(self):
        # bash-completion searches XDG_DATA_DIRS (default /usr/local/share:/usr/share)
        completions = [p for p in self.files.get("esimctl", []) if "bash-completion" in p]
        self.assertEqual(len(completions), 1, self.files.get("esimctl"))
        bash = os.path.dirname(completions[0])
        dirs = [os.path.join(d, "bash-completion", "completions") for d in
                os.environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":")]
        self.assertIn(bash, dirs)
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        fpath = subprocess.run(["zsh", "-fc", "print -l $fpath"], capture_output=True, text=True).stdout.split()
        self.assertIn(os.path.dirname(self.installed("_esimctl")), fpath)

    def test_python_module_where_python3_looks(self):
        import site

        esim = self.installed("esim.py")
        self.assertIn(os.path.dirname(os.path.dirname(esim)),
                      site.getsitepackages() + ["/usr/lib/python3/dist-packages"])


class OtherPrefixes(unittest.TestCase):
    """What `meson install` would do with other prefixes (introspected: nothing is built)."""

    @classmethod
    def setUpClass(cls):
        skip_unless_plain_pass()

    def layout(self, *options):
        tmp = tempfile.mkdtemp(prefix="esimd-prefix-")
        self.addCleanup(shutil.rmtree, tmp, True)
        build = os.path.join(tmp, "build")
        subprocess.run(["meson", "setup", build, "-Dtests=false", *options], cwd=SOURCE, check=True,
                       capture_output=True)
        import json
        installed = json.loads(subprocess.run(["meson", "introspect", "--installed", build], check=True,
                                              capture_output=True, text=True).stdout)
        dest = {os.path.basename(src): dst for src, dst in installed.items()}
        with open(os.path.join(build, "build-config.h")) as f:
            sysconfdir = re.search(r'#define SYSCONFDIR "([^"]+)"', f.read()).group(1)
        return dest, sysconfdir

    def test_system_files_go_where_the_system_looks_whatever_the_prefix(self):
        policy_dirs, service_dirs = system_bus_dirs()
        units = systemd_unit_paths()
        actions = pkg_config("polkit-gobject-1", "actiondir")
        for prefix, etc in (("/usr", "/etc"), ("/usr/local", "/etc"), ("/opt/esimd", "/opt/esimd/etc")):
            with self.subTest(prefix=prefix):
                dest, sysconfdir = self.layout(f"--prefix={prefix}")
                self.assertEqual(sysconfdir, etc)
                self.assertIn(os.path.dirname(dest["org.esim.conf"]), policy_dirs)
                self.assertIn(os.path.dirname(dest["org.esim.service"]), service_dirs)
                self.assertEqual(os.path.dirname(dest["org.esim.policy"]), actions)
                self.assertIn(os.path.dirname(dest["esimd.service"]), units)
                self.assertEqual(dest["esimd"], os.path.join(prefix, "sbin", "esimd"))


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="esimd-install-")
        subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.dest, "--no-rebuild", "--quiet"],
                       check=True, capture_output=True)
        cls.files = set()
        for root, dirs, files in os.walk(cls.dest):
            for f in files + dirs:
                cls.files.add(os.path.relpath(os.path.join(root, f), cls.dest))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def read(self, suffix):
        with open(self.find(suffix)) as f:
            return f.read()

    def find(self, suffix):
        hits = [f for f in self.files if f.endswith(suffix)]
        self.assertEqual(len(hits), 1, f"{suffix}: {hits}")
        return os.path.join(self.dest, hits[0])

    def test_everything_is_installed(self):
        for suffix in ("sbin/esimd", "bin/esimctl", "system/esimd.service",
                       "dbus-1/system.d/org.esim.conf", "dbus-1/system-services/org.esim.service",
                       "polkit-1/actions/org.esim.policy", "dbus-1/interfaces/org.esim.Manager.xml",
                       "dbus-1/interfaces/org.esim.Profile.xml", "dbus-1/interfaces/org.esim.Job.xml",
                       "man8/esimd.8", "man5/esimd.conf.5", "man1/esimctl.1", "esimd/esimd.conf.example",
                       "share/esimd/ci", "dist-packages/sim/esim.py", "dist-packages/sim/run.py",
                       "dist-packages/sim/qpy/__init__.py", "dist-packages/sim/qpy/utime.py",
                       "dist-packages/sim/qpy/checkNet.py", "dist-packages/sim/qpy/atcmd.py",
                       "dist-packages/sim/qpy/thread.py"):
            self.find(suffix)

    def test_installed_runner_runs(self):
        """The installed package alone runs a QuecPython application's imports."""
        site_dir = os.path.dirname(os.path.dirname(self.find("dist-packages/sim/run.py")))
        with tempfile.TemporaryDirectory() as tmp:
            app = os.path.join(tmp, "app.py")
            with open(app, "w") as f:
                f.write("import _thread, atcmd, checkNet, utime\nfrom sim import esim\n"
                        "_thread.start_new_thread(lambda: print('thread', utime.ticks_diff(5, 3)), ())\n")
            out = subprocess.run(["/usr/bin/python3", "-m", "sim.run", app], capture_output=True, text=True,
                                 timeout=60, cwd=tmp, env={"PATH": os.environ.get("PATH", ""),
                                                          "PYTHONPATH": site_dir, "PYTHONDONTWRITEBYTECODE": "1"})
        self.assertEqual((out.returncode, out.stdout), (0, "thread 2\n"), out.stderr)

    def test_unit_and_activation_agree(self):
        unit = self.read("system/esimd.service")
        self.assertIn("Type=dbus", unit)
        self.assertIn("BusName=org.esim", unit)
        self.assertIn("WantedBy=multi-user.target", unit)
        on_demand = self.read("system/dbus-org.esim.service")
        # systemd refuses to load a second unit with the same BusName=: this one says READY=1
        self.assertIn("Type=notify", on_demand)
        self.assertNotIn("BusName=", on_demand)
        self.assertRegex(on_demand, r"(?m)^ExecStart=\S+/esimd --idle-timeout=30$")
        self.assertNotIn("@sbindir@", unit)
        exec_start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
        self.assertTrue(os.access(os.path.join(self.dest, exec_start.lstrip("/")), os.X_OK), exec_start)
        activation = self.read("system-services/org.esim.service")
        self.assertIn("Name=org.esim", activation)
        self.assertIn("SystemdService=dbus-org.esim.service", activation)

    def test_policies_parse(self):
        bus = ET.parse(self.find("system.d/org.esim.conf")).getroot()
        owners = [p.get("user") for p in bus.findall("policy") if p.find("allow[@own='org.esim']") is not None]
        self.assertEqual(owners, ["root"])
        actions = {a.get("id") for a in ET.parse(self.find("actions/org.esim.policy")).getroot().findall("action")}
        self.assertEqual(actions, {"org.esim.download", "org.esim.manage-profiles", "org.esim.notifications",
                                   "org.esim.discard-notifications", "org.esim.refresh", "org.esim.reset",
                                   "org.esim.switch-slot"})
        # every action the daemon checks is declared
        with open(os.path.join(SOURCE, "daemon", "polkit.h")) as f:
            used = set(re.findall(r'"(org\.esim\.[a-z-]+)"', f.read()))
        self.assertEqual(used, actions)

    def test_example_configuration_is_valid(self):
        esimd = os.path.join(BUILD, "daemon", "esimd")
        out = subprocess.run([esimd, "--check-config", "--config", self.find("esimd/esimd.conf.example")],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        # The shipped example configures no modem: beside ModemManager esimd finds them itself.
        self.assertIn("no modem is configured: esimd finds eUICCs by itself", out.stdout)
        self.assertIn("[Discovery]\nModemManager=true\nUdev=true\n", out.stdout)
        bad = os.path.join(self.dest, "bad.conf")
        with open(bad, "w") as f:
            f.write("[Modem x]\nDevice=/dev/x\nRefresh=sometimes\n")
        out = subprocess.run([esimd, "--check-config", "--config", bad], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("[Modem x] Refresh", out.stderr)


class BusName(unittest.TestCase):
    """esimd says why it cannot own org.esim, and the hint points the right way."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("esimd's bus policy is about root: run as root")
        self.tmp = tempfile.mkdtemp(prefix="esimd-bus-name-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.conf = os.path.join(self.tmp, "esimd.conf")
        with open(self.conf, "w") as f:
            f.write(f"[Daemon]\nStateDirectory={self.tmp}/state\n")

    def esimd(self, env):
        cmd = [worldmod.ESIMD, "--config", self.conf]
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1" and not worldmod.esimd_is_sanitized():
            cmd = worldmod.valgrind_memcheck() + cmd
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

    def test_private_bus_without_the_policy(self):
        bus = worldmod.PrivateBus(self.tmp, policies=())
        self.addCleanup(bus.stop)
        r = self.esimd(dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"esimd: cannot own the name org.esim: the bus at {bus.address} (DBUS_SYSTEM_BUS_ADDRESS) "
                      "has no policy letting root own it; give that bus esimd's policy (org.esim.conf)", r.stderr)

    def test_another_owner(self):
        bus = worldmod.PrivateBus(self.tmp)
        self.addCleanup(bus.stop)
        first = worldmod.Esimd(self.conf, bus.address, os.path.join(self.tmp, "first.log"))
        first.start()
        self.addCleanup(first.stop)
        client = worldmod.BusClient(bus.address)
        self.addCleanup(client.close)
        client.wait_for(lambda: client.name_has_owner() or not first.running(), 60, "the first esimd on the bus")
        self.assertTrue(first.running(), first.log())
        r = self.esimd(dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, rf"esimd: cannot own the name org\.esim: another process owns it "
                                   rf"\(pid {first.proc.pid}(, [^)]+)?\); is esimd already running "
                                   rf"\(systemctl status esimd\)\?")

    def test_system_bus_policy_missing_or_not_read(self):
        """The real system bus path (no DBUS_SYSTEM_BUS_ADDRESS): a bus on /run/dbus/system_bus_socket
        in a private mount namespace, without esimd's policy; the installed policy directory
        esimd knows is replaced by an empty one, then by one that holds the file."""
        if not shutil.which("unshare"):
            self.skipTest("unshare is not installed")
        with open(os.path.join(BUILD, "build-config.h")) as f:
            policy_dir = re.search(r'#define DBUS_POLICY_DIR "([^"]+)"', f.read()).group(1)
        bus_conf = os.path.join(self.tmp, "bus.conf")
        with open(bus_conf, "w") as f:
            f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                    "<busconfig><type>system</type><auth>EXTERNAL</auth>"
                    "<listen>unix:path=/run/dbus/system_bus_socket</listen>"
                    '<policy context="default"><allow user="*"/><deny own="*"/>'
                    '<allow send_destination="org.freedesktop.DBus"/><allow receive_type="method_return"/>'
                    '<allow receive_type="error"/><allow receive_type="signal"/></policy></busconfig>\n')
        for name, with_file in (("missing", False), ("present", True)):
            with self.subTest(policy=name):
                fake = os.path.join(self.tmp, f"policy-{name}")
                os.makedirs(fake)
                if with_file:
                    shutil.copy(os.path.join(SOURCE, "dbus", "org.esim.conf"), fake)
                script = ("set -e; mkdir -p /run/dbus; mount -t tmpfs tmpfs /run/dbus; "
                          f"mkdir -p '{policy_dir}'; mount --bind '{fake}' '{policy_dir}'; "
                          f"dbus-daemon --fork --nopidfile --config-file='{bus_conf}'; "
                          f"'{worldmod.ESIMD}' --config '{self.conf}' || echo \"exit $?\"")
                env = {k: v for k, v in os.environ.items() if k != "DBUS_SYSTEM_BUS_ADDRESS"}
                r = subprocess.run(["unshare", "--mount", "--pid", "--fork", "sh", "-c", script],
                                   env=env, capture_output=True, text=True, timeout=120)
                if "mount" in r.stderr and "exit 1" not in r.stdout:
                    self.skipTest("no private mount namespace here: " + r.stderr)
                self.assertIn("exit 1", r.stdout, r.stderr)
                policy = os.path.join(policy_dir, "org.esim.conf")
                if with_file:
                    self.assertIn(f"esimd: cannot own the name org.esim: the system bus has no policy letting "
                                  f"root own it, although {policy} is installed: the bus has not read it yet "
                                  "(systemctl reload dbus)", r.stderr)
                else:
                    self.assertIn(f"esimd: cannot own the name org.esim: the system bus has no policy letting "
                                  f"root own it, because esimd's bus policy is not installed: {policy} is "
                                  "missing", r.stderr)

    def test_state_directory_of_another_esimd(self):
        """A second esimd on another bus (a test's private bus beside the system service, or one
        started by hand) but the same StateDirectory would write the same records and drive the
        same eUICCs: it leaves at once, naming the directory and the other esimd, and takes no
        bus name. The lock goes with the process: once that one is killed, the next one starts."""
        bus = worldmod.PrivateBus(self.tmp)
        self.addCleanup(bus.stop)
        other_dir = os.path.join(self.tmp, "other-bus")
        os.makedirs(other_dir)
        other_bus = worldmod.PrivateBus(other_dir)
        self.addCleanup(other_bus.stop)
        first = worldmod.Esimd(self.conf, bus.address, os.path.join(self.tmp, "first.log"))
        first.start()
        self.addCleanup(first.stop)
        client = worldmod.BusClient(bus.address)
        self.addCleanup(client.close)
        client.wait_for(lambda: client.name_has_owner() or not first.running(), 60, "the first esimd on the bus")
        self.assertTrue(first.running(), first.log())
        other_client = worldmod.BusClient(other_bus.address)
        self.addCleanup(other_client.close)

        r = self.esimd(dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=other_bus.address))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, rf"esimd: the state directory {re.escape(self.tmp)}/state is in use by another "
                                   rf"esimd \(pid {first.proc.pid}(, [^)]+)?\): two would overwrite each other's "
                                   r"records and drive the same eUICCs; stop that one, or give this one another "
                                   r"StateDirectory=")
        self.assertFalse(other_client.name_has_owner())
        self.assertTrue(first.running(), first.log())

        first.kill()  # SIGKILL: no clean-up of its own; the kernel releases the lock
        second = worldmod.Esimd(self.conf, other_bus.address, os.path.join(self.tmp, "second.log"))
        second.start()
        self.addCleanup(second.stop)
        other_client.wait_for(lambda: other_client.name_has_owner() or not second.running(), 60,
                              "the second esimd on its bus")
        self.assertTrue(second.running(), second.log())
        self.assertEqual(second.stop(), 0, second.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
