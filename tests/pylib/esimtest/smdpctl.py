# Client side of the test SM-DP+/SM-DS: spawn it, drive its control socket, and speak ES9+/ES11 to it.
"""Helpers for tests and the benchmark around tests/smdp/smdp.py.

    with start_smdp(tmpdir, pki_paths, orders) as dp:
        dp.control.add_fault(function="authenticateClient", action="http", status=500)
        client = dp.es9_client(ca_pem)
        status, headers, body = client.post("initiateAuthentication", {...})
"""

import http.client
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import time

SOURCE_ROOT = os.environ.get(
    "ESIMD_SOURCE_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
)
SMDP_SCRIPT = os.path.join(SOURCE_ROOT, "tests", "smdp", "smdp.py")
ADMIN_PROTOCOL = "gsma/rsp/v2.2.2"


class SmdpError(Exception):
    """The control socket answered {"ok": false}."""


class SmdpControl:
    """JSON-lines client of the --control socket (one request, one answer per line)."""

    def __init__(self, path, timeout=10):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")

    def close(self):
        self.rfile.close()
        self.sock.close()

    def call(self, cmd, **kw):
        req = dict(kw, cmd=cmd)
        self.sock.sendall((json.dumps(req) + "\n").encode())
        line = self.rfile.readline()
        if not line:
            raise SmdpError("control socket closed")
        resp = json.loads(line)
        if not resp.get("ok"):
            raise SmdpError(resp.get("error", "unknown error"))
        return resp

    def info(self):
        return self.call("info")

    def orders(self):
        return self.call("orders")["orders"]

    def add_order(self, order):
        return self.call("add_order", order=order)["order"]

    def set_order(self, index, **kw):
        return self.call("set_order", index=index, **kw)["order"]

    def sessions(self):
        return self.call("sessions")["sessions"]

    def notifications(self):
        return self.call("notifications")["notifications"]

    def add_fault(self, **fault):
        """function=…, action=status|expired|http|malformed-json|empty|cut|delay|reset|tamper, nth=, times=, …"""
        return self.call("fault", op="add", fault=fault)["fault"]

    def clear_faults(self):
        self.call("fault", op="clear")

    def faults(self):
        return self.call("fault", op="list")["faults"]

    def calls(self):
        return self.call("calls")["calls"]

    def requests(self):
        """The ES9+/ES11 requests, oldest first (the last 1000, since start/reset), with the
        connection that carried each: [{"server", "function", "connection" (numbered from 1 since
        the server started), "reused" (the connection had served a request before)}]."""
        return self.call("requests")["requests"]

    def sni(self):
        return self.call("sni")["sni"]

    def timings(self, reset=False):
        """The server's own time per request and per TLS handshake, oldest first (the last 1000):
        [{"server", "what": "request"|"handshake", "function" (requests), "ms"}]."""
        return self.call("timings", reset=reset)["timings"]

    def reset(self):
        self.call("reset")

    def events(self):
        return self.call("events")["events"]

    def add_event(self, eid, event_id, rsp_server_address=None):
        ev = {"eid": eid, "eventId": event_id}
        if rsp_server_address:
            ev["rspServerAddress"] = rsp_server_address
        return self.call("add_event", event=ev)["event"]

    def config(self, **kw):
        """sessionKeys=bool, es11Paths='es11'|'es9plus'|'both', certSet='good'|'bad'."""
        self.call("config", **kw)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address while SNI, certificate name check and Host stay the real name
    (what curl's --connect-to does)."""

    def __init__(self, hostname, address, port, context, timeout):
        super().__init__(hostname, port, context=context, timeout=timeout)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Es9Client:
    """A minimal ES9+/ES11 HTTP client that trusts only the given CA file."""

    def __init__(self, hostname, port, ca_file, address="127.0.0.1", timeout=30, base="/gsma/rsp2/es9plus/"):
        self.hostname, self.port, self.address, self.timeout, self.base = hostname, port, address, timeout, base
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2

    def post_raw(self, function, body, headers=None, base=None):
        """POST bytes; returns (status, headers dict, body bytes). Transport errors propagate."""
        conn = _PinnedHTTPSConnection(self.hostname, self.address, self.port, self.ctx, self.timeout)
        try:
            h = {"Content-Type": "application/json", "X-Admin-Protocol": ADMIN_PROTOCOL,
                 "User-Agent": "gsma-rsp-lpad"}
            h.update(headers or {})
            conn.request("POST", (base or self.base) + function, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def post(self, function, obj, headers=None, base=None):
        """POST a JSON object; returns (status, headers, parsed JSON or None for an empty body)."""
        status, hdrs, data = self.post_raw(function, json.dumps(obj).encode(), headers, base)
        return status, hdrs, (json.loads(data) if data else None)


def execution_status(body):
    """(status, subjectCode, reasonCode) of a response's header.functionExecutionStatus."""
    fes = body["header"]["functionExecutionStatus"]
    scd = fes.get("statusCodeData", {})
    return fes["status"], scd.get("subjectCode"), scd.get("reasonCode")


class SmdpProcess:
    """A running smdp.py: ports, control client, clean stop."""

    def __init__(self, proc, control_path, ports, pki_dir, stderr_path, hostname, smds_hostname):
        self.proc = proc
        self.control_path = control_path
        self.port = ports.get("smdp")
        self.smds_port = ports.get("smds")
        self.pki_dir = pki_dir
        self.stderr_path = stderr_path
        self.hostname = hostname
        self.smds_hostname = smds_hostname
        self.control = SmdpControl(control_path)

    def es9_client(self, ca_file=None, **kw):
        return Es9Client(self.hostname, self.port, ca_file or os.path.join(self.pki_dir, "ca", "ci.pem"), **kw)

    def es11_client(self, ca_file=None, base="/gsma/rsp2/es11/", **kw):
        return Es9Client(self.smds_hostname, self.smds_port, ca_file or os.path.join(self.pki_dir, "ca", "ci.pem"),
                         base=base, **kw)

    def log(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        try:
            self.control.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_smdp(tmpdir, pki_paths, orders, events=(), *, smds=True, session_keys=False, es11_paths="es11",
               cert_set="good", tls_cert_set="good", faults=(), hostname="testsmdpplus1.example.com",
               smds_hostname="testrootsmds.example.com", oid="2.999.10", profile_dir=None, extra_args=(),
               timeout=20):
    """Spawn smdp.py on loopback (free ports), wait for READY and return an SmdpProcess.

    pki_paths: the dict from esimtest.pki.generate() or the PKI directory. orders: list of order
    objects (README.md). faults: list of fault dicts applied from the start.
    """
    pki_dir = pki_paths["dir"] if isinstance(pki_paths, dict) else pki_paths
    os.makedirs(tmpdir, exist_ok=True)
    orders_path = os.path.join(tmpdir, "orders.json")
    with open(orders_path, "w") as f:
        json.dump({"orders": list(orders), "events": list(events)}, f)
    control_path = os.path.join(tmpdir, "smdp.ctl")
    stderr_path = os.path.join(tmpdir, "smdp.log")
    cmd = ["/usr/bin/python3", SMDP_SCRIPT, "--pki", pki_dir, "--orders", orders_path, "--control", control_path,
           "--port", "0", "--hostname", hostname, "--smds-hostname", smds_hostname, "--oid", oid,
           "--es11-paths", es11_paths, "--cert-set", cert_set, "--tls-cert-set", tls_cert_set]
    if smds:
        cmd += ["--smds-port", "0"]
    if session_keys:
        cmd.append("--session-keys")
    if profile_dir:
        cmd += ["--profile-dir", profile_dir]
    for f in faults:
        cmd += ["--fault", json.dumps(f)]
    cmd += list(extra_args)
    err = open(stderr_path, "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    err.close()
    ports = {}
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            with open(stderr_path, errors="replace") as f:
                raise RuntimeError("smdp.py did not become ready:\n" + f.read())
        r, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
        if not r:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode().split()
            if words[:1] == ["LISTEN"]:
                ports[words[1]] = int(words[2].rsplit(":", 1)[1])
            elif words == ["READY"]:
                return SmdpProcess(proc, control_path, ports, pki_dir, stderr_path, hostname, smds_hostname)
        if not chunk:
            continue


if __name__ == "__main__":
    print("library module; see tests/smdp/README.md", file=sys.stderr)
    sys.exit(2)
