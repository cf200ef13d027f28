#!/usr/bin/python3
# The generated TLS certificates are accepted by GnuTLS, OpenSSL and Python's ssl for the right name and CI only.
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from esimtest import pki

GNUTLS_VERIFY = sys.argv.pop(1) if len(sys.argv) > 1 else os.environ.get("GNUTLS_VERIFY", "")


def to_pem(der_path, pem_path):
    with open(der_path, "rb") as f:
        cert = x509.load_der_x509_certificate(f.read())
    with open(pem_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return pem_path


class TlsTrustTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.p = pki.generate(os.path.join(d, "pki"))
        cls.pem = {n: to_pem(cls.p[n], os.path.join(d, n + ".pem"))
                   for n in ("ci", "bad_ci", "dptls", "bad_dptls", "dstls", "dpauth")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # --- GnuTLS (the daemon's TLS library) -------------------------------------------------------
    def gnutls(self, ca, cert, host=None):
        if not GNUTLS_VERIFY:
            self.skipTest("gnutls-verify helper not built")
        args = [GNUTLS_VERIFY, ca, cert] + ([host] if host else [])
        return subprocess.run(args, capture_output=True, text=True)

    def test_gnutls_accepts_dptls_for_its_host(self):
        r = self.gnutls(self.p["ca_pem"], self.p["dptls"], pki.DEFAULT_SMDP_HOST)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.gnutls(self.p["ca_pem"], self.p["dstls"], pki.DEFAULT_SMDS_HOST)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_gnutls_rejects_wrong_host_and_wrong_ci(self):
        r = self.gnutls(self.p["ca_pem"], self.p["dptls"], "evil.example.com")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("name", r.stderr)
        r = self.gnutls(self.p["ca_pem"], self.p["bad_dptls"], pki.DEFAULT_SMDP_HOST)
        self.assertEqual(r.returncode, 1, r.stderr)
        r = self.gnutls(self.pem["bad_ci"], self.p["dptls"], pki.DEFAULT_SMDP_HOST)
        self.assertEqual(r.returncode, 1, r.stderr)
        r = self.gnutls(self.p["ca_pem"], self.p["dstls"], pki.DEFAULT_SMDP_HOST)
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_certtool_if_installed(self):
        certtool = shutil.which("certtool")
        if not certtool:
            self.skipTest("certtool (gnutls-bin) not installed")
        chain = os.path.join(self.tmp.name, "chain.pem")
        with open(chain, "w") as f:
            f.write(open(self.pem["dptls"]).read())
        r = subprocess.run([certtool, "--verify", "--load-ca-certificate", self.pem["ci"], "--infile", chain,
                            "--verify-hostname", pki.DEFAULT_SMDP_HOST], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    # --- OpenSSL as a cross-check -----------------------------------------------------------------
    def test_openssl_verify(self):
        openssl = shutil.which("openssl")
        if not openssl:
            self.skipTest("openssl not installed")

        def verify(ca, cert, host):
            return subprocess.run([openssl, "verify", "-CAfile", ca, "-purpose", "sslserver", "-verify_hostname",
                                   host, cert], capture_output=True, text=True).returncode

        self.assertEqual(verify(self.pem["ci"], self.pem["dptls"], pki.DEFAULT_SMDP_HOST), 0)
        self.assertNotEqual(verify(self.pem["ci"], self.pem["dptls"], "evil.example.com"), 0)
        self.assertNotEqual(verify(self.pem["bad_ci"], self.pem["dptls"], pki.DEFAULT_SMDP_HOST), 0)
        self.assertNotEqual(verify(self.pem["ci"], self.pem["bad_dptls"], pki.DEFAULT_SMDP_HOST), 0)

    # --- a real handshake with Python's ssl on loopback ------------------------------------------
    def handshake(self, server_cert, server_key, trust_pem, sni):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.minimum_version = ssl.TLSVersion.TLSv1_2
        sctx.load_cert_chain(server_cert, server_key)
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]

        def serve():
            conn, _ = lsock.accept()
            try:
                with sctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        cctx = ssl.create_default_context(cafile=trust_pem)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with cctx.wrap_socket(raw, server_hostname=sni) as s:
                    return s.recv(2), s.version()
        finally:
            t.join(5)
            lsock.close()

    def test_python_ssl_handshake(self):
        data, version = self.handshake(self.pem["dptls"], self.p["dptls_key"], self.pem["ci"], pki.DEFAULT_SMDP_HOST)
        self.assertEqual(data, b"ok")
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(self.pem["dptls"], self.p["dptls_key"], self.pem["bad_ci"], pki.DEFAULT_SMDP_HOST)
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(self.pem["dptls"], self.p["dptls_key"], self.pem["ci"], "other.example.com")


if __name__ == "__main__":
    unittest.main()
