#!/usr/bin/python3
"""The eUICC side of a download, every check of SGP22-CRYPTO.md §3.2 and each BPP part tampered.

AuthenticateServer, PrepareDownload, CancelSession and LoadBoundProfilePackage."""

import datetime
import os
import unittest

from simtest import SimTestCase, parse_pir

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dpside import DpSide, ctx_params1, metadata
from esimtest import crypto, der, pki, saip

ICCID = "8949449999999990011"
ICCID2 = "8949449999999990029"


def flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


class AuthenticateServerTest(SimTestCase):
    def test_ok_signs_euicc_signed1(self):
        chal = self.challenge()
        ctx = ctx_params1("MID-1")
        req, signed1 = self.dp.authenticate_server(chal, ctx=ctx)
        resp = self.es10.es10_tlv(req)
        ok = resp.find(0xA0)
        signed, sig, euicc_cert, eum_cert = ok.children()
        s1 = der.decode(signed1)
        self.assertEqual(signed.find(0x80).value, s1.find(0x80).value)
        self.assertEqual(signed.find(0x83).value, s1.find(0x83).value)
        self.assertEqual(signed.find(0x84).value, s1.find(0x84).value)
        # euiccInfo2 is the one GetEUICCInfo2 returns; ctxParams1 comes back byte for byte
        self.assertEqual(signed.find(0xBF22).raw, self.call(0xBF22).raw)
        self.assertEqual(signed.find(0xA0).raw, ctx)
        self.assertTrue(crypto.verify_raw(self.euicc_cert, signed.raw, sig.value))
        self.assertEqual(euicc_cert.raw, crypto.cert_der(self.euicc_cert))
        self.assertEqual(eum_cert.raw, crypto.cert_der(self.eum_cert))
        root = crypto.check_chain(crypto.load_cert(euicc_cert.raw), [crypto.load_cert(eum_cert.raw)], [self.ci_cert], crypto.ROLE_EUICC)
        self.assertEqual(crypto.ski(root), crypto.ski(self.ci_cert))
        session = self.ctl.state()["session"]
        self.assertEqual((session["stage"], session["smdp_oid"]), ("authenticated", "2.999.10"))

    def test_no_challenge(self):
        req, _ = self.dp.authenticate_server(os.urandom(16))
        self.assertEqual(self.auth_error(self.es10.es10_tlv(req)), 4)  # noSessionContext

    def test_challenge_is_single_use(self):
        chal = self.challenge()
        self.assertIsNotNone(self.authenticate(challenge=chal)[0].find(0xA0))
        resp, _ = self.authenticate(challenge=chal)
        self.assertEqual(self.auth_error(resp), 4)

    def test_error_carries_transaction_id(self):
        tid = bytes(range(16))
        resp, _ = self.authenticate(tid=tid, signature1=der.encode(0x5F37, bytes(64)))
        self.assertEqual(resp.find(0xA1).find(0x80).value, tid)

    def test_tampered_server_signed1(self):
        chal = self.challenge()
        signed1 = self.dp.server_signed1(os.urandom(16), chal)
        sig = crypto.signature_do(crypto.sign_raw(self.dp.dpauth_key, signed1))
        resp, _ = self.authenticate(challenge=chal, signed1=flip(signed1, len(signed1) - 20), signature1=sig)
        self.assertEqual(self.auth_error(resp), 2)  # invalidSignature

    def test_tampered_server_signature1(self):
        chal = self.challenge()
        signed1 = self.dp.server_signed1(os.urandom(16), chal)
        sig = crypto.signature_do(crypto.sign_raw(self.dp.dpauth_key, signed1))
        resp, _ = self.authenticate(challenge=chal, signed1=signed1, signature1=flip(sig, 10))
        self.assertEqual(self.auth_error(resp), 2)

    def test_signature_by_other_key(self):
        resp, _ = self.authenticate(key=self.dp.dppb_key)
        self.assertEqual(self.auth_error(resp), 2)

    def test_challenge_mismatch(self):
        chal = self.challenge()
        signed1 = self.dp.server_signed1(os.urandom(16), os.urandom(16))  # validly signed, other challenge
        resp, _ = self.authenticate(challenge=chal, signed1=signed1)
        self.assertEqual(self.auth_error(resp), 6)  # euiccChallengeMismatch

    def test_untrusted_ci(self):
        bad = DpSide(self.pki, prefix="bad_")
        resp, _ = self.authenticate(dp=bad, ci_ski=self.dp.ci_ski)
        self.assertEqual(self.auth_error(resp), 1)  # invalidCertificate
        self.assertIsNone(self.ctl.state()["session"])

    def test_ci_pk_unknown(self):
        bad_ski = crypto.ski(crypto.load_cert(self.pki["bad_ci"]))
        resp, _ = self.authenticate(ci_ski=bad_ski)
        self.assertEqual(self.auth_error(resp), 7)  # ciPKUnknown

    def test_wrong_role(self):
        # CERT.DPpb is a good certificate of the same SM-DP+, but not for authentication
        resp, _ = self.authenticate(cert=crypto.cert_der(self.dp.dppb), key=self.dp.dppb_key)
        self.assertEqual(self.auth_error(resp), 1)

    def test_tampered_certificate(self):
        cert = crypto.cert_der(self.dp.dpauth)
        resp, _ = self.authenticate(cert=flip(cert, len(cert) - 90))
        self.assertEqual(self.auth_error(resp), 1)

    def _issue_dpauth(self, key, with_rid=True):
        ci = crypto.load_cert(self.pki["ci"])
        ci_key = crypto.load_key(self.pki["ci_key"])
        if with_rid:
            return pki.issue(crypto.ROLE_DP_AUTH, self.dp.dpauth.subject, key, ci, ci_key,
                             lifetime=datetime.timedelta(days=30), rid="2.999.10")
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no rid")]))
             .issuer_name(ci.subject).public_key(key.public_key()).serial_number(7)
             .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                 ci.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value), False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
             .add_extension(x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(crypto.ROLE_DP_AUTH), None)]), True))
        return b.sign(ci_key, hashes.SHA256())

    def test_invalid_oid(self):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue_dpauth(key, with_rid=False)
        resp, _ = self.authenticate(cert=crypto.cert_der(cert), key=key)
        self.assertEqual(self.auth_error(resp), 5)  # invalidOid

    def test_unsupported_curve(self):
        key = ec.generate_private_key(ec.SECP384R1())
        cert = self._issue_dpauth(key)
        resp, _ = self.authenticate(cert=crypto.cert_der(cert), key=key)
        self.assertEqual(self.auth_error(resp), 3)  # unsupportedCurve

    def test_malformed_request(self):
        data, sw = self.es10.transceive(der.encode(0xBF38, der.encode(0x30, b"")))
        self.assertEqual(sw, 0x6A80)

    def test_sm_ds_authentication(self):
        ds = DpSide({"dpauth": self.pki["dsauth"], "dpauth_key": self.pki["dsauth_key"],
                     "dppb": self.pki["dppb"], "dppb_key": self.pki["dppb_key"]}, address="testrootsmds.example.com")
        auth = self.auth_ok(dp=ds, ctx=ctx_params1(None))
        self.assertEqual(self.ctl.state()["session"]["server_role"], "ds")
        # an SM-DS session cannot continue into PrepareDownload
        self.assertEqual(self.auth_error(self.prepare(auth)), 4)


