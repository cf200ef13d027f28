"""A minimal MBIM host for the simulator's tests: opens the MBIM pseudo-terminal like a cdc-wdm
node and exchanges raw messages, so the tests see the exact bytes on the wire."""

from __future__ import annotations

import os
import select
import struct
import time
from typing import Optional

from esimsim import mbim as M


class MbimError(Exception):
    pass


class MbimClient:
    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.decoder = M.MbimDecoder()
        self.pending: list[bytes] = []
        self.tid = 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_tid(self) -> int:
        self.tid += 1
        return self.tid

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)

    def read_message(self, timeout: float = 10.0) -> bytes:
        """The next whole message; raises MbimError on timeout, EOFError on a hang-up."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MbimError("no MBIM message within %.1f s" % timeout)
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            except OSError as e:
                raise EOFError("port hung up: %s" % e)
            if not data:
                raise EOFError("port hung up")
            self.pending += self.decoder.feed(data)
        return self.pending.pop(0)

    def silent(self, seconds: float) -> bool:
        """True if nothing arrives for that long."""
        try:
            self.read_message(seconds)
        except MbimError:
            return True
        return False

    def open(self, max_transfer: int = 4096) -> int:
        tid = self.next_tid()
        self.write(M.message(M.OPEN, tid, struct.pack("<I", max_transfer)))
        mtype, _, rtid, status = struct.unpack("<IIII", self.read_message()[:16])
        if (mtype, rtid) != (M.OPEN_DONE, tid):
            raise MbimError("unexpected answer to OPEN: type %08x tid %d" % (mtype, rtid))
        return status

    def close_session(self) -> int:
        tid = self.next_tid()
        self.write(M.message(M.CLOSE, tid, b""))
        mtype, _, rtid, status = struct.unpack("<IIII", self.read_message()[:16])
        if (mtype, rtid) != (M.CLOSE_DONE, tid):
            raise MbimError("unexpected answer to CLOSE")
        return status

    @staticmethod
    def command_message(tid: int, service: bytes, cid: int, ctype: int, info: bytes) -> bytes:
        return M.message(M.COMMAND, tid, struct.pack("<II", 1, 0) + service + struct.pack("<III", cid, ctype, len(info))
                         + info)

    def command(self, service: bytes, cid: int, ctype: int, info: bytes = b"",
                indications: Optional[list] = None) -> tuple[int, bytes]:
        """Sends one command; returns (status, information buffer) of its COMMAND_DONE, after
        reassembling fragments. Indications that arrive meanwhile go to `indications`."""
        tid = self.next_tid()
        self.write(self.command_message(tid, service, cid, ctype, info))
        return self.wait_done(tid, service, cid, indications)

    def wait_done(self, tid: int, service: bytes, cid: int, indications: Optional[list] = None) -> tuple[int, bytes]:
        payload = b""
        expected = 0
        while True:
            raw = self.read_message()
            mtype, length, rtid = struct.unpack_from("<III", raw)
            if mtype == M.INDICATE_STATUS:
                if indications is not None:
                    indications.append(raw)
                continue
            if mtype == M.FUNCTION_ERROR:
                raise MbimError("function error %d for tid %d" % (struct.unpack_from("<I", raw, 12)[0], rtid))
            if mtype != M.COMMAND_DONE or rtid != tid:
                raise MbimError("unexpected message type %08x tid %d" % (mtype, rtid))
            total, current = struct.unpack_from("<II", raw, 12)
            if current != expected:
                raise MbimError("fragment %d, expected %d" % (current, expected))
            payload += raw[20:]
            expected += 1
            if expected == total:
                break
        if payload[:16] != service or struct.unpack_from("<I", payload, 16)[0] != cid:
            raise MbimError("answer for another service or CID")
        status, info_len = struct.unpack_from("<II", payload, 20)
        info = payload[28:]
        if info_len != len(info):
            raise MbimError("InformationBufferLength %d for %d bytes" % (info_len, len(info)))
        return status, info


def indication_of(raw: bytes) -> tuple[bytes, int, bytes]:
    """(service, cid, information buffer) of a single-fragment INDICATE_STATUS."""
    service = raw[20:36]
    cid, length = struct.unpack_from("<II", raw, 36)
    return service, cid, raw[44 : 44 + length]


def utf16_at(info: bytes, pair_offset: int) -> str:
    offset, size = struct.unpack_from("<II", info, pair_offset)
    return info[offset : offset + size].decode("utf-16-le")
