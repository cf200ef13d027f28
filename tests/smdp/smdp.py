#!/usr/bin/python3
# Test SM-DP+ (ES9+) and SM-DS (ES11) over HTTPS on loopback, with scripted faults and a control socket.
"""Usage: smdp.py --pki DIR --orders FILE [--port N] [--smds-port N] [--control PATH] ... (see README.md)."""

import argparse
import base64
import binascii
import datetime
import gzip
import json
import logging
import os
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))

import bpp  # noqa: E402
from esimtest import crypto, der, saip  # noqa: E402

log = logging.getLogger("smdp")

ADMIN_PROTOCOL = "gsma/rsp/v2.2.2"
ES9 = "/gsma/rsp2/es9plus/"
ES11 = "/gsma/rsp2/es11/"
ES9_FUNCTIONS = ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage", "handleNotification",
                 "cancelSession")
ES11_FUNCTIONS = ("initiateAuthentication", "authenticateClient")
CANCEL_REASONS = {0: "endUserRejection", 1: "postponed", 2: "timeout", 3: "pprNotAllowed", 4: "metadataMismatch",
                  5: "loadBppExecutionError", 127: "undefinedReason"}
# Our reading of SGP.22 (ES9+.CancelSession, [spec-mem]): a postponed, timed-out or interrupted
# download leaves the order available; a refusal ends it.
REUSABLE_AFTER_CANCEL = {1, 2, 5, 127}
OPERATIONS = {0: "install", 1: "enable", 2: "disable", 3: "delete"}
# Generic codes for requests we cannot parse ([spec-mem]: SGP.22 §6.5.2 generic subject/reason).
BAD_FORMAT = ("1.2", "2.1")
MISSING = ("1.2", "2.2")
# eUICC returned its error alternative to AuthenticateServer / PrepareDownload ([advice]).
EUICC_REFUSED = ("8.1", "4.2")


class ApiError(Exception):
    def __init__(self, subject, reason, message=""):
        super().__init__("%s/%s %s" % (subject, reason, message))
        self.subject, self.reason, self.message = subject, reason, message


