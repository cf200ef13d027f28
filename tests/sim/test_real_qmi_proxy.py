#!/usr/bin/python3
"""Debian's real /usr/libexec/qmi-proxy in front of the simulator's pty, inside unshare -rn.

The private user, network and pid namespaces let the proxy's uid-0 check pass, keep its abstract
socket 'qmi-proxy' private, and end it with the test.
Usage: test_real_qmi_proxy.py PATH-TO-qmi-uim-client"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from simtest import SKIP

from esimtest import der, pki
from esimtest.simctl import start_sim

QMI_PROXY = "/usr/libexec/qmi-proxy"
CLIENT = None


def proxy_pids() -> list:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() == "qmi-proxy":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


class RealProxyTest(unittest.TestCase):
    """Runs inside the namespaces (see main)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="esim-sim-proxy.")
        pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.eid = pki.read_eid(os.path.join(cls.tmp.name, "pki"))
        cls.sim = start_sim(cls.tmp.name, os.path.join(cls.tmp.name, "pki"), apdu_socket=False, pty=True)
        cls.ctl = cls.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.ctl.close()
        cls.sim.stop()
        cls.tmp.cleanup()

    def client(self, *args):
        # No --proxy-path: libqmi uses the system name 'qmi-proxy' and spawns qmi-proxy itself.
        return subprocess.Popen([CLIENT, *args, self.sim.pty], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_through_the_real_proxy(self):
        self.ctl.counters(reset=True)
        proc = self.client()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertTrue(proxy_pids(), "qmi-proxy is not running: the client did not go through it")
        resp = bytes.fromhex(re.search(r"(?m)^response: ([0-9A-F]+)$", out).group(1))
        self.assertEqual((resp[:3], resp[-2:]), (b"\xbf\x2e\x12", b"\x90\x00"))
        self.assertIn("power: on\n", out)
        q = self.ctl.counters()["qmi_messages"]
        # the proxy consumed the client's 'internal proxy open'; everything else reached the modem
        self.assertNotIn("ctl-internal-proxy-open", q)
        for name in ("uim-open-logical-channel", "uim-send-apdu", "uim-logical-channel", "uim-power-off-sim"):
            self.assertEqual(q.get(name), 1, name)

    def test_two_clients_share_the_modem(self):
        eid_apdu = "80E2910006BF3E035C015A"
        procs = [self.client("--no-power-cycle", "--apdu", eid_apdu, "--apdu", eid_apdu) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        cids = set()
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, out + err)
            for r in re.findall(r"(?m)^response: ([0-9A-F]+)$", out):
                self.assertEqual(der.decode(bytes.fromhex(r)[:-2]).find(0x5A).value, der.eid_to_bytes(self.eid))
            cids.add(re.search(r"(?m)^client: cid (\d+)$", out).group(1))
        self.assertEqual(len(cids), 2)  # two UIM clients allocated through the proxy


def main():
    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        global CLIENT
        CLIENT = sys.argv.pop(1)
        unittest.main()
        return
    if len(sys.argv) < 2:
        print("usage: test_real_qmi_proxy.py PATH-TO-qmi-uim-client")
        sys.exit(SKIP)
    for need in (QMI_PROXY, shutil.which("unshare")):
        if not need or not os.access(need, os.X_OK):
            print("missing %s: skipping" % (need or "unshare"))
            sys.exit(SKIP)
    cmd = ["unshare", "-rn", "--pid", "--fork", "--kill-child", "--mount-proc",
           "/usr/bin/python3", os.path.abspath(__file__), "--inside", *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, timeout=300).returncode)


if __name__ == "__main__":
    main()
