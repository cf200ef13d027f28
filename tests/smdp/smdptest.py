# Shared fixture of the SM-DP+ tests: a PKI, a running server and the ES9+ steps of a scripted LPA.
import base64
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esimtest import pki, smdpctl  # noqa: E402
from scripted_euicc import ScriptedEuicc  # noqa: E402

B64_FIELDS = {"serverSigned1", "serverSignature1", "euiccCiPKIdToBeUsed", "serverCertificate", "profileMetadata",
              "smdpSigned2", "smdpSignature2", "smdpCertificate", "boundProfilePackage"}


def b64(data):
    return base64.b64encode(data).decode()


def decoded(body):
    return {k: (base64.b64decode(v) if k in B64_FIELDS else v) for k, v in body.items()}


class Failed(Exception):
    def __init__(self, status, subject, reason):
        super().__init__("%s %s/%s" % (status, subject, reason))
        self.status, self.subject, self.reason = status, subject, reason


class ServerTestCase(unittest.TestCase):
    """One server per test class; each test starts from a reset server (orders reloaded)."""

    ORDERS = []
    EVENTS = []
    SERVER_OPTIONS = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.dp = smdpctl.start_smdp(cls.tmp.name, cls.pki, cls.ORDERS, cls.EVENTS, **cls.SERVER_OPTIONS)
        cls.ctl = cls.dp.control

    @classmethod
    def tearDownClass(cls):
        rc = cls.dp.stop()
        log = cls.dp.log()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError("smdp.py exited with %s:\n%s" % (rc, log))

    def setUp(self):
        self.ctl.reset()
        self.client = self.dp.es9_client()
        self.euicc = ScriptedEuicc(self.pki)

    # --- ES9+ steps; each raises Failed on a Failed/Expired status --------------------------------
    def call(self, function, body, client=None):
        status, headers, out = (client or self.client).post(function, body)
        self.assertEqual(status, 200, out)
        self.assertTrue(headers.get("x-admin-protocol", "").startswith("gsma/rsp/v2."))
        st, subject, reason = smdpctl.execution_status(out)
        if st not in ("Executed-Success", "Executed-WithWarning"):
            raise Failed(st, subject, reason)
        return decoded(out)

    def initiate(self, euicc=None, address=None, client=None, function="initiateAuthentication", **info):
        e = euicc or self.euicc
        self.last_challenge = os.urandom(16)
        return self.call(function, {"euiccChallenge": b64(self.last_challenge), "euiccInfo1": b64(e.info1(**info)),
                                    "smdpAddress": address or self.dp.hostname}, client)

    def authenticate(self, init, matching_id, euicc=None, bf38=None):
        e = euicc or self.euicc
        bf38 = bf38 or e.authenticate_server(init, matching_id)
        return self.call("authenticateClient", {"transactionId": init["transactionId"],
                                                "authenticateServerResponse": b64(bf38)})

    def get_bpp(self, auth, cc=None, euicc=None, bf21=None):
        e = euicc or self.euicc
        bf21 = bf21 or e.prepare_download(auth, cc=cc)
        return self.call("getBoundProfilePackage", {"transactionId": auth["transactionId"],
                                                    "prepareDownloadResponse": b64(bf21)})

    def download(self, matching_id, cc=None, euicc=None):
        init = self.initiate(euicc)
        auth = self.authenticate(init, matching_id, euicc)
        out = self.get_bpp(auth, cc, euicc)
        self.wait_delivered(init["transactionId"])
        md, upp, info = (euicc or self.euicc).load_bpp(out["boundProfilePackage"])
        self.assertEqual(md, auth["profileMetadata"])
        return init, auth, out, upp, info

    def assertFailed(self, codes, fn, *a, **kw):
        with self.assertRaises(Failed) as cm:
            fn(*a, **kw)
        self.assertEqual((cm.exception.subject, cm.exception.reason), codes, str(cm.exception))
        return cm.exception

    def wait_delivered(self, tid, timeout=30.0):
        """The server counts the package delivered (its order "downloaded") once the whole answer
        went out: the client may have read that answer before the server's thread got there, so
        what the control socket says is read after it has."""
        deadline = time.monotonic() + timeout
        while self.session(tid)["state"] != "delivered":
            if time.monotonic() > deadline:
                self.fail(f"session {tid}: never counted delivered ({self.session(tid)['state']})")
            time.sleep(0.01)

    def order(self, index=0):
        return self.ctl.orders()[index]

    def session(self, tid):
        return next(s for s in self.ctl.sessions() if s["transactionId"] == tid)
