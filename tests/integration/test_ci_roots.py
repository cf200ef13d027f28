#!/usr/bin/python3
"""The eSIM CI root certificates esimd ships: exactly the live GSMA CIs (checked by Subject Key
Identifier, subject, self-signature and validity; no test CI), installed where CiCertificateDirs
looks by default; and a server whose TLS certificate chains to a root installed that way is
accepted with no trust configuration at all (the test CI stands in for the GSMA ones, installed
into the same directory, and esimd sees the staged directory at its built-in path in a private
mount namespace)."""

import datetime
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from esimtest import world as worldmod
from esimtest.world import World, activation_code

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]
SHIPPED_DIR = os.path.join(SOURCE, "daemon", "ci-roots")

# The live GSMA eSIM CIs (GSMA's "GSMA Root CI" list): SKI -> subject.
LIVE = {
    "81370f5125d0b1d408d4c3b232e6d25e795bebfb": "CN=GSM Association - RSP2 Root CI1,O=GSM Association",
    "4c27967ad20c14b391e9601e41e604ad57c0222f": "CN=OISTE GSMA CI G1,O=OISTE Foundation,C=CH",
}
# Test CIs (SGP.26 and vendors' test roots) that must never ship.
TEST_CIS = {
    "34eecf13156518d48d30bdf06853404d115f955d", "2209f61cd9ec5c9c854e787341ff83ecf9776a5b",
    "f54172bdf98a95d65cbeb88a38a1c11d800a85c3", "c0bc70ba36929d43b467ff57570530e57ab8fcd8",
    "665a1433d67c1a2c5db8b52c967f10a057ba5cb2",
}
# Policy OID of the GSMA RSP certificate policy for the CI (SGP.22 4.5.2.1: id-rspRole-ci).
RSP_CI_POLICY = "2.23.146.1.2.1.0"


def ski_of(cert: x509.Certificate) -> str:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()


