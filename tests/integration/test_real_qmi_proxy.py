#!/usr/bin/python3
"""The same scenarios through Debian's real /usr/libexec/qmi-proxy, as esimd shares a modem with
ModemManager: esimd opens the simulator's pseudo-terminal with QMI_DEVICE_OPEN_FLAGS_PROXY and
libqmi starts the proxy. Runs inside unshare -rn (user, network, pid and mount namespaces): the
proxy's uid-0 check passes, its abstract socket 'qmi-proxy' stays private, and it ends with the
test."""

import os
import shutil
import subprocess
import sys
import unittest

from gi.repository import GLib

QMI_PROXY = "/usr/libexec/qmi-proxy"
SKIP = 77


def proxy_running() -> bool:
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "qmi-proxy":
                        return True
            except OSError:
                pass
    return False


class ThroughRealProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from esimtest.world import World

        cls.w = World(modem="qmi-proxy")

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def test_1_operations(self):
        from esimtest.world import activation_code

        w = self.w
        self.assertTrue(proxy_running(), "esimd did not go through qmi-proxy")
        self.assertEqual(w.manager_prop("Eid"), "89049032123451234512345678901235")
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        iccid = "8949449999999990011"
        w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual(w.profiles()[0]["state"], "enabled")
        w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual(w.profiles(), [])
        w.wait_idle()
        ops = [n["operation"] for n in w.smdp.control.notifications() if n["iccid"] == iccid]
        self.assertEqual(sorted(ops), ["delete", "disable", "enable", "install"])
        counters = w.sim.ctl().counters()["qmi_messages"]
        # the proxy consumed esimd's 'internal proxy open'; the rest reached the modem
        self.assertNotIn("ctl-internal-proxy-open", counters)
        self.assertGreater(counters.get("uim-send-apdu", 0), 20)

    def test_2_wrong_confirmation_code(self):
        from esimtest.world import activation_code

        w = self.w
        job, props = w.download(activation_code("CODE-NEEDED"), "11111111")
        self.assertEqual(props["Error"], "org.esim.Error.ConfirmationCodeRefused", props)
        self.assertNotIn("8949449999999990037", [p["iccid"] for p in w.sim.ctl().state()["profiles"]])
        self.assertEqual(w.smdp.control.sessions()[-1]["state"], "failed")


class UntrustedThroughRealProxy(unittest.TestCase):
    def test_tls_certificate_from_another_ci(self):
        from esimtest.world import World, activation_code

        with World(modem="qmi-proxy", smdp_options={"tls_cert_set": "bad"}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["Error"], "org.esim.Error.TlsVerificationFailed", props)


def main():
    if "--inside" in sys.argv:
        sys.argv.remove("--inside")
        # A new network namespace starts with loopback down; the test SM-DP+ listens on it.
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        unittest.main(verbosity=2)
        return
    for need in (QMI_PROXY, shutil.which("unshare"), shutil.which("ip")):
        if not need or not os.access(need, os.X_OK):
            print(f"missing {need}: skipping")
            sys.exit(SKIP)
    cmd = ["unshare", "-rn", "--pid", "--fork", "--kill-child", "--mount-proc",
           "/usr/bin/python3", os.path.abspath(__file__), "--inside", *sys.argv[1:]]
    sys.exit(subprocess.run(cmd, timeout=600).returncode)


if __name__ == "__main__":
    main()
