"""Start, control and talk to the simulated eUICC (tests/sim/esim-sim.py) from Python tests."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time
import uuid
from typing import Optional, Sequence, Union

from . import der

SIM_SCRIPT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sim", "esim-sim.py"))
PYTHON = "/usr/bin/python3"
ISDR_AID = "A0000005591010FFFFFFFF8900000100"


def _connect(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


class SimControlError(Exception):
    """The simulator answered {"ok": false, "error": …}."""


class SimControl:
    """Client of the JSON-lines control socket (commands documented in tests/sim/README.md)."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.path = path
        self.sock = _connect(path, timeout)
        self.file = self.sock.makefile("rwb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, cmd: str, **kw) -> dict:
        self.file.write(json.dumps(dict(kw, cmd=cmd)).encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise SimControlError("control connection closed")
        resp = json.loads(line)
        if not resp.get("ok"):
            raise SimControlError(resp.get("error", "unknown error"))
        return resp

    def state(self) -> dict:
        return self.call("state")

    def counters(self, reset: bool = False) -> dict:
        return self.call("counters", reset=reset)

    def add_fault(self, **spec) -> int:
        """e.g. add_fault(kind="sw", sw="6F00", nth=3); returns the fault id."""
        return self.call("fault", action="add", fault=spec)["id"]

    def faults(self) -> list:
        return self.call("fault", action="list")["faults"]

    def fault(self, fault_id: int) -> dict:
        """A fault by id, installed or already cleared (with its 'fired' count)."""
        c = self.counters()
        for f in c["faults"] + c["faults_cleared"]:
            if f["id"] == fault_id:
                return f
        raise KeyError(fault_id)

    def clear_faults(self, fault_id: Optional[int] = None) -> int:
        kw = {} if fault_id is None else {"id": fault_id}
        return self.call("fault", action="clear", **kw)["cleared"]

    def disappear(self) -> None:
        self.call("disappear")

    def appear(self) -> None:
        self.call("appear")

    def reset(self) -> None:
        self.call("reset")

    def card_reset(self) -> None:
        self.call("card_reset")

    def switch_slot(self, slot: int) -> dict:
        """Another host switches the modem's active physical slot; returns the slots' state."""
        return self.call("switch_slot", slot=slot)

    def set(self, **kw) -> dict:
        return self.call("set", **kw)

    def at(self, **quirks) -> dict:
        """The AT front's quirks and statistics; keyword arguments set quirks first."""
        return self.call("at", quirks=quirks)

    def inject_ot_key(self, private_key_hex: str, curve: str = "secp256r1") -> str:
        """TEST ONLY: the next PrepareDownload uses this one-time key (to replay a recorded BPP)."""
        return self.call("test_inject_ot_key", private_key=private_key_hex, curve=curve)["public_key"]


class AtClient:
    """A terminal on the AT front's pty: writes command lines, reads until a final result code.
    Returns every line of the answer (echo, URCs and all) so tests see what a host would."""

    FINALS = ("OK", "ERROR")

    def __init__(self, path: str, timeout: float = 10.0):
        import termios
        import tty

        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIOFLUSH)
        self.timeout = timeout
        self.buf = b""
        self.reads = 0

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, line: str) -> None:
        try:
            os.write(self.fd, line.encode() + b"\r")
        except OSError as e:
            raise ConnectionError("the AT pty went away: %s" % e)

    def _read_line(self, deadline: float) -> Optional[str]:
        while True:
            idx = min([i for i in (self.buf.find(b"\r"), self.buf.find(b"\n")) if i >= 0], default=-1)
            if idx >= 0:
                line, self.buf = self.buf[:idx], self.buf[idx + 1 :]
                if line.strip():
                    return line.decode("ascii", "replace").strip()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return None
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                raise ConnectionError("the AT pty went away")
            if not data:
                raise ConnectionError("the AT pty went away")
            self.reads += 1
            self.buf += data

    def command(self, line: str, timeout: Optional[float] = None) -> list:
        """Send @line; the answer's lines up to and including the final result code. Raises
        TimeoutError when the modem stays silent."""
        self.send(line)
        return self.read_answer(timeout)

    def read_answer(self, timeout: Optional[float] = None) -> list:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise TimeoutError("no final result code; got %r" % lines)
            lines.append(line)
            if line in self.FINALS or line.startswith("+CME ERROR:") or line.startswith("+CMS ERROR:"):
                return lines


