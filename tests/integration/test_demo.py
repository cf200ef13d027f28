#!/usr/bin/python3
"""The demo (tools/run-demo, tools/demo.py): the simulated run succeeds step by step; with
--config, a missing file, a file esimd refuses, a file without a modem and a modem whose device is
missing each stop it at once with esimd's own words (and the path of esimd's log when esimd ran),
never a Python traceback, and nothing is left in the temporary directory but that log."""

import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]
DEMO = os.path.join(SOURCE, "tools", "demo.py")
CODE = "LPA:1$smdp.example.com$MATCHING-ID"


class Demo(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="esimd-test-demo-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.demo_tmp = os.path.join(self.tmp, "tmp")  # the demo's TMPDIR: what it leaves shows
        os.mkdir(self.demo_tmp)

    def demo(self, *args, timeout=300):
        env = {k: v for k, v in os.environ.items()
               if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")}
        env.update(TMPDIR=self.demo_tmp, ESIMD_BUILD_ROOT=BUILD, ESIMD_SOURCE_ROOT=SOURCE)
        r = subprocess.run(["/usr/bin/python3", DEMO, *args], capture_output=True, text=True, env=env,
                           timeout=timeout)
        self.assertNotIn("Traceback", r.stdout + r.stderr)
        return r

    def left_behind(self):
        return sorted(os.listdir(self.demo_tmp))

    def write(self, text):
        path = os.path.join(self.tmp, "esimd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_simulated_run(self):
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1":
            self.skipTest("the scenarios under valgrind cover what the demo does")
        r = self.demo()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.rstrip().endswith("Demo finished: every step succeeded."), r.stdout[-2000:])
        for step in ("== The eUICC", "== Downloading a profile by activation code", "== Enabling it",
                     "== Disabling and deleting it"):
            self.assertIn(step, r.stdout)
        self.assertEqual(self.left_behind(), [])

    def test_missing_file(self):
        missing = os.path.join(self.tmp, "absent.conf")
        r = self.demo("--config", missing, "--activation-code", CODE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"esimd: Failed to open file “{missing}”: No such file or directory", r.stderr)
        self.assertEqual(self.left_behind(), [])

    def test_refused_file(self):
        path = self.write("[Modem m]\nDevice=/dev/cdc-wdm0\nRefresh=sometimes\nSlot=0\n")
        r = self.demo("--config", path, "--activation-code", CODE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"esimd: {path}:3: [Modem m] Refresh: expected refresh-flag, power-cycle or none", r.stdout)
        self.assertIn(f"esimd: {path}:4: [Modem m] Slot:", r.stdout)
        self.assertIn("demo: esimd refuses this configuration (above)", r.stderr)
        self.assertEqual(self.left_behind(), [])

    def test_no_modem(self):
        path = self.write("[HTTP]\nConnectTimeout=5\n")
        r = self.demo("--config", path, "--activation-code", CODE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"demo: {path} has no [Modem NAME] section", r.stderr)
        self.assertEqual(self.left_behind(), [])

    def test_missing_device(self):
        device = "/dev/cdc-wdm-esimd-test-absent"
        for transport in ("qmi", "at"):
            with self.subTest(transport=transport):
                path = self.write(f"[Modem m]\nTransport={transport}\nDevice={device}\n"
                                  f"[Daemon]\nStateDirectory={self.tmp}/state\n")
                r = self.demo("--config", path, "--activation-code", CODE)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                # esimd's reason, at once (not "not ready after 120 s")
                self.assertIn("demo: esimd cannot reach the modem: modem m: ", r.stderr)
                self.assertIn(device, r.stderr)
                self.assertIn("No such file or directory", r.stderr)
                log = [line for line in r.stderr.splitlines() if line.startswith("demo: esimd's log: ")]
                self.assertEqual(len(log), 1, r.stderr)
                log = log[0][len("demo: esimd's log: "):]
                self.assertTrue(os.path.isfile(log), log)
                self.assertEqual(self.left_behind(), [os.path.basename(log)])
                os.unlink(log)


class RunDemo(unittest.TestCase):
    def test_says_what_it_does(self):
        """tools/run-demo tells what it is doing before the long steps (packages, build)."""
        env = dict(os.environ, ESIMD_BUILD_DIR=BUILD)
        r = subprocess.run([os.path.join(SOURCE, "tools", "run-demo"), "--config", "/nonexistent/esimd.conf",
                            "--activation-code", CODE], capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 1)
        self.assertIn("run-demo: checking the Debian packages it needs (tools/install-deps)", r.stdout)
        self.assertIn(f"run-demo: building esimd, esimctl and the test tools (meson compile -C {BUILD})", r.stdout)
        self.assertIn("esimd: Failed to open file “/nonexistent/esimd.conf”", r.stderr)
        self.assertNotIn("Traceback", r.stdout + r.stderr)

    def test_a_build_that_cannot_be_configured_says_why(self):
        """meson writes its ERROR line to standard output: run-demo's first build must not throw
        it away, or a library missing on a fresh machine ends the demo with no word at all. Here
        pkg-config is made to find nothing, as on a machine without the -dev packages."""
        with tempfile.TemporaryDirectory() as tmp:
            build = os.path.join(tmp, "build")
            env = dict(os.environ, ESIMD_BUILD_DIR=build, PKG_CONFIG_LIBDIR=os.path.join(tmp, "no-pc"))
            r = subprocess.run([os.path.join(SOURCE, "tools", "run-demo")], capture_output=True, text=True,
                               env=env, timeout=300, cwd=tmp)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("Dependency", r.stderr, r.stdout + r.stderr)
            self.assertIn(f"run-demo: meson setup {build} failed", r.stderr)
            self.assertIn(os.path.join(build, "meson-logs", "meson-log.txt"), r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
