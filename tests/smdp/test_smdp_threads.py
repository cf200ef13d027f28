#!/usr/bin/python3
# Many sessions at once against one server instance (in this process, so the test can make the
# interpreter switch threads often and read the server's log): every request is answered, and a
# server-side exception is logged at warning with its traceback.
"""Regression: with 8 eUICCs downloading at once, authenticateClient raised `RuntimeError: Already
borrowed` in check_euicc_chain: python3-cryptography 38's Certificate takes an exclusive borrow
to read its extensions, which fails while another thread is inside any other method of the same
object (even once the extensions are cached). The downloads failed and the log said nothing at
the default level."""
import concurrent.futures
import contextlib
import errno
import json
import logging
import os
import select
import socket
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import smdp  # noqa: E402
from esimtest import crypto, pki, smdpctl  # noqa: E402
from scripted_euicc import ScriptedEuicc  # noqa: E402
from smdptest import b64, decoded  # noqa: E402

SESSIONS = 8
ROUNDS = 4
ICCIDS = ["89494499999999920%02d" % i for i in range(SESSIONS * ROUNDS)]


class InProcessServer:
    """smdp.py's own servers, serving from threads of this process."""

    def __init__(self, tmp, pki_paths, orders, extra=()):
        orders_path = os.path.join(tmp, "orders.json")
        with open(orders_path, "w") as f:
            json.dump({"orders": orders}, f)
        args = smdp.parse_args(["--pki", pki_paths["dir"], "--orders", orders_path, "--port", "0",
                                "--smds-port", "0"] + list(extra))
        self.state, self.servers = smdp.make_servers(args)
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in self.servers.values()]
        for t in self.threads:
            t.start()
        self.ca = os.path.join(pki_paths["dir"], "ca", "ci.pem")

    def client(self, role="smdp"):
        host = self.state.hostname if role == "smdp" else self.state.smds_hostname
        base = "/gsma/rsp2/es9plus/" if role == "smdp" else "/gsma/rsp2/es11/"
        return smdpctl.Es9Client(host, self.servers[role].server_address[1], self.ca, base=base, timeout=60)

    def stop(self):
        for s in self.servers.values():
            s.shutdown()
            s.server_close()
        for t in self.threads:
            t.join()


