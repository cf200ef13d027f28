# A scripted eUICC+LPA for the SM-DP+ tests: builds and checks the ES10 objects with the shared pylib.
"""Not a simulator: no state machine, no APDUs. Each method produces the signed object a real
eUICC would, or checks what the SM-DP+ sent (BPP decoding is an independent check of bpp.py)."""

from esimtest import crypto, der
from esimtest.scp03t import ScpChannel


class BppError(Exception):
    pass


class ScriptedEuicc:
    def __init__(self, pki_paths, svn=b"\x02\x02\x02"):
        p = pki_paths
        self.euicc_cert = crypto.load_cert(p["euicc"])
        self.euicc_der = crypto.cert_der(self.euicc_cert)
        self.eum_der = crypto.cert_der(crypto.load_cert(p["eum"]))
        self.key = crypto.load_key(p["euicc_key"])
        self.ci = crypto.load_cert(p["ci"])
        self.eid = crypto.eid_of(self.euicc_cert)
        self.svn = svn
        self.ci_skis = [crypto.ski(self.ci)]
        self.sig1_do = None
        self.ot_key = None
        self.dpauth = None

    def info1(self, verification=None, signing=None):
        ver = self.ci_skis if verification is None else verification
        sig = self.ci_skis if signing is None else signing
        return der.encode(0xBF20, [der.encode(0x82, self.svn),
                                   der.encode(0xA9, [der.encode(0x04, k) for k in ver]),
                                   der.encode(0xAA, [der.encode(0x04, k) for k in sig])])

    def info2(self):
        return der.encode(0xBF22, [der.encode(0x81, b"\x02\x03\x01"), der.encode(0x82, self.svn),
                                   der.encode(0x83, b"\x01\x00\x00"),
                                   der.encode(0xA9, [der.encode(0x04, k) for k in self.ci_skis]),
                                   der.encode(0xAA, [der.encode(0x04, k) for k in self.ci_skis])])

    @staticmethod
    def ctx_params(matching_id):
        dev = der.encode(0xA1, [der.encode(0x80, b"\x35\x29\x06\x11"), der.encode(0xA1, b"")])
        items = ([der.encode(0x80, matching_id.encode())] if matching_id is not None else []) + [dev]
        return der.encode(0xA0, items)

    def authenticate_server(self, init, matching_id=None, verify=True, role=crypto.ROLE_DP_AUTH):
        """BF38 for an initiateAuthentication answer (dict with base64-decoded bytes)."""
        signed1 = der.decode(init["serverSigned1"])
        if verify:
            cert = crypto.load_cert(init["serverCertificate"])
            crypto.check_chain(cert, [], [self.ci], role)
            sig = der.decode(init["serverSignature1"])
            if not crypto.verify_raw(cert, signed1.raw, sig.value):
                raise ValueError("serverSignature1 does not verify")
            self.dpauth = cert
        tid = signed1.find(0x80).value
        euicc_signed1 = der.encode(0x30, [der.encode(0x80, tid), der.encode(0x83, signed1.find(0x83).value),
                                          der.encode(0x84, signed1.find(0x84).value), self.info2(),
                                          self.ctx_params(matching_id)])
        self.sig1_do = der.encode(0x5F37, crypto.sign_raw(self.key, euicc_signed1))
        return der.encode(0xBF38, der.encode(0xA0, [euicc_signed1, self.sig1_do, self.euicc_der, self.eum_der]))

    def prepare_download(self, auth, cc=None, verify=True, tamper_sig=False):
        """BF21 for an authenticateClient answer; keeps the one-time key for load_bpp()."""
        signed2 = der.decode(auth["smdpSigned2"])
        if verify:
            cert = crypto.load_cert(auth["smdpCertificate"])
            crypto.check_chain(cert, [], [self.ci], crypto.ROLE_DP_PB)
            if not crypto.verify_raw(cert, signed2.raw + self.sig1_do, der.decode(auth["smdpSignature2"]).value):
                raise ValueError("smdpSignature2 does not verify")
            self.dppb = cert
        tid = signed2.find(0x80).value
        self.ot_key, otpk = crypto.gen_ot_keypair()
        items = [der.encode(0x80, tid), der.encode(0x5F49, otpk)]
        if cc is not None:
            items.append(der.encode(0x04, crypto.hash_cc(cc, tid)))
        euicc_signed2 = der.encode(0x30, items)
        sig = crypto.sign_raw(self.key, euicc_signed2 + auth["smdpSignature2"])
        if tamper_sig:
            sig = sig[:-1] + bytes([sig[-1] ^ 1])
        return der.encode(0xBF21, der.encode(0xA0, [euicc_signed2, der.encode(0x5F37, sig)]))

    def load_bpp(self, bpp_bytes):
        """Decode a BPP as an eUICC would; returns (metadata BF25 bytes, UPP bytes, parts dict)."""
        top = der.decode(bpp_bytes)
        if top.tag != 0xBF36:
            raise BppError("not a BF36")
        bf23 = top.find(0xBF23)
        kids = bf23.children()
        signed = b"".join(c.raw for c in kids[:4])
        smdp_otpk = bf23.find(0x5F49).value
        euicc_otpk = crypto.point_of(self.ot_key.public_key())
        if not crypto.verify_raw(self.dppb, signed + der.encode(0x5F49, euicc_otpk), bf23.find(0x5F37).value):
            raise BppError("smdpSign invalid")
        host_id = bf23.find(0xA6).find(0x84).value
        z = crypto.ecdh(self.ot_key, smdp_otpk)
        mcv, s_enc, s_mac = crypto.session_keys(z, host_id, der.eid_to_bytes(self.eid))
        ch = ScpChannel(s_enc, s_mac, mcv, 1)
        sizes = []
        if ch.unprotect(top.find(0xA0).children()[0].raw) != b"\xbf\x24\x00":
            raise BppError("ConfigureISDP is not BF24 00")
        md = b""
        for blk in top.find(0xA1).children():
            sizes.append(len(blk.raw))
            md += ch.unprotect(blk.raw)
        a2 = top.find(0xA2)
        if a2 is not None:
            rsk = der.decode(ch.unprotect(a2.children()[0].raw))
            ch = ScpChannel(rsk.find(0x81).value, rsk.find(0x82).value, rsk.find(0x80).value, 1)
        upp = b""
        for blk in top.find(0xA3).children():
            sizes.append(len(blk.raw))
            upp += ch.unprotect(blk.raw)
        return md, upp, {"a2": a2 is not None, "sizes": sizes, "tid": bf23.find(0x80).value}

    def pir(self, tid, seq, address, iccid_bcd, oid="2.999.10", success=True, tamper=False):
        meta = der.encode(0xBF2F, [der.encode(0x80, der.encode_int(seq)), der.encode(0x81, der.encode_bits([0], 4)),
                                   der.encode(0x0C, address.encode()), der.encode(0x5A, iccid_bcd)])
        if success:
            final = der.encode(0xA0, [der.encode(0x4F, bytes.fromhex("A0000005591010FFFFFFFF8900001100")),
                                      der.encode(0x04, b"\x90\x00")])
        else:
            final = der.encode(0xA1, [der.encode(0x80, b"\x05"), der.encode(0x81, b"\x08")])
        data = der.encode(0xBF27, [der.encode(0x80, tid), meta, der.encode(0x06, der.encode_oid(oid)),
                                   der.encode(0xA2, final)])
        sig = crypto.sign_raw(self.key, data)
        if tamper:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return der.encode(0xBF37, [data, der.encode(0x5F37, sig)])

    def other_notification(self, seq, operation_bit, address, iccid_bcd, tamper=False):
        tbs = der.encode(0xBF2F, [der.encode(0x80, der.encode_int(seq)),
                                  der.encode(0x81, der.encode_bits([operation_bit], 4)),
                                  der.encode(0x0C, address.encode()), der.encode(0x5A, iccid_bcd)])
        sig = crypto.sign_raw(self.key, tbs)
        if tamper:
            sig = sig[:-1] + bytes([sig[-1] ^ 1])
        return der.encode(0x30, [tbs, der.encode(0x5F37, sig), self.euicc_der, self.eum_der])

    def cancel_session(self, tid, reason, oid="2.999.10"):
        signed = der.encode(0x30, [der.encode(0x80, tid), der.encode(0x81, der.encode_oid(oid)),
                                   der.encode(0x82, der.encode_int(reason))])
        return der.encode(0xBF41, der.encode(0xA0, [signed, der.encode(0x5F37, crypto.sign_raw(self.key, signed))]))
