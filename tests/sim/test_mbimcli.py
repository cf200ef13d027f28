#!/usr/bin/python3
"""Debian's mbimcli (libmbim-utils) and qmicli --device-open-mbim (libqmi-utils) talk to the
simulator's MBIM pseudo-terminal: real libmbim/libqmi clients judge the front's framing."""

import re
import shutil
import subprocess
import sys
import unittest

from simtest import SKIP, SimTestCase

from esimtest import der

ISDR = "A0000005591010FFFFFFFF8900000100"
IMEI = "356938035643809"


class MbimcliTest(SimTestCase):
    sim_options = {"mbim_pty": True, "mbim_slots": 2, "imei": IMEI}

    def run_tool(self, *argv):
        r = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def mbimcli(self, *args):
        return self.run_tool("mbimcli", "-d", self.sim.mbim_pty, *args)

    def test_device_caps(self):
        out = self.mbimcli("--query-device-caps")
        self.assertIn("Device ID: '%s'" % IMEI, out)
        self.assertIn("Cellular class: 'gsm'", out)

    def test_channel_apdu_close_in_one_session(self):
        # --no-close keeps the MBIM session (and with it the channel) for the next call, which
        # names the transaction to continue from with --no-open.
        self.ctl.counters(reset=True)
        out = self.mbimcli("--ms-set-uicc-open-channel=application-id=%s,selectp2arg=4,channel-group=3" % ISDR,
                           "--no-close")
        self.assertIn("status: 144", out)  # 9000 with SW1 in the low byte
        channel = int(re.search(r"channel: (\d+)", out).group(1))
        trid = int(re.search(r"TRID: '(\d+)'", out).group(1))
        out = self.mbimcli("--ms-set-uicc-apdu=channel=%d,secure-message=none,classbyte-type=extended,"
                           "command=%02XE2910006BF3E035C015A00" % (channel, 0x80 | channel), "--no-open=%d" % trid,
                           "--no-close")
        self.assertIn("status: 144", out)
        data = bytes.fromhex(re.search(r"response: ([0-9A-F:]+)", out).group(1).replace(":", ""))
        self.assertEqual(der.decode(data).find(0x5A).value, der.eid_to_bytes(self.eid))
        trid = int(re.search(r"TRID: '(\d+)'", out).group(1))
        out = self.mbimcli("--ms-set-uicc-close-channel=channel=%d,channel-group=3" % channel, "--no-open=%d" % trid)
        self.assertIn("status: 144", out)
        self.assertNotIn(channel, self.ctl.state()["channels"])  # (the APDU socket holds one too)
        self.assertEqual(self.ctl.counters()["cla_channel_mismatch"], 0)

    def test_atr_reset_and_slots(self):
        self.assertIn("3B:9F:96:80", self.mbimcli("--ms-query-uicc-atr"))
        resets = self.ctl.counters()["card_resets"]
        self.assertIn("pass through action: disabled", self.mbimcli("--ms-set-uicc-reset=disable"))
        self.assertEqual(self.ctl.counters()["card_resets"], resets + 1)
        self.assertIn("Number of slots: '2'", self.mbimcli("--ms-query-sys-caps"))
        self.assertIn("Executor '0': slot '0'", self.mbimcli("--ms-query-device-slot-mappings"))
        self.assertIn("state-active-esim-no-profiles", self.mbimcli("--ms-query-slot-info-status=0"))
        self.assertIn("state-empty", self.mbimcli("--ms-query-slot-info-status=1"))

    def test_qmi_over_mbim_with_qmicli(self):
        self.ctl.counters(reset=True)
        out = self.run_tool("qmicli", "-d", self.sim.mbim_pty, "--device-open-mbim", "--dms-get-ids")
        self.assertIn("IMEI: '%s'" % IMEI, out)
        out = self.run_tool("qmicli", "-d", self.sim.mbim_pty, "--device-open-mbim", "--uim-get-card-status")
        self.assertIn("Card state: 'present'", out)
        c = self.ctl.counters()
        self.assertEqual(c["qmi_messages"]["dms-get-ids"], 1)
        self.assertGreaterEqual(c["mbim_messages"]["qmi/msg/set"], 4)  # CTL and service messages alike


if __name__ == "__main__":
    for tool in ("mbimcli", "qmicli"):
        if shutil.which(tool) is None:
            print("%s not installed" % tool)
            sys.exit(SKIP)
    unittest.main()
