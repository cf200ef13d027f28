#!/usr/bin/python3
# ES9+ against a scripted LPA+eUICC: each function's success and every SGP.22 status the server returns.
import datetime
import unittest

from cryptography.x509.oid import NameOID

from esimtest import crypto, der, pki, saip
from smdptest import Failed, ServerTestCase, b64

ICCID = ["8949449999999991%03d" % i for i in range(8)]
OTHER_EID = pki.make_eid("89049032", 99)


class Es9Test(ServerTestCase):
    ORDERS = [
        {"matchingId": "MID-PLAIN", "iccid": ICCID[0], "profile": {"generate": {"size": 12 * 1024}},
         "metadata": {"serviceProviderName": "Test Op", "profileName": "Plain", "ppr": ["ppr1"],
                      "profileOwner": {"mccMnc": "00f110"}}},
        {"matchingId": "MID-CC", "iccid": ICCID[1], "confirmationCode": "12345678", "maxCcAttempts": 3},
        {"matchingId": "MID-EID", "iccid": ICCID[2], "eid": OTHER_EID},
        {"iccid": ICCID[3], "eid": pki.DEFAULT_EID},
        {"matchingId": "MID-EXPIRED", "iccid": ICCID[4], "state": "expired"},
        {"matchingId": "MID-HELD", "iccid": ICCID[5], "state": "held"},
        {"matchingId": "MID-CANCEL", "iccid": ICCID[6]},
    ]

    # --- success paths ----------------------------------------------------------------------------
    def test_download_with_replace_session_keys(self):
        init, auth, out, upp, info = self.download("MID-PLAIN")
        self.assertEqual(upp, saip.make_upp(ICCID[0], size_hint=12 * 1024))
        self.assertTrue(info["a2"])
        self.assertLessEqual(max(info["sizes"]), 1020)
        self.assertEqual(info["tid"].hex().upper(), init["transactionId"])
        md = der.decode(auth["profileMetadata"])
        self.assertEqual(der.iccid_from_bcd(md.find(0x5A).value), ICCID[0])
        self.assertEqual(md.find(0x91).value, b"Test Op")
        self.assertEqual(der.decode_bits(md.find(0x99).value), {1})
        self.assertEqual(md.find(0xB7).find(0x80).value, bytes.fromhex("00f110"))
        # default notificationConfigurationInfo: the four events to the SM-DP+ address
        events = set()
        for item in md.find(0xB6).children():
            self.assertEqual(item.find(0x81).value.decode(), self.dp.hostname)
            events |= der.decode_bits(item.find(0x80).value)
        self.assertEqual(events, {0, 1, 2, 3})
        signed2 = der.decode(auth["smdpSigned2"])
        self.assertEqual(signed2.find(0x01).value, b"\x00")
        self.assertEqual(self.order(0)["state"], "downloaded")
        self.assertEqual(self.session(init["transactionId"])["state"], "delivered")
        self.assertEqual(init["euiccCiPKIdToBeUsed"], der.encode(0x04, crypto.ski(self.euicc.ci)))

    def test_download_with_session_keys(self):
        self.ctl.config(sessionKeys=True)
        try:
            _, _, _, upp, info = self.download("MID-PLAIN")
        finally:
            self.ctl.config(sessionKeys=False)
        self.assertFalse(info["a2"])
        self.assertEqual(saip.iccid_of_upp(upp), ICCID[0])
        self.assertLessEqual(max(info["sizes"]), 1020)

    def test_timings(self):
        """The server's own time per request (the benchmark's limit): one entry per ES9+ call, in
        order, with the delay a fault adds inside it; reset clears them."""
        self.ctl.timings(reset=True)
        self.ctl.add_fault(function="authenticateClient", action="delay", ms=150)
        try:
            self.download("MID-PLAIN")
        finally:
            self.ctl.clear_faults()
        requests = [t for t in self.ctl.timings() if t["what"] == "request"]
        self.assertEqual([t["function"] for t in requests],
                         ["initiateAuthentication", "authenticateClient", "getBoundProfilePackage"])
        self.assertTrue(all(t["server"] == "smdp" and t["ms"] > 0 for t in requests), requests)
        self.assertGreaterEqual(requests[1]["ms"], 150)
        self.assertTrue(all(t["ms"] > 0 for t in self.ctl.timings(reset=True) if t["what"] == "handshake"))
        self.assertEqual(self.ctl.timings(), [])

    def test_default_order_by_eid_without_matching_id(self):
        _, _, _, upp, _ = self.download(None)
        self.assertEqual(saip.iccid_of_upp(upp), ICCID[3])

    def test_address_is_case_insensitive(self):
        self.initiate(address=self.dp.hostname.upper())

    # --- initiateAuthentication errors -------------------------------------------------------------
    def test_initiate_errors(self):
        self.assertFailed(("8.8.1", "3.8"), self.initiate, address="other.example.com")
        bad = crypto.ski(crypto.load_cert(self.pki["bad_ci"]))
        good = crypto.ski(self.euicc.ci)
        self.assertFailed(("8.8.4", "3.7"), self.initiate, verification=[bad], signing=[bad])
        self.assertFailed(("8.8.2", "3.1"), self.initiate, verification=[good], signing=[bad])
        self.euicc.svn = b"\x03\x00\x00"
        self.assertFailed(("8.8.3", "3.1"), self.initiate)

    def test_malformed_requests(self):
        e = self.euicc
        self.assertFailed(("1.2", "2.2"), self.call, "initiateAuthentication",
                          {"euiccInfo1": b64(e.info1()), "smdpAddress": self.dp.hostname})
        self.assertFailed(("1.2", "2.1"), self.call, "initiateAuthentication",
                          {"euiccChallenge": b64(b"short"), "euiccInfo1": b64(e.info1()),
                           "smdpAddress": self.dp.hostname})
        self.assertFailed(("1.2", "2.1"), self.call, "initiateAuthentication",
                          {"euiccChallenge": "!!notbase64", "euiccInfo1": b64(e.info1()),
                           "smdpAddress": self.dp.hostname})
        self.assertFailed(("1.2", "2.1"), self.call, "initiateAuthentication",
                          {"euiccChallenge": b64(bytes(16)), "euiccInfo1": b64(b"\x30\x00"),
                           "smdpAddress": self.dp.hostname})
        status, _, body = self.client.post_raw("initiateAuthentication", b"{not json")
        self.assertEqual(status, 200)
        import json
        self.assertEqual(json.loads(body)["header"]["functionExecutionStatus"]["statusCodeData"]["reasonCode"], "2.1")

    def test_http_level_refusals(self):
        status, _, _ = self.client.post_raw("initiateAuthentication", b"{}", {"X-Admin-Protocol": "gsma/rsp/v1.0"})
        self.assertEqual(status, 400)
        status, _, _ = self.client.post_raw("initiateAuthentication", b"{}", {"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        status, _, _ = self.client.post_raw("noSuchFunction", b"{}")
        self.assertEqual(status, 404)
        status, _, _ = self.client.post_raw("initiateAuthentication", b"{}", base="/gsma/rsp2/es11/")
        self.assertEqual(status, 404)

    # --- authenticateClient errors -----------------------------------------------------------------
    def test_unknown_transaction(self):
        init = self.initiate()
        bf38 = self.euicc.authenticate_server(init, "MID-PLAIN")
        self.assertFailed(("8.10.1", "3.9"), self.call, "authenticateClient",
                          {"transactionId": "00" * 16, "authenticateServerResponse": b64(bf38)})

    def test_matching_id_refusals(self):
        for mid, codes in (("NO-SUCH-ID", ("8.2.6", "3.8")), ("MID-EID", ("8.1.1", "3.8")),
                           ("MID-EXPIRED", ("8.8.5", "4.1")), ("MID-HELD", ("8.2", "1.2"))):
            init = self.initiate()
            self.assertFailed(codes, self.authenticate, init, mid)
            self.assertEqual(self.session(init["transactionId"])["state"], "failed")

    def test_matching_id_is_one_time(self):
        self.download("MID-PLAIN")
        init = self.initiate()
        self.assertFailed(("8.2.6", "3.8"), self.authenticate, init, "MID-PLAIN")

    def test_euicc_signature_and_challenge(self):
        init = self.initiate()
        bf38 = bytearray(self.euicc.authenticate_server(init, "MID-PLAIN"))
        t = der.decode(bytes(bf38))
        sig = t.find(0xA0).find(0x5F37)
        pos = bytes(bf38).index(sig.raw) + len(sig.raw) - 1
        bf38[pos] ^= 1
        self.assertFailed(("8.1", "6.1"), self.authenticate, init, None, bf38=bytes(bf38))
        init = self.initiate()
        wrong = dict(init)
        kids = [c.raw for c in der.decode(init["serverSigned1"]).children()]
        kids[3] = der.encode(0x84, bytes(16))
        wrong["serverSigned1"] = der.encode(0x30, kids)
        bf38 = self.euicc.authenticate_server(wrong, "MID-PLAIN", verify=False)
        self.assertFailed(("8.1", "6.1"), self.authenticate, init, None, bf38=bf38)

    def test_euicc_error_alternative_is_forwarded(self):
        init = self.initiate()
        tid = bytes.fromhex(init["transactionId"])
        bf38 = der.encode(0xBF38, der.encode(0xA1, [der.encode(0x80, tid), der.encode(0x02, b"\x02")]))
        self.assertFailed(("8.1", "4.2"), self.authenticate, init, None, bf38=bf38)
        self.assertEqual(self.session(init["transactionId"])["error"], "euicc-authenticateServer-2")

    def identity(self, ci_name, eid=pki.DEFAULT_EID, eum_lifetime_days=3650, eum_start=None, forge_eum=False):
        """A scripted eUICC with another EUM/eUICC pair under the CI `ci_name`."""
        ci = crypto.load_cert(self.pki[ci_name])
        ci_key = crypto.load_key(self.pki[ci_name + "_key"])
        eum_key = pki.new_key()
        eum = pki.issue(pki.ROLE_EUM, pki._name((NameOID.ORGANIZATION_NAME, "RSP Test EUM")), eum_key, ci,
                        pki.new_key() if forge_eum else ci_key, lifetime=datetime.timedelta(days=eum_lifetime_days),
                        permitted_eid_prefix="89049032", not_before=eum_start)
        key = pki.new_key()
        euicc = pki.issue(pki.ROLE_EUICC, pki._name((NameOID.SERIAL_NUMBER, eid)), key, eum, eum_key,
                          lifetime=datetime.timedelta(days=3650))
        e = type(self.euicc)(self.pki)
        e.euicc_cert, e.euicc_der, e.eum_der, e.key, e.eid = euicc, crypto.cert_der(euicc), crypto.cert_der(eum), key, eid
        return e

    def test_euicc_chain_refusals(self):
        cases = (
            (self.identity("bad_ci"), ("8.11.1", "3.9")),
            (self.identity("ci", forge_eum=True), ("8.1.2", "6.1")),
            (self.identity("ci", eum_lifetime_days=2, eum_start=datetime.datetime(2020, 1, 1)), ("8.1.2", "6.3")),
            (self.identity("ci", eid=pki.make_eid("89033024", 5)), ("8.1.3", "6.1")),
        )
        for e, codes in cases:
            init = self.initiate()
            self.assertFailed(codes, self.authenticate, init, "MID-PLAIN", euicc=e)
        self.assertEqual(self.order(0)["state"], "released")

    # --- getBoundProfilePackage errors -------------------------------------------------------------
    def test_bpp_refusals(self):
        init = self.initiate()
        auth = self.authenticate(init, "MID-PLAIN")
        bf21 = self.euicc.prepare_download(auth, tamper_sig=True)
        self.assertFailed(("8.1", "6.1"), self.get_bpp, auth, bf21=bf21)
        self.assertEqual(self.order(0)["state"], "released")
        init = self.initiate()
        auth = self.authenticate(init, "MID-PLAIN")
        tid = bytes.fromhex(init["transactionId"])
        bf21 = der.encode(0xBF21, der.encode(0xA1, [der.encode(0x80, tid), der.encode(0x02, b"\x02")]))
        self.assertFailed(("8.1", "4.2"), self.get_bpp, auth, bf21=bf21)
        self.assertEqual(self.session(init["transactionId"])["error"], "euicc-prepareDownload-2")
        self.assertFailed(("8.10.1", "3.9"), self.get_bpp, auth)  # that session is over
        self.download("MID-PLAIN")  # and the order is still available

    def test_confirmation_code(self):
        def attempt(cc):
            init = self.initiate()
            auth = self.authenticate(init, "MID-CC")
            self.assertEqual(der.decode(auth["smdpSigned2"]).find(0x01).value, b"\xff")
            return auth, lambda: self.get_bpp(auth, cc)

        _, go = attempt(None)
        self.assertFailed(("8.2.7", "2.2"), go)
        _, go = attempt("0000")
        self.assertFailed(("8.2.7", "3.8"), go)
        auth, go = attempt("12345678")
        md, upp, _ = self.euicc.load_bpp(go()["boundProfilePackage"])
        self.assertEqual(saip.iccid_of_upp(upp), ICCID[1])
        self.assertEqual(self.order(1)["ccAttempts"], 1)

    def test_confirmation_code_retries_exceeded(self):
        for expect in (("8.2.7", "3.8"), ("8.2.7", "3.8"), ("8.2.7", "6.4")):
            init = self.initiate()
            auth = self.authenticate(init, "MID-CC")
            self.assertFailed(expect, self.get_bpp, auth, "wrong")
        self.assertEqual(self.order(1)["state"], "locked")
        init = self.initiate()
        self.assertFailed(("8.8.5", "6.4"), self.authenticate, init, "MID-CC")

    # --- handleNotification ------------------------------------------------------------------------
    def notify(self, blob):
        status, _, body = self.client.post("handleNotification", {"pendingNotification": b64(blob)})
        return status, body

    def test_notifications(self):
        init, auth, _, _, _ = self.download("MID-PLAIN")
        tid = bytes.fromhex(init["transactionId"])
        iccid_bcd = der.iccid_to_bcd(ICCID[0])
        self.assertEqual(self.notify(self.euicc.pir(tid, 7, self.dp.hostname, iccid_bcd, tamper=True)), (204, None))
        self.assertEqual(self.order(0)["state"], "downloaded")  # an unverified PIR changes nothing
        self.assertEqual(self.notify(self.euicc.pir(tid, 7, self.dp.hostname, iccid_bcd)), (204, None))
        self.assertEqual(self.notify(self.euicc.other_notification(8, 1, self.dp.hostname, iccid_bcd)), (204, None))
        self.assertEqual(self.notify(self.euicc.other_notification(9, 3, self.dp.hostname, iccid_bcd, tamper=True)),
                         (204, None))
        status, body = self.notify(b"\x04\x01\x00")
        self.assertEqual(status, 200)
        self.assertEqual(body["header"]["functionExecutionStatus"]["status"], "Failed")
        n = self.ctl.notifications()
        self.assertEqual([(x["seq"], x["operation"], x["verified"]) for x in n],
                         [(7, "install", False), (7, "install", True), (8, "enable", True), (9, "delete", False)])
        self.assertEqual(n[1]["iccid"], ICCID[0])
        self.assertEqual(n[1]["address"], self.dp.hostname)
        self.assertEqual(n[1]["result"], "success")
        self.assertEqual(self.order(0)["state"], "installed")
        self.assertEqual(self.session(init["transactionId"])["state"], "installed")

    def test_failed_installation_result(self):
        init, _, _, _, _ = self.download("MID-PLAIN")
        pir = self.euicc.pir(bytes.fromhex(init["transactionId"]), 3, self.dp.hostname, der.iccid_to_bcd(ICCID[0]),
                             success=False)
        self.assertEqual(self.notify(pir), (204, None))
        n = self.ctl.notifications()[-1]
        self.assertEqual((n["result"], n["bppCommandId"], n["errorReason"], n["verified"]), ("error", 5, 8, True))
        self.assertEqual(self.order(0)["state"], "install-failed")

    # --- cancelSession -----------------------------------------------------------------------------
    def cancel(self, auth, reason, oid="2.999.10", tamper=False):
        blob = self.euicc.cancel_session(bytes.fromhex(auth["transactionId"]), reason, oid)
        if tamper:
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        return self.call("cancelSession", {"transactionId": auth["transactionId"], "cancelSessionResponse": b64(blob)})

    def test_cancel_postponed_keeps_the_order(self):
        auth = self.authenticate(self.initiate(), "MID-CANCEL")
        out = self.cancel(auth, 1)
        self.assertEqual(set(out), {"header"})
        s = self.session(auth["transactionId"])
        self.assertEqual((s["state"], s["cancelReason"], s["cancelReasonName"]), ("cancelled", 1, "postponed"))
        self.assertEqual(self.order(6)["state"], "released")
        self.download("MID-CANCEL")

    def test_cancel_rejection_ends_the_order(self):
        auth = self.authenticate(self.initiate(), "MID-CANCEL")
        self.cancel(auth, 0)
        self.assertEqual(self.order(6)["state"], "cancelled")
        self.assertFailed(("8.2.6", "3.8"), self.authenticate, self.initiate(), "MID-CANCEL")

    def test_cancel_refusals(self):
        auth = self.authenticate(self.initiate(), "MID-CANCEL")
        self.assertFailed(("8.8", "3.1"), self.cancel, auth, 1, oid="2.999.11")
        self.assertFailed(("8.1", "6.1"), self.cancel, auth, 1, tamper=True)
        self.assertEqual(self.session(auth["transactionId"])["state"], "authenticated")
        self.cancel(auth, 2)
        self.assertFailed(("8.10.1", "3.9"), self.cancel, auth, 2)


if __name__ == "__main__":
    unittest.main()
