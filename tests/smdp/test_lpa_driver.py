#!/usr/bin/python3
# End to end without the daemon: the scripted LPA moves profiles from the test SM-DP+ into the simulated eUICC.
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import unittest

from esimtest import pki, smdpctl

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("ESIMD_SOURCE_ROOT", os.path.join(HERE, "..", ".."))
SIM = os.path.join(SOURCE, "tests", "sim", "esim-sim.py")
DRIVER = os.path.join(HERE, "lpa-driver.py")
ICCID = ["8949449999999994%03d" % i for i in range(12)]


def start_sim(tmp, p):
    """The simulator with only its APDU socket front-end (its documented command line)."""
    sock = os.path.join(tmp, "apdu.sock")
    cmd = ["/usr/bin/python3", SIM, "--euicc-cert", p["euicc"], "--euicc-key", p["euicc_key"], "--eum-cert", p["eum"],
           "--ci-cert", p["ci"], "--apdu-socket", sock, "--get-response", "--state", os.path.join(tmp, "sim.json")]
    err = open(os.path.join(tmp, "sim.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    err.close()
    deadline = time.monotonic() + 20
    line = b""
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.strip() == b"READY":
                return proc, sock
    proc.kill()
    proc.wait()
    with open(os.path.join(tmp, "sim.log")) as f:
        raise RuntimeError("simulator did not start:\n" + f.read())


class LpaDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.sim, cls.sock = start_sim(cls.tmp.name, cls.pki)
        orders = [{"matchingId": "MID-%d" % i, "iccid": ICCID[i]} for i in range(10)]
        orders[3]["confirmationCode"] = "4711"
        orders[4]["profile"] = {"generate": {"size": 100 * 1024}}
        cls.dp = smdpctl.start_smdp(os.path.join(cls.tmp.name, "dp"), cls.pki, orders)
        cls.ctl = cls.dp.control

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.sim.terminate()
        cls.sim.wait(10)
        cls.sim.stdout.close()
        cls.tmp.cleanup()

    def setUp(self):
        self.ctl.clear_faults()

    def drive(self, matching_id, cc=None, dp=None, expect_rc=None):
        dp = dp or self.dp
        args = ["/usr/bin/python3", DRIVER, "--apdu-socket", self.sock, "--smdp-port", str(dp.port),
                "--ca", self.pki["ca_pem"], "--matching-id", matching_id] + (["--cc", cc] if cc else [])
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        out = json.loads(r.stdout)
        if expect_rc is not None:
            self.assertEqual(r.returncode, expect_rc, r.stdout + r.stderr)
        return out

    def installed(self, out):
        return {p["iccid"] for p in out["profiles"]}

    def test_download_installs_and_notifies(self):
        out = self.drive("MID-0", expect_rc=0)
        self.assertIn(ICCID[0], self.installed(out))
        self.assertEqual((out["notificationStatus"], out["notificationRemoved"]), (204, True))
        (n,) = [n for n in self.ctl.notifications() if n["iccid"] == ICCID[0]]
        self.assertTrue(n["verified"])
        self.assertEqual(n["result"], "success")
        self.assertEqual(self.ctl.orders()[0]["state"], "installed")

    def test_large_profile(self):
        out = self.drive("MID-4", expect_rc=0)
        self.assertIn(ICCID[4], self.installed(out))
        self.assertGreater(out["segments"], 100)

    def test_session_key_mode(self):
        self.ctl.config(sessionKeys=True)
        try:
            out = self.drive("MID-5", expect_rc=0)
        finally:
            self.ctl.config(sessionKeys=False)
        self.assertIn(ICCID[5], self.installed(out))

    def test_confirmation_code(self):
        out = self.drive("MID-3", cc="0000", expect_rc=1)
        self.assertEqual((out["stage"], out["server"]["subjectCode"], out["server"]["reasonCode"]),
                         ("getBoundProfilePackage", "8.2.7", "3.8"))
        self.assertNotIn(ICCID[3], self.installed(out))
        out = self.drive("MID-3", cc="4711", expect_rc=0)
        self.assertIn(ICCID[3], self.installed(out))

    def test_reused_matching_id(self):
        self.drive("MID-1", expect_rc=0)
        out = self.drive("MID-1", expect_rc=1)
        self.assertEqual((out["stage"], out["server"]["subjectCode"], out["server"]["reasonCode"]),
                         ("authenticateClient", "8.2.6", "3.8"))

    def tampered(self, function, field, index, cc=None):
        self.ctl.add_fault(function=function, action="tamper", field=field)
        out = self.drive("MID-%d" % index, cc=cc, expect_rc=1)
        self.assertNotIn(ICCID[index], self.installed(out))
        self.ctl.clear_faults()
        self.ctl.set_order(index, state="released")
        return out

    def test_tampered_server_signed1(self):
        out = self.tampered("initiateAuthentication", "serverSigned1", 6)
        self.assertEqual((out["stage"], out["euiccError"]), ("authenticateServer", 2))  # invalidSignature
        self.assertEqual((out["server"]["subjectCode"], out["server"]["reasonCode"]), ("8.1", "4.2"))

    def test_tampered_smdp_signed2(self):
        # The flipped byte is ccRequiredFlag: the LPA then asks for a code, the eUICC checks the signature.
        out = self.tampered("authenticateClient", "smdpSigned2", 6, cc="1234")
        self.assertEqual((out["stage"], out["euiccError"]), ("prepareDownload", 2))  # invalidSignature

    def test_tampered_bf23(self):
        out = self.tampered("getBoundProfilePackage", "bf23", 7)
        self.assertFalse(out["pir"]["success"])
        self.assertEqual((out["pir"]["bppCommandId"], out["pir"]["errorReason"]), (0, 2))  # ISC, invalidSignature

    def test_tampered_mac(self):
        out = self.tampered("getBoundProfilePackage", "mac", 8)
        self.assertFalse(out["pir"]["success"])
        self.assertEqual((out["pir"]["bppCommandId"], out["pir"]["errorReason"]), (5, 8))  # scp03tSecurityError
        # the failed PIR is delivered and verified too
        n = self.ctl.notifications()[-1]
        self.assertEqual((n["result"], n["verified"], n["errorReason"]), ("error", True, 8))

    def test_untrusted_ci(self):
        with smdpctl.start_smdp(os.path.join(self.tmp.name, "bad"), self.pki,
                                [{"matchingId": "MID-BAD", "iccid": ICCID[9]}], cert_set="bad") as bad:
            out = self.drive("MID-BAD", dp=bad, expect_rc=1)
        self.assertEqual(out["stage"], "authenticateServer")
        self.assertIn(out["euiccError"], (1, 7))  # invalidCertificate or ciPKUnknown
        self.assertNotIn(ICCID[9], self.installed(out))


if __name__ == "__main__":
    if not os.path.exists(SIM):
        print("tests/sim/esim-sim.py not present: skipping")
        sys.exit(77)
    unittest.main()