def b64d(content, field, required=True):
    v = content.get(field)
    if v is None:
        if required:
            raise ApiError(*MISSING, "%s missing" % field)
        return None
    if not isinstance(v, str):
        raise ApiError(*BAD_FORMAT, "%s is not a string" % field)
    try:
        return base64.b64decode("".join(v.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(*BAD_FORMAT, "%s is not base64" % field) from None


def b64e(data):
    return base64.b64encode(data).decode("ascii")


def decode_tlv(data, tag, what):
    try:
        t = der.decode(data)
    except der.DerError as e:
        raise ApiError(*BAD_FORMAT, "%s: %s" % (what, e)) from None
    if t.tag != tag:
        raise ApiError(*BAD_FORMAT, "%s: tag %X, expected %X" % (what, t.tag, tag))
    return t


def child(t, tag, what):
    try:
        c = t.find(tag)
    except der.DerError as e:
        raise ApiError(*BAD_FORMAT, "%s: %s" % (what, e)) from None
    if c is None:
        raise ApiError(*BAD_FORMAT, "%s: no %X" % (what, tag))
    return c


def now_utc():
    return datetime.datetime.utcnow()


class Order:
    def __init__(self, spec, index, default_address, profile_dir):
        self.spec = spec
        self.index = index
        self.matching_id = spec.get("matchingId") or ""
        self.eid = spec.get("eid")
        self.cc = spec.get("confirmationCode")
        self.max_cc_attempts = int(spec.get("maxCcAttempts", 3))
        self.cc_attempts = 0
        self.state = spec.get("state", "released")
        self.session = None
        self.downloads = 0
        self._upp = None
        self._ppp = None
        self.ppk = None
        # Two sessions may download one order at once (an LPA restarting a download): the
        # profile and its PPK/PPP pair are made once, under this lock, not once per thread.
        self._made = threading.Lock()
        prof = spec.get("profile", {"generate": {}})
        if isinstance(prof, str):
            prof = {"path": prof}
        self.profile = prof
        iccid = spec.get("iccid")
        if "path" in prof:
            path = prof["path"]
            if not os.path.isabs(path) and profile_dir:
                path = os.path.join(profile_dir, path)
            self.profile["path"] = path
            with open(path, "rb") as f:
                file_iccid = saip.iccid_of_upp(f.read())
            iccid = iccid or file_iccid
        if not iccid:
            raise ValueError("order %d has no ICCID" % index)
        self.iccid = iccid
        md = dict(spec.get("metadata", {}))
        if "notificationConfigurationInfo" not in md:
            md["notificationConfigurationInfo"] = [{"events": [e], "address": default_address}
                                                  for e in ("install", "enable", "disable", "delete")]
        self.metadata_spec = md

    def upp(self):
        with self._made:
            return self._upp_locked()

    def _upp_locked(self):
        if self._upp is None:
            if "path" in self.profile:
                with open(self.profile["path"], "rb") as f:
                    self._upp = f.read()
            else:
                gen = self.profile.get("generate", {})
                self._upp = saip.make_upp(self.iccid, size_hint=int(gen.get("size", 12 * 1024)))
        return self._upp

    def protected_blocks(self):
        """The Protected Profile Package, made once per order (SGP22-CRYPTO.md §5): returns
        (blocks, ppk), a pair made together."""
        with self._made:
            if self._ppp is None:
                ppk = bpp.new_ppk()
                self._ppp = bpp.protect_profile(self._upp_locked(), ppk)
                self.ppk = ppk
            return self._ppp, self.ppk

    def metadata(self):
        md = self.metadata_spec
        icon = base64.b64decode(md["icon"]) if md.get("icon") else None
        return bpp.build_metadata(
            self.iccid,
            service_provider_name=md.get("serviceProviderName", "esimd test operator"),
            profile_name=md.get("profileName", "esimd test profile %s" % self.iccid[-4:]),
            icon_type=md.get("iconType"),
            icon=icon,
            profile_class=md.get("profileClass", "operational"),
            notifications=md.get("notificationConfigurationInfo"),
            profile_owner=md.get("profileOwner"),
            pprs=md.get("ppr", ()),
        )

    def view(self):
        return {"index": self.index, "matchingId": self.matching_id, "iccid": self.iccid, "eid": self.eid,
                "state": self.state, "ccRequired": bool(self.cc), "ccAttempts": self.cc_attempts,
                "downloads": self.downloads, "session": self.session}


class Session:
    def __init__(self, tid, kind, euicc_challenge, server_challenge, ci_ski):
        self.tid = tid
        self.kind = kind  # "es9" or "es11"
        self.euicc_challenge = euicc_challenge
        self.server_challenge = server_challenge
        self.ci_ski = ci_ski
        self.state = "initiated"
        self.euicc_pub = None  # a public key (thread-safe), not the Certificate (see SharedCert)
        self.eid = None
        self.euicc_sig1_do = None
        self.smdp_sig2_do = None
        self.order = None
        self.cancel_reason = None
        self.error = None
        self.imei = None  # from ctxParams1's deviceInfo, as the LPA sent it
        self.created = time.time()

    def view(self):
        return {"transactionId": self.tid.hex().upper(), "kind": self.kind, "state": self.state, "eid": self.eid,
                "order": self.order.index if self.order else None,
                "iccid": self.order.iccid if self.order else None,
                "cancelReason": self.cancel_reason,
                "cancelReasonName": CANCEL_REASONS.get(self.cancel_reason) if self.cancel_reason is not None else None,
                "error": self.error, "imei": self.imei}


class Fault:
    KINDS = ("status", "expired", "http", "malformed-json", "empty", "no-content", "cut", "delay", "reset", "drop",
             "close", "tamper", "variant", "redirect", "huge-headers", "long-header", "not-http", "reset-mid-body")

    def __init__(self, spec):
        self.spec = dict(spec)
        self.function = spec["function"]
        self.action = spec["action"]
        if self.action not in self.KINDS:
            raise ValueError("unknown fault action %r" % self.action)
        for v in spec.get("variants", []) if self.action == "variant" else []:
            if v not in ANSWER_VARIANTS:
                raise ValueError("unknown answer variant %r" % v)
        self.server = spec.get("server", "smds" if self.function.startswith("es11:") else "smdp")
        self.function = self.function.split(":", 1)[-1]
        self.nth = spec.get("nth")
        self.times = spec.get("times")
        # None: any connection; True: only a kept-alive one that served a request before;
        # False: only a request that opened its connection.
        self.reused = spec.get("reused")
        self.hits = 0

    def matches(self, server, function, call_no, reused):
        if server != self.server or function != self.function:
            return False
        if self.reused is not None and bool(self.reused) != reused:
            return False
        if self.nth is not None:
            return call_no == int(self.nth)
        return self.times is None or self.hits < int(self.times)

    def view(self):
        v = dict(self.spec)
        v["hits"] = self.hits
        return v


class State:
    """Everything the servers share; one lock, held only for bookkeeping (never while sleeping)."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.hostname = args.hostname
        self.smds_hostname = args.smds_hostname
        self.oid = args.oid
        self.session_keys = args.session_keys
        self.es11_paths = args.es11_paths
        self.cert_set = args.cert_set
        self.log_requests = []
        self.sni = []
        # The server's own time per request and per TLS handshake (the benchmark's limit).
        self.timings = []
        # Which connection carried each request, as the server saw it (the client's reuse).
        self.requests = []
        self.n_connections = 0
        self.load_certs()
        self.reset()

    def load_certs(self):
        """The certificates every request thread reads, as crypto.SharedCert (never one
        Certificate object shared between threads: python3-cryptography 38's is not thread-safe).
        The private keys are OpenSSL EVP_PKEYs, safe to use from several threads at once."""
        d = self.args.pki
        trusted = [crypto.SharedCert(os.path.join(d, "ci.der"))]
        for extra in self.args.extra_ci or []:
            trusted.append(crypto.SharedCert(extra))
        pre = "bad-" if self.cert_set == "bad" else ""
        self.dpauth = crypto.SharedCert(os.path.join(d, pre + "dpauth.der"))
        self.dpauth_key = crypto.load_key(os.path.join(d, pre + "dpauth-key.pem"))
        self.dppb = crypto.SharedCert(os.path.join(d, pre + "dppb.der"))
        self.dppb_key = crypto.load_key(os.path.join(d, pre + "dppb-key.pem"))
        self.dsauth = crypto.SharedCert(os.path.join(d, "dsauth.der"))
        self.dsauth_key = crypto.load_key(os.path.join(d, "dsauth-key.pem"))
        # The trusted CIs by SKI (the first one wins, as the list's order did before).
        by_ski = {}
        for c in trusted:
            if c.ski is not None:
                by_ski.setdefault(c.ski, c)
        self.ci_by_ski = by_ski

    def reset(self):
        with self.lock:
            self.sessions = {}
            self.notifications = []
            self.faults = [Fault(json.loads(f)) for f in self.args.fault or []]
            self.calls = {}
            self.requests = []
            self.orders = []
            self.events = []
            if self.args.orders:
                with open(self.args.orders) as f:
                    spec = json.load(f)
                if isinstance(spec, list):
                    spec = {"orders": spec}
                for o in spec.get("orders", []):
                    self.add_order(o)
                for e in spec.get("events", []):
                    self.add_event(e)

    def add_order(self, spec):
        with self.lock:
            o = Order(spec, len(self.orders), self.hostname, self.args.profile_dir)
            self.orders.append(o)
            return o

    def add_event(self, e):
        with self.lock:
            ev = {"eid": e["eid"], "eventId": e["eventId"], "rspServerAddress": e.get("rspServerAddress", self.hostname)}
            self.events.append(ev)
            return ev

    def add_timing(self, entry):
        with self.lock:
            self.timings.append(entry)
            del self.timings[:-1000]

    def new_connection(self):
        with self.lock:
            self.n_connections += 1
            return self.n_connections

    def add_request(self, server, function, connection, reused, accept_encoding=None):
        with self.lock:
            self.requests.append({"server": server, "function": function, "connection": connection,
                                  "reused": reused, "acceptEncoding": accept_encoding})
            del self.requests[:-1000]

    def count_call(self, server, function, reused=False):
        with self.lock:
            key = server + ":" + function
            self.calls[key] = self.calls.get(key, 0) + 1
            n = self.calls[key]
            matched = [f for f in self.faults if f.matches(server, function, n, reused)]
            for f in matched:
                f.hits += 1
            return n, matched


# ------------------------------------------------------------------------------------------------
# Certificate checks on the eUICC side of the session (SGP22-CRYPTO.md §3.3)


def check_euicc_chain(st, euicc_cert, eum_cert, ci_ski):
    """Returns the EID or raises ApiError with the SGP.22 status code."""
    if crypto.aki(eum_cert) != ci_ski:
        raise ApiError("8.11.1", "3.9", "Unknown CI public key")
    trusted = st.ci_by_ski.get(ci_ski)
    if trusted is None:
        raise ApiError("8.11.1", "3.9", "Unknown CI public key")
    ci = trusted.cert()
    t = now_utc()
    if ROLE_EUM_ANY.isdisjoint(crypto.policy_oids(eum_cert)) or not crypto.verify_issued(eum_cert, ci):
        raise ApiError("8.1.2", "6.1", "EUM certificate invalid")
    if not eum_cert.not_valid_before <= t <= eum_cert.not_valid_after:
        raise ApiError("8.1.2", "6.3", "EUM certificate expired")
    if crypto.ROLE_EUICC not in crypto.policy_oids(euicc_cert) or not crypto.verify_issued(euicc_cert, eum_cert):
        raise ApiError("8.1.3", "6.1", "eUICC certificate invalid")
    if not euicc_cert.not_valid_before <= t <= euicc_cert.not_valid_after:
        raise ApiError("8.1.3", "6.3", "eUICC certificate expired")
    try:
        crypto.check_chain(euicc_cert, [eum_cert], [ci], crypto.ROLE_EUICC)
    except crypto.ChainError:
        # Everything but the EID range was checked above: the EID is outside the EUM's range.
        raise ApiError("8.1.3", "6.1", "EID outside the EUM's permitted range") from None
    return crypto.eid_of(euicc_cert)


ROLE_EUM_ANY = {crypto.ROLE_EUM, crypto.ROLE_EUM_V2}


def parse_euicc_info1(data):
    t = decode_tlv(data, 0xBF20, "euiccInfo1")

    def pkids(tag):
        lst = t.find(tag)
        return [c.value for c in lst.children() if c.tag == 0x04] if lst is not None else []

    svn = t.find(0x82)
    return (svn.value if svn is not None else None), pkids(0xA9), pkids(0xAA)


# ------------------------------------------------------------------------------------------------
# ES9+ / ES11 functions. Each takes (st, content) and returns a dict, or (dict, extra) for the
# BPP; raises ApiError for a Failed status.


def initiate_authentication(st, content, kind):
    es11 = kind == "es11"
    challenge = b64d(content, "euiccChallenge")
    info1 = b64d(content, "euiccInfo1")
    addr_field = "smdsAddress" if es11 and "smdsAddress" in content else "smdpAddress"
    if es11 and addr_field not in content:
        addr_field = "smdsAddress"
    address = content.get(addr_field)
    if not isinstance(address, str):
        raise ApiError(*MISSING, "%s missing" % addr_field)
    if len(challenge) != 16:
        raise ApiError(*BAD_FORMAT, "euiccChallenge must be 16 bytes")
    svn, verif, signing = parse_euicc_info1(info1)
    own_host = st.smds_hostname if es11 else st.hostname
    if address.lower() != own_host.lower():
        raise ApiError("8.9.1" if es11 else "8.8.1", "3.8", "Invalid address")
    if svn is None or len(svn) != 3 or svn[0] != 2:
        raise ApiError("8.9.3" if es11 else "8.8.3", "3.1", "SVN not supported")
    auth_cert = st.dsauth if es11 else st.dpauth
    auth_key = st.dsauth_key if es11 else st.dpauth_key
    ci_ski = auth_cert.aki
    if st.cert_set == "bad" and not es11:
        # Misconfigured-server mode: present an SM-DP+ set under a CI the eUICC does not know,
        # and let the eUICC (not us) refuse it.
        ci_ski = signing[0] if signing else ci_ski
    else:
        if ci_ski not in verif:
            raise ApiError("8.9.4" if es11 else "8.8.4", "3.7", "No certificate under a CI the eUICC supports")
        if ci_ski not in signing or ci_ski not in st.ci_by_ski:
            raise ApiError("8.9.2" if es11 else "8.8.2", "3.1", "None of the proposed PKIds is supported")
    tid = os.urandom(16)
    server_challenge = os.urandom(16)
    signed1 = der.encode(0x30, [der.encode(0x80, tid), der.encode(0x81, challenge),
                                der.encode(0x83, own_host.encode()), der.encode(0x84, server_challenge)])
    s = Session(tid, kind, challenge, server_challenge, ci_ski)
    with st.lock:
        st.sessions[tid.hex().upper()] = s
    return {
        "transactionId": tid.hex().upper(),
        "serverSigned1": signed1,
        "serverSignature1": der.encode(0x5F37, crypto.sign_raw(auth_key, signed1)),
        "euiccCiPKIdToBeUsed": der.encode(0x04, ci_ski),
        "serverCertificate": auth_cert.der,
    }


def session_for(st, content, states, kind="es9"):
    tid_hex = content.get("transactionId")
    if not isinstance(tid_hex, str):
        raise ApiError(*MISSING, "transactionId missing")
    with st.lock:
        s = st.sessions.get(tid_hex.upper())
    if s is None or s.kind != kind or s.state not in states:
        raise ApiError("8.10.1", "3.9", "Unknown transactionId")
    return s


def euicc_response(st, s, content, field, tag, es10_name):
    """Decode an ES10b response forwarded by the LPA; its error alternative (A1 {80 tid, 02 code})
    ends the session and the order becomes available again."""
    resp = decode_tlv(b64d(content, field), tag, field)
    kids = resp.children()
    if kids and kids[0].tag == 0xA1:
        code = kids[0].find(0x02)
        s.state = "failed"
        s.error = "euicc-%s-%d" % (es10_name, der.decode_int(code.value) if code is not None else -1)
        release_order(st, s)
        raise ApiError(*EUICC_REFUSED, "eUICC refused %s" % es10_name)
    return resp


def device_imei(ctx):
    """The IMEI digits of ctxParams1's deviceInfo (imei [2], swapped BCD), or None."""
    info = ctx.find(0xA1)
    imei = info.find(0x82) if info is not None else None
    if imei is None:
        return None
    digits = ""
    for b in imei.value:
        for nibble in (b & 0x0F, b >> 4):
            if nibble > 9:
                return digits
            digits += str(nibble)
    return digits


def authenticate_euicc(st, s, content):
    """Shared by ES9+ and ES11 authenticateClient: returns (euiccSigned1 Tlv, ctxParams1 Tlv|None)."""
    resp = euicc_response(st, s, content, "authenticateServerResponse", 0xBF38, "authenticateServer")
    ok = child(resp, 0xA0, "authenticateServerResponse")
    parts = ok.children()
    if len(parts) < 4 or parts[0].tag != 0x30 or parts[1].tag != 0x5F37:
        raise ApiError(*BAD_FORMAT, "authenticateResponseOk")
    signed1, sig1, euicc_der, eum_der = parts[0], parts[1], parts[2].raw, parts[3].raw
    try:
        euicc_cert = crypto.load_cert(euicc_der)
        eum_cert = crypto.load_cert(eum_der)
    except ValueError:
        raise ApiError("8.1.3", "6.1", "certificate does not decode") from None
    eid = check_euicc_chain(st, euicc_cert, eum_cert, s.ci_ski)
    if not crypto.verify_raw(euicc_cert, signed1.raw, sig1.value):
        raise ApiError("8.1", "6.1", "eUICC signature invalid")
    tid = signed1.find(0x80)
    if tid is None or tid.value != s.tid:
        raise ApiError("8.10.1", "3.9", "signed transactionId differs")
    chal = signed1.find(0x84)
    if chal is None or chal.value != s.server_challenge:
        raise ApiError("8.1", "6.1", "serverChallenge mismatch")
    s.euicc_pub = euicc_cert.public_key()
    s.eid = eid
    s.euicc_sig1_do = sig1.raw
    return signed1, signed1.find(0xA0)


def pick_order(st, s, matching_id):
    with st.lock:
        if matching_id:
            cands = [o for o in st.orders if o.matching_id == matching_id]
        else:
            cands = [o for o in st.orders if not o.matching_id and o.eid == s.eid]
        if not cands:
            raise ApiError("8.2.6", "3.8", "MatchingID refused")
        live = [o for o in cands if o.state in ("released", "in-progress")]
        o = live[0] if live else cands[0]
        if o.eid and o.eid != s.eid:
            raise ApiError("8.1.1", "3.8", "EID does not match the order")
        if o.state == "expired":
            raise ApiError("8.8.5", "4.1", "Download order expired")
        if o.state == "locked":
            raise ApiError("8.8.5", "6.4", "Maximum number of retries exceeded")
        if o.state == "held":
            raise ApiError("8.2", "1.2", "Profile not yet released")
        if o.state not in ("released", "in-progress"):
            raise ApiError("8.2.6", "3.8", "MatchingID refused")
        if o.state == "in-progress" and o.session in st.sessions:
            # A newer session takes the order over (the LPA restarted the download).
            st.sessions[o.session].state = "superseded"
        o.state = "in-progress"
        o.session = s.tid.hex().upper()
        return o


def authenticate_client(st, content):
    s = session_for(st, content, ("initiated",))
    try:
        signed1, ctx = authenticate_euicc(st, s, content)
        matching_id = ""
        if ctx is not None:
            m = ctx.find(0x80)
            if m is not None:
                matching_id = m.value.decode("utf-8", "replace")
            s.imei = device_imei(ctx)
        o = pick_order(st, s, matching_id)
    except ApiError as e:
        s.state, s.error = "failed", s.error or "%s/%s" % (e.subject, e.reason)
        raise
    s.order = o
    metadata = o.metadata()
    smdp_signed2 = der.encode(0x30, [der.encode(0x80, s.tid), der.encode(0x01, b"\xff" if o.cc else b"\x00")])
    s.smdp_sig2_do = der.encode(0x5F37, crypto.sign_raw(st.dppb_key, smdp_signed2 + s.euicc_sig1_do))
    s.state = "authenticated"
    return {
        "transactionId": s.tid.hex().upper(),
        "profileMetadata": metadata,
        "smdpSigned2": smdp_signed2,
        "smdpSignature2": s.smdp_sig2_do,
        "smdpCertificate": st.dppb.der,
    }


# A real Failed or Expired answer of these functions ends the session on this server; with
# "endSession" a scripted one does too, or the LPA (rightly sending no cancelSession after it)
# would seem to leave the session open.
SESSION_ENDING_FUNCTIONS = ("authenticateClient", "getBoundProfilePackage")


def end_session_scripted(st, fn, raw, fault):
    if fn not in SESSION_ENDING_FUNCTIONS:
        return
    try:
        tid = json.loads(raw.decode("utf-8")).get("transactionId")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return
    with st.lock:
        s = st.sessions.get(tid.upper()) if isinstance(tid, str) else None
        if s is not None and s.state in ("initiated", "authenticated", "bound", "delivered"):
            s.state = "failed"
            s.error = "scripted %s" % (fault.action if fault.action == "expired" else "%s/%s" % (
                fault.spec.get("subjectCode", "8.1"), fault.spec.get("reasonCode", "4.2")))
            release_order(st, s)


def release_order(st, s, final_state=None):
    o = s.order
    if o is not None and o.session == s.tid.hex().upper():
        o.session = None
        if final_state:
            o.state = final_state
        elif o.state in ("in-progress", "downloaded"):
            o.state = "released"


def get_bound_profile_package(st, content):
    s = session_for(st, content, ("authenticated",))
    resp = euicc_response(st, s, content, "prepareDownloadResponse", 0xBF21, "prepareDownload")
    ok = child(resp, 0xA0, "prepareDownloadResponse")
    signed2 = child(ok, 0x30, "euiccSigned2")
    sig2 = child(ok, 0x5F37, "euiccSignature2")
    if not crypto.verify_raw(s.euicc_pub, signed2.raw + s.smdp_sig2_do, sig2.value):
        s.state, s.error = "failed", "8.1/6.1"
        release_order(st, s)
        raise ApiError("8.1", "6.1", "eUICC signature invalid")
    tid = signed2.find(0x80)
    if tid is None or tid.value != s.tid:
        raise ApiError("8.10.1", "3.9", "signed transactionId differs")
    otpk = child(signed2, 0x5F49, "euiccOtpk").value
    o = s.order
    if o.cc:
        hcc = signed2.find(0x04)
        with st.lock:
            if hcc is None:
                s.state, s.error = "failed", "8.2.7/2.2"
                release_order(st, s)
                raise ApiError("8.2.7", "2.2", "Confirmation code missing")
            if hcc.value != crypto.hash_cc(o.cc, s.tid):
                o.cc_attempts += 1
                if o.cc_attempts >= o.max_cc_attempts:
                    s.state, s.error = "failed", "8.2.7/6.4"
                    release_order(st, s, "locked")
                    raise ApiError("8.2.7", "6.4", "Confirmation code retries exceeded")
                s.state, s.error = "failed", "8.2.7/3.8"
                release_order(st, s)
                raise ApiError("8.2.7", "3.8", "Confirmation code refused")
    try:
        crypto.pub_from_point(otpk)
    except ValueError:
        raise ApiError(*BAD_FORMAT, "euiccOtpk is not a P-256 point") from None
    if st.session_keys:
        package = bpp.bind(o.upp(), o.metadata(), s.tid, s.eid, otpk, st.dppb_key, ppk=None)
    else:
        blocks, ppk = o.protected_blocks()
        package = bpp.bind(blocks, o.metadata(), s.tid, s.eid, otpk, st.dppb_key, ppk=ppk)
    s.state = "bound"
    return {"transactionId": s.tid.hex().upper(), "boundProfilePackage": package}


def bpp_delivered(st, s):
    """Called once the whole getBoundProfilePackage answer went out: the matching ID is used up."""
    with st.lock:
        s.state = "delivered"
        if s.order is not None:
            s.order.state = "downloaded"
            s.order.downloads += 1


def handle_notification(st, content):
    raw = b64d(content, "pendingNotification")
    try:
        n = der.decode(raw)
        rec = {"kind": None, "verified": False, "received": time.time()}
        if n.tag == 0xBF37:
            rec["kind"] = "pir"
            data = child(n, 0xBF27, "profileInstallationResultData")
            sig = child(n, 0x5F37, "euiccSignPIR")
            meta = child(data, 0xBF2F, "notificationMetadata")
            tid = child(data, 0x80, "transactionId").value
            rec["transactionId"] = tid.hex().upper()
            oid = data.find(0x06)
            rec["smdpOid"] = der.decode_oid(oid.value) if oid is not None else None
            fr = child(data, 0xA2, "finalResult").children()
            if fr and fr[0].tag == 0xA0:
                rec["result"] = "success"
                aid = fr[0].find(0x4F)
                rec["isdpAid"] = aid.value.hex().upper() if aid is not None else None
            elif fr and fr[0].tag == 0xA1:
                rec["result"] = "error"
                cmd, reason = fr[0].find(0x80), fr[0].find(0x81)
                rec["bppCommandId"] = der.decode_int(cmd.value) if cmd is not None else None
                rec["errorReason"] = der.decode_int(reason.value) if reason is not None else None
            with st.lock:
                s = st.sessions.get(rec["transactionId"])
            if s is not None and s.euicc_pub is not None:
                rec["verified"] = crypto.verify_raw(s.euicc_pub, data.raw, sig.value)
                if rec["verified"]:
                    with st.lock:
                        s.state = "installed" if rec.get("result") == "success" else "install-failed"
                        if s.order is not None:
                            s.order.state = "installed" if rec.get("result") == "success" else "install-failed"
                            s.order.session = None
                            if rec.get("result") == "success":
                                st.events = [e for e in st.events if e["eventId"] != s.order.matching_id]
            else:
                rec["why"] = "unknown transaction"
        elif n.tag == 0x30:
            rec["kind"] = "other"
            parts = n.children()
            if len(parts) < 4 or parts[0].tag != 0xBF2F or parts[1].tag != 0x5F37:
                raise ApiError(*BAD_FORMAT, "otherSignedNotification")
            meta = parts[0]
            euicc_cert = crypto.load_cert(parts[2].raw)
            eum_cert = crypto.load_cert(parts[3].raw)
            try:
                ci_ski = crypto.aki(eum_cert)
                check_euicc_chain(st, euicc_cert, eum_cert, ci_ski)
                rec["verified"] = crypto.verify_raw(euicc_cert, meta.raw, parts[1].value)
                rec["eid"] = crypto.eid_of(euicc_cert)
            except ApiError as e:
                rec["why"] = e.message
        else:
            raise ApiError(*BAD_FORMAT, "pendingNotification tag %X" % n.tag)
        seq = meta.find(0x80)
        rec["seq"] = der.decode_int(seq.value) if seq is not None else None
        rec["raw"] = raw.hex()  # what the LPA sent, to compare with the card's bytes
        pmo = meta.find(0x81)
        ops = der.decode_bits(pmo.value) if pmo is not None else set()
        rec["operation"] = ",".join(OPERATIONS.get(b, str(b)) for b in sorted(ops))
        addr = meta.find(0x0C)
        rec["address"] = addr.value.decode("utf-8", "replace") if addr is not None else None
        iccid = meta.find(0x5A)
        rec["iccid"] = der.iccid_from_bcd(iccid.value) if iccid is not None else None
    except (der.DerError, ValueError) as e:
        if isinstance(e, ApiError):
            raise
        raise ApiError(*BAD_FORMAT, "pendingNotification: %s" % e) from None
    with st.lock:
        st.notifications.append(rec)
    log.info("notification seq=%s op=%s verified=%s", rec["seq"], rec["operation"], rec["verified"])
    return None  # 204


def cancel_session(st, content):
    s = session_for(st, content, ("authenticated", "bound", "delivered"))
    resp = decode_tlv(b64d(content, "cancelSessionResponse"), 0xBF41, "cancelSessionResponse")
    kids = resp.children()
    if kids and kids[0].tag == 0x81:
        with st.lock:
            s.state, s.error = "cancelled", "euicc-cancelSession-%d" % der.decode_int(kids[0].value)
            release_order(st, s)
        return {}
    ok = child(resp, 0xA0, "cancelSessionResponseOk")
    signed = child(ok, 0x30, "euiccCancelSessionSigned")
    sig = child(ok, 0x5F37, "euiccCancelSessionSignature")
    if not crypto.verify_raw(s.euicc_pub, signed.raw, sig.value):
        raise ApiError("8.1", "6.1", "eUICC signature invalid")
    oid = child(signed, 0x81, "smdpOid")
    if der.decode_oid(oid.value) != st.oid:
        raise ApiError("8.8", "3.1", "SM-DP+ OID invalid")
    tid = child(signed, 0x80, "transactionId")
    if tid.value != s.tid:
        raise ApiError("8.10.1", "3.9", "signed transactionId differs")
    reason = der.decode_int(child(signed, 0x82, "reason").value)
    with st.lock:
        was_delivered = s.state == "delivered"
        s.state, s.cancel_reason = "cancelled", reason
        if reason in REUSABLE_AFTER_CANCEL and (not was_delivered or reason == 5):
            release_order(st, s)
        else:
            release_order(st, s, "cancelled")
    log.info("session cancelled, reason %s", CANCEL_REASONS.get(reason, reason))
    return {}


def es11_authenticate_client(st, content):
    s = session_for(st, content, ("initiated",), kind="es11")
    try:
        authenticate_euicc(st, s, content)
    except ApiError as e:
        s.state, s.error = "failed", s.error or "%s/%s" % (e.subject, e.reason)
        raise
    s.state = "authenticated"
    with st.lock:
        entries = [{"eventId": e["eventId"], "rspServerAddress": e["rspServerAddress"]}
                   for e in st.events if e["eid"] == s.eid]
    return {"transactionId": s.tid.hex().upper(), "eventEntries": entries}


# ------------------------------------------------------------------------------------------------
# Tamper faults on signed data sent to the LPA/eUICC


def tamper_response(st, function, body, field):
    if function == "getBoundProfilePackage":
        body["boundProfilePackage"] = bpp.tamper(body["boundProfilePackage"], field)
        return
    if field == "euiccChallenge" and function == "initiateAuthentication":
        # A correctly signed serverSigned1 that carries another challenge.
        t = der.decode(body["serverSigned1"])
        kids = [c.raw for c in t.children()]
        kids[1] = der.encode(0x81, os.urandom(16))
        body["serverSigned1"] = der.encode(0x30, kids)
        key = st.dsauth_key if body["serverCertificate"] == st.dsauth.der else st.dpauth_key
        body["serverSignature1"] = der.encode(0x5F37, crypto.sign_raw(key, body["serverSigned1"]))
        return
    if field not in body or not isinstance(body[field], bytes):
        raise ApiError("1.2", "4.2", "cannot tamper with %s" % field)
    body[field] = bpp.flip_last_byte(body[field])


# ------------------------------------------------------------------------------------------------
# Variant answers: the same content, written as real servers write it (legal, if unusual)

ANSWER_VARIANTS = ("wrapped-base64", "lowercase-transaction-id", "with-warning", "extra-members",
                   "no-admin-protocol", "chunked", "gzip", "gzip-padded")


def answer_variants(obj, variants):
    """@obj and its JSON text after the "variant" fault's rewrites (send_json makes the HTTP ones)."""
    if not variants:
        return obj, json.dumps(obj).encode()
    obj = json.loads(json.dumps(obj))
    if "wrapped-base64" in variants:
        # MIME-style lines of 76 characters, CR LF between them (RFC 2045), as some servers send.
        for k, v in list(obj.items()):
            if isinstance(v, str) and k != "transactionId" and len(v) > 76:
                obj[k] = "\r\n".join(v[i:i + 76] for i in range(0, len(v), 76))
    if "lowercase-transaction-id" in variants and isinstance(obj.get("transactionId"), str):
        obj["transactionId"] = obj["transactionId"].lower()
    if "with-warning" in variants and "header" in obj:
        obj["header"]["functionExecutionStatus"] = {
            "status": "Executed-WithWarning",
            "statusCodeData": {"subjectCode": "8.1", "reasonCode": "3.1", "message": "a warning"}}
    if "extra-members" in variants:
        obj["header"]["functionRequesterIdentifier"] = None
        obj["vendorExtension"] = {"nested": [1, {"a": None}], "n": 1.5}
        obj["nothing"] = None
    return obj, json.dumps(obj).encode()


# ------------------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0  # requests answered on this connection (one handler per connection)
    connection_no = 0  # this connection's number (since the server started), from its first request
    close_after = False  # a "close" fault: this answer ends the connection
    server_version = "esimd-test-smdp/1"

    def log_message(self, fmt, *a):  # paths and codes only: bodies may hold matching IDs
        log.debug("%s %s", self.address_string(), fmt % a)

    def send_json(self, obj, status=200, variants=()):
        obj, data = answer_variants(obj, variants)
        self.send_response(status)
        if self.close_after:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        if "no-admin-protocol" not in variants:
            self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
        if "gzip-padded" in variants:
            # 1 MiB of JSON whitespace ahead of the object: legal JSON, a few KiB compressed, more
            # than a client's limit for the answer once decoded.
            data = b" " * (1 << 20) + data
        if "gzip" in variants or "gzip-padded" in variants:
            # Compressed whatever the request's Accept-Encoding said: HTTP lets a server pick any
            # content coding for a request without one (RFC 9110 12.5.3), and a proxy or load
            # balancer in front of an SM-DP+ may compress on its own.
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        if "chunked" in variants:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 1000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000]))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        self.wfile.flush()

    def send_empty(self, status):
        self.send_response(status)
        if self.close_after:
            self.send_header("Connection", "close")
        self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()

    def do_GET(self):
        self.send_empty(405)

    def route(self):
        st, role = self.server.state, self.server.role
        path = self.path.split("?", 1)[0]
        if role == "smdp" and path.startswith(ES9):
            fn = path[len(ES9):]
            return (fn, "es9") if fn in ES9_FUNCTIONS else (None, None)
        if role == "smds":
            if path.startswith(ES11) and st.es11_paths in ("es11", "both"):
                fn = path[len(ES11):]
                return (fn, "es11") if fn in ES11_FUNCTIONS else (None, None)
            if path.startswith(ES9) and st.es11_paths in ("es9plus", "both"):
                fn = path[len(ES9):]
                return (fn, "es11") if fn in ES11_FUNCTIONS else (None, None)
        return None, None

    def do_POST(self):
        # From the request's headers parsed to its answer written (and flushed): what the server
        # itself adds to a client's wait, whatever the client does around it.
        t0 = time.perf_counter()
        if not self.connection_no:
            self.connection_no = self.server.state.new_connection()
        try:
            self.post()
        finally:
            self.served += 1
            ms = (time.perf_counter() - t0) * 1000.0
            fn, _ = self.route()
            self.server.state.add_timing({"server": self.server.role, "what": "request",
                                          "function": fn or self.path.split("?", 1)[0], "ms": round(ms, 3)})

    def post(self):
        st, role = self.server.state, self.server.role
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fn, kind = self.route()
        if fn is None:
            self.send_empty(404)
            return
        st.add_request(role, fn, self.connection_no, self.served > 0, self.headers.get("Accept-Encoding"))
        n, faults = st.count_call(role, fn, reused=self.served > 0)
        log.info("%s %s call %d%s", role, fn, n, " faults=%s" % [f.action for f in faults] if faults else "")
        for f in faults:
            if f.action == "delay":
                time.sleep(int(f.spec.get("ms", 1000)) / 1000.0)
        final = next((f for f in faults if f.action not in ("delay", "tamper", "close", "variant")), None)
        variants = [v for f in faults if f.action == "variant" for v in f.spec.get("variants", [])]
        if any(f.action == "close" for f in faults):
            # send_header("Connection", "close") also ends this handler's keep-alive loop
            self.close_after = True
        if final is not None and not final.spec.get("execute"):
            if final.action in ("status", "expired") and final.spec.get("endSession"):
                end_session_scripted(st, fn, raw, final)
            self.answer_fault(final, None)
            return
        proto = self.headers.get("X-Admin-Protocol", "")
        if not proto.startswith("gsma/rsp/v2."):
            self.send_json(self.failed(*BAD_FORMAT, "X-Admin-Protocol must be gsma/rsp/v2.x.y"), 400)
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self.send_empty(415)
            return
        body, out, session = None, None, None
        try:
            try:
                content = json.loads(raw.decode("utf-8"))
                if not isinstance(content, dict):
                    raise ValueError
            except (UnicodeDecodeError, ValueError):
                raise ApiError(*BAD_FORMAT, "body is not a JSON object") from None
            out = self.dispatch(st, fn, kind, content)
            for f in faults:
                if f.action == "tamper" and out is not None:
                    tamper_response(st, fn, out, f.spec["field"])
            if fn == "getBoundProfilePackage":
                session = st.sessions.get(out["transactionId"])
            body = self.encode_success(out)
        except ApiError as e:
            log.info("%s %s -> Failed %s/%s (%s)", role, fn, e.subject, e.reason, e.message)
            body = self.failed(e.subject, e.reason, e.message)
        if final is not None:
            self.answer_fault(final, body)
            return
        if body is None:
            self.send_empty(204)
            return
        self.send_json(body, variants=variants)
        if session is not None:
            bpp_delivered(st, session)

    @staticmethod
    def dispatch(st, fn, kind, content):
        if kind == "es11":
            if fn == "initiateAuthentication":
                return initiate_authentication(st, content, "es11")
            return es11_authenticate_client(st, content)
        return {
            "initiateAuthentication": lambda: initiate_authentication(st, content, "es9"),
            "authenticateClient": lambda: authenticate_client(st, content),
            "getBoundProfilePackage": lambda: get_bound_profile_package(st, content),
            "handleNotification": lambda: handle_notification(st, content),
            "cancelSession": lambda: cancel_session(st, content),
        }[fn]()

    @staticmethod
    def encode_success(out):
        if out is None:
            return None
        body = {}
        for k, v in out.items():
            if isinstance(v, bpp.BoundPackage):
                v = v.encode()
            body[k] = b64e(v) if isinstance(v, bytes) else v
        body["header"] = {"functionExecutionStatus": {"status": "Executed-Success"}}
        return body

    @staticmethod
    def failed(subject, reason, message=""):
        scd = {"subjectCode": subject, "reasonCode": reason}
        if message:
            scd["message"] = message
        return {"header": {"functionExecutionStatus": {"status": "Failed", "statusCodeData": scd}}}

    def answer_fault(self, f, body):
        a = f.action
        if a == "status":
            self.send_json(self.failed(f.spec.get("subjectCode", "8.1"), f.spec.get("reasonCode", "4.2"),
                                       f.spec.get("message", "scripted")),
                           status=int(f.spec.get("httpStatus", 200)))
        elif a == "expired":
            self.send_json({"header": {"functionExecutionStatus": {"status": "Expired"}}})
        elif a == "http":
            status = int(f.spec.get("status", 500))
            data = b"scripted HTTP error\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif a == "malformed-json":
            data = b'{"header": {"functionExecutionStatus": {"status": "Executed-Success"}, "transactionId": '
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif a == "empty":
            # HTTP 200 and nothing else: what a broken server or proxy answers to any function
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif a == "no-content":
            # HTTP 204 and nothing else: SGP.22's success answer to handleNotification, which a
            # server may give any function whose success carries no data (cancelSession)
            self.send_response(204)
            self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
            self.end_headers()
        elif a in ("cut", "reset-mid-body"):
            # Headers with the full Content-Length, part of the body, then the connection closed
            # (cut) or reset (reset-mid-body).
            data = json.dumps(body if body is not None else self.failed("8.1", "4.2")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("X-Admin-Protocol", ADMIN_PROTOCOL)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: max(1, len(data) // 2)])
            self.wfile.flush()
            self.drop_connection(reset=a == "reset-mid-body")
        elif a == "reset":
            self.drop_connection(reset=True)
        elif a in ("huge-headers", "long-header"):
            # What a broken proxy or a hostile server sends: more header bytes than a client
            # keeps. libcurl refuses one header line over CURL_MAX_HTTP_HEADER (100 KiB) and,
            # since 8.3 (and distributions' fixes for CVE-2023-38039), headers over 300 KiB in all.
            data = json.dumps(body if body is not None else self.failed("8.1", "4.2")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            if a == "long-header":
                self.send_header("X-Padding", "a" * int(f.spec.get("bytes", 200 * 1024)))
            else:
                for i in range(int(f.spec.get("bytes", 400 * 1024)) // 1024):
                    self.send_header("X-Padding-%d" % i, "a" * 1000)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif a == "not-http":
            # Something that is no HTTP answer at all: another service on the port, a
            # misconfigured proxy (no status line: libcurl refuses it as HTTP/0.9).
            self.wfile.write(f.spec.get("data", "SSH-2.0-OpenSSH_9.2\r\n").encode())
            self.wfile.flush()
            self.drop_connection(reset=False)
        elif a == "redirect":
            # A redirect to the same function elsewhere: an LPA must not follow it (SGP.22 has no
            # redirects; a follower would send the request, with its secrets, to another host).
            self.send_response(int(f.spec.get("status", 307)))
            self.send_header("Location", f.spec.get("location", "https://%s%s" % (
                self.headers.get("Host", "example.com"), self.path)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
        elif a == "drop":
            # The request read, then the connection closed (FIN) without a byte of answer: a
            # server process restarted, or a load balancer dropping an idle kept-alive connection
            # just as the client reused it.
            self.drop_connection(reset=False)

    def drop_connection(self, reset):
        self.close_connection = True
        try:
            sock = self.connection
            if reset:
                # SO_LINGER 0: the close sends RST instead of FIN.
                raw = sock
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog (socketserver's default is 5). Eight LPAs connecting at once while the
    # accepting thread waited for the interpreter overflowed it: the kernel dropped a SYN and the
    # client's retransmission came a second later (the benchmark's eight downloads at once: one
    # took 1 s longer, "connected 1011 ms"). Production servers listen with hundreds (nginx 511).
    request_queue_size = 128

    def __init__(self, addr, state, role, ctx):
        self.state, self.role, self.ctx = state, role, ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the per-connection thread, so a slow client cannot stall accept().
        t0 = time.perf_counter()
        # As production HTTPS servers do (nginx's tcp_nodelay): with Nagle's algorithm on this
        # socket a new connection's first answer came ~40 ms late, a delayed ACK's length
        # (curl -w: request sent at 28 ms, first byte at 69 ms, 0.5 ms of it the server's work),
        # time a client would be blamed for.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.info("%s TLS handshake failed: %s", self.role, e)
            return
        # Both sides' work and the round trips: from the connection accepted to the handshake done.
        self.state.add_timing({"server": self.role, "what": "handshake",
                               "ms": round((time.perf_counter() - t0) * 1000.0, 3)})
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # An exception out of a request (a bug here, or the client gone mid-answer): the client
        # got no answer, so it must never be silent. Warning with the traceback, always.
        log.warning("%s: request from %s:%d ended in an exception, no answer sent", self.role, *client_address[:2],
                    exc_info=True)


# --tls-cert-set: the SM-DP+ TLS leaf (a name in the PKI directory) and the issuers sent with it.
TLS_CERT_SETS = {
    "good": ("dptls", ()),
    "bad": ("bad-dptls", ()),
    "eum": ("eum-dptls", ("eum",)),
    "euicc": ("euicc-dptls", ("euicc", "eum")),
    "dpauth": ("dpauth-tls", ()),
    "web": ("web-tls", ()),
    "client": ("client-tls", ()),
}


def tls_context(state, cert, key, role, chain=()):
    """A server context presenting `cert` (DER file) followed by the DER files in `chain`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl only loads PEM certificates; the PKI writes DER.
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as pem:
        for path in (cert,) + tuple(chain):
            with open(path, "rb") as f:
                pem.write(ssl.DER_cert_to_PEM_cert(f.read()).encode())
        pem.flush()
        ctx.load_cert_chain(pem.name, key)

    def on_sni(sslsock, name, _ctx):
        with state.lock:
            state.sni.append({"server": role, "name": name})
            del state.sni[:-100]

    ctx.sni_callback = on_sni
    return ctx


# ------------------------------------------------------------------------------------------------
# Control socket


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        st = self.server.state
        for line in self.rfile:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
                resp = control(st, req, self.server)
                resp = dict(resp, ok=True)
            except Exception as e:  # every failure becomes an answer, the socket stays up
                resp = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            self.wfile.write((json.dumps(resp) + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def control(st, req, srv):
    cmd = req.get("cmd")
    with st.lock:
        if cmd == "ping":
            return {}
        if cmd == "info":
            return {"hostname": st.hostname, "smdsHostname": st.smds_hostname, "oid": st.oid,
                    "port": srv.ports.get("smdp"), "smdsPort": srv.ports.get("smds"),
                    "sessionKeys": st.session_keys, "es11Paths": st.es11_paths, "certSet": st.cert_set}
        if cmd == "orders":
            return {"orders": [o.view() for o in st.orders]}
        if cmd == "add_order":
            return {"order": st.add_order(req["order"]).view()}
        if cmd == "set_order":
            o = st.orders[int(req["index"])]
            if "state" in req:
                o.state = req["state"]
            if "ccAttempts" in req:
                o.cc_attempts = int(req["ccAttempts"])
            return {"order": o.view()}
        if cmd == "sessions":
            return {"sessions": [s.view() for s in st.sessions.values()]}
        if cmd == "notifications":
            return {"notifications": st.notifications}
        if cmd == "fault":
            op = req.get("op", "add")
            if op == "add":
                f = Fault(req["fault"])
                st.faults.append(f)
                return {"fault": f.view()}
            if op == "clear":
                st.faults = []
                return {}
            if op == "list":
                return {"faults": [f.view() for f in st.faults]}
            raise ValueError("fault op must be add, clear or list")
        if cmd == "calls":
            return {"calls": dict(st.calls)}
        if cmd == "requests":
            return {"requests": list(st.requests)}
        if cmd == "sni":
            return {"sni": list(st.sni)}
        if cmd == "timings":
            out = list(st.timings)
            if req.get("reset"):
                st.timings = []
            return {"timings": out}
        if cmd == "reset":
            st.reset()
            return {}
        if cmd == "events":
            return {"events": st.events}
        if cmd == "add_event":
            return {"event": st.add_event(req["event"])}
        if cmd == "config":
            if "sessionKeys" in req:
                st.session_keys = bool(req["sessionKeys"])
            if "es11Paths" in req:
                if req["es11Paths"] not in ("es11", "es9plus", "both"):
                    raise ValueError("es11Paths must be es11, es9plus or both")
                st.es11_paths = req["es11Paths"]
            if "certSet" in req:
                st.cert_set = req["certSet"]
                st.load_certs()
            return {}
    raise ValueError("unknown command %r" % cmd)


# ------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Test SM-DP+ / SM-DS (see tests/smdp/README.md)")
    ap.add_argument("--pki", required=True, help="directory written by tests/pki/gen-pki.py")
    ap.add_argument("--orders", help="JSON file with orders (and SM-DS events)")
    ap.add_argument("--profile-dir", help="directory relative profile paths are read from")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="SM-DP+ port (0 = any free port)")
    ap.add_argument("--smds-port", type=int, default=None, help="SM-DS port (0 = any; absent = no SM-DS)")
    ap.add_argument("--control", help="unix socket path for the control protocol")
    ap.add_argument("--hostname", default="testsmdpplus1.example.com")
    ap.add_argument("--smds-hostname", default="testrootsmds.example.com")
    ap.add_argument("--oid", default="2.999.10", help="SM-DP+ OID (registeredID of DPauth/DPpb)")
    ap.add_argument("--session-keys", action="store_true", help="bind without ReplaceSessionKeys (no A2)")
    ap.add_argument("--es11-paths", choices=("es11", "es9plus", "both"), default="es11",
                    help="where the SM-DS serves ES11; the others answer 404")
    ap.add_argument("--cert-set", choices=("good", "bad"), default="good",
                    help="bad = DPauth/DPpb under the untrusted CI (the eUICC must refuse)")
    ap.add_argument("--tls-cert-set", choices=sorted(TLS_CERT_SETS), default="good",
                    help="the SM-DP+'s TLS certificate: good, bad (another CI), web (a web PKI CA's), "
                    "or one that chains to the trusted CI but breaks SGP.22's TLS profile (eum, euicc, "
                    "dpauth, client: for TLS clients only)")
    ap.add_argument("--extra-ci", action="append", help="another CI certificate trusted for eUICC chains")
    ap.add_argument("--fault", action="append", help="a fault as JSON (repeatable), see README.md")
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap.parse_args(argv)


def make_servers(args):
    """The shared state and the listening (not yet serving) SM-DP+ and SM-DS servers."""
    st = State(args)
    leaf, chain = TLS_CERT_SETS[args.tls_cert_set]
    servers = {}
    smdp_ctx = tls_context(st, os.path.join(args.pki, leaf + ".der"), os.path.join(args.pki, leaf + "-key.pem"),
                           "smdp", [os.path.join(args.pki, c + ".der") for c in chain])
    servers["smdp"] = TlsServer((args.bind, args.port), st, "smdp", smdp_ctx)
    if args.smds_port is not None:
        smds_ctx = tls_context(st, os.path.join(args.pki, "dstls.der"), os.path.join(args.pki, "dstls-key.pem"),
                               "smds")
        servers["smds"] = TlsServer((args.bind, args.smds_port), st, "smds", smds_ctx)
    return st, servers


def main():
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="smdp: %(levelname)s %(message)s")
    st, servers = make_servers(args)
    ports = {k: s.server_address[1] for k, s in servers.items()}
    ctl = None
    if args.control:
        if os.path.exists(args.control):
            os.unlink(args.control)
        ctl = ControlServer(args.control, ControlHandler)
        ctl.state, ctl.ports = st, ports
        threading.Thread(target=ctl.serve_forever, daemon=True).start()
    for s in servers.values():
        threading.Thread(target=s.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for k, p in ports.items():
        print("LISTEN %s %s:%d" % (k, args.bind, p), flush=True)
    print("READY", flush=True)
    stop.wait()
    for s in servers.values():
        s.shutdown()
        s.server_close()
    if ctl is not None:
        ctl.shutdown()
        ctl.server_close()
        try:
            os.unlink(args.control)
        except OSError:
            pass
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
