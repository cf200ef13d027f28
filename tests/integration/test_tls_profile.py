#!/usr/bin/python3
"""SGP.22's TLS certificate profile (issue 11, item 1): a server certificate that chains to a CI
the eUICC trusts is not enough. The leaf must carry the SM-DP+ TLS (or SM-DS TLS) policy and be
issued by the CI, never by an EUM or an eUICC: whoever holds any EUM key could otherwise sit
between esimd and every SM-DP+. Each refusal happens before a byte of the request is sent, so
the server never sees the matching ID."""

import os
import tempfile
import unittest

from esimtest import pki
from esimtest.world import World, activation_code


def system_cas_world(cert_set):
    """A World whose esimd also trusts a system CA store that holds the PKI's web CA."""
    tmp = tempfile.mkdtemp(prefix="esimd-world-")
    paths = pki.generate(os.path.join(tmp, "pki"))
    return World(tmp, smdp_options={"tls_cert_set": cert_set},
                 config={"HTTP": {"TrustSystemCAs": "true", "SystemCABundle": paths["web_ca_pem"]}})


class TlsProfile(unittest.TestCase):
    def refused(self, cert_set, *words, system_cas=False):
        world = system_cas_world(cert_set) if system_cas else World(smdp_options={"tls_cert_set": cert_set})
        with world as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.TlsVerificationFailed"),
                             props)
            for word in words:
                self.assertIn(word, props["ErrorMessage"])
            # The TLS handshake reached the server, but not one ES9+ request did, and the
            # eUICC opened no session.
            self.assertTrue(w.smdp.control.sni(), "no TLS handshake reached the server")
            self.assertEqual(w.smdp.control.calls(), {})
            self.assertEqual(w.smdp.control.sessions(), [])
            sim = w.sim.ctl()
            try:
                self.assertIsNone(sim.state()["session"]["transaction_id"])
            finally:
                sim.close()
            return props["ErrorMessage"]

    def test_leaf_issued_by_an_eum(self):
        msg = self.refused("eum", "EUM", "not by a CI")
        self.assertIn("breaks SGP.22's TLS certificate profile", msg)

    def test_leaf_with_the_dpauth_role(self):
        self.refused("dpauth", "no SM-DP+ or SM-DS TLS certificate", "DPauth")

    def test_leaf_issued_by_an_euicc(self):
        # GnuTLS refuses this one itself (an eUICC certificate is no CA); the message names the
        # trust that was asked.
        self.refused("euicc", "not accepted by the eSIM CIs", "Test eUICC", "eUICC role")

    def test_leaf_for_tls_clients_only(self):
        # Issued by the CI with the SM-DP+ TLS role for the right host, but its extendedKeyUsage
        # allows TLS clients only; libcurl has GnuTLS check no key purpose.
        self.refused("client", "id-kp-serverAuth")

    def test_good_leaf_accepted(self):
        with World() as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)

    def test_system_ca_path_is_judged_apart(self):
        # An ordinary web certificate, through the system store: no RSP role asked of it...
        with system_cas_world("web") as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
        # ...but trusting the system store is no way around the profile for a CI's chain,
        msg = self.refused("eum", "EUM", system_cas=True)
        self.assertIn("breaks SGP.22's TLS certificate profile", msg)
        # and a refusal says both ways in were tried.
        msg = self.refused("bad", "nor by the system CA store (TrustSystemCAs)", system_cas=True)

    def test_web_certificate_without_system_cas(self):
        self.refused("web", "TrustSystemCAs=false")


if __name__ == "__main__":
    unittest.main(verbosity=2)