@contextlib.contextmanager
def switch_often():
    """Switch threads every microsecond instead of every 5 ms, so that a window in which two
    request threads touch one object is hit in a few requests, not once in a few hundred."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


class ConcurrentSessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = pki.generate(os.path.join(cls.tmp.name, "pki"))
        orders = [{"matchingId": "MID-%02d" % i, "iccid": iccid, "profile": {"generate": {"size": 2048}}}
                  for i, iccid in enumerate(ICCIDS)]
        cls.server = InProcessServer(cls.tmp.name, cls.pki, orders)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def call(self, client, function, body):
        status, _, out = client.post(function, body)
        self.assertEqual(status, 200, out)
        self.assertEqual(smdpctl.execution_status(out)[0], "Executed-Success", out)
        return decoded(out)

    def session(self, index):
        """initiateAuthentication, authenticateClient and getBoundProfilePackage of one eUICC, each
        on its own connection (as an LPA whose connection was closed in between)."""
        euicc = ScriptedEuicc(self.pki)
        client = self.server.client()
        init = self.call(client, "initiateAuthentication",
                         {"euiccChallenge": b64(os.urandom(16)), "euiccInfo1": b64(euicc.info1()),
                          "smdpAddress": self.server.state.hostname})
        auth = self.call(client, "authenticateClient",
                         {"transactionId": init["transactionId"],
                          "authenticateServerResponse": b64(euicc.authenticate_server(init, "MID-%02d" % index))})
        out = self.call(client, "getBoundProfilePackage",
                        {"transactionId": auth["transactionId"],
                         "prepareDownloadResponse": b64(euicc.prepare_download(auth))})
        _, _, info = euicc.load_bpp(out["boundProfilePackage"])
        self.assertEqual(info["tid"].hex().upper(), init["transactionId"])
        return index

    def test_sessions_at_once_all_succeed(self):
        log = logging.getLogger("smdp")
        with self.assertNoLogs(log, logging.WARNING), switch_often():
            for r in range(ROUNDS):
                # A fresh state each round: the shared certificates have never been read yet.
                self.server.state.load_certs()
                with concurrent.futures.ThreadPoolExecutor(SESSIONS) as pool:
                    done = list(pool.map(self.session, range(r * SESSIONS, (r + 1) * SESSIONS)))
                self.assertEqual(done, list(range(r * SESSIONS, (r + 1) * SESSIONS)))
        states = {s.order.index: s.state for s in self.server.state.sessions.values() if s.order}
        self.assertEqual(len(states), SESSIONS * ROUNDS)

    def test_es11_sessions_at_once_all_succeed(self):
        def es11(_):
            euicc = ScriptedEuicc(self.pki)
            client = self.server.client("smds")
            init = self.call(client, "initiateAuthentication",
                             {"euiccChallenge": b64(os.urandom(16)), "euiccInfo1": b64(euicc.info1()),
                              "smdsAddress": self.server.state.smds_hostname})
            bf38 = euicc.authenticate_server(init, None, role=crypto.ROLE_DS_AUTH)
            self.call(client, "authenticateClient",
                      {"transactionId": init["transactionId"], "authenticateServerResponse": b64(bf38)})

        log = logging.getLogger("smdp")
        with self.assertNoLogs(log, logging.WARNING), switch_often():
            self.server.state.load_certs()
            with concurrent.futures.ThreadPoolExecutor(SESSIONS) as pool:
                list(pool.map(es11, range(SESSIONS * 2)))

    def test_connections_at_once_are_all_queued(self):
        """Sixty-four clients connect while the server accepts none: the kernel completes every
        TCP handshake (the listen backlog holds them) instead of dropping SYNs, which a client
        retries only a second later."""
        n = 64
        st, servers = smdp.make_servers(smdp.parse_args(["--pki", self.pki["dir"], "--port", "0"]))
        srv = servers["smdp"]  # listening, never serving
        socks = []
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                self.assertIn(s.connect_ex(srv.server_address), (0, errno.EINPROGRESS))
                socks.append(s)
            pending, deadline = set(socks), time.monotonic() + 10
            while pending and time.monotonic() < deadline:
                _, writable, _ = select.select([], list(pending), [], max(0.0, deadline - time.monotonic()))
                for s in writable:
                    self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0)
                    pending.discard(s)
            self.assertEqual(len(pending), 0, f"{len(pending)} of {n} connections not established")
        finally:
            for s in socks:
                s.close()
            srv.server_close()

    def test_server_exception_is_logged_with_traceback(self):
        def broken(*_a):
            raise RuntimeError("injected server bug")

        class Warnings(logging.Handler):
            def __init__(self):
                super().__init__(logging.WARNING)
                self.records, self.seen = [], threading.Event()

            def emit(self, record):
                self.records.append(self.format(record))
                self.seen.set()

        log = logging.getLogger("smdp")
        seen = Warnings()
        log.addHandler(seen)
        try:
            euicc = ScriptedEuicc(self.pki)
            with mock.patch.object(smdp.Handler, "dispatch", staticmethod(broken)), \
                    self.assertRaises(ConnectionError):  # no answer: the connection is closed
                self.server.client().post("initiateAuthentication",
                                          {"euiccChallenge": b64(os.urandom(16)), "euiccInfo1": b64(euicc.info1()),
                                           "smdpAddress": self.server.state.hostname})
            # The server thread closes the connection before it reports the exception.
            self.assertTrue(seen.seen.wait(30), "nothing logged at warning")
        finally:
            log.removeHandler(seen)
        text = "\n".join(seen.records)
        self.assertIn("Traceback", text)
        self.assertIn("RuntimeError: injected server bug", text)

if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(threadName)s %(levelname)s %(message)s")
    unittest.main(verbosity=2)
