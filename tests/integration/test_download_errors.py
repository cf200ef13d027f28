#!/usr/bin/python3
"""Downloads that must not succeed: each ends with a named error, leaves no profile and no
session on the eUICC, and cancels the server's session where one was left open (SGP.22 §3.0.2:
ES10b CancelSession, then ES9+ cancelSession, with the right reason)."""

import os
import subprocess
import sys
import unittest

from gi.repository import GLib

from esimtest.world import MANAGER, World, activation_code, dbus_error_name

POSTPONED, END_USER_REJECTION, UNDEFINED = 1, 0, 127
ICCID_CODE = "8949449999999990037"


class DownloadErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.sim = cls.w.sim.ctl()
        cls.smdp = cls.w.smdp.control

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.smdp.clear_faults()
        self.w.wait_idle()

    def order(self, matching_id, iccid, **extra):
        """A fresh order per test, so no test depends on another's leftovers."""
        o = {"matchingId": matching_id, "iccid": iccid, "profile": {"generate": {"size": 4096}},
             "metadata": {"serviceProviderName": "Test Operator", "profileName": matching_id}}
        o.update(extra)
        self.smdp.add_order(o)
        return activation_code(matching_id)

    def last_session(self):
        return self.smdp.sessions()[-1]

    def assert_clean(self, iccid=None):
        """No profile appeared, the eUICC holds no session, nothing half-loaded."""
        state = self.sim.state()
        if iccid:
            self.assertNotIn(iccid, [p["iccid"] for p in state["profiles"]])
        # A challenge alone is no transaction (the next GetEUICCChallenge replaces it).
        self.assertTrue(state["session"] is None or state["session"]["transaction_id"] is None, state["session"])
        if iccid:
            self.assertNotIn(iccid, [p["iccid"] for p in self.w.profiles()])

    def failed(self, code, cc="", options=None, error=None):
        job, props = self.w.download(code, cc, options)
        self.assertEqual(props["State"], "failed" if error != "org.esim.Error.Cancelled" else "cancelled", props)
        if error:
            self.assertEqual(props["Error"], error, props["ErrorMessage"])
        results = [s[3] for s in self.w.client.signals_named("DownloadResult", MANAGER) if s[3][0] == job]
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0][1], 1)  # the existing API's callback: 1 = failure
        self.assertEqual(results[0][3], props["Error"])
        return props

    def test_wrong_confirmation_code(self):
        code = self.order("WRONG-CODE", "8949449999999990078", confirmationCode="24681357")
        props = self.failed(code, "00000000", error="org.esim.Error.ConfirmationCodeRefused")
        self.assertIn("8.2.7", props["ErrorMessage"])
        self.assertNotIn("00000000", props["ErrorMessage"])
        session = self.last_session()
        self.assertEqual(session["state"], "failed")  # the server ended it: no ES9+ cancel owed
        self.assertEqual(self.sim.state()["last_cancelled"]["transaction_id"], session["transactionId"])
        self.assert_clean("8949449999999990078")

    def test_missing_confirmation_code_found_by_server(self):
        code = self.order("NO-CODE-GIVEN", "8949449999999990086", confirmationCode="13572468")
        self.failed(code, "", error="org.esim.Error.ConfirmationCodeRequired")
        session = self.last_session()
        self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", POSTPONED))
        self.assertEqual(self.sim.state()["last_cancelled"]["reason"], POSTPONED)
        self.assert_clean("8949449999999990086")

    def test_missing_confirmation_code_announced_by_activation_code(self):
        before = len(self.smdp.sessions())
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("CODE-NEEDED", True), "", {})))
        self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.ConfirmationCodeRequired")
        self.assertEqual(len(self.smdp.sessions()), before)  # no server was contacted

    def test_right_confirmation_code_then_reused_matching_id(self):
        job, props = self.w.download(activation_code("CODE-NEEDED", True), "12345678")
        self.assertEqual(props["State"], "succeeded", props)
        self.w.wait_idle()
        self.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_CODE, {})))
        self.failed(activation_code("CODE-NEEDED"), "12345678", error="org.esim.Error.MatchingIdRefused")
        self.assert_clean(ICCID_CODE)

    def test_unknown_matching_id(self):
        props = self.failed(activation_code("NO-SUCH-ORDER"), error="org.esim.Error.MatchingIdRefused")
        self.assertIn("8.2.6", props["ErrorMessage"])
        self.assert_clean()

    def test_confirm_then_accept(self):
        w = self.w
        order = self.smdp.add_order({"matchingId": "CONFIRM-YES", "iccid": "8949449999999990045",
                                     "profile": {"generate": {"size": 4096}},
                                     "metadata": {"serviceProviderName": "Ask First", "profileName": "Plan"}})
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("CONFIRM-YES"), "",
                                                               {"confirm": GLib.Variant("b", True)})))[0]
        w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60)
        metadata = w.client.get(job, "org.esim.Job", "ProfileMetadata")
        self.assertEqual((metadata["iccid"], metadata["service_provider"]), ("8949449999999990045", "Ask First"))
        # other reads are served while it waits
        self.assertEqual(w.manager_prop("State"), "busy")
        w.client.call(job, "org.esim.Job", "Confirm")
        props = w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        self.assertIsNotNone(order)

    def test_confirm_then_reject(self):
        w = self.w
        self.smdp.add_order({"matchingId": "CONFIRM-NO", "iccid": "8949449999999990052",
                             "profile": {"generate": {"size": 4096}},
                             "metadata": {"serviceProviderName": "Ask First", "profileName": "Plan"}})
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("CONFIRM-NO"), "",
                                                               {"confirm": GLib.Variant("b", True)})))[0]
        w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60)
        w.client.call(job, "org.esim.Job", "Cancel")
        props = w.wait_job(job)
        self.assertEqual((props["State"], props["Error"]), ("cancelled", "org.esim.Error.Cancelled"))
        session = self.last_session()
        self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", END_USER_REJECTION))
        self.assertEqual(self.sim.state()["last_cancelled"]["reason"], END_USER_REJECTION)
        self.assert_clean("8949449999999990052")
        # a finished job cannot be cancelled again
        with self.assertRaises(GLib.Error) as cm:
            w.client.call(job, "org.esim.Job", "Cancel")
        self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.WrongJobState")

    def test_caller_leaves_before_loading(self):
        """A client that starts a download and leaves the bus: the download is cancelled."""
        w = self.w
        self.smdp.add_order({"matchingId": "LEAVER", "iccid": "8949449999999990060",
                             "profile": {"generate": {"size": 4096}},
                             "metadata": {"serviceProviderName": "Gone", "profileName": "Plan"}})
        script = (
            "import sys, time\n"
            "from gi.repository import GLib\n"
            "from esimtest.world import BusClient, activation_code\n"
            "c = BusClient(sys.argv[1])\n"
            "job = c.call('/org/esim/euicc/0', 'org.esim.Manager', 'Download', GLib.Variant('(ssa{sv})',"
            " (activation_code('LEAVER'), '', {'confirm': GLib.Variant('b', True)})))[0]\n"
            "c.wait_for(lambda: c.get(job, 'org.esim.Job', 'State') == 'awaiting-confirmation', 60)\n"
            "print(job, flush=True)\n")
        out = subprocess.run([sys.executable, "-c", script, w.bus.address], capture_output=True, text=True,
                             timeout=120, env=dict(os.environ))
        self.assertEqual(out.returncode, 0, out.stderr)
        job = out.stdout.strip()
        props = w.wait_job(job)
        self.assertEqual(props["State"], "cancelled", props)
        session = self.last_session()
        self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", POSTPONED))
        self.assert_clean("8949449999999990060")

    def test_server_failure_after_authentication(self):
        """HTTP 500 on authenticateClient: the eUICC has a session, so it is cancelled; the server
        answered nothing usable, so it is told too."""
        self.smdp.add_fault(function="authenticateClient", action="http", status=500, execute=True, times=1)
        props = self.failed(activation_code("DEMO-ONE"), error="org.esim.Error.ServerError")
        self.assertIn("500", props["ErrorMessage"])
        self.assertIsNotNone(self.sim.state()["last_cancelled"])
        self.assert_clean("8949449999999990011")

    def test_failed_header_in_an_http_error(self):
        """Some servers send SGP.22's Failed header with HTTP 400 instead of 200: its codes name the
        error (a refused matching ID, not a server fault), and the eUICC's session is cancelled."""
        self.smdp.add_fault(function="authenticateClient", action="status", subjectCode="8.2.6",
                            reasonCode="3.8", httpStatus=400, times=1)
        props = self.failed(activation_code("DEMO-ONE"), error="org.esim.Error.MatchingIdRefused")
        self.assertIn("(HTTP 400)", props["ErrorMessage"])
        self.assertIsNotNone(self.sim.state()["last_cancelled"])
        self.assert_clean("8949449999999990011")

    def test_malformed_server_answer(self):
        self.smdp.add_fault(function="initiateAuthentication", action="malformed-json", times=1)
        self.failed(activation_code("DEMO-ONE"), error="org.esim.Error.ProtocolError")
        self.assert_clean("8949449999999990011")

    def test_server_resets_connection(self):
        # libcurl retries once, on a fresh connection, a request whose reused connection died
        # before any answer: reset both attempts.
        self.smdp.add_fault(function="initiateAuthentication", action="reset", times=2)
        self.failed(activation_code("DEMO-ONE"), error="org.esim.Error.NetworkUnavailable")
        self.assert_clean("8949449999999990011")

    def test_hostile_http_answers_are_named(self):
        # Each said "the server closed the connection without answering" or "cannot reach the
        # server": a user sent to check a network that works, for an answer the server did send.
        # libcurl refuses headers over 300 KiB (CURLE_RECV_ERROR "Too large response headers"
        # in 7.88 with the CVE-2023-38039 fix, CURLE_TOO_LARGE from 8.6) and one header line
        # over CURL_MAX_HTTP_HEADER, 100 KiB (CURLE_OUT_OF_MEMORY in 7.88; CURLOPT_HEADER(3));
        # a reply without a status line is HTTP/0.9 to it (CURLE_UNSUPPORTED_PROTOCOL).
        cases = [
            ("huge-headers", "org.esim.Error.ProtocolError", "response headers"),
            ("long-header", "org.esim.Error.ProtocolError", "header line"),
            ("not-http", "org.esim.Error.ProtocolError", "not an HTTP answer"),
            ("reset-mid-body", "org.esim.Error.NetworkUnavailable", "broke while the server was answering"),
            ("cut", "org.esim.Error.NetworkUnavailable", "broke while the server was answering"),
        ]
        for action, error, fragment in cases:
            with self.subTest(action=action):
                self.smdp.clear_faults()
                self.smdp.add_fault(function="initiateAuthentication", action=action, times=1)
                props = self.failed(activation_code("DEMO-ONE"), error=error)
                self.assertIn(fragment, props["ErrorMessage"])
                self.assertIn("initiateAuthentication", props["ErrorMessage"])
                self.assertNotIn("without answering", props["ErrorMessage"])
                self.assertNotIn("cannot reach", props["ErrorMessage"])
                self.assert_clean("8949449999999990011")
                self.w.wait_idle()

    def test_tampered_package_is_refused_by_the_euicc(self):
        self.smdp.add_fault(function="getBoundProfilePackage", action="tamper", field="mac", times=1)
        props = self.failed(activation_code("DEMO-TWO"), error="org.esim.Error.InstallFailed")
        self.assertIn("scp03tSecurityError", props["ErrorMessage"])
        self.assert_clean("8949449999999990029")
        # the failed ProfileInstallationResult still reaches the server (and leaves the card)
        self.w.wait_idle()
        pirs = [n for n in self.smdp.notifications() if n["kind"] == "pir" and n["iccid"] == "8949449999999990029"]
        self.assertTrue(pirs and pirs[-1]["result"] != "success", pirs)
        self.assertEqual(self.w.manager_prop("PendingNotifications"), 0)

    def test_legal_but_unusual_answers(self):
        # What third-party servers send and SGP.22 or common LPAs accept: base64 in CR LF lines
        # (lpac trims them), a lower-case transactionId, Executed-WithWarning (a success), members
        # esimd does not know and nulls, no X-Admin-Protocol, a chunked body.
        code = self.order("ODD-ANSWERS", "8949449999999990304")
        variants = ["wrapped-base64", "lowercase-transaction-id", "with-warning", "extra-members",
                    "no-admin-protocol", "chunked"]
        for fn in ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage"):
            self.smdp.add_fault(function=fn, action="variant", variants=variants, times=1)
        job, props = self.w.download(code)
        self.assertEqual(props["State"], "succeeded", props)
        self.w.wait_idle()  # its install result delivered
        self.assertEqual(self.last_session()["state"], "installed")

    def test_compressed_answers(self):
        # HTTP lets a server choose any content coding for a request without Accept-Encoding (RFC
        # 9110 12.5.3), and a proxy in front of an SM-DP+ may compress on its own. esimd asks for
        # none (identity) and still reads a gzip body: the download must not fail on it.
        code = self.order("GZIP-ANSWERS", "8949449999999990338")
        for fn, variants in (("initiateAuthentication", ["gzip"]), ("authenticateClient", ["gzip", "chunked"]),
                             ("getBoundProfilePackage", ["gzip"])):
            self.smdp.add_fault(function=fn, action="variant", variants=variants, times=1)
        job, props = self.w.download(code)
        self.assertEqual(props["State"], "succeeded", props)
        self.w.wait_idle()
        self.assertEqual(self.last_session()["state"], "installed")
        sent = [r for r in self.smdp.requests() if r["server"] == "smdp"]
        self.assertTrue(sent)
        self.assertEqual({r["acceptEncoding"] for r in sent}, {"identity"}, sent)

    def test_compressed_answer_over_the_limit(self):
        # A few KiB of gzip that decode to more than MaxResponseSize (256 KiB by default): the
        # limit counts decoded bytes, so the download fails with a named error and nothing else.
        code = self.order("GZIP-PADDED", "8949449999999990346")
        self.smdp.add_fault(function="initiateAuthentication", action="variant", variants=["gzip-padded"],
                            times=1)
        props = self.failed(code, error="org.esim.Error.ProtocolError")
        self.assertIn("larger than", props["ErrorMessage"])
        self.assert_clean("8949449999999990346")

    def test_redirect_is_not_followed(self):
        # SGP.22 has no redirects: following one would send the eUICC's signed answer (and a
        # matching ID, earlier) to whatever host the server names.
        before = self.smdp.calls().get("smdp:authenticateClient", 0)
        self.smdp.add_fault(function="authenticateClient", action="redirect", status=307, times=1,
                            location="https://testsmdpplus1.example.com/gsma/rsp2/es9plus/authenticateClient")
        props = self.failed(self.order("REDIRECTED", "8949449999999990312"), error="org.esim.Error.ServerError")
        self.assertIn("HTTP 307", props["ErrorMessage"])
        self.assertEqual(self.smdp.calls().get("smdp:authenticateClient", 0), before + 1)
        self.assert_clean("8949449999999990312")


