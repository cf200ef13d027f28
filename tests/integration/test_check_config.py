#!/usr/bin/python3
"""esimd --check-config: every problem of a file in one run, each with its line, section and key
(duplicate sections and keys, two modems on one device, bad modem names, strict trust without a CI
certificate, ...); the booleans people write; the effective settings; a missing default file
means the defaults. esimd itself refuses to start on the same problems."""

import datetime
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from esimtest import world as worldmod

BUILD = os.environ["ESIMD_BUILD_ROOT"]
ESIMD = os.path.join(BUILD, "daemon", "esimd")

# esimd refused its configuration (sysexits.h EX_CONFIG): esimd.service does not restart it.
EX_CONFIG = 78


def ci_certificate_pem() -> bytes:
    """A self-signed CA certificate with a Subject Key Identifier, as a CI root has."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "check-config test CI")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="esimd-check-config-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.empty_ci = os.path.join(self.dir, "no-ci")
        os.mkdir(self.empty_ci)

    def write(self, text: str, name: str = "esimd.conf") -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def esimd(self, *args, env=None):
        # Under the valgrind pass the parser runs under memcheck too.
        cmd = [ESIMD, *args]
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1" and not worldmod.esimd_is_sanitized():
            cmd = worldmod.valgrind_memcheck() + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        self.assertNotEqual(r.returncode, worldmod.VALGRIND_EXIT, r.stderr)
        return r

    def check(self, text: str):
        return self.esimd("--check-config", "--config", self.write(text))

    def problems(self, text: str) -> list:
        """The problem lines of a file that must be refused, as (line, message)."""
        path = self.write(text)
        r = self.esimd("--check-config", "--config", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = [line for line in r.stderr.splitlines() if line.startswith("esimd: ")]
        self.assertRegex(lines[-1], rf"^esimd: {re.escape(path)}: {len(lines) - 1} problem\(s\); esimd would not start$")
        out = []
        for line in lines[:-1]:
            m = re.match(rf"^esimd: {re.escape(path)}:(?:(\d+):)? (.*)$", line)
            self.assertIsNotNone(m, line)
            out.append((int(m.group(1) or 0), m.group(2)))
        return out

    def test_every_problem_in_one_run(self):
        found = self.problems(
            "[Modem a]\n"                     # 1
            "Device=/dev/cdc-wdm0\n"          # 2
            "Refresh=sometimes\n"             # 3
            "Slot=9\n"                        # 4
            "[HTTP]\n"                        # 5
            "ConnectTimeout=never\n"          # 6
            "Bogus=1\n"                       # 7
            "this line is nothing\n"          # 8
            "[Notifications]\n"               # 9
            "AutoSend=perhaps\n"              # 10
            "[Daemon]\n"                      # 11
            "JobLinger=-1\n")                 # 12
        self.assertEqual([n for n, _ in found], [3, 4, 6, 7, 8, 10, 12], found)
        text = "\n".join(m for _, m in found)
        for expected in ("[Modem a] Refresh: expected refresh-flag, power-cycle or none, got \"sometimes\"",
                         "[Modem a] Slot: expected a whole number from 1 to 5, got \"9\"",
                         "[HTTP] ConnectTimeout: expected a whole number",
                         "[HTTP] Bogus: unknown setting",
                         "\"this line is nothing\" is not a Key=value line",
                         "[Notifications] AutoSend: expected true or false",
                         "[Daemon] JobLinger: expected a whole number from 0 to 86400, got \"-1\""):
            self.assertIn(expected, text)

    def test_startup_refuses_with_every_problem(self):
        path = self.write("[Modem a]\nDevice=dev\n[Modem a]\nSlot=0\n")
        r = self.esimd("--config", path)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn(f"esimd: {path}:2: [Modem a] Device: an absolute device path is required", r.stderr)
        self.assertIn(f"esimd: {path}:3: [Modem a]: the section appears again (first on line 1)", r.stderr)
        self.assertIn(f"esimd: {path}:4: [Modem a] Slot: expected a whole number from 1 to 5", r.stderr)

    def test_duplicate_sections_and_keys(self):
        found = self.problems("[HTTP]\nConnectTimeout=5\n[Modem a]\nDevice=/dev/a\nDevice=/dev/b\n"
                              "[HTTP]\nConnectTimeout=6\n")
        self.assertIn((5, "[Modem a] Device: set again (first on line 4); each key may be set once"), found)
        self.assertIn((6, "[HTTP]: the section appears again (first on line 1); each section may appear once"),
                      found)
        # GKeyFile merges the two [HTTP]: the key is set twice all the same
        self.assertIn((7, "[HTTP] ConnectTimeout: set again (first on line 2); each key may be set once"), found)

    def test_two_modems_on_one_device(self):
        link = os.path.join(self.dir, "by-id")
        os.symlink("/dev/null", link)
        found = self.problems(f"[Modem a]\nDevice=/dev/null\n[Modem b]\nDevice=/dev/null\n"
                              f"[Modem c]\nDevice={link}\n[Modem d]\nDevice=/dev/zero\n")
        self.assertEqual(found, [
            (4, "[Modem b] Device: /dev/null is already the device of [Modem a]; one section per device"),
            (6, f"[Modem c] Device: {link} is already the device of [Modem a]; one section per device"),
        ])

    def test_modem_names(self):
        for bad in ("two words", "a/b", "", " lead", "x" * 65, "ümlaut"):
            with self.subTest(name=bad):
                found = self.problems(f"[Modem {bad}]\nDevice=/dev/cdc-wdm0\n")
                self.assertEqual(len(found), 1, found)
                self.assertEqual(found[0][0], 1)
                self.assertIn("a modem's name is 1 to 64 letters, digits, '-', '_' or '.'", found[0][1])
        # a control character is no section name at all; its keys go with it
        found = self.problems("[Modem tab\there]\nDevice=/dev/cdc-wdm0\n")
        self.assertEqual(found, [(1, "\"[Modem tab\there]\" is not a section header like [HTTP] "
                                     "(it holds a control character or '[')")])
        r = self.check("[Modem wwan0.usb-2_a]\nDevice=/dev/cdc-wdm0\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("modem wwan0.usb-2_a: qmi /dev/cdc-wdm0 through qmi-proxy, slot 1, refresh power-cycle",
                      r.stdout)

    def test_a_state_directory_others_can_write_is_refused(self):
        """esimd reads back what it keeps in StateDirectory= (the records of open download
        sessions, named by the EID) and writes there: a directory another user may write (one
        under /tmp made 0777, a subdirectory planted as a link) would let that user plant files
        and links esimd reads and writes through. esimd refuses to start, before the bus
        (here: none, which would have failed it with 1), with EX_CONFIG and why."""
        state = os.path.join(self.dir, "state")
        os.mkdir(state)
        elsewhere = os.path.join(self.dir, "elsewhere")
        os.mkdir(elsewhere, 0o700)
        path = self.write(f"[Daemon]\nStateDirectory={state}\n")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + os.path.join(self.dir, "no-bus"))
        cases = [("0777", lambda: os.chmod(state, 0o777), f"{state} may be written by other users (mode 0777)"),
                 ("0770", lambda: os.chmod(state, 0o770), f"{state} may be written by other users (mode 0770)"),
                 ("planted link", lambda: (os.chmod(state, 0o700),
                                           os.symlink(elsewhere, os.path.join(state, "open-sessions"))),
                  f"{state}/open-sessions is a symbolic link")]
        for name, make, expected in cases:
            with self.subTest(name):
                make()
                r = self.esimd("--config", path, env=env)
                self.assertEqual(r.returncode, EX_CONFIG, r.stderr)
                self.assertIn("esimd: the state directory is not esimd's alone: " + expected, r.stderr)
        self.assertEqual(os.listdir(elsewhere), [])

    def test_strict_trust_needs_a_ci_certificate(self):
        found = self.problems(f"[HTTP]\nCiCertificateDirs={self.empty_ci};/nonexistent\nTrustSystemCAs=false\n")
        self.assertEqual(found, [(3, f"[HTTP] TrustSystemCAs: false, but CiCertificateDirs ({self.empty_ci};"
                                     "/nonexistent) hold no eSIM CI certificate, so no server could be trusted; "
                                     "install the CI certificates or set TrustSystemCAs=true")])
        # esimd itself refuses too, before it touches the bus
        r = self.esimd("--config", os.path.join(self.dir, "esimd.conf"))
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("hold no eSIM CI certificate", r.stderr)
        # one certificate is enough, and the listing says where it is
        with open(os.path.join(self.empty_ci, "ci.pem"), "wb") as f:
            f.write(ci_certificate_pem())
        r = self.check(f"[HTTP]\nCiCertificateDirs={self.empty_ci};/nonexistent\nTrustSystemCAs=false\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"# {self.empty_ci}: 1 eSIM CI certificate(s)\n# /nonexistent: not present\n", r.stdout)

    def test_booleans(self):
        for spelling, value in (("true", "true"), ("True", "true"), ("TRUE", "true"), ("yes", "true"),
                                ("on", "true"), ("1", "true"), ("false", "false"), ("False", "false"),
                                ("no", "false"), ("Off", "false"), ("0", "false"), (" true ", "true")):
            with self.subTest(spelling=spelling):
                r = self.check(f"[Notifications]\nAutoSend={spelling}\n[HTTP]\nEs11Fallback={spelling}\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"\nAutoSend={value}\n", r.stdout)
                self.assertIn(f"\nEs11Fallback={value}\n", r.stdout)
        found = self.problems("[Notifications]\nAutoSend=2\n")
        self.assertEqual(found, [(2, "[Notifications] AutoSend: expected true or false "
                                     "(or yes/no, on/off, 1/0), got \"2\"")])

    def test_effective_settings(self):
        r = self.check("[HTTP]\nConnectTimeout=7\nProxy=http://proxy.example:3128\nConnectTo=a:443:b:8443\n"
                       "[Notifications]\nRetryInitial=100\nRetryMax=50\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        http = re.search(r"^\[HTTP\]\n(.*?)\n\n", r.stdout, re.M | re.S).group(1)
        settings = dict(line.split("=", 1) for line in http.splitlines() if not line.startswith("#"))
        self.assertEqual(settings, {
            "CiCertificateDirs": settings["CiCertificateDirs"], "TrustSystemCAs": "true",
            "SystemCABundle": "/etc/ssl/certs/ca-certificates.crt", "ConnectTo": "a:443:b:8443",
            "ConnectTimeout": "7", "RequestTimeout": "120", "BppTimeout": "600",
            "Proxy": "http://proxy.example:3128", "MaxResponseSize": "256", "Es11Fallback": "true"})
        self.assertTrue(settings["CiCertificateDirs"].endswith("/esimd/ci"), settings)
        # RetryMax is raised to RetryInitial, and the listing says so
        self.assertIn("\n[Notifications]\nAutoSend=true\nRetryInitial=100\nRetryMax=100\n", r.stdout)

    def test_missing_files(self):
        r = self.esimd("--check-config", "--config", os.path.join(self.dir, "absent.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("absent.conf", r.stderr)
        self.assertIn("No such file or directory", r.stderr)
        # the default file may be missing: then it is the defaults, not "OK"
        out = self.esimd("--help").stdout
        default = re.search(r"default (/\S+esimd\.conf)\)", out).group(1)
        if os.path.exists(default):
            self.skipTest(f"{default} exists on this machine")
        r = self.esimd("--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(f"{default}: not present; using the defaults\n"), r.stdout)
        self.assertIn("no modem is configured", r.stdout)
        self.assertNotIn("OK", r.stdout)

    def test_paths_are_absolute(self):
        """A relative path would depend on the directory esimd is started from: the service's
        (/, read-only in its sandbox) and an administrator's shell would use different records."""
        found = self.problems("[Daemon]\nStateDirectory=var/lib/esimd\n"
                              "[HTTP]\nCiCertificateDirs=/usr/share/esimd/ci;ci\nSystemCABundle=ca.pem\n")
        self.assertEqual(found, [(2, '[Daemon] StateDirectory: an absolute directory is required, got "var/lib/esimd"'),
                                 (4, '[HTTP] CiCertificateDirs: an absolute directory is required, got "ci"'),
                                 (5, '[HTTP] SystemCABundle: an absolute file name is required, got "ca.pem"')])

    def test_discovery(self):
        found = self.problems("[Discovery]\nModemManager=maybe\nDenyPorts=ttyUSB1;;cdc-wdm*\n"
                              "ProbeTimeout=0\nDeviceDirectory=dev\nUdevRules=x\nPCSC=sometimes\n")
        self.assertEqual([line for line, _ in found], [2, 3, 4, 5, 6, 7], found)
        messages = "\n".join(m for _, m in found)
        self.assertIn("[Discovery] ModemManager:", messages)
        self.assertIn("[Discovery] DenyPorts: an empty pattern denies nothing", messages)
        self.assertIn("[Discovery] ProbeTimeout:", messages)
        self.assertIn('[Discovery] DeviceDirectory: an absolute directory is required, got "dev"', messages)
        self.assertIn("[Discovery] UdevRules:", messages)
        self.assertIn("[Discovery] PCSC:", messages)
        # what each setting does, said by --check-config
        r = self.esimd("--check-config", "--config",
                       self.write("[Discovery]\nModemManager=false\nPCSC=false\n"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("esimd finds eUICCs by itself (udev's modem ports only)", r.stdout)
        r = self.esimd("--check-config", "--config",
                       self.write("[Discovery]\nModemManager=false\nUdev=false\nPCSC=false\nDenyPorts=ttyS*\n"))
        self.assertIn("no modem is configured and discovery is off", r.stdout)
        self.assertIn("[Discovery]\nModemManager=false\nUdev=false\nPCSC=false\nDenyPorts=ttyS*\n"
                      "ProbeTimeout=30\nDeviceDirectory=/dev\n", r.stdout)

    def test_transports(self):
        found = self.problems("[Modem a]\nTransport=carrier-pigeon\nDevice=/dev/x\n")
        self.assertEqual(len(found), 1, found)
        self.assertRegex(found[0][1], r'^\[Modem a\] Transport: "carrier-pigeon" is not supported '
                                      r'\(supported: qmi(, [a-z]+)*\)$')
        found = self.problems("[Modem a]\n")
        self.assertEqual(found, [(1, "[Modem a]: Device= is required, e.g. Device=/dev/cdc-wdm0")])

    def test_at_keys(self):
        r = self.check("[Modem ec]\nTransport=at\nDevice=/dev/ttyS1\nBaud=921600\nModemFamily=quectel\n"
                       "Quirks=csim-only;-quectel-lpa\nMaxCommandLength=300\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("modem ec: at /dev/ttyS1 at 921600 baud, modem family quectel, quirks +csim-only "
                      "-quectel-lpa, command lines up to 300 characters", r.stdout)
        r = self.check("[Modem ec]\nTransport=at\nDevice=/dev/ttyUSB2\n")
        self.assertIn("modem ec: at /dev/ttyUSB2 at 115200 baud, modem family auto,", r.stdout)
        found = self.problems("[Modem ec]\nTransport=at\nDevice=/dev/ttyS1\nBaud=12345\nQuirks=fast\n"
                              "ModemFamily=nokia\nMaxCommandLength=10\nUseProxy=true\n")
        self.assertEqual([n for n, _ in found], [4, 5, 6, 7, 8], found)
        text = "\n".join(m for _, m in found)
        for expected in ("[Modem ec] Baud: expected a serial line speed: 9600,",
                         '[Modem ec] Quirks: unknown quirk "fast" (known: csim-only, cgla-session0, cla-channel, '
                         'quectel-lpa; prefix - to remove one)',
                         '[Modem ec] ModemFamily: "nokia" is not a modem family (known: auto, generic, quectel,',
                         '[Modem ec] MaxCommandLength: expected a whole number from 64 to 65535, got "10"',
                         "[Modem ec] UseProxy: a setting of Transport=qmi, not of this section's transport"):
            self.assertIn(expected, text)
        found = self.problems("[Modem q]\nDevice=/dev/cdc-wdm0\nBaud=115200\n")
        self.assertEqual(found, [(3, "[Modem q] Baud: a setting of Transport=at, not of this section's transport")])

    def test_mbim_keys(self):
        found = self.problems("[Modem a]\nTransport=mbim\nDevice=/dev/x\nProxySocket=p\nNoFileCheck=true\n")
        self.assertEqual(found, [
            (4, "[Modem a] ProxySocket: a setting of Transport=qmi, not of this section's transport"),
            (5, "[Modem a] NoFileCheck: a setting of Transport=qmi, not of this section's transport"),
        ])
        r = self.check("[Modem a]\nTransport=mbim\nDevice=/dev/x\n"
                       "[Modem b]\nTransport=mbim\nDevice=/dev/y\nUseProxy=false\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("modem a: mbim /dev/x through mbim-proxy, slot 1, refresh power-cycle\n", r.stdout)
        self.assertIn("modem b: mbim /dev/y, slot 1, refresh power-cycle\n", r.stdout)

    def test_qmi_mode(self):
        found = self.problems("[Modem a]\nDevice=/dev/x\nQmiMode=mbim\nProxySocket=p\n"
                              "[Modem b]\nDevice=/dev/y\nQmiMode=usb\n")
        self.assertEqual(found, [
            (4, "[Modem a] ProxySocket: names a qmi-proxy socket, but with QmiMode=mbim the port is shared "
                "through mbim-proxy"),
            (7, '[Modem b] QmiMode: expected auto, qmi or mbim, got "usb"'),
        ])
        found = self.problems("[Modem a]\nTransport=mbim\nDevice=/dev/x\nQmiMode=qmi\n")
        self.assertEqual(found, [(4, "[Modem a] QmiMode: a setting of Transport=qmi, not of this section's transport")])
        r = self.check("[Modem a]\nDevice=/dev/x\nQmiMode=mbim\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("modem a: qmi inside MBIM /dev/x through mbim-proxy, slot 1", r.stdout)

    def test_case_hints(self):
        found = self.problems("[modem a]\nDevice=/dev/x\n[HTTP]\nproxy=http://p\n")
        self.assertEqual(found, [
            (1, "[modem a]: unknown section (did you mean [Modem NAME]? names are case-sensitive)"),
            (4, "[HTTP] proxy: unknown setting (did you mean Proxy? keys are case-sensitive)"),
        ])


if __name__ == "__main__":
    unittest.main(verbosity=2)
