#!/usr/bin/python3
"""esimd needs libcurl's GnuTLS backend. The build cannot run a program to ask (cross builds), so
it asks pkg-config, and esimd refuses to start with a libcurl that uses another TLS library (a
shim makes libcurl say so) with a message that names it; and no meson.build runs a program."""

import glob
import os
import re
import subprocess
import unittest

from esimtest import world as worldmod

BUILD = os.environ["ESIMD_BUILD_ROOT"]
SOURCE = os.environ["ESIMD_SOURCE_ROOT"]
SHIM = os.path.join(BUILD, "tests", "integration", "libcurl-tls-shim.so")


class TlsBackend(unittest.TestCase):
    def esimd(self, tls):
        env = dict(os.environ, LD_PRELOAD=SHIM, ESIMD_TEST_CURL_TLS=tls)
        return subprocess.run([worldmod.ESIMD, "--check-config", "--config", os.devnull], env=env,
                              capture_output=True, text=True, timeout=60)

    def setUp(self):
        if worldmod.esimd_is_sanitized():
            self.skipTest("AddressSanitizer's runtime must come first: no LD_PRELOAD shim")

    def test_another_backend_is_refused(self):
        for tls in ("OpenSSL/3.0.11", "mbedTLS/2.28.3", ""):
            with self.subTest(tls=tls):
                r = self.esimd(tls)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(r.stderr, f"esimd: this libcurl uses {tls or 'no TLS library'} for TLS; esimd "
                                           "needs libcurl built with GnuTLS (Debian: libcurl3-gnutls)\n")

    def test_gnutls_is_accepted(self):
        r = self.esimd("GnuTLS/3.7.9")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_build_step_runs_a_program(self):
        """cc.run() (or any compiler's run()) stops every cross build."""
        for path in glob.glob(os.path.join(SOURCE, "**", "meson.build"), recursive=True):
            if os.path.relpath(path, SOURCE).split(os.sep)[0].startswith(("build", "debian")):
                continue
            with open(path) as f:
                code = re.sub(r"#.*", "", f.read())
            with self.subTest(file=os.path.relpath(path, SOURCE)):
                self.assertNotRegex(code, r"\b\w+\.run\s*\(")


if __name__ == "__main__":
    unittest.main(verbosity=2)