class RefusingProxy(unittest.TestCase):
    def test_a_proxy_that_refuses_the_tunnel_is_named(self):
        # An HTTP proxy that answers CONNECT with 403: libcurl says "CONNECT tunnel failed,
        # response 403" as CURLE_RECV_ERROR, which read as the server's failure; the server was
        # never asked. CURLINFO_HTTP_CONNECTCODE tells.
        import socket
        import threading

        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        connects = []

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                with c:
                    connects.append(c.recv(65536).split(b"\r\n", 1)[0])
                    c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=serve, daemon=True).start()
        try:
            cfg = {"HTTP": {"Proxy": "http://127.0.0.1:%d" % srv.getsockname()[1]}}
            with World(config=cfg) as w:
                job, props = w.download(activation_code("DEMO-ONE"))
                self.assertEqual(props["Error"], "org.esim.Error.NetworkUnavailable", props)
                self.assertIn("proxy refused the tunnel", props["ErrorMessage"])
                self.assertIn("HTTP 403", props["ErrorMessage"])
                self.assertTrue(connects and connects[0].startswith(b"CONNECT "), connects)
                self.assertEqual(w.smdp.control.calls().get("smdp:initiateAuthentication", 0), 0)
        finally:
            srv.close()


class TlsAlert(unittest.TestCase):
    def test_a_tls_alert_in_the_handshake_is_named(self):
        # A server that ends the TLS handshake with an alert (here: it demands a client
        # certificate, over TLS 1.2 so that the alert comes inside the handshake): libcurl's
        # CURLE_SSL_CONNECT_ERROR read "cannot reach the server", though the server was reached.
        import socket
        import ssl
        import threading

        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        ctx = {}

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                try:
                    with ctx["tls"].wrap_socket(c, server_side=True) as t:
                        t.recv(1)
                except (OSError, KeyError):
                    c.close()

        threading.Thread(target=serve, daemon=True).start()
        try:
            with World(extra_hosts={"alert.example.com": "127.0.0.1:%d" % srv.getsockname()[1]}) as w:
                tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                tls.maximum_version = ssl.TLSVersion.TLSv1_2
                with open(w.pki["dptls"], "rb") as f:
                    pem = os.path.join(w.tmpdir, "alert-cert.pem")
                    with open(pem, "w") as out:
                        out.write(ssl.DER_cert_to_PEM_cert(f.read()))
                tls.load_cert_chain(pem, w.pki["dptls_key"])
                tls.verify_mode = ssl.CERT_REQUIRED
                tls.load_verify_locations(pem)
                ctx["tls"] = tls
                job, props = w.download("LPA:1$alert.example.com$ALERT-1")
                self.assertEqual(props["Error"], "org.esim.Error.NetworkUnavailable", props)
                self.assertIn("TLS handshake with the server failed", props["ErrorMessage"])
        finally:
            srv.close()


