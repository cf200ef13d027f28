"""An HTTPS relay in front of the test SM-DP+ that keeps the Bound Profile Package of every
getBoundProfilePackage answer (the floor is computed from what the server delivered, not from
what esimd sent) and counts esimd's TCP connections, TLS handshakes and requests per connection.

It terminates TLS with the test PKI's DPtls certificate (the name esimd expects) and forwards each
request over one kept-alive TLS connection per client connection, verified against the test CI."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class _Upstream(http.client.HTTPSConnection):
    """TLS to 127.0.0.1:port with the real host name for SNI and the certificate check."""

    def __init__(self, hostname: str, port: int, context: ssl.SSLContext):
        super().__init__(hostname, port, context=context, timeout=120)

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.upstream = None
        self.recorder.on_connection(self)

    @property
    def recorder(self) -> "HttpsRecorder":
        return self.server.recorder

    def do_POST(self):
        rec = self.recorder
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.upstream is None:
            self.upstream = _Upstream(rec.hostname, rec.upstream_port, rec.upstream_ctx)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        self.upstream.request("POST", self.path, body=body, headers=headers)
        resp = self.upstream.getresponse()
        data = resp.read()
        rec.on_exchange(self, self.path, resp.status, data)
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def finish(self):
        super().finish()
        if self.upstream is not None:
            self.upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorder: "HttpsRecorder"):
        self.recorder = recorder
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        # As the test SM-DP+ does: without it a new connection's first answer waits ~40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.recorder.server_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.recorder.on_handshake(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


class HttpsRecorder:
    def __init__(self, pki: dict, hostname: str, upstream_port: int):
        self.hostname = hostname
        self.upstream_port = upstream_port
        self.upstream_ctx = ssl.create_default_context(cafile=pki["ca_pem"])
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with open(pki["dptls"], "rb") as f:
            cert_pem = ssl.DER_cert_to_PEM_cert(f.read())
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
            pem.write(cert_pem)
            pem.flush()
            self.server_ctx.load_cert_chain(pem.name, pki["dptls_key"])
        self.lock = threading.Lock()
        self.reset()
        self.server = _Server(self)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="recorder", daemon=True).start()

    def reset(self):
        with self.lock:
            self.connections = 0
            self.handshakes = 0
            self.resumed = 0
            self.requests: list[dict] = []
            self.bpps: list[bytes] = []

    def on_connection(self, handler):
        with self.lock:
            self.connections += 1
            handler.connection_index = self.connections

    def on_handshake(self, tls: ssl.SSLSocket):
        with self.lock:
            self.handshakes += 1
            self.resumed += bool(tls.session_reused)

    def on_exchange(self, handler, path: str, status: int, data: bytes):
        function = path.rsplit("/", 1)[-1]
        with self.lock:
            self.requests.append({"function": function, "status": status, "bytes": len(data),
                                  "connection": handler.connection_index})
            if function == "getBoundProfilePackage" and status == 200:
                bpp = json.loads(data).get("boundProfilePackage")
                if bpp:
                    self.bpps.append(base64.b64decode(bpp))

    def snapshot(self) -> dict:
        with self.lock:
            return {"connections": self.connections, "handshakes": self.handshakes, "resumed": self.resumed,
                    "requests": list(self.requests), "bpps": list(self.bpps)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
