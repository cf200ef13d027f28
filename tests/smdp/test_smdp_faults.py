#!/usr/bin/python3
# Scripted faults (status codes, HTTP errors, broken bodies, delays, resets, tampering), TLS and ES11.
import http.client
import json
import os
import ssl
import time
import unittest

from esimtest import crypto, der, pki, smdpctl
from scripted_euicc import BppError
from esimtest.scp03t import ScpSecurityError
from smdptest import Failed, ServerTestCase, b64

ICCID = "8949449999999992001"


class FaultTest(ServerTestCase):
    ORDERS = [{"matchingId": "MID-1", "iccid": ICCID}]
    # One fault given on the command line, to check that path too: the 3rd cancelSession call.
    SERVER_OPTIONS = {"faults": [{"function": "cancelSession", "action": "status", "nth": 3,
                                  "subjectCode": "8.10.1", "reasonCode": "3.9"}]}

    def test_command_line_fault_is_loaded(self):
        (f,) = self.ctl.faults()
        self.assertEqual((f["function"], f["nth"], f["hits"]), ("cancelSession", 3, 0))

    def test_status_on_nth_call_only(self):
        self.ctl.add_fault(function="initiateAuthentication", action="status", nth=2, subjectCode="8.8.5",
                           reasonCode="4.1")
        self.initiate()
        self.assertFailed(("8.8.5", "4.1"), self.initiate)
        self.initiate()
        hits = [f["hits"] for f in self.ctl.faults() if f["function"] == "initiateAuthentication"]
        self.assertEqual(hits, [1])
        self.assertEqual(self.ctl.calls()["smdp:initiateAuthentication"], 3)

    def test_every_es9_status_is_scriptable(self):
        codes = [("8.1", "4.8"), ("8.2.5", "4.3"), ("8.2", "3.7"), ("8.8.5", "6.4"), ("8.9", "5.1")]
        for i, (s, r) in enumerate(codes):
            self.ctl.add_fault(function="authenticateClient", action="status", nth=i + 1, subjectCode=s,
                               reasonCode=r)
        init = self.initiate()
        bf38 = self.euicc.authenticate_server(init, "MID-1")
        for codes_i in codes:
            self.assertFailed(codes_i, self.authenticate, init, None, bf38=bf38)
        # not executed: the session is still waiting for authenticateClient
        self.authenticate(init, None, bf38=bf38)

    def test_scripted_failure_that_ends_the_session(self):
        auth = self.authenticate(self.initiate(), "MID-1")
        self.assertEqual(self.order()["state"], "in-progress")
        self.ctl.add_fault(function="getBoundProfilePackage", action="status", subjectCode="8.2.7",
                           reasonCode="3.8", endSession=True, times=1)
        self.assertFailed(("8.2.7", "3.8"), self.get_bpp, auth)
        # as after a real refusal: the session is over and the order can be downloaded again
        self.assertEqual(self.session(auth["transactionId"])["state"], "failed")
        self.assertEqual(self.order()["state"], "released")
        self.assertFailed(("8.10.1", "3.9"), self.get_bpp, auth)
        self.download("MID-1")

    def test_expired(self):
        self.ctl.add_fault(function="initiateAuthentication", action="expired")
        with self.assertRaises(Failed) as cm:
            self.initiate()
        self.assertEqual(cm.exception.status, "Expired")

    def test_http_status(self):
        self.ctl.add_fault(function="getBoundProfilePackage", action="http", status=503, times=1)
        auth = self.authenticate(self.initiate(), "MID-1")
        bf21 = self.euicc.prepare_download(auth)
        status, _, body = self.client.post_raw("getBoundProfilePackage", json.dumps(
            {"transactionId": auth["transactionId"], "prepareDownloadResponse": b64(bf21)}).encode())
        self.assertEqual(status, 503)
        self.assertEqual(self.order()["state"], "in-progress")  # nothing was bound
        out = self.get_bpp(auth, bf21=bf21)  # times=1: the retry goes through
        self.euicc.load_bpp(out["boundProfilePackage"])

    def test_malformed_json(self):
        self.ctl.add_fault(function="initiateAuthentication", action="malformed-json")
        with self.assertRaises(json.JSONDecodeError):
            self.initiate()

    def test_empty_body(self):
        self.ctl.add_fault(function="initiateAuthentication", action="empty", times=1)
        status, headers, body = self.client.post_raw("initiateAuthentication", b"{}")
        self.assertEqual((status, body, headers.get("content-length")), (200, b"", "0"))

    def test_cut_body_and_matching_id_not_consumed(self):
        self.ctl.add_fault(function="getBoundProfilePackage", action="cut", execute=True, times=1)
        auth = self.authenticate(self.initiate(), "MID-1")
        with self.assertRaises((http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError)):
            self.get_bpp(auth)
        # The BPP was bound but never fully delivered: the matching ID is still usable.
        self.assertEqual(self.order()["state"], "in-progress")
        self.download("MID-1")
        self.assertEqual(self.order()["state"], "downloaded")

    def test_delay(self):
        self.ctl.add_fault(function="initiateAuthentication", action="delay", ms=700)
        t = time.monotonic()
        self.initiate()
        self.assertGreaterEqual(time.monotonic() - t, 0.7)

    def test_reset(self):
        self.ctl.add_fault(function="initiateAuthentication", action="reset")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
            self.initiate()

    def test_drop_on_reused_or_fresh_connection(self):
        """drop: the request read (and with execute, processed), the connection closed without a
        byte of answer; "reused" chooses a kept-alive connection or a new one; close ends a
        connection after its answer."""
        self.ctl.add_fault(function="initiateAuthentication", action="drop", execute=True, reused=True, times=1)
        self.ctl.add_fault(function="initiateAuthentication", action="close", nth=3)
        c = self.client
        conn = smdpctl._PinnedHTTPSConnection(c.hostname, c.address, c.port, c.ctx, c.timeout)
        body = json.dumps({"euiccChallenge": b64(b"\x01" * 16), "euiccInfo1": b64(self.euicc.info1()),
                           "smdpAddress": self.dp.hostname}).encode()
        headers = {"Content-Type": "application/json", "X-Admin-Protocol": "gsma/rsp/v2.2.0"}

        def post():
            conn.request("POST", c.base + "initiateAuthentication", body=body, headers=headers)
            r = conn.getresponse()
            return r, r.read()

        try:
            r, _ = post()  # a new connection: not dropped
            self.assertEqual(r.status, 200)
            with self.assertRaises(http.client.RemoteDisconnected):
                post()  # the same connection kept alive: read, processed, dropped
            self.assertEqual(self.ctl.calls()["smdp:initiateAuthentication"], 2)
            self.assertEqual(len([s for s in self.ctl.sessions() if s["state"] == "initiated"]), 2)
            conn.close()
            r, _ = post()  # the third call: answered, then the connection closes
            self.assertEqual((r.status, r.getheader("Connection")), (200, "close"))
        finally:
            conn.close()
        self.ctl.add_fault(function="initiateAuthentication", action="drop", reused=False, times=1)
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
            self.initiate()
        self.assertEqual([f["hits"] for f in self.ctl.faults() if f["function"] == "initiateAuthentication"], [1, 1, 1])
        # The server's view of the connections: the kept-alive one, then one per connection.
        seen = [(r["connection"], r["reused"]) for r in self.ctl.requests()
                if r["function"] == "initiateAuthentication"][-4:]
        self.assertEqual([reused for _, reused in seen], [False, True, False, False], seen)
        self.assertEqual(seen[0][0], seen[1][0], seen)
        self.assertEqual(len({c for c, _ in seen}), 3, seen)

    def test_tampered_server_data_is_refused_by_the_euicc(self):
        for field in ("serverSigned1", "serverSignature1", "serverCertificate"):
            self.ctl.clear_faults()
            self.ctl.add_fault(function="initiateAuthentication", action="tamper", field=field)
            init = self.initiate()
            with self.assertRaises((ValueError, crypto.ChainError)):
                self.euicc.authenticate_server(init, "MID-1")
        self.ctl.clear_faults()
        self.ctl.add_fault(function="initiateAuthentication", action="tamper", field="euiccChallenge")
        init = self.initiate()
        self.euicc.authenticate_server(init, "MID-1")  # still correctly signed …
        self.assertNotEqual(der.decode(init["serverSigned1"]).find(0x81).value, self.last_challenge)  # … for another
        self.ctl.clear_faults()
        for field in ("smdpSigned2", "smdpSignature2"):
            self.ctl.add_fault(function="authenticateClient", action="tamper", field=field, times=1)
            auth = self.authenticate(self.initiate(), "MID-1")
            with self.assertRaises(ValueError):
                self.euicc.prepare_download(auth)

    def test_tampered_bpp(self):
        for field, exc in (("bf23", BppError), ("mac", ScpSecurityError), ("mac87", ScpSecurityError),
                           ("mac88", ScpSecurityError), ("ciphertext", ScpSecurityError)):
            self.ctl.reset()
            self.ctl.add_fault(function="getBoundProfilePackage", action="tamper", field=field)
            auth = self.authenticate(self.initiate(), "MID-1")
            out = self.get_bpp(auth)
            with self.assertRaises(exc, msg=field):
                self.euicc.load_bpp(out["boundProfilePackage"])

    def test_bad_fault_spec_is_refused(self):
        with self.assertRaises(smdpctl.SmdpError):
            self.ctl.add_fault(function="initiateAuthentication", action="explode")


