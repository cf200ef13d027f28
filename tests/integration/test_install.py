#!/usr/bin/python3
"""`meson install` puts in place everything a system needs: the daemon and client, the unit, the
bus policy, the polkit actions, the D-Bus activation file, the interface XML and the man pages;
the unit's sandbox exposure is at most 2.5 (systemd-analyze security); the shipped example
configuration is valid (esimd --check-config)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]


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
                       "share/esimd/ci", "dist-packages/sim/esim.py"):
            self.find(suffix)

    def test_python_module_is_where_python3_looks(self):
        """Installed for the prefix, into a directory Debian's python3 searches under it."""
        import site

        esim = self.find("dist-packages/sim/esim.py")
        installed_dir = os.path.dirname(os.path.dirname(esim))[len(self.dest):]
        self.assertIn(installed_dir, site.getsitepackages() + ["/usr/lib/python3/dist-packages"])

    def test_unit_and_activation_agree(self):
        unit = self.read("system/esimd.service")
        self.assertIn("Type=dbus", unit)
        self.assertIn("BusName=org.esim", unit)
        self.assertIn("Alias=dbus-org.esim.service", unit)
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
                                   "org.esim.reset"})
        # every action the daemon checks is declared
        with open(os.path.join(SOURCE, "daemon", "polkit.h")) as f:
            used = set(re.findall(r'"(org\.esim\.[a-z-]+)"', f.read()))
        self.assertEqual(used, actions)

    def test_sandbox_exposure(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        out = subprocess.run([analyze, "security", "--offline=true", "--no-pager", self.find("system/esimd.service")],
                             capture_output=True, text=True)
        m = re.search(r"Overall exposure level for esimd\.service: ([0-9.]+)", out.stdout)
        self.assertIsNotNone(m, out.stdout + out.stderr)
        print(f"systemd-analyze security: exposure {m.group(1)}")
        self.assertLessEqual(float(m.group(1)), 2.5)

    def test_example_configuration_is_valid(self):
        esimd = os.path.join(BUILD, "daemon", "esimd")
        out = subprocess.run([esimd, "--check-config", "--config", self.find("esimd/esimd.conf.example")],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("modem wwan0: qmi /dev/cdc-wdm0 through qmi-proxy", out.stdout)
        bad = os.path.join(self.dest, "bad.conf")
        with open(bad, "w") as f:
            f.write("[Modem x]\nDevice=/dev/x\nRefresh=sometimes\n")
        out = subprocess.run([esimd, "--check-config", "--config", bad], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("[Modem x] Refresh", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
