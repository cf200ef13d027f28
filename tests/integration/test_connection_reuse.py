#!/usr/bin/python3
"""Which connection each ES9+ request of a download goes on (daemon/http.c).

Servers close a kept-alive connection after an idle timeout (Apache httpd, Node.js: 5 s). A
request sent as the server closes is lost unanswered, and esimd does not send an authenticateClient
or getBoundProfilePackage again (the server may have processed it): the download would fail as
NetworkUnavailable. So those two take a kept-alive connection only if it has been idle briefly
(CURLOPT_MAXAGE_CONN 1: under 2 s with libcurl 7.88, whole seconds; up to 1 s since mid-2025), else a
new one; within a download's usual gaps they stay on its one connection.

The test SM-DP+ never closes an idle connection itself: its `drop` fault bound to a kept-alive
connection ("reused": true) plays the server that closed it just as the request came. Its
`requests` log says which connection carried each request, as the server saw it.
"""

import time
import unittest

from gi.repository import GLib

from esimtest.world import World, activation_code

# The user's confirmation takes this long: over the bound whichever way libcurl counts it (7.88
# reuses a connection idle for 1.9 s), and the test's only wait beyond a normal download.
CONFIRMATION_S = 2.5
# The benchmark's card: 20 ms per APDU (a fast modem).
APDU_MS = 20


class ConnectionReuse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.smdp = cls.w.smdp.control
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.smdp.clear_faults()
        self.w.wait_idle()

    def order(self, matching_id, iccid):
        self.smdp.add_order({"matchingId": matching_id, "iccid": iccid, "profile": {"generate": {"size": 4096}},
                             "metadata": {"serviceProviderName": "Test Operator", "profileName": matching_id}})
        return activation_code(matching_id)

    def requests_of_download(self, before):
        """The download's ES9+ requests after the first `before` ones, by function (the PIR's
        handleNotification may come later and is not one of them)."""
        reqs = [r for r in self.smdp.requests()[before:] if r["server"] == "smdp"]
        by_fn = {}
        for r in reqs:
            if r["function"] != "handleNotification":
                self.assertNotIn(r["function"], by_fn, reqs)  # sent once each
                by_fn[r["function"]] = r
        self.assertEqual(set(by_fn), {"initiateAuthentication", "authenticateClient", "getBoundProfilePackage"},
                         reqs)
        return by_fn

    def test_download_keeps_one_connection(self):
        """The control: at 20 ms per APDU the card's steps between requests take far less than
        the bound, so the whole download goes on one connection (one TLS handshake, as the
        benchmark counts)."""
        before = len(self.smdp.requests())
        delay = self.sim.add_fault(kind="delay", ms=APDU_MS)
        try:
            _, props = self.w.download(self.order("REUSE-SHORT", "8949449999999990318"))
        finally:
            self.sim.clear_faults(delay)
        self.assertEqual(props["State"], "succeeded", props)
        r = self.requests_of_download(before)
        first = r["initiateAuthentication"]["connection"]
        for fn in ("authenticateClient", "getBoundProfilePackage"):
            self.assertEqual((r[fn]["connection"], r[fn]["reused"]), (first, True), (fn, r))

    def test_long_wait_before_bpp_takes_a_new_connection(self):
        """The user confirms 2.5 s after the profile's metadata came: getBoundProfilePackage goes
        on a new connection, not on the kept-alive one the server closes as it arrives (before
        http.c set CURLOPT_MAXAGE_CONN, the download failed as NetworkUnavailable: "the server
        closed the connection without answering getBoundProfilePackage; not sent again")."""
        w = self.w
        self.smdp.add_fault(function="getBoundProfilePackage", action="drop", execute=True, reused=True, times=1)
        before = len(self.smdp.requests())
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (self.order("REUSE-LONG", "8949449999999990326"), "",
                                                               {"confirm": GLib.Variant("b", True)})))[0]
        w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "State") == "awaiting-confirmation", 60,
                          "the download to wait for confirmation")
        time.sleep(CONFIRMATION_S)
        w.client.call(job, "org.esim.Job", "Confirm")
        props = w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", (props["Error"], props["ErrorMessage"]))
        (fault,) = self.smdp.faults()
        self.assertEqual(fault["hits"], 0, "getBoundProfilePackage went on the kept-alive connection")
        r = self.requests_of_download(before)
        # AuthenticateServer's gap is short: authenticateClient stayed on the connection.
        self.assertEqual((r["authenticateClient"]["connection"], r["authenticateClient"]["reused"]),
                         (r["initiateAuthentication"]["connection"], True), r)
        self.assertFalse(r["getBoundProfilePackage"]["reused"], r)
        self.assertNotEqual(r["getBoundProfilePackage"]["connection"], r["authenticateClient"]["connection"], r)
        # One session at the server, installed once the PIR came (after the job's answer).
        w.client.wait_for(lambda: [s["state"] for s in self.smdp.sessions() if s["iccid"] == "8949449999999990326"]
                          == ["installed"], 60, "the server's one session to be installed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