class PrepareDownloadTest(SimTestCase):
    def test_ok(self):
        auth = self.auth_ok()
        resp = self.prepare(auth)
        signed2, sig = resp.find(0xA0).children()
        self.assertEqual(signed2.find(0x80).value, auth.tid)
        otpk = signed2.find(0x5F49).value
        self.assertEqual(len(otpk), 65)
        crypto.pub_from_point(otpk)
        self.assertIsNone(signed2.find(0x04))
        # euiccSignature2 covers euiccSigned2 ‖ smdpSignature2 DO
        self.assertTrue(crypto.verify_raw(self.euicc_cert, signed2.raw + self.smdp_signature2, sig.value))
        self.assertFalse(crypto.verify_raw(self.euicc_cert, signed2.raw, sig.value))
        self.assertEqual(self.ctl.state()["session"]["stage"], "prepared")

    def test_one_time_keys_differ(self):
        a = self.prepare_ok(self.auth_ok())
        b = self.prepare_ok(self.auth_ok())
        self.assertNotEqual(a, b)

    def test_hash_cc_is_copied(self):
        auth = self.auth_ok()
        hcc = crypto.hash_cc("12345678", auth.tid)
        resp = self.prepare(auth, cc_required=True, hash_cc=hcc)
        self.assertEqual(resp.find(0xA0).children()[0].find(0x04).value, hcc)

    def test_cc_required_without_hash(self):
        auth = self.auth_ok()
        self.assertEqual(self.auth_error(self.prepare(auth, cc_required=True)), 127)

    def test_no_session(self):
        self.challenge()
        auth = self.auth_ok()
        self.challenge()  # a new challenge replaces the authenticated session
        self.assertEqual(self.auth_error(self.prepare(auth)), 4)

    def test_tampered_smdp_signed2(self):
        auth = self.auth_ok()
        signed2 = self.dp.smdp_signed2(auth.tid)
        sig = crypto.signature_do(crypto.sign_raw(self.dp.dppb_key, signed2 + auth.euicc_signature1))
        self.assertEqual(self.auth_error(self.prepare(auth, signed2=flip(signed2, len(signed2) - 1), signature2=sig)), 2)

    def test_tampered_smdp_signature2(self):
        auth = self.auth_ok()
        signed2 = self.dp.smdp_signed2(auth.tid)
        sig = crypto.signature_do(crypto.sign_raw(self.dp.dppb_key, signed2 + auth.euicc_signature1))
        self.assertEqual(self.auth_error(self.prepare(auth, signed2=signed2, signature2=flip(sig, 40))), 2)

    def test_signature_must_chain_euicc_signature1(self):
        auth = self.auth_ok()
        signed2 = self.dp.smdp_signed2(auth.tid)
        sig = crypto.signature_do(crypto.sign_raw(self.dp.dppb_key, signed2))
        self.assertEqual(self.auth_error(self.prepare(auth, signed2=signed2, signature2=sig)), 2)

    def test_wrong_transaction_id(self):
        auth = self.auth_ok()
        signed2 = self.dp.smdp_signed2(os.urandom(16))  # validly signed, other transaction
        self.assertEqual(self.auth_error(self.prepare(auth, signed2=signed2)), 5)

    def test_untrusted_dppb(self):
        auth = self.auth_ok()
        bad = DpSide(self.pki, prefix="bad_")
        self.assertEqual(self.auth_error(self.prepare(auth, dp=bad)), 1)

    def test_dpauth_as_dppb(self):
        auth = self.auth_ok()
        resp = self.prepare(auth, cert=crypto.cert_der(self.dp.dpauth), key=self.dp.dpauth_key)
        self.assertEqual(self.auth_error(resp), 1)

    def test_dppb_of_another_smdp(self):
        auth = self.auth_ok()
        key = ec.generate_private_key(ec.SECP256R1())
        other = pki.issue(crypto.ROLE_DP_PB, self.dp.dppb.subject, key, self.ci_cert, crypto.load_key(self.pki["ci_key"]),
                          lifetime=datetime.timedelta(days=30), rid="2.999.77")
        self.assertEqual(self.auth_error(self.prepare(auth, cert=crypto.cert_der(other), key=key)), 1)