class CardError(Exception):
    def __init__(self, sw: int, what: str = ""):
        super().__init__("%s: SW %04X" % (what or "APDU", sw))
        self.sw = sw


class ApduClient:
    """The plain APDU socket: one hex APDU per line."""

    def __init__(self, path: str, timeout: float = 30.0):
        self.sock = _connect(path, timeout)
        self.file = self.sock.makefile("rwb")

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # the simulator dropped us with an unsent line still buffered
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def transmit(self, apdu: Union[bytes, str]) -> tuple[bytes, int]:
        """(data, SW); raises ConnectionError when the simulator drops the connection."""
        if isinstance(apdu, bytes):
            apdu = apdu.hex()
        self.file.write(apdu.encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise ConnectionError("simulator closed the APDU connection")
        line = line.strip().decode()
        if line.startswith("ERR"):
            raise ValueError(line)
        raw = bytes.fromhex(line)
        return raw[:-2], int.from_bytes(raw[-2:], "big")


def cla(base: int, channel: int) -> int:
    """CLA with the logical channel coded (ETSI TS 102 221 §10.1.1)."""
    if channel <= 3:
        return (base & 0x80) | channel
    return (0xC0 if base & 0x80 else 0x40) | (channel - 4)


class Es10Client:
    """The LPA side of ES10 over an ApduClient: logical channel, SELECT ISD-R, STORE DATA."""

    def __init__(self, apdu: ApduClient, block_size: int = 255, aid: str = ISDR_AID):
        self.apdu = apdu
        self.block_size = block_size
        self.aid = bytes.fromhex(aid)
        self.channel: Optional[int] = None
        self.select_response = b""

    def open(self) -> int:
        data, sw = self.apdu.transmit("0070000001")
        if sw != 0x9000:
            raise CardError(sw, "MANAGE CHANNEL open")
        self.channel = data[0]
        resp, sw = self._with_get_response(bytes([cla(0x00, self.channel), 0xA4, 0x04, 0x00, len(self.aid)]) + self.aid + b"\x00")
        if sw != 0x9000:
            raise CardError(sw, "SELECT ISD-R")
        self.select_response = resp
        return self.channel

    def close(self) -> None:
        if self.channel is not None:
            self.apdu.transmit(bytes([0x00, 0x70, 0x80, self.channel, 0x00]))
            self.channel = None

    def _with_get_response(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.apdu.transmit(apdu)
        out = bytearray(data)
        while sw >> 8 == 0x61:
            data, sw = self.apdu.transmit(bytes([cla(0x00, self.channel), 0xC0, 0x00, 0x00, sw & 0xFF]))
            out += data
        return bytes(out), sw

    def blocks(self, request: bytes) -> list[bytes]:
        """The STORE DATA APDUs of one ES10 command."""
        chunks = [request[i : i + self.block_size] for i in range(0, len(request), self.block_size)] or [b""]
        out = []
        for n, chunk in enumerate(chunks):
            p1 = 0x91 if n == len(chunks) - 1 else 0x11
            out.append(bytes([cla(0x80, self.channel), 0xE2, p1, n, len(chunk)]) + chunk)
        return out

    def transceive(self, request: bytes) -> tuple[bytes, int]:
        """Send one ES10 command; (response data, final SW). Intermediate blocks must answer 9000."""
        blocks = self.blocks(request)
        for b in blocks[:-1]:
            data, sw = self.apdu.transmit(b)
            if sw != 0x9000:
                return data, sw
        return self._with_get_response(blocks[-1])

    def es10(self, request: bytes) -> bytes:
        data, sw = self.transceive(request)
        if sw != 0x9000:
            raise CardError(sw, "ES10 %s" % request[:2].hex().upper())
        return data

    def es10_tlv(self, request: bytes) -> der.Tlv:
        return der.decode(self.es10(request))


def pki_files(pki: Union[str, dict]) -> dict:
    """Identity file paths (euicc_cert, euicc_key, eum_cert, ci_certs) from: a directory in
    gen-pki.py's layout, the dict esimtest.pki.generate() returns, or such a dict itself."""
    if isinstance(pki, dict) and "euicc_cert" in pki:
        return pki
    if isinstance(pki, dict):
        return {"euicc_cert": pki["euicc"], "euicc_key": pki["euicc_key"], "eum_cert": pki["eum"], "ci_certs": [pki["ci"]]}
    d = str(pki)
    return {
        "euicc_cert": os.path.join(d, "euicc.der"),
        "euicc_key": os.path.join(d, "euicc-key.pem"),
        "eum_cert": os.path.join(d, "eum.der"),
        "ci_certs": [os.path.join(d, "ci.der")],
    }


class SimProcess:
    """A running esim-sim.py; paths of its sockets in .control, .apdu_socket, .pty, .mbim_pty,
    .qmi_proxy_socket (abstract name), .state_path, its stderr in .log_path."""

    def __init__(self, argv: list, tmpdir: str, control: str, apdu_socket: Optional[str], pty: Optional[str],
                 qmi_proxy_socket: Optional[str], state_path: Optional[str], log_path: str, ready_timeout: float,
                 at_pty: Optional[str] = None):
        self.argv = argv
        self.tmpdir = tmpdir
        self.control = control
        self.apdu_socket = apdu_socket
        self.pty = pty
        self.mbim_pty: Optional[str] = None
        self.at_pty = at_pty
        self.qmi_proxy_socket = qmi_proxy_socket
        self.state_path = state_path
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            line = self.proc.stdout.readline()
            if line.strip() == b"READY" or not line:
                break
        if line.strip() != b"READY":
            self.kill()
            raise RuntimeError("esim-sim did not become ready; log:\n" + self.log())

    def log(self) -> str:
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def ctl(self) -> SimControl:
        return SimControl(self.control)

    def apdu(self) -> ApduClient:
        return ApduClient(self.apdu_socket)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (tests crash-safety of the state file)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def start_sim(tmpdir: str, pki_paths: Union[str, dict], *, state: bool = True, apdu_socket: bool = True,
              pty: bool = False, qmi_proxy_socket: Union[bool, str] = False, mbim_pty: bool = False,
              at_pty: bool = False, at_quirks: Sequence[str] = (), log_level: str = "info",
              ready_timeout: float = 30.0, extra_args: Sequence[str] = (),
              prefix: Sequence[str] = (), **options) -> SimProcess:
    """Spawn the simulator with its sockets in tmpdir and wait for READY. Other keyword options
    become command-line flags (total_memory=4096 → --total-memory 4096; True → bare flag; a list
    → the flag repeated). @prefix runs it through another command (the pcscd rig's nsenter)."""
    files = pki_files(pki_paths)
    control = os.path.join(tmpdir, "sim-control")
    apdu_path = os.path.join(tmpdir, "sim-apdu") if apdu_socket else None
    pty_path = os.path.join(tmpdir, "sim-pty") if pty else None
    mbim_path = os.path.join(tmpdir, "sim-mbim") if mbim_pty else None
    at_path = os.path.join(tmpdir, "sim-at") if at_pty else None
    if qmi_proxy_socket is True:
        qmi_proxy_socket = "esim-sim-" + uuid.uuid4().hex[:12]
    state_path = os.path.join(tmpdir, "sim-state.json") if state else None
    argv = list(prefix) + [PYTHON, SIM_SCRIPT, "--euicc-cert", files["euicc_cert"], "--euicc-key", files["euicc_key"],
            "--eum-cert", files["eum_cert"], "--control", control, "--log-level", log_level]
    for ci in files["ci_certs"]:
        argv += ["--ci-cert", ci]
    if state_path:
        argv += ["--state", state_path]
    if apdu_path:
        argv += ["--apdu-socket", apdu_path]
    if pty_path:
        argv += ["--pty", pty_path]
    if qmi_proxy_socket:
        argv += ["--qmi-proxy-socket", qmi_proxy_socket]
    if mbim_path:
        argv += ["--mbim-pty", mbim_path]
    if at_path:
        argv += ["--at-pty", at_path]
    for q in at_quirks:
        argv += ["--at-quirk", q]
    for k, v in options.items():
        if v is True:
            argv.append(_flag(k))
        elif v is False or v is None:
            continue
        elif isinstance(v, (list, tuple)):
            for item in v:
                argv += [_flag(k), str(item)]
        else:
            argv += [_flag(k), str(v)]
    argv += list(extra_args)
    proc = SimProcess(argv, tmpdir, control, apdu_path, pty_path, qmi_proxy_socket or None, state_path,
                      os.path.join(tmpdir, "esim-sim.log"), ready_timeout, at_path)
    proc.mbim_pty = mbim_path  # the symlink to the MBIM pseudo-terminal (it moves on disappear/appear)
    return proc