class UnansweredConfirmation(unittest.TestCase):
    def test_preview_nobody_confirms_times_out(self):
        # The queue is held while a preview waits: nobody answering must not hold it forever.
        with World(config={"Daemon": {"ConfirmationTimeout": "2"}}) as w:
            w.smdp.control.add_order({"matchingId": "ASK-NOBODY", "iccid": "8949449999999990136",
                                      "profile": {"generate": {"size": 4096}},
                                      "metadata": {"serviceProviderName": "Ask", "profileName": "Plan"}})
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("ASK-NOBODY"), "",
                                                                   {"confirm": GLib.Variant("b", True)})))[0]
            w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60)
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("cancelled", "org.esim.Error.Cancelled"), props)
            self.assertIn("timeout", props["ErrorMessage"])
            TIMEOUT = 2  # SGP.22 CancelSessionReason timeout(2)
            self.assertEqual(w.sim.ctl().state()["last_cancelled"]["reason"], TIMEOUT)
            session = w.smdp.control.sessions()[-1]
            self.assertEqual((session["state"], session["cancelReason"]), ("cancelled", TIMEOUT))
            # and the queue moves on
            job2, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)


class UntrustedServer(unittest.TestCase):
    def test_tls_certificate_from_another_ci(self):
        with World(smdp_options={"tls_cert_set": "bad"}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.TlsVerificationFailed"),
                             props)
            self.assertEqual(w.smdp.control.sessions(), [])
            self.assertIsNone(w.sim.ctl().state()["session"]["transaction_id"])


