"""Fixture shared by the simulator's tests: PKI, a running simulator, and an LPA-side download flow."""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
from dataclasses import dataclass
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "pylib")]

from esimtest import crypto, der, pki, saip  # noqa: E402
from esimtest.simctl import ApduClient, Es10Client, start_sim  # noqa: E402

from dpside import DpSide, metadata  # noqa: E402

SKIP = 77


def shared_dir() -> Optional[str]:
    d = os.environ.get("ESIMD_SHARED_DIR")
    return d if d and os.path.isdir(d) else None


@dataclass
class Auth:
    tid: bytes
    euicc_signed1: der.Tlv
    euicc_signature1: bytes  # the 5F37 DO


def result_code(resp: der.Tlv) -> int:
    """The single INTEGER result of simple ES10 responses (BF31 {80 r} and friends)."""
    return der.decode_int(resp.find(0x80).value)


def parse_pir(pir: der.Tlv) -> dict:
    data = pir.find(0xBF27)
    meta = data.find(0xBF2F)
    final = data.find(0xA2).children()[0]
    out = {"tid": data.find(0x80).value, "seq": der.decode_int(meta.find(0x80).value),
           "address": meta.find(0x0C).value.decode(), "oid": der.decode_oid(data.find(0x06).value),
           "iccid": der.iccid_from_bcd(meta.find(0x5A).value) if meta.find(0x5A) else None,
           "success": final.tag == 0xA0, "signed": data.raw, "signature": pir.find(0x5F37).value}
    if final.tag == 0xA0:
        out["aid"] = final.find(0x4F).value
    else:
        out["command"] = der.decode_int(final.find(0x80).value)
        out["reason"] = der.decode_int(final.find(0x81).value)
    return out


class SimTestCase(unittest.TestCase):
    """One simulator (APDU socket + control) per class; setUp resets it and opens a channel."""

    sim_options: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="esim-sim-test.")
        cls.pki = pki.generate(os.path.join(cls.tmp.name, "pki"))
        cls.eid = pki.read_eid(os.path.join(cls.tmp.name, "pki"))
        cls.euicc_cert = crypto.load_cert(cls.pki["euicc"])
        cls.eum_cert = crypto.load_cert(cls.pki["eum"])
        cls.ci_cert = crypto.load_cert(cls.pki["ci"])
        cls.sim = start_sim(cls.tmp.name, cls.pki, **cls.sim_options)
        cls.ctl = cls.sim.ctl()
        cls.dp = DpSide(cls.pki)

    @classmethod
    def tearDownClass(cls):
        cls.ctl.close()
        rc = cls.sim.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError("esim-sim exited with %s" % rc)

    def setUp(self):
        self.ctl.clear_faults()
        self.ctl.reset()
        self.ctl.set(cat_busy=False, refresh_resets=True, get_response=False, allow_provisioning_class=False)
        self.connect()

    def tearDown(self):
        self.apdu.close()
        self.apdu = None

    def connect(self, block_size: int = 255) -> None:
        if getattr(self, "apdu", None) is not None:
            self.apdu.close()
        self.apdu = ApduClient(self.sim.apdu_socket)
        self.es10 = Es10Client(self.apdu, block_size)
        self.es10.open()

    def restart_sim(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with kill=True) and start the simulator on the same state."""
        self.apdu.close()
        self.apdu = None
        type(self).ctl.close()
        if kill:
            self.sim.kill()
            self.sim.start()
        else:
            self.sim.restart()
        type(self).ctl = self.sim.ctl()
        self.connect()

    # ------------------------------------------------------------------ ES10 helpers
    def call(self, tag: int, *children: bytes) -> der.Tlv:
        resp = self.es10.es10_tlv(der.encode(tag, list(children)))
        self.assertEqual(resp.tag, tag)
        return resp

    def challenge(self) -> bytes:
        return self.call(0xBF2E).find(0x80).value

    def authenticate(self, dp: Optional[DpSide] = None, **kw) -> tuple[der.Tlv, bytes]:
        dp = dp or self.dp
        chal = kw.pop("challenge", None) or self.challenge()
        req, signed1 = dp.authenticate_server(chal, **kw)
        return self.es10.es10_tlv(req), signed1

    def auth_ok(self, dp: Optional[DpSide] = None, **kw) -> Auth:
        resp, signed1 = self.authenticate(dp, **kw)
        ok = resp.find(0xA0)
        self.assertIsNotNone(ok, "AuthenticateServer failed: %r" % resp)
        signed = ok.children()[0]
        return Auth(der.decode(signed1).find(0x80).value, signed, ok.find(0x5F37).raw)

    def auth_error(self, resp: der.Tlv) -> int:
        err = resp.find(0xA1)
        self.assertIsNotNone(err, "expected an error alternative: %r" % resp)
        return der.decode_int(err.find(0x02).value)

    def prepare(self, auth: Auth, dp: Optional[DpSide] = None, **kw) -> der.Tlv:
        req, self.smdp_signature2 = (dp or self.dp).prepare_download(auth.tid, auth.euicc_signature1, **kw)
        return self.es10.es10_tlv(req)

    def prepare_ok(self, auth: Auth, dp: Optional[DpSide] = None, **kw) -> bytes:
        resp = self.prepare(auth, dp, **kw)
        ok = resp.find(0xA0)
        self.assertIsNotNone(ok, "PrepareDownload failed: %r" % resp)
        signed2 = ok.children()[0]
        self.assertTrue(crypto.verify_raw(self.euicc_cert, signed2.raw + self.smdp_signature2, ok.find(0x5F37).value))
        return signed2.find(0x5F49).value

    def load(self, segments: list) -> tuple[Optional[der.Tlv], list]:
        """Send segments until one answers data (the PIR) or a status word other than 9000."""
        trace = []
        for i, seg in enumerate(segments):
            data, sw = self.es10.transceive(seg)
            trace.append((i, sw, len(data)))
            if sw != 0x9000:
                return None, trace
            if data:
                return der.decode(data), trace
        return None, trace

    def bound(self, iccid: str, upp: Optional[bytes] = None, md: Optional[bytes] = None, **bind_kw):
        """Authenticate, prepare, bind: (Auth, BppParts) ready to load."""
        auth = self.auth_ok()
        otpk = self.prepare_ok(auth)
        upp = upp if upp is not None else saip.make_upp(iccid, 4096)
        md = md if md is not None else metadata(iccid)
        parts = self.dp.bind(auth.tid, otpk, md, upp, eid_bytes=der.eid_to_bytes(self.eid), **bind_kw)
        return auth, parts

    def install(self, iccid: str, upp: Optional[bytes] = None, md: Optional[bytes] = None, **bind_kw) -> dict:
        _auth, parts = self.bound(iccid, upp, md, **bind_kw)
        pir, trace = self.load(parts.segments())
        self.assertIsNotNone(pir, "no PIR: %s" % trace)
        result = parse_pir(pir)
        self.assertTrue(crypto.verify_raw(self.euicc_cert, result["signed"], result["signature"]))
        return result

    def profiles(self) -> list:
        return self.ctl.state()["profiles"]
