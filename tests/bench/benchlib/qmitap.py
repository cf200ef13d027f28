"""A tap between esimd and the simulated modem: relays the qmi-proxy protocol byte for byte and
reads every UIM Send APDU and its answer, so each ES10 command esimd sends is known exactly
(first tag, length, STORE DATA blocks, status words, timing) without trusting either side's
own counters. Payloads are not kept (ctxParams1 carries the matching ID): only lengths, tags and,
for Bound Profile Package segments, a SHA-256 to compare with what the SM-DP+ delivered."""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
import uuid
from typing import Optional

from esimtest import der

UIM_SERVICE = 0x0B
QMI_NAMES = {0x003B: "send-apdu", 0x0042: "open-logical-channel", 0x003F: "logical-channel"}
BPP_TAGS = {0xBF36, 0xA0, 0xA1, 0x88, 0xA2, 0xA3, 0x86, 0x87}


def _tlvs(data: bytes) -> dict:
    out, pos = {}, 0
    while pos + 3 <= len(data):
        t, n = data[pos], struct.unpack_from("<H", data, pos + 1)[0]
        out[t] = data[pos + 3 : pos + 3 + n]
        pos += 3 + n
    return out


def _sized(value: Optional[bytes]) -> Optional[bytes]:
    """A TLV value that starts with its own 16-bit length (APDU, R-APDU)."""
    if value is None or len(value) < 2:
        return None
    n = struct.unpack_from("<H", value)[0]
    return value[2 : 2 + n]


