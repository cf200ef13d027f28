#!/usr/bin/python3
"""Debian's real /usr/libexec/mbim-proxy in front of the simulator's MBIM pseudo-terminal, inside
unshare -rn: mbimcli -p and qmicli -p --device-open-mbim reach the front through the proxy, as
ModemManager and esimd share a laptop's WWAN card. The private user, network and pid namespaces
let the proxy's uid-0 check pass, keep its abstract socket 'mbim-proxy' private, and end it with
the test. (libmbim 1.28 has no way to name another proxy socket: the namespace is the only way to
run it beside a machine's own.)"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from simtest import SKIP

from esimtest import der, pki
from esimtest.procs import pids_named
from esimtest.simctl import start_sim

MBIM_PROXY = "/usr/libexec/mbim-proxy"
ISDR = "A0000005591010FFFFFFFF8900000100"
IMEI = "356938035643809"


def proxy_pids() -> list:
    return pids_named("mbim-proxy")


class RealMbimProxyTest(unittest.TestCase):
    """Runs inside the namespaces (see main)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="esim-sim-mbim-proxy.")
        pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.eid = pki.read_eid(os.path.join(cls.tmp.name, "pki"))
        cls.sim = start_sim(cls.tmp.name, os.path.join(cls.tmp.name, "pki"), apdu_socket=False, mbim_pty=True,
                            imei=IMEI)
        cls.ctl = cls.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.ctl.close()
        cls.sim.stop()
        cls.tmp.cleanup()

    def tool(self, *argv, ok=True):
        r = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def mbimcli(self, *args, ok=True):
        return self.tool("mbimcli", "-p", "-d", self.sim.mbim_pty, *args, ok=ok)

    def test_1_device_caps_through_the_proxy(self):
        out = self.mbimcli("--query-device-caps").stdout
        self.assertIn("Device ID: '%s'" % IMEI, out)
        self.assertTrue(proxy_pids(), "mbim-proxy is not running: mbimcli did not go through it")
        # The proxy opened the port once and keeps it: a second client costs no MBIM OPEN.
        opens = self.ctl.counters()["mbim_messages"].get("open", 0)
        self.mbimcli("--query-device-caps")
        self.assertEqual(self.ctl.counters()["mbim_messages"].get("open", 0), opens)

    def test_2_channel_outlives_its_client(self):
        # Through the proxy an MBIM session is the proxy's, not the client's: a channel one
        # client opened is still open when the next client comes (what esimd's cleanup of its own
        # channel group at connection is for).
        out = self.mbimcli("--ms-set-uicc-open-channel=application-id=%s,selectp2arg=4,channel-group=3" % ISDR).stdout
        channel = int(re.search(r"channel: (\d+)", out).group(1))
        self.assertIn(channel, self.ctl.state()["channels"])
        out = self.mbimcli("--ms-set-uicc-apdu=channel=%d,secure-message=none,classbyte-type=extended,"
                           "command=%02XE2910006BF3E035C015A00" % (channel, 0x80 | channel)).stdout
        data = bytes.fromhex(re.search(r"response: ([0-9A-F:]+)", out).group(1).replace(":", ""))
        self.assertEqual(der.decode(data).find(0x5A).value, der.eid_to_bytes(self.eid))
        self.mbimcli("--ms-set-uicc-close-channel=channel=0,channel-group=3")
        self.assertNotIn(channel, self.ctl.state()["channels"])

    def test_3_qmi_over_mbim_through_the_proxy(self):
        out = self.tool("qmicli", "-p", "-d", self.sim.mbim_pty, "--device-open-mbim", "--dms-get-ids").stdout
        self.assertIn("IMEI: '%s'" % IMEI, out)
        self.assertEqual(len(proxy_pids()), 1)

    def test_4_two_clients_at_once(self):
        procs = [subprocess.Popen(["mbimcli", "-p", "-d", self.sim.mbim_pty, "--query-device-caps"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out + err)
            self.assertIn(IMEI, out)

    def test_5_the_proxy_lets_go_when_the_node_goes(self):
        self.ctl.disappear()
        r = self.mbimcli("--query-device-caps", ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.ctl.appear()
        self.assertIn(IMEI, self.mbimcli("--query-device-caps").stdout)


def main():
    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        unittest.main(verbosity=2)
        return
    for need in (MBIM_PROXY, shutil.which("unshare"), shutil.which("mbimcli"), shutil.which("qmicli")):
        if not need or not os.access(need, os.X_OK):
            print("missing %s: skipping" % (need or "a tool"))
            sys.exit(SKIP)
    cmd = ["unshare", "-rn", "--pid", "--fork", "--kill-child", "--mount-proc",
           "/usr/bin/python3", os.path.abspath(__file__), "--inside", *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, timeout=300).returncode)


if __name__ == "__main__":
    main()