class CancelSessionTest(SimTestCase):
    def cancel(self, tid: bytes, reason: int) -> der.Tlv:
        return self.call(0xBF41, der.encode(0x80, tid), der.encode(0x81, der.encode_int(reason)))

    def test_signed_cancel(self):
        auth = self.auth_ok()
        resp = self.cancel(auth.tid, 0)
        signed, sig = resp.find(0xA0).children()
        self.assertEqual(signed.find(0x80).value, auth.tid)
        self.assertEqual(der.decode_oid(signed.find(0x81).value), "2.999.10")
        self.assertEqual(der.decode_int(signed.find(0x82).value), 0)
        self.assertTrue(crypto.verify_raw(self.euicc_cert, signed.raw, sig.value))
        st = self.ctl.state()
        self.assertIsNone(st["session"])
        self.assertEqual((st["last_cancelled"]["transaction_id"], st["last_cancelled"]["reason"]),
                         (auth.tid.hex().upper(), 0))
        # the session is gone
        self.assertEqual(der.decode_int(self.cancel(auth.tid, 0).find(0x81).value), 5)

    def test_cancel_after_prepare_stops_the_download(self):
        auth, parts = self.bound(ICCID)
        self.cancel(auth.tid, 1)
        _pir, trace = self.load(parts.segments())
        self.assertEqual(trace[0][1], 0x6985)
        self.assertEqual(self.profiles(), [])

    def test_wrong_transaction_id(self):
        self.auth_ok()
        self.assertEqual(der.decode_int(self.cancel(os.urandom(16), 0).find(0x81).value), 5)

    def test_unknown_reason(self):
        auth = self.auth_ok()
        self.assertEqual(der.decode_int(self.cancel(auth.tid, 9).find(0x81).value), 127)
        self.assertIsNotNone(self.ctl.state()["session"])


