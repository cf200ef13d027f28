#!/usr/bin/python3
"""Six eUICCs behind six fake QMI modems on one esimd, downloading at once: every download
succeeds and its notification is delivered, and each eUICC's ES9+ requests ride one connection
of its own, made once. libcurl's connection cache, left at its default (four idle connections per
transfer in progress, counted when a transfer ends), closed the connections of the eUICCs that
were between requests whenever one request ended alone: their next request made a new TCP
connection and TLS handshake in the middle of a download (issue 18, target 5)."""

import os
import unittest

from gi.repository import GLib

from esimtest import pki as pkimod
from esimtest.simctl import start_sim
from esimtest.world import MANAGER_IFACE, World, activation_code

EUICCS = 6
# Some time per APDU, as a modem takes: the requests of the six downloads end at different
# moments, with the others loading their profiles (no transfer in flight) meanwhile.
LATENCY_MS = 10


def manager(i: int) -> str:
    return f"/org/esim/euicc/{i}"


class ManyEuiccs(unittest.TestCase):
    def setUp(self):
        orders = [{"matchingId": f"MANY-{i}", "iccid": "89494499999999930%02d" % i,
                   "profile": {"generate": {"size": 4096}}} for i in range(EUICCS)]
        self.w = World(orders=orders, start_esimd=False)
        self.sims = [self.w.sim]
        try:
            for k in range(1, EUICCS):
                d = os.path.join(self.w.tmpdir, f"sim{k}")
                os.makedirs(d)
                identity = pkimod.issue_euicc(self.w.pki["dir"], pkimod.make_eid(serial=900 + k))
                self.sims.append(start_sim(d, identity, qmi_proxy_socket=True))
            modem = {"Transport": "qmi", "Slot": "1", "Refresh": "refresh-flag", "UseProxy": "true",
                     "NoFileCheck": "true"}
            self.w.write_config({f"Modem sim{k}": dict(modem, ProxySocket=self.sims[k].qmi_proxy_socket,
                                                       Device=f"/dev/esim-sim-modem{k}")
                                 for k in range(1, EUICCS)})
            self.w.start_esimd(wait_ready=False)
            for i in range(EUICCS):
                self.w.client.wait_for(lambda i=i: self.w.client.get(manager(i), MANAGER_IFACE, "State") == "ready",
                                       120, f"eUICC {i} ready")
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        for s in self.sims[1:]:
            s.stop()
        self.w.stop()

    def test_downloads_at_once_each_on_one_connection(self):
        for s in self.sims:
            s.ctl().add_fault(kind="delay", ms=LATENCY_MS)
        self.w.smdp.control.timings(reset=True)
        # Every call goes out before any answer is read: the six downloads run at once.
        calls = [self.w.client.call_async(manager(i), MANAGER_IFACE, "Download",
                                          GLib.Variant("(ssa{sv})", (activation_code(f"MANY-{i}"), "", {})))
                 for i in range(EUICCS)]
        self.w.client.wait_for(lambda: all(calls), 60, "every Download() answered")
        self.assertEqual([c.get("error") for c in calls], [None] * EUICCS)
        jobs = [c["result"][0] for c in calls]
        finished = self.w.client.wait_for(
            lambda: [next((s[3][0] for s in self.w.client.signals if s[0] == j and s[2] == "Finished"), None)
                     for j in jobs] if all(any(s[0] == j and s[2] == "Finished" for s in self.w.client.signals)
                                           for j in jobs) else None,
            300, "every download finished")
        self.assertEqual(finished, ["succeeded"] * EUICCS)
        # The install notifications are delivered by esimd itself (AutoSend), on the same
        # connections.
        self.w.client.wait_for(lambda: len(self.w.smdp.control.notifications()) >= EUICCS, 120,
                               "every install notification delivered")
        notes = self.w.smdp.control.notifications()
        self.assertEqual(sorted(n["operation"] for n in notes), ["install"] * EUICCS)
        self.assertEqual(sorted(n["iccid"] for n in notes), sorted(o["iccid"] for o in self.w.orders))
        self.assertEqual([(n["result"], n["verified"]) for n in notes], [("success", True)] * EUICCS, notes)
        timings = self.w.smdp.control.timings()
        requests = [t["function"] for t in timings if t["server"] == "smdp" and t["what"] == "request"]
        self.assertEqual(sorted(set(requests)), ["authenticateClient", "getBoundProfilePackage",
                                                 "handleNotification", "initiateAuthentication"])
        self.assertEqual(len(requests), 4 * EUICCS, requests)
        # One TLS handshake per eUICC: its first request's. Connections are not shared between
        # eUICCs (each has its own trust), and none was closed while its eUICC still needed it.
        handshakes = [t for t in timings if t["server"] == "smdp" and t["what"] == "handshake"]
        self.assertEqual(len(handshakes), EUICCS, f"{len(handshakes)} TLS handshakes for {len(requests)} requests")


if __name__ == "__main__":
    unittest.main(verbosity=2)
