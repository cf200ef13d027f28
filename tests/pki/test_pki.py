#!/usr/bin/python3
# Structural checks of the generated test PKI: chains, roles, key usage, SANs, EID rules, idempotence.
import os
import subprocess
import sys
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from esimtest import pki

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    with open(path, "rb") as f:
        return x509.load_der_x509_certificate(f.read())


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def issued_by(child, parent):
    """AKI(child) == SKI(parent) and parent's key verifies child's signature (SGP22-CRYPTO §3.4)."""
    try:
        aki = ext(child, x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = ext(child, x509.SubjectKeyIdentifier).value.digest  # self-signed CI has no AKI
    if aki != ext(parent, x509.SubjectKeyIdentifier).value.digest:
        return False
    try:
        parent.public_key().verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return True


def policies(cert):
    return [p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value]


class PkiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.p = pki.generate(cls.tmp.name)
        cls.c = {k: load(v) for k, v in cls.p.items() if v.endswith(".der")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_all_contract_files_exist(self):
        for name in ("ci", "eum", "euicc", "dpauth", "dppb", "dptls", "dsauth", "dstls", "bad-ci", "bad-dpauth",
                     "bad-dppb", "bad-dptls"):
            self.assertTrue(os.path.isfile(os.path.join(self.tmp.name, name + ".der")), name)
            self.assertTrue(os.path.isfile(os.path.join(self.tmp.name, name + "-key.pem")), name)
        self.assertTrue(os.path.isfile(os.path.join(self.tmp.name, "ca", "ci.pem")))
        self.assertEqual(pki.read_eid(self.tmp.name), pki.DEFAULT_EID)

    def test_keys_match_certificates_and_curve(self):
        for name, cert in self.c.items():
            with open(self.p[name + "_key"], "rb") as f:
                pem = f.read()
            self.assertIn(b"BEGIN EC PRIVATE KEY", pem, name)
            key = serialization.load_pem_private_key(pem, None)
            self.assertIsInstance(key.curve, ec.SECP256R1, name)
            self.assertEqual(key.public_key().public_numbers(), cert.public_key().public_numbers(), name)
            self.assertEqual(cert.signature_hash_algorithm.name, "sha256", name)
            self.assertEqual(cert.version, x509.Version.v3)

    def test_chains(self):
        c = self.c
        self.assertTrue(issued_by(c["ci"], c["ci"]))
        self.assertTrue(issued_by(c["eum"], c["ci"]))
        self.assertTrue(issued_by(c["euicc"], c["eum"]))
        for n in ("dpauth", "dppb", "dptls", "dsauth", "dstls"):
            self.assertTrue(issued_by(c[n], c["ci"]), n)
            self.assertFalse(issued_by(c[n], c["bad_ci"]), n)
        self.assertTrue(issued_by(c["bad_ci"], c["bad_ci"]))
        for n in ("bad_dpauth", "bad_dppb", "bad_dptls"):
            self.assertTrue(issued_by(c[n], c["bad_ci"]), n)
            self.assertFalse(issued_by(c[n], c["ci"]), n)
        self.assertFalse(issued_by(c["euicc"], c["ci"]))
        self.assertNotEqual(ext(c["ci"], x509.SubjectKeyIdentifier).value.digest,
                            ext(c["bad_ci"], x509.SubjectKeyIdentifier).value.digest)

    def test_roles_key_usage_and_constraints(self):
        expect = {
            "ci": (pki.ROLE_CI, {"key_cert_sign", "crl_sign"}, True),
            "bad_ci": (pki.ROLE_CI, {"key_cert_sign", "crl_sign"}, True),
            "eum": (pki.ROLE_EUM, {"key_cert_sign"}, True),
            "euicc": (pki.ROLE_EUICC, {"digital_signature"}, False),
            "dpauth": (pki.ROLE_DP_AUTH, {"digital_signature"}, False),
            "dppb": (pki.ROLE_DP_PB, {"digital_signature"}, False),
            "dptls": (pki.ROLE_DP_TLS, {"digital_signature"}, False),
            "dsauth": (pki.ROLE_DS_AUTH, {"digital_signature"}, False),
            "dstls": (pki.ROLE_DS_TLS, {"digital_signature"}, False),
            "bad_dpauth": (pki.ROLE_DP_AUTH, {"digital_signature"}, False),
            "bad_dppb": (pki.ROLE_DP_PB, {"digital_signature"}, False),
            "bad_dptls": (pki.ROLE_DP_TLS, {"digital_signature"}, False),
        }
        for name, (role, usages, is_ca) in expect.items():
            cert = self.c[name]
            self.assertEqual(policies(cert), [role], name)
            ku = ext(cert, x509.KeyUsage)
            self.assertTrue(ku.critical, name)
            on = {u for u in ("digital_signature", "key_cert_sign", "crl_sign", "key_agreement", "key_encipherment",
                              "content_commitment", "data_encipherment") if getattr(ku.value, u)}
            self.assertEqual(on, usages, name)
            try:
                bc = ext(cert, x509.BasicConstraints)
                self.assertEqual(bc.value.ca, is_ca, name)
                self.assertTrue(bc.critical)
            except x509.ExtensionNotFound:
                self.assertFalse(is_ca, name)
        self.assertEqual(ext(self.c["eum"], x509.BasicConstraints).value.path_length, 0)
        self.assertIsNone(ext(self.c["ci"], x509.BasicConstraints).value.path_length)

    def test_eid_and_eum_prefix(self):
        eid = self.c["euicc"].subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
        self.assertEqual(eid, pki.DEFAULT_EID)
        self.assertTrue(pki.eid_is_valid(eid))
        nc = ext(self.c["eum"], x509.NameConstraints)
        self.assertTrue(nc.critical)
        (dn,) = nc.value.permitted_subtrees
        prefix = dn.value.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
        self.assertEqual(prefix, "89049032")
        self.assertTrue(eid.startswith(prefix))

    def test_sans(self):
        def rids(c):
            return [g.dotted_string for g in ext(c, x509.SubjectAlternativeName).value.get_values_for_type(
                x509.RegisteredID)]

        def dns(c):
            return ext(c, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)

        for n in ("dpauth", "dppb", "dptls", "bad_dpauth", "bad_dppb", "bad_dptls"):
            self.assertEqual(rids(self.c[n]), [pki.DEFAULT_SMDP_OID], n)
        for n in ("dsauth", "dstls"):
            self.assertEqual(rids(self.c[n]), [pki.DEFAULT_SMDS_OID], n)
        self.assertEqual(dns(self.c["dptls"]), [pki.DEFAULT_SMDP_HOST])
        self.assertEqual(dns(self.c["dstls"]), [pki.DEFAULT_SMDS_HOST])
        self.assertEqual(dns(self.c["dpauth"]), [])
        eku = ext(self.c["dptls"], x509.ExtendedKeyUsage)
        self.assertTrue(eku.critical)
        self.assertIn(ExtendedKeyUsageOID.SERVER_AUTH, list(eku.value))

    def test_hostile_tls_leaves(self):
        """TLS leaves for the SM-DP+ host that chain to the trusted CI but break SGP.22's TLS
        profile (the daemon must refuse each; tests/integration/test_tls_profile.py)."""
        c = self.c
        self.assertTrue(issued_by(c["eum_dptls"], c["eum"]))
        self.assertTrue(issued_by(c["euicc_dptls"], c["euicc"]))
        self.assertTrue(issued_by(c["dpauth_tls"], c["ci"]))
        self.assertEqual(policies(c["eum_dptls"]), [pki.ROLE_DP_TLS])
        self.assertEqual(policies(c["euicc_dptls"]), [pki.ROLE_DP_TLS])
        self.assertEqual(policies(c["dpauth_tls"]), [pki.ROLE_DP_AUTH])
        for n in ("eum_dptls", "euicc_dptls", "dpauth_tls", "web_tls"):
            dns = ext(c[n], x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
            self.assertEqual(dns, [pki.DEFAULT_SMDP_HOST], n)
        # The web CA is no RSP certificate and is not in the CI directory.
        self.assertTrue(issued_by(c["web_tls"], c["web_ca"]))
        with self.assertRaises(x509.ExtensionNotFound):
            ext(c["web_tls"], x509.CertificatePolicies)
        self.assertEqual(os.listdir(self.p["ca_dir"]), ["ci.pem"])

    def test_validity_is_current(self):
        import datetime
        now = datetime.datetime.utcnow()
        for name, cert in self.c.items():
            self.assertLess(cert.not_valid_before, now, name)
            self.assertGreater(cert.not_valid_after, now + datetime.timedelta(days=365 * 5), name)

    def test_ca_dir_holds_the_ci(self):
        with open(self.p["ca_pem"], "rb") as f:
            self.assertEqual(x509.load_pem_x509_certificate(f.read()), self.c["ci"])

    def test_idempotent_and_regenerates_on_new_parameters(self):
        with tempfile.TemporaryDirectory() as d:
            pki.generate(d)
            with open(os.path.join(d, "ci.der"), "rb") as f:
                first = f.read()
            pki.generate(d)
            with open(os.path.join(d, "ci.der"), "rb") as f:
                self.assertEqual(f.read(), first)
            eid2 = pki.make_eid("89049032", 777)
            pki.generate(d, eid=eid2)
            with open(os.path.join(d, "ci.der"), "rb") as f:
                self.assertNotEqual(f.read(), first)
            self.assertEqual(pki.read_eid(d), eid2)
            # A partly deleted directory is completed, not trusted.
            os.unlink(os.path.join(d, "dppb.der"))
            pki.generate(d, eid=eid2)
            self.assertTrue(os.path.exists(os.path.join(d, "dppb.der")))
            self.assertTrue(issued_by(load(os.path.join(d, "dppb.der")), load(os.path.join(d, "ci.der"))))

    def test_eid_rules(self):
        self.assertTrue(pki.eid_is_valid(pki.DEFAULT_EID))
        self.assertEqual(pki.make_eid("89049032", 0)[:8], "89049032")
        self.assertTrue(pki.eid_is_valid(pki.make_eid("89033024", 123456)))
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(ValueError):
                pki.generate(d, eid=pki.DEFAULT_EID[:-1] + "6")  # wrong check digit
            with self.assertRaises(ValueError):
                pki.generate(d, eum_prefix="89049099")  # EID outside the EUM's range

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            eid = pki.make_eid("89049032", 42)
            r = subprocess.run([sys.executable, os.path.join(HERE, "gen-pki.py"), "--out", d, "--eid", eid,
                                "--smdp-host", "a.example.com", "--smdp-host", "b.example.com",
                                "--smdp-oid", "2.999.77"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            tls = load(os.path.join(d, "dptls.der"))
            san = ext(tls, x509.SubjectAlternativeName).value
            self.assertEqual(san.get_values_for_type(x509.DNSName), ["a.example.com", "b.example.com"])
            self.assertEqual([r.dotted_string for r in san.get_values_for_type(x509.RegisteredID)], ["2.999.77"])
            self.assertEqual(pki.read_eid(d), eid)
            r = subprocess.run([sys.executable, os.path.join(HERE, "gen-pki.py"), "--out", d, "--eid", "123"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