class LoadBppTest(SimTestCase):
    def test_install_with_replace_session_keys(self):
        upp = saip.make_upp(ICCID, 6000)
        st0 = self.ctl.state()
        auth, parts = self.bound(ICCID, upp)
        segs = parts.segments()
        pir, trace = self.load(segs)
        # every segment but the last answers 9000 without data
        self.assertEqual([t[2] for t in trace[:-1]], [0] * (len(segs) - 1))
        self.assertEqual(len(trace), len(segs))
        r = parse_pir(pir)
        self.assertTrue(r["success"])
        self.assertTrue(crypto.verify_raw(self.euicc_cert, r["signed"], r["signature"]))
        self.assertEqual((r["tid"], r["iccid"], r["address"], r["oid"]), (auth.tid, ICCID, "testsmdpplus1.example.com", "2.999.10"))
        self.assertEqual(r["seq"], st0["next_seq"])
        st = self.ctl.state()
        (p,) = st["profiles"]
        self.assertEqual((p["iccid"], p["state"], bytes.fromhex(p["isdp_aid"])), (ICCID, "disabled", r["aid"]))
        self.assertEqual(p["size"], len(upp))
        self.assertEqual(st["free_memory"], st0["free_memory"] - len(upp))
        self.assertIsNone(st["session"])
        self.assertEqual(st["notifications"][-1]["pmo"], "install")
        self.assertEqual(bytes.fromhex(st["notifications"][-1]["blob"]), pir.raw)

    def test_install_session_key_mode(self):
        r = self.install(ICCID, session_keys_mode=True)
        self.assertTrue(r["success"])
        self.assertEqual([p["iccid"] for p in self.profiles()], [ICCID])

    def test_osmo_sized_blocks(self):
        # osmo-smdpp cuts at 1008 bytes: 1036-byte 86 TLVs must be accepted
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000), plain_86=1008)
        self.assertIn(1036, [len(t) for t in parts.a3])
        pir, _ = self.load(parts.segments())
        self.assertTrue(parse_pir(pir)["success"])

    def test_whole_bpp_in_one_command(self):
        _auth, parts = self.bound(ICCID)
        pir, _ = self.load([parts.bpp()])
        self.assertTrue(parse_pir(pir)["success"])

    def test_metadata_fields_kept(self):
        md = metadata(ICCID, spn="Op", name="Plan", profile_class=2, nci=[([1, 2], "dp.example.com")],
                      owner=bytes.fromhex("00F110"), icon=b"\x89PNG")
        self.install(ICCID, md=md)
        info = self.call(0xBF2D, der.encode(0x5C, bytes.fromhex("5A9F70919293949095B6B7")))
        e3 = info.find(0xA0).find(0xE3)
        self.assertEqual(e3.find(0x91).value, b"Op")
        self.assertEqual(e3.find(0x92).value, b"Plan")
        self.assertEqual(e3.find(0x94).value, b"\x89PNG")
        self.assertEqual(e3.find(0xB6).raw, der.decode(md).find(0xB6).raw)
        self.assertEqual(e3.find(0xB7).value, der.encode(0x80, bytes.fromhex("00F110")))

    def failed(self, parts, command: int, reason: int, segments=None) -> dict:
        before = self.ctl.state()
        pir, trace = self.load(segments or parts.segments())
        self.assertIsNotNone(pir, trace)
        r = parse_pir(pir)
        self.assertFalse(r["success"])
        self.assertEqual((r["command"], r["reason"]), (command, reason))
        self.assertTrue(crypto.verify_raw(self.euicc_cert, r["signed"], r["signature"]))
        st = self.ctl.state()
        # no half-installed profile, the session is over, the failed PIR waits for delivery
        self.assertEqual(st["profiles"], before["profiles"])
        self.assertEqual(st["free_memory"], before["free_memory"])
        self.assertIsNone(st["session"])
        self.assertEqual(bytes.fromhex(st["notifications"][-1]["blob"]), pir.raw)
        # anything after the PIR: nothing is loading any more
        if trace[-1][0] + 1 < len(segments or parts.segments()):
            _d, sw = self.es10.transceive((segments or parts.segments())[trace[-1][0] + 1])
            self.assertEqual(sw, 0x6A88)
        return r

    def test_bf23_bad_signature(self):
        auth, parts = self.bound(ICCID)
        sig_pos = len(parts.bf23) - 5
        parts.bf23 = flip(parts.bf23, sig_pos)
        self.failed(parts, 0, 2)

    def with_bf23(self, tid=None, euicc_otpk=None, **bf23_kw) -> object:
        """A bound BPP whose BF23 is made with altered members (each validly signed)."""
        auth = self.auth_ok()
        otpk = self.prepare_ok(auth)
        priv, _ = crypto.gen_ot_keypair()
        bf23 = self.dp.bf23(tid or auth.tid, euicc_otpk or otpk, b"host", priv, **bf23_kw)
        return self.dp.bind(auth.tid, otpk, metadata(ICCID), saip.make_upp(ICCID, 3000),
                            eid_bytes=der.eid_to_bytes(self.eid), bf23=bf23)

    def test_bf23_wrong_transaction_id(self):
        self.failed(self.with_bf23(tid=os.urandom(16)), 0, 3)

    def test_bf23_remote_op(self):
        self.failed(self.with_bf23(remote_op=b"\x02"), 0, 5)

    def test_bf23_crt(self):
        crt = der.encode(0xA6, [der.encode(0x80, b"\x89"), der.encode(0x81, b"\x10"), der.encode(0x84, b"host")])
        self.failed(self.with_bf23(crt=crt), 0, 4)

    def test_bf23_signed_for_other_otpk(self):
        # smdpSign must cover the eUICC's own otPK: a BF23 made for another key pair fails
        self.failed(self.with_bf23(euicc_otpk=crypto.gen_ot_keypair()[1]), 0, 2)

    def test_mac_configure_isdp(self):
        _auth, parts = self.bound(ICCID)
        parts.a0 = flip(parts.a0, len(parts.a0) - 1)
        self.failed(parts, 1, 8)

    def test_mac_store_metadata(self):
        _auth, parts = self.bound(ICCID)
        parts.a1[0] = flip(parts.a1[0], len(parts.a1[0]) - 3)
        self.failed(parts, 2, 8)

    def test_mac_replace_session_keys(self):
        _auth, parts = self.bound(ICCID)
        parts.a2 = flip(parts.a2, 10)
        self.failed(parts, 4, 8)

    def test_mac_profile_element(self):
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000))
        parts.a3[2] = flip(parts.a3[2], len(parts.a3[2]) - 8)
        self.failed(parts, 5, 8)

    def test_ciphertext_profile_element(self):
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000))
        parts.a3[-1] = flip(parts.a3[-1], 20)
        self.failed(parts, 5, 8)

    def test_blocks_out_of_order(self):
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000))
        parts.a3[0], parts.a3[1] = parts.a3[1], parts.a3[0]
        self.failed(parts, 5, 8)

    def test_bad_padding(self):
        # a correctly MACed last block whose plaintext has no 80 padding marker
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 3000), unpadded_last_86=bytes(32))
        self.failed(parts, 5, 7)

    def test_iccid_exists(self):
        self.install(ICCID)
        _auth, parts = self.bound(ICCID)
        self.failed(parts, 2, 9)

    def test_upp_does_not_parse(self):
        upp = saip.make_upp(ICCID, 3000)
        self.failed(self.bound(ICCID, upp[:-5])[1], 5, 12)

    def test_upp_without_end(self):
        pes = saip.split_pes(saip.make_upp(ICCID, 3000))
        upp = b"".join(p.raw for p in pes[:-1])
        self.failed(self.bound(ICCID, upp)[1], 5, 12)

    def test_upp_iccid_mismatch(self):
        self.failed(self.bound(ICCID, saip.make_upp(ICCID2, 3000))[1], 5, 13)

    def test_insufficient_memory(self):
        self.ctl.set(total_memory=20000)
        self.install(ICCID, saip.make_upp(ICCID, 12000))
        info = self.call(0xBF22)
        free = int.from_bytes(der.decode_all(info.find(0x84).value)[1].value, "big")
        self.assertEqual(free, 20000 - self.profiles()[0]["size"])
        self.failed(self.bound(ICCID2, saip.make_upp(ICCID2, 12000))[1], 5, 10)

    def test_ppr_not_allowed(self):
        self.ctl.set(rat=[])
        md = metadata(ICCID, owner=bytes.fromhex("00F110"), ppr=[1])
        self.failed(self.bound(ICCID, md=md)[1], 2, 15)

    def test_ppr_allowed_for_listed_operator_only(self):
        self.ctl.set(rat=[{"ppr_ids": [2], "operators": [{"mcc_mnc": "00F110"}], "consent_required": False}])
        ok = metadata(ICCID, owner=bytes.fromhex("00F110"), ppr=[2])
        self.assertTrue(self.install(ICCID, md=ok)["success"])
        other = metadata(ICCID2, owner=bytes.fromhex("00F120"), ppr=[2])
        self.failed(self.bound(ICCID2, saip.make_upp(ICCID2, 3000), md=other)[1], 2, 15)

    def test_provisioning_class_refused(self):
        self.failed(self.bound(ICCID, md=metadata(ICCID, profile_class=1))[1], 2, 6)

    def test_configure_isdp_garbage(self):
        self.failed(self.bound(ICCID, configure_isdp=b"\x30\x00")[1], 1, 1)

    def test_segments_in_wrong_order(self):
        _auth, parts = self.bound(ICCID)
        segs = parts.segments()
        segs[1], segs[2] = segs[2], segs[1]
        self.failed(parts, 1, 1, segments=segs)

    def test_bpp_length_mismatch(self):
        _auth, parts = self.bound(ICCID)
        segs = parts.segments()
        body_len = len(parts.body())
        header = der.encode_tag(0xBF36) + der.encode_length(body_len)
        segs[0] = der.encode_tag(0xBF36) + der.encode_length(body_len + 10) + segs[0][len(header):]
        self.failed(parts, 5, 1, segments=segs)

    def test_segment_without_session(self):
        _auth, parts = self.bound(ICCID)
        self.ctl.card_reset()
        self.connect()
        _d, sw = self.es10.transceive(parts.segments()[0])
        self.assertEqual(sw, 0x6985)
        _d, sw = self.es10.transceive(parts.segments()[1])
        self.assertEqual(sw, 0x6A88)

    def test_channel_closed_mid_load(self):
        auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000))
        segs = parts.segments()
        _pir, trace = self.load(segs[:-2])
        self.assertTrue(all(sw == 0x9000 for _i, sw, _n in trace))
        self.es10.close()
        st = self.ctl.state()
        self.assertEqual(st["profiles"], [])
        self.assertEqual(st["session"]["stage"], "interrupted")
        self.assertEqual(st["last_interrupted"]["load_step"], "86")
        # the LPA cancels with loadBppExecutionError and gets a signed answer
        self.es10.open()
        resp = self.call(0xBF41, der.encode(0x80, auth.tid), der.encode(0x81, der.encode_int(5)))
        self.assertIsNotNone(resp.find(0xA0))
        _d, sw = self.es10.transceive(segs[-2])
        self.assertEqual(sw, 0x6A88)

    def test_new_challenge_abandons_load(self):
        _auth, parts = self.bound(ICCID)
        segs = parts.segments()
        self.load(segs[:3])
        self.challenge()
        _d, sw = self.es10.transceive(segs[3])
        self.assertEqual(sw, 0x6A88)
        self.assertEqual(self.profiles(), [])

    def test_kill_mid_load_leaves_no_profile(self):
        _auth, parts = self.bound(ICCID, saip.make_upp(ICCID, 5000))
        segs = parts.segments()
        self.load(segs[:-1])
        seq = self.ctl.state()["next_seq"]
        self.restart_sim(kill=True)
        st = self.ctl.state()
        self.assertEqual(st["profiles"], [])
        self.assertIsNone(st["session"])
        self.assertEqual(st["next_seq"], seq)
        self.assertTrue(self.install(ICCID)["success"])


if __name__ == "__main__":
    unittest.main()