class _Assembly:
    """STORE DATA blocks of one logical channel on their way to one ES10 command."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.data = bytearray()
        self.apdus = []  # sizes of the C-APDUs
        self.max_block = 0
        self.t_first = None


class QmiTap:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.name = "esim-bench-tap-" + uuid.uuid4().hex[:10]
        self.lock = threading.Lock()
        self.commands: list[dict] = []
        self.apdus: list[dict] = []
        self.qmi_messages: dict[str, int] = {}
        self._pending: dict = {}
        self._assembly: dict = {}
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind("\0" + self.name)
        self._listener.listen(8)
        self._closing = False
        self._conns: list[socket.socket] = []
        # The gate (hold_after): APDUs of further commands wait here until release().
        self._hold_after: Optional[int] = None
        self._hold_after_install = False  # hold once a BPP segment is answered with its result
        self._installed = False
        self._gate = threading.Event()
        self._gate.set()
        self.held = 0
        threading.Thread(target=self._accept, name="qmitap-accept", daemon=True).start()

    # -- results ------------------------------------------------------------------------

    def reset(self):
        with self.lock:
            self.commands, self.apdus, self.qmi_messages = [], [], {}

    def hold_after(self, commands: int):
        """Holds every APDU esimd sends once `commands` ES10 commands have been answered, until
        release(): what a caller was answered without, it was answered before (exactly, whatever
        the load, where timestamps on both sides of the bus would race)."""
        with self.lock:
            self._hold_after, self.held = commands, 0
            self._gate.clear()

    def hold_after_install(self):
        """As hold_after, from the APDU after the BPP segment answered with the
        ProfileInstallationResult: what a download's caller was answered without."""
        with self.lock:
            self._hold_after_install, self._installed, self.held = True, False, 0
            self._gate.clear()

    def release(self):
        with self.lock:
            self._hold_after = None
            self._hold_after_install = False
            self._gate.set()

    def snapshot(self) -> dict:
        with self.lock:
            return {"commands": list(self.commands), "apdus": list(self.apdus),
                    "qmi_messages": dict(self.qmi_messages)}

    def close(self):
        self._closing = True
        for s in [self._listener] + self._conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    # -- relay ----------------------------------------------------------------------------

    def _accept(self):
        while not self._closing:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                up.connect("\0" + self.upstream)
            except OSError:
                down.close()
                continue
            self._conns += [down, up]
            link = object()
            threading.Thread(target=self._pump, args=(down, up, True, link), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, False, link), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_host: bool, link):
        buf = bytearray()
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            now = time.monotonic()
            if not chunk:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            # Read before it is forwarded: a request's answer can come back (on the other thread)
            # before this one would otherwise get to it, and an answer is recorded before esimd
            # can send its next request (which the gate must see counted).
            buf += chunk
            self._frames(buf, from_host, link, now)
            try:
                dst.sendall(chunk)
            except OSError:
                return

    def _frames(self, buf: bytearray, from_host: bool, link, now: float):
        while len(buf) >= 3 and buf[0] == 0x01:
            total = struct.unpack_from("<H", buf, 1)[0] + 1
            if len(buf) < total:
                break
            self._frame(bytes(buf[:total]), from_host, link, now)
            del buf[:total]

    # -- QMUX → APDUs → ES10 commands ----------------------------------------------------

    def _frame(self, frame: bytes, from_host: bool, link, now: float):
        if len(frame) < 13 or frame[4] != UIM_SERVICE:
            return
        cid = frame[5]
        tid, msg_id, tlv_len = struct.unpack_from("<HHH", frame, 7)
        tlvs = _tlvs(frame[13 : 13 + tlv_len])
        key = (id(link), cid, tid)
        with self.lock:
            hold = from_host and msg_id == 0x003B and (
                (self._hold_after is not None and len(self.commands) >= self._hold_after)
                or (self._hold_after_install and self._installed))
            if hold:
                self.held += 1
        if hold:
            self._gate.wait()
        with self.lock:
            if from_host:
                name = QMI_NAMES.get(msg_id, "0x%04X" % msg_id)
                self.qmi_messages[name] = self.qmi_messages.get(name, 0) + 1
                if msg_id == 0x003B:
                    channel = tlvs.get(0x10, b"\0")[0]
                    self._pending[key] = (now, _sized(tlvs.get(0x02)) or b"", channel, id(link))
                return
            if msg_id != 0x003B or key not in self._pending:
                return
            t_req, apdu, channel, link_id = self._pending.pop(key)
            rapdu = _sized(tlvs.get(0x10))
            sw = "%02X%02X" % (rapdu[-2], rapdu[-1]) if rapdu and len(rapdu) >= 2 else "QMI-ERROR"
            self._apdu(apdu, sw, len(rapdu or b""), channel, link_id, t_req, now)

    def _apdu(self, apdu: bytes, sw: str, resp_len: int, channel: int, link_id: int, t_req: float,
              t_resp: float):
        cla, ins, p1, p2 = (list(apdu[:4]) + [0, 0, 0, 0])[:4]
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        self.apdus.append({"t_req": t_req, "t_resp": t_resp, "len": len(apdu), "ins": ins, "sw": sw})
        asm = self._assembly.setdefault((link_id, channel), _Assembly())
        if ins == 0xC0:
            # GET RESPONSE belongs to the command just answered.
            if self.commands:
                self.commands[-1]["apdus"] += 1
                self.commands[-1]["apdu_bytes"] += len(apdu)
            return
        if not (cla & 0x80 and ins == 0xE2):
            return
        if p2 == 0:
            asm.reset()
            asm.t_first = t_req
        asm.data += data
        asm.apdus.append(len(apdu))
        asm.max_block = max(asm.max_block, len(data))
        ok = sw == "9000" or sw.startswith("61")
        if ok and p1 == 0x11:
            return
        cmd = {"tag": None, "length": len(asm.data), "apdus": len(asm.apdus), "apdu_bytes": sum(asm.apdus),
               "max_block": asm.max_block, "sw": sw, "ok": ok,
               "t_first": asm.t_first, "t_last": t_resp, "response_len": resp_len}
        try:
            cmd["tag"] = der.decode_header(bytes(asm.data), 0)[0]
        except der.DerError:
            pass
        if ok and cmd["tag"] in BPP_TAGS:
            cmd["sha256"] = hashlib.sha256(asm.data).hexdigest()
            if resp_len > 2:  # data besides the status word: the ProfileInstallationResult
                self._installed = True
        self.commands.append(cmd)
        asm.reset()
