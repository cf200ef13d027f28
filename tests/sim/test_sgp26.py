#!/usr/bin/python3
"""The simulator as the GSMA SGP.26 test eUICC, replaying the recorded osmo-smdpp BPPs.

Identity files from $ESIMD_SHARED_DIR/pki/sgp26; bsp-vector-1 and its session-key variant (vector 2)
load through the injected one-time key. Skips (77) without the shared reference material."""

import hashlib
import json
import os
import sys
import tempfile
import unittest

from simtest import SKIP, SimTestCase, parse_pir, shared_dir

from dpside import BppParts, DpSide
from esimtest import crypto, der
from esimtest.simctl import start_sim

SHARED = shared_dir()
SGP26 = os.path.join(SHARED, "pki", "sgp26") if SHARED else None
TEST_CI_SKI = bytes.fromhex("F54172BDF98A95D65CBEB88A38A1C11D800A85C3")


def vector(name: str) -> dict:
    with open(os.path.join(SHARED, "spec", "vectors", name)) as f:
        return json.load(f)


class Sgp26Test(SimTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="esim-sim-sgp26.")
        f = lambda n: os.path.join(SGP26, n)  # noqa: E731
        files = {"euicc_cert": f("euicc.der"), "euicc_key": f("euicc-key.pem"), "eum_cert": f("eum.der"),
                 "ci_certs": [f("ci.der"), f("ci-2017.der")]}
        cls.sim = start_sim(cls.tmp.name, files)
        cls.ctl = cls.sim.ctl()
        cls.euicc_cert = crypto.load_cert(f("euicc.der"))
        cls.eum_cert = crypto.load_cert(f("eum.der"))
        cls.ci_cert = crypto.load_cert(f("ci.der"))
        cls.eid = crypto.eid_of(cls.euicc_cert)
        cls.dp = DpSide({"dpauth": f("dpauth.der"), "dpauth_key": f("dpauth-key.pem"), "dppb": f("dppb.der"),
                         "dppb_key": f("dppb-key.pem")})

    def test_identity(self):
        self.assertEqual(self.eid, "89049032123451234512345678901235")
        self.assertEqual(self.call(0xBF3E, der.encode(0x5C, b"\x5a")).find(0x5A).value.hex(), self.eid)
        info = self.call(0xBF20)
        # two certificates of one CI key: listed once
        self.assertEqual([c.value for c in info.find(0xA9).children()], [TEST_CI_SKI])
        self.assertEqual([c.value for c in info.find(0xAA).children()], [TEST_CI_SKI])

    def test_authenticate_with_sgp26_dpauth(self):
        auth = self.auth_ok()
        self.assertTrue(crypto.verify_raw(self.euicc_cert, auth.euicc_signed1.raw, der.decode(auth.euicc_signature1).value))
        # the SM-DP+ side check: eUICC ← EUM ("GSMA Test CI" issuer name) ← CI, by key identifiers
        crypto.check_chain(self.euicc_cert, [self.eum_cert], [self.ci_cert], crypto.ROLE_EUICC)

    def replay(self, name: str) -> dict:
        v = vector(name)
        v1 = vector("bsp-vector-1.json")
        tid = bytes.fromhex(v1["es9p"]["transactionId"])
        # A live session for the recorded transaction, signed with the SGP.26 DP keys...
        auth = self.auth_ok(tid=tid)
        # ...and the recorded one-time key, so the recorded BF23 (signed over that otPK) verifies.
        pub = self.ctl.inject_ot_key(v1["key_agreement"]["euicc_otSK"])
        self.assertEqual(pub, v1["key_agreement"]["euicc_otPK"])
        signed2 = bytes.fromhex(v1["es9p"]["smdpSigned2"])
        otpk = self.prepare_ok(auth, signed2=signed2)
        self.assertEqual(otpk.hex(), v1["key_agreement"]["euicc_otPK"])
        parts = BppParts.from_bpp(bytes.fromhex(v["bpp_hex"]))
        pir, trace = self.load(parts.segments())
        self.assertIsNotNone(pir, trace)
        r = parse_pir(pir)
        self.assertTrue(r["success"], r)
        self.assertTrue(crypto.verify_raw(self.euicc_cert, r["signed"], r["signature"]))
        (p,) = self.profiles()
        return {"profile": p, "pir": r, "parts": parts, "vector": v}

    def test_replay_vector_1(self):
        out = self.replay("bsp-vector-1.json")
        v = out["vector"]
        self.assertEqual(out["profile"]["upp_sha256"], v["scp03t"]["upp_sha256"])
        self.assertEqual(out["profile"]["size"], v["scp03t"]["upp_len"])
        self.assertEqual(out["profile"]["metadata"], v["es9p"]["profileMetadata"])
        self.assertEqual(max(len(b) for b in out["parts"].a3), 1036)  # osmo-smdpp's oversized blocks
        self.assertEqual(out["pir"]["oid"], "2.999.10")

    def test_replay_vector_2_session_keys(self):
        out = self.replay("bsp-vector-2-session-keys.json")
        self.assertIsNone(out["parts"].a2)
        self.assertEqual(out["profile"]["upp_sha256"], out["vector"]["upp_sha256"])

    def test_recorded_bpp_refused_without_the_recorded_key(self):
        v1 = vector("bsp-vector-1.json")
        auth = self.auth_ok(tid=bytes.fromhex(v1["es9p"]["transactionId"]))
        self.prepare_ok(auth, signed2=bytes.fromhex(v1["es9p"]["smdpSigned2"]))
        pir, _ = self.load(BppParts.from_bpp(bytes.fromhex(v1["bpp_hex"])).segments())
        r = parse_pir(pir)
        self.assertEqual((r["success"], r["command"], r["reason"]), (False, 0, 2))  # smdpSign covers our otPK
        self.assertEqual(self.profiles(), [])

    def test_recorded_signatures_verify(self):
        # what the SGP.26 eUICC signed in the recorded session verifies with this certificate
        v1 = vector("bsp-vector-1.json")
        for rec in ("profile_installation_result", "notification_enable", "cancel_session"):
            self.assertTrue(crypto.verify_raw(self.euicc_cert, bytes.fromhex(v1[rec]["signed_bytes"]),
                                              bytes.fromhex(v1[rec]["r_s"])), rec)
        self.assertEqual(hashlib.sha256(bytes.fromhex(v1["bpp_hex"])).hexdigest(), v1["scp03t"]["bpp_sha256"])


if __name__ == "__main__":
    if not SGP26 or not os.path.isfile(os.path.join(SGP26, "euicc.der")):
        print("no SGP.26 files under $ESIMD_SHARED_DIR/pki/sgp26: skipping")
        sys.exit(SKIP)
    unittest.main()