class OversizedPackage(unittest.TestCase):
    def test_package_above_max_bpp_size(self):
        """A BPP above MaxBppSize is refused before anything is loaded, and the sessions are
        cancelled on both sides."""
        orders = [{"matchingId": "TOO-BIG", "iccid": "8949449999999990110",
                   "profile": {"generate": {"size": 60000}},
                   "metadata": {"serviceProviderName": "Big", "profileName": "Large"}}]
        with World(orders=orders, config={"Daemon": {"MaxBppSize": "20000"}}) as w:
            job, props = w.download(activation_code("TOO-BIG"))
            self.assertEqual(props["Error"], "org.esim.Error.ProtocolError", props)
            self.assertIn("larger than", props["ErrorMessage"])
            state = w.sim.ctl().state()
            self.assertEqual(state["profiles"], [])
            self.assertIsNone(state["session"])
            self.assertIsNotNone(state["last_cancelled"])


class FullEuicc(unittest.TestCase):
    def test_no_room_for_the_profile(self):
        with World(sim_options={"total_memory": 2048}) as w:
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["Error"], "org.esim.Error.InsufficientMemory", props)
            self.assertEqual(w.profiles(), [])
            self.assertIsNone(w.sim.ctl().state()["session"])  # the failed load ended it


if __name__ == "__main__":
    unittest.main(verbosity=2)
