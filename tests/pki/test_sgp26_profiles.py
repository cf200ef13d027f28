#!/usr/bin/python3
# Compares the generated certificates' profiles with the GSMA SGP.26 test certificates, field by field.
import datetime
import os
import sys
import tempfile
import unittest

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from esimtest import pki

SHARED = os.environ.get("ESIMD_SHARED_DIR", "")
SGP26 = os.path.join(SHARED, "pki", "sgp26")


def load(path):
    with open(path, "rb") as f:
        return x509.load_der_x509_certificate(f.read())


def profile(cert):
    """Everything SGP.22 fixes about a certificate, leaving out keys, names' values, serials and dates."""
    out = {"version": cert.version, "sig": cert.signature_algorithm_oid, "curve": type(cert.public_key().curve)}
    out["extensions"] = [(e.oid.dotted_string, e.critical) for e in cert.extensions]
    for e in cert.extensions:
        v = e.value
        if isinstance(v, x509.KeyUsage):
            out["key_usage"] = tuple(getattr(v, a) for a in ("digital_signature", "content_commitment",
                                                             "key_encipherment", "data_encipherment",
                                                             "key_agreement", "key_cert_sign", "crl_sign"))
        elif isinstance(v, x509.CertificatePolicies):
            out["policies"] = [(p.policy_identifier.dotted_string, p.policy_qualifiers) for p in v]
        elif isinstance(v, x509.BasicConstraints):
            out["basic"] = (v.ca, v.path_length)
        elif isinstance(v, x509.SubjectAlternativeName):
            out["san_kinds"] = [type(g).__name__ for g in v]
        elif isinstance(v, x509.ExtendedKeyUsage):
            out["eku"] = [o.dotted_string for o in v]
        elif isinstance(v, x509.AuthorityKeyIdentifier):
            out["aki_shape"] = (len(v.key_identifier), v.authority_cert_issuer, v.authority_cert_serial_number)
        elif isinstance(v, x509.SubjectKeyIdentifier):
            out["ski_len"] = len(v.digest)
        elif isinstance(v, x509.NameConstraints):
            out["nc"] = [[a.oid.dotted_string for a in g.value] for g in v.permitted_subtrees]
        elif isinstance(v, x509.CRLDistributionPoints):
            out["crldp"] = [[type(n).__name__ for n in dp.full_name] for dp in v]
    # Subject attribute types and their string encodings (CN/O UTF8String, C/serialNumber Printable).
    out["subject"] = [(a.oid.dotted_string, a._type) for a in cert.subject]
    return out


def lifetime_years(cert):
    return (cert.not_valid_after - cert.not_valid_before) / datetime.timedelta(days=365.25)


class Sgp26ProfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.p = pki.generate(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def compare(self, ours_name, theirs_file, ignore=()):
        ours = profile(load(self.p[ours_name]))
        theirs = profile(load(os.path.join(SGP26, theirs_file)))
        for k in set(ours) | set(theirs):
            if k in ignore:
                continue
            self.assertEqual(ours.get(k), theirs.get(k), "%s vs SGP.26 %s: field %s" % (ours_name, theirs_file, k))

    def test_ci(self):
        self.compare("ci", "ci.der")
        self.compare("bad_ci", "ci.der")

    def test_eum(self):
        self.compare("eum", "eum.der")

    def test_euicc(self):
        self.compare("euicc", "euicc.der")

    def test_dp_certs(self):
        for ours, theirs in (("dpauth", "dpauth.der"), ("dppb", "dppb.der"), ("dptls", "dptls.der"),
                             ("bad_dpauth", "dpauth.der"), ("bad_dppb", "dppb.der"), ("bad_dptls", "dptls.der")):
            self.compare(ours, theirs)

    def test_ds_certs_follow_the_dp_profiles(self):
        # SGP.26 here has no SM-DS certificates: same profile as the DP ones, other role OID.
        self.compare("dsauth", "dpauth.der", ignore=("policies",))
        self.compare("dstls", "dptls.der", ignore=("policies",))

    def test_validity_shape(self):
        for ours, theirs in (("ci", "ci.der"), ("eum", "eum.der"), ("euicc", "euicc.der"),
                             ("dpauth", "dpauth.der"), ("dppb", "dppb.der"), ("dptls", "dptls.der")):
            a = lifetime_years(load(self.p[ours]))
            b = lifetime_years(load(os.path.join(SGP26, theirs)))
            self.assertAlmostEqual(a, b, delta=0.5, msg=ours)

    def test_profile_function_sees_differences(self):
        # The comparison is only worth something if a real difference shows up in it.
        self.assertNotEqual(profile(load(os.path.join(SGP26, "dptls.der"))),
                            profile(load(os.path.join(SGP26, "dpauth.der"))))
        self.assertNotEqual(profile(load(self.p["eum"])), profile(load(self.p["ci"])))


if __name__ == "__main__":
    if not os.path.isdir(SGP26):
        print("ESIMD_SHARED_DIR/pki/sgp26 not available: skipping")
        sys.exit(77)
    unittest.main()