class TlsAndEs11Test(ServerTestCase):
    ORDERS = [{"matchingId": "EVT-1", "iccid": ICCID}]
    EVENTS = [{"eid": pki.DEFAULT_EID, "eventId": "EVT-1"},
              {"eid": pki.make_eid("89049032", 5), "eventId": "EVT-OTHER"}]

    def test_tls_trust_only_the_test_ci(self):
        bad = os.path.join(self.tmp.name, "bad-ci.pem")
        with open(self.pki["bad_ci"], "rb") as src, open(bad, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(src.read()))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.initiate(client=self.dp.es9_client(bad))
        wrong_name = smdpctl.Es9Client("evil.example.com", self.dp.port, self.pki["ca_pem"])
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.initiate(client=wrong_name)
        self.assertIn({"server": "smdp", "name": self.dp.hostname}, self.ctl.sni())

    def test_tls_versions(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            c = self.dp.es9_client()
            c.ctx.minimum_version = c.ctx.maximum_version = version
            self.initiate(client=c)

    def es11(self, client=None, base=None, address=None, euicc=None):
        e = euicc or self.euicc
        c = client or self.dp.es11_client(base=base or "/gsma/rsp2/es11/")
        init = self.call("initiateAuthentication", {"euiccChallenge": b64(os.urandom(16)),
                                                    "euiccInfo1": b64(e.info1()),
                                                    "smdsAddress": address or self.dp.smds_hostname}, c)
        self.assertEqual(crypto.policy_oids(crypto.load_cert(init["serverCertificate"])), [pki.ROLE_DS_AUTH])
        bf38 = e.authenticate_server(init, None, role=crypto.ROLE_DS_AUTH)
        return self.call("authenticateClient", {"transactionId": init["transactionId"],
                                                "authenticateServerResponse": b64(bf38)}, c)

    def test_es11_event_retrieval_then_download(self):
        out = self.es11()
        self.assertEqual(out["eventEntries"], [{"eventId": "EVT-1", "rspServerAddress": self.dp.hostname}])
        init, _, _, _, _ = self.download("EVT-1")
        pir = self.euicc.pir(bytes.fromhex(init["transactionId"]), 1, self.dp.hostname, der.iccid_to_bcd(ICCID))
        status, _, _ = self.client.post("handleNotification", {"pendingNotification": b64(pir)})
        self.assertEqual(status, 204)
        self.assertEqual(self.es11()["eventEntries"], [])  # the installed order's event is gone

    def test_es11_errors(self):
        self.assertFailed(("8.9.1", "3.8"), self.es11, address="other.example.com")
        # an SM-DP+ session's transaction is unknown to ES11 and vice versa
        init = self.initiate()
        self.assertFailed(("8.10.1", "3.9"), self.call, "authenticateClient",
                          {"transactionId": init["transactionId"],
                           "authenticateServerResponse": b64(self.euicc.authenticate_server(init, None))},
                          self.dp.es11_client())

    def test_es11_path_switch(self):
        status, _, _ = self.dp.es11_client(base="/gsma/rsp2/es9plus/").post("initiateAuthentication", {})
        self.assertEqual(status, 404)
        self.ctl.config(es11Paths="es9plus")
        try:
            status, _, _ = self.dp.es11_client().post("initiateAuthentication", {})
            self.assertEqual(status, 404)
            out = self.es11(base="/gsma/rsp2/es9plus/")
            self.assertEqual([e["eventId"] for e in out["eventEntries"]], ["EVT-1"])
        finally:
            self.ctl.config(es11Paths="es11")

    def test_add_event_at_runtime(self):
        self.ctl.add_event(pki.DEFAULT_EID, "EVT-2", "other-smdp.example.com")
        ids = [(e["eventId"], e["rspServerAddress"]) for e in self.es11()["eventEntries"]]
        self.assertEqual(ids, [("EVT-1", self.dp.hostname), ("EVT-2", "other-smdp.example.com")])


class BadCertSetTest(ServerTestCase):
    ORDERS = [{"matchingId": "MID-1", "iccid": ICCID}]
    SERVER_OPTIONS = {"cert_set": "bad"}

    def test_auth_cert_under_untrusted_ci(self):
        init = self.initiate()
        cert = crypto.load_cert(init["serverCertificate"])
        self.assertEqual(crypto.aki(cert), crypto.ski(crypto.load_cert(self.pki["bad_ci"])))
        with self.assertRaises(crypto.ChainError):
            self.euicc.authenticate_server(init, "MID-1")


if __name__ == "__main__":
    unittest.main()