def load(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        data = f.read()
    return x509.load_pem_x509_certificate(data) if data.startswith(b"-----") else x509.load_der_x509_certificate(data)


def data_dir() -> str:
    with open(os.path.join(BUILD, "build-config.h")) as f:
        return re.search(r'#define DATADIR "([^"]+)"', f.read()).group(1)


class ShippedRoots(unittest.TestCase):
    def test_exactly_the_live_cis(self):
        files = sorted(f for f in os.listdir(SHIPPED_DIR) if f != "README.md")
        self.assertEqual(files, sorted(f"{ski}.pem" for ski in LIVE))
        now = datetime.datetime.utcnow()
        for name in files:
            with self.subTest(file=name):
                cert = load(os.path.join(SHIPPED_DIR, name))
                ski = ski_of(cert)
                self.assertEqual(f"{ski}.pem", name)
                self.assertNotIn(ski, TEST_CIS)
                self.assertEqual(cert.subject.rfc4514_string(), LIVE[ski])
                self.assertEqual(cert.issuer, cert.subject)
                cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                         ec.ECDSA(cert.signature_hash_algorithm))
                self.assertTrue(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
                policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
                self.assertIn(RSP_CI_POLICY, [p.policy_identifier.dotted_string for p in policies])
                self.assertLess(cert.not_valid_before, now)
                self.assertGreater(cert.not_valid_after, now + datetime.timedelta(days=365 * 10))

    def test_the_readme_lists_them(self):
        with open(os.path.join(SHIPPED_DIR, "README.md")) as f:
            readme = f.read()
        for ski in LIVE:
            self.assertIn(f"`{ski}.pem`", readme)


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="esimd-ci-install-")
        subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.dest, "--no-rebuild", "--quiet"],
                       check=True, capture_output=True)
        cls.ci_dir = os.path.join(cls.dest, data_dir().lstrip("/"), "esimd", "ci")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def test_installed_where_esimd_looks_first(self):
        empty = os.path.join(self.dest, "empty.conf")
        open(empty, "w").close()
        out = subprocess.run([worldmod.ESIMD, "--check-config", "--config", empty], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        dirs = re.search(r"^CiCertificateDirs=(.*)$", out.stdout, re.M).group(1).split(";")
        self.assertEqual(dirs[0], os.path.join(data_dir(), "esimd", "ci"))
        self.assertEqual(sorted(os.listdir(self.ci_dir)), sorted(f"{ski}.pem" for ski in LIVE))
        for name in os.listdir(self.ci_dir):
            self.assertEqual(os.stat(os.path.join(self.ci_dir, name)).st_mode & 0o777, 0o644)

    def test_esimd_reads_them(self):
        conf = os.path.join(self.dest, "ci.conf")
        with open(conf, "w") as f:
            f.write(f"[HTTP]\nCiCertificateDirs={self.ci_dir}\nTrustSystemCAs=false\n")
        out = subprocess.run([worldmod.ESIMD, "--check-config", "--config", conf], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"# {self.ci_dir}: {len(LIVE)} eSIM CI certificate(s)\n", out.stdout)


class TrustedWithoutConfiguration(unittest.TestCase):
    """The test CI is installed next to the shipped roots; esimd's configuration says nothing
    about trust (no CiCertificateDirs) beyond strict mode, so only the default directories count."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("a private mount namespace for esimd needs root here")
        if not shutil.which("unshare"):
            raise unittest.SkipTest("unshare is not installed")
        cls.dest = tempfile.mkdtemp(prefix="esimd-ci-default-")
        subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.dest, "--no-rebuild", "--quiet"],
                       check=True, capture_output=True)
        cls.datadir = data_dir()
        cls.staged_datadir = os.path.join(cls.dest, cls.datadir.lstrip("/"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def world(self, install_test_ci: bool) -> World:
        ci_dir = os.path.join(self.staged_datadir, "esimd", "ci")
        for name in os.listdir(ci_dir):
            if name[:-4] not in LIVE:
                os.unlink(os.path.join(ci_dir, name))
        # esimd sees the staged CI directory at its built-in path, and nothing else changes (when
        # this machine has no such directory to mount over, the staged data directory as a whole).
        script = ('if [ -d "$1/esimd/ci" ]; then mount --bind "$0/esimd/ci" "$1/esimd/ci"; '
                  'else mount --bind "$0" "$1"; fi && shift && exec "$@"')
        wrapper = ["unshare", "--mount", "sh", "-c", script, self.staged_datadir, self.datadir]
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1" and not worldmod.esimd_is_sanitized():
            wrapper += worldmod.valgrind_memcheck()
        w = World(start_esimd=False, esimd_wrapper=wrapper,
                  config={"HTTP": {"CiCertificateDirs": None, "TrustSystemCAs": "false"}})
        try:
            if install_test_ci:
                ci = load(w.pki["ca_pem"])
                shutil.copy(w.pki["ca_pem"], os.path.join(ci_dir, f"{ski_of(ci)}.pem"))
            w.start_esimd()
        except BaseException:
            w.stop()
            raise
        return w

    def test_accepted_through_the_installed_root(self):
        with self.world(install_test_ci=True) as w:
            with open(w.config_path) as f:
                self.assertNotIn("CiCertificateDirs", f.read())
            self.assertIn(f"{len(LIVE) + 1} eSIM CI certificate(s) trusted for TLS (strict: CI only)", w.esimd.log())
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)

    def test_refused_without_it(self):
        """The same, with only the shipped roots: the test SM-DP+ is not trusted (so the test above
        proves the installed directory is what made the difference)."""
        with self.world(install_test_ci=False) as w:
            self.assertIn(f"{len(LIVE)} eSIM CI certificate(s) trusted for TLS (strict: CI only)", w.esimd.log())
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.TlsVerificationFailed"),
                             props)


if __name__ == "__main__":
    unittest.main(verbosity=2)
