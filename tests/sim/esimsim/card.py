"""The card's APDU layer: logical channels, SELECT, STORE DATA reassembly, GET RESPONSE, faults."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Hashable, Optional

from esimtest import der

from . import codes as C
from .euicc import Euicc
from .faults import Faults

log = logging.getLogger("esim-sim.card")

MAX_CHANNEL = 19
TRACE_LENGTH = 4096
DEFAULT_ISDR_AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def channel_of_cla(cla: int) -> int:
    """ETSI TS 102 221 §10.1.1: first interindustry/proprietary class (bit 7 clear) codes
    channels 0..3 in b1-b2; further class (bit 7 set) codes 4..19 in b1-b4."""
    if cla & 0x40:
        return 4 + (cla & 0x0F)
    return cla & 0x03


@dataclass
class Channel:
    number: int
    owner: Optional[Hashable] = None
    selected: bool = False
    sd_buf: bytearray = field(default_factory=bytearray)
    sd_next: Optional[int] = None
    pending: bytes = b""

    def drop_partial(self) -> None:
        self.sd_buf = bytearray()
        self.sd_next = None


@dataclass
class Transmit:
    """A response to send (None: drop the connection instead) and whether the card resets after."""

    response: Optional[bytes]
    reset_after: bool = False


class Counters:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.apdus = {"qmi": 0, "pty": 0, "apdu": 0, "mbim": 0, "at": 0, "vpcd": 0}
        self.bytes_in = {"qmi": 0, "pty": 0, "apdu": 0, "mbim": 0, "at": 0, "vpcd": 0}
        self.bytes_out = {"qmi": 0, "pty": 0, "apdu": 0, "mbim": 0, "at": 0, "vpcd": 0}
        self.store_data_blocks = 0
        self.store_data_sizes: dict[int, int] = {}
        self.store_data_max = 0
        self.commands = 0
        self.get_responses = 0
        self.channels_opened = 0
        self.channels_closed = 0
        self.card_resets = 0
        self.drops = {"qmi": 0, "pty": 0, "apdu": 0, "mbim": 0, "at": 0, "vpcd": 0}
        self.qmi_messages: dict[str, int] = {}
        self.mbim_messages: dict[str, int] = {}
        self.connections = {"qmi": 0, "pty": 0, "apdu": 0, "mbim": 0, "at": 0, "vpcd": 0, "control": 0}
        self.cla_channel_mismatch = 0
        # The card's own time per APDU as the fronts that time it see it (QMI): from the request
        # read to its answer ready, any injected delay included (ms, summed), and how many.
        self.apdu_time_ms = {"qmi": 0.0}
        self.apdus_timed = {"qmi": 0}


class Card:
    def __init__(self, euicc: Euicc, faults: Faults, counters: Counters, isdr_aid: bytes = DEFAULT_ISDR_AID,
                 get_response: bool = False):
        self.euicc = euicc
        self.faults = faults
        self.counters = counters
        self.isdr_aid = isdr_aid
        self.get_response = get_response
        # Strict Le, as some T=0 cards: a SELECT whose Le (00) is not the FCI's length is
        # answered 6Cxx, and the host must send it again with Le = xx.
        self.wrong_le = False
        # With get_response: every response is announced 6100 ("more data", no count), as a card
        # that leaves the count to Le; with wrong_le too, the GET RESPONSE of Le 00 is then
        # answered 6Cxx with the exact length.
        self.announce_6100 = False
        self.powered = True
        # No ISD-R answers (a plain SIM, or the modem reaches another slot's plain SIM): SELECT
        # of the ISD-R AID is 6A82, as on any UICC without one.
        self.plain = False
        self.channels: dict[int, Channel] = {0: Channel(0)}
        # APDU headers and status words (never payloads: they carry matching IDs and hashCc).
        self.trace: deque = deque(maxlen=TRACE_LENGTH)
        self.trace_count = 0

    # ------------------------------------------------------------ channels and reset
    def fci(self) -> bytes:
        """SELECT response of the ISD-R: FCI template with the ISD-R proprietary template E0
        (SVN in 82), where LPAs read the SGP.22 version."""
        return der.encode(
            0x6F,
            [
                der.encode(0x84, self.isdr_aid),
                der.encode(0xA5, der.encode(0x9F65, b"\xff")),
                der.encode(0xE0, der.encode(0x82, self.euicc.options.svn)),
            ],
        )

    def open_channel(self, frontend: str, owner: Optional[Hashable]) -> tuple[Optional[int], int]:
        refused = self.faults.refuse_channel(frontend)
        if refused is not None:
            return None, refused
        for n in range(1, MAX_CHANNEL + 1):
            if n not in self.channels:
                self.channels[n] = Channel(n, owner)
                self.counters.channels_opened += 1
                log.debug("channel %d opened", n)
                return n, C.SW_OK
        return None, C.SW_FUNC_NOT_SUPPORTED

    def close_channel(self, n: int) -> bool:
        if n == 0 or n not in self.channels:
            return False
        del self.channels[n]
        self.counters.channels_closed += 1
        self.euicc.channel_closed(n)
        log.debug("channel %d closed", n)
        return True

    def close_owned(self, owner: Hashable) -> None:
        for n in [n for n, ch in self.channels.items() if ch.owner == owner and n != 0]:
            self.close_channel(n)

    def reset(self) -> None:
        """Cold/warm reset: every logical channel closes, the basic channel loses its selection."""
        for n in [n for n in self.channels if n != 0]:
            self.close_channel(n)
        self.channels[0] = Channel(0)
        self.counters.card_resets += 1
        self.euicc.card_reset()
        log.info("card reset")

    def select_isdr(self, n: int, aid: bytes) -> tuple[bytes, int]:
        ch = self.channels[n]
        if self.plain or aid != self.isdr_aid:
            ch.selected = False
            return b"", C.SW_FILE_NOT_FOUND
        ch.selected = True
        ch.drop_partial()
        return self.fci(), C.SW_OK

    # ------------------------------------------------------------ APDUs
    def transmit(self, apdu: bytes, frontend: str, owner: Optional[Hashable] = None, channel: Optional[int] = None) -> Transmit:
        """One command APDU from a front-end. `channel` is the modem's channel TLV (QMI), which
        takes precedence over the CLA bits as a modem rewrites the CLA."""
        self.counters.apdus[frontend] += 1
        self.counters.bytes_in[frontend] += len(apdu)
        record = self._trace(apdu, frontend, channel)
        drop, fault_sw = self.faults.on_apdu(frontend)
        if drop:
            if drop.spec.get("executed") and self.powered:
                # The card did the work; the answer is what gets lost.
                self._execute(apdu, frontend, owner, channel)
            self.counters.drops[frontend] += 1
            record["sw"] = None
            if drop.spec.get("vanish"):
                self.faults.vanish()
            return Transmit(None)
        if fault_sw is not None:
            resp, reset_after = _sw(fault_sw), False
        elif not self.powered:
            resp, reset_after = _sw(C.SW_TECHNICAL), False
        else:
            installs = self.euicc.download.install_count
            data, sw, reset_after = self._execute(apdu, frontend, owner, channel)
            lost = self.faults.on_install(frontend) if self.euicc.download.install_count != installs else None
            if lost:
                self.counters.drops[frontend] += 1
                record["sw"] = None
                if lost.spec.get("vanish"):
                    self.faults.vanish()
                return Transmit(None)
            if data:
                data = self.faults.corrupt(frontend, data)
            resp = data + _sw(sw)
        resp = self.faults.corrupt_apdu(frontend, resp)
        record["sw"] = resp[-2:].hex().upper()
        record["len"] = len(resp) - 2
        return self._out(frontend, resp, reset_after)

    def _trace(self, apdu: bytes, frontend: str, channel: Optional[int]) -> dict:
        self.trace_count += 1
        record = {"n": self.trace_count, "frontend": frontend, "channel": channel, "header": apdu[:4].hex().upper(),
                  "lc": apdu[4] if len(apdu) > 5 else 0, "tag": None, "t": time.monotonic()}
        # The ES10 function (or BPP part) a STORE DATA sequence starts with: its first block's tag.
        if len(apdu) > 6 and apdu[1] == 0xE2 and apdu[3] == 0:
            try:
                record["tag"] = "%X" % der.decode_header(apdu[5 : 5 + apdu[4]], 0)[0]
            except der.DerError:
                pass
        self.trace.append(record)
        return record

    def trace_view(self, reset: bool = False) -> list[dict]:
        out = list(self.trace)
        if reset:
            self.trace.clear()
            self.trace_count = 0
        return out

    def _out(self, frontend: str, resp: bytes, reset_after: bool = False) -> Transmit:
        self.counters.bytes_out[frontend] += len(resp)
        return Transmit(resp, reset_after)

    def _respond(self, ch: Channel, data: bytes) -> tuple[bytes, int]:
        if self.get_response and data:
            ch.pending = data
            return b"", 0x6100 if self.announce_6100 else 0x6100 | (min(len(data), 256) & 0xFF)
        return data, C.SW_OK

    def _execute(self, apdu: bytes, frontend: str, owner, channel: Optional[int]) -> tuple[bytes, int, bool]:
        if len(apdu) < 4:
            return b"", C.SW_WRONG_LENGTH, False
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        body = apdu[4:]
        if len(body) <= 1:
            data, le = b"", (body[0] if body else None)
        else:
            lc = body[0]
            if lc == 0 or len(body) not in (1 + lc, 2 + lc):
                return b"", C.SW_WRONG_LENGTH, False
            data = body[1 : 1 + lc]
            le = body[1 + lc] if len(body) == 2 + lc else None
        if cla == 0xFF:
            return b"", C.SW_CLA_NOT_SUPPORTED, False
        n = channel_of_cla(cla)
        if channel is not None:
            if channel != n:
                self.counters.cla_channel_mismatch += 1
            n = channel
        ch = self.channels.get(n)
        if ch is None:
            return b"", C.SW_CHANNEL_NOT_SUPPORTED, False
        log.debug("APDU ch=%d %02X %02X %02X %02X Lc=%d", n, cla, ins, p1, p2, len(data))
        proprietary = bool(cla & 0x80)

        if ins == 0xC0:
            # Either class: lpac sends GET RESPONSE with the proprietary one and cards accept it.
            self.counters.get_responses += 1
            if not ch.pending:
                return b"", C.SW_CONDITIONS, False
            want = 256 if not le else le
            if self.wrong_le and le is not None and want > len(ch.pending):
                # A strict T=0 card: Le must be what it has (ISO/IEC 7816-3 §10.3.3).
                return b"", 0x6C00 | (len(ch.pending) & 0xFF), False
            chunk, ch.pending = ch.pending[:want], ch.pending[want:]
            if not ch.pending:
                sw = C.SW_OK
            else:
                sw = 0x6100 if self.announce_6100 else 0x6100 | (min(len(ch.pending), 256) & 0xFF)
            return chunk, sw, False
        ch.pending = b""

        if ins == 0x70 and not proprietary:
            if p1 == 0x00:
                if p2 != 0x00:
                    return b"", C.SW_WRONG_P1P2, False
                num, sw = self.open_channel(frontend, owner)
                return (bytes([num]), sw, False) if num is not None else (b"", sw, False)
            if p1 == 0x80:
                target = p2 or n
                if target == 0 or not self.close_channel(target):
                    return b"", C.SW_WRONG_P1P2, False
                return b"", C.SW_OK, False
            return b"", C.SW_WRONG_P1P2, False
        if ins == 0xA4 and not proprietary:
            if p1 != 0x04:
                return b"", C.SW_FILE_NOT_FOUND, False
            fci, sw = self.select_isdr(n, bytes(data))
            if sw != C.SW_OK or p2 & 0x0C == 0x0C:
                return b"", sw, False
            if self.wrong_le and le is not None and (le or 256) != len(fci):
                return b"", 0x6C00 | (len(fci) & 0xFF), False
            out, sw = self._respond(ch, fci)
            return out, sw, False
        if ins == 0xE2 and proprietary:
            return self._store_data(ch, frontend, p1, p2, bytes(data))
        if ins == 0xAA and proprietary:
            # TERMINAL CAPABILITY: accepted, nothing to keep.
            return b"", C.SW_OK, False
        if ins == 0xF2 and proprietary:
            return b"", C.SW_OK, False
        return b"", C.SW_INS_NOT_SUPPORTED, False

    def _store_data(self, ch: Channel, frontend: str, p1: int, p2: int, data: bytes) -> tuple[bytes, int, bool]:
        if not ch.selected:
            return b"", C.SW_INS_NOT_SUPPORTED, False
        if self.faults.lc_limit(frontend, len(data)):
            ch.drop_partial()
            return b"", C.SW_WRONG_LENGTH, False
        if p1 not in (0x11, 0x91):
            ch.drop_partial()
            return b"", C.SW_WRONG_P1P2, False
        expected = ch.sd_next if ch.sd_next is not None else 0
        if p2 != expected:
            log.info("STORE DATA block %d, expected %d: command dropped", p2, expected)
            ch.drop_partial()
            return b"", C.SW_WRONG_P1P2, False
        if p2 == 0:
            ch.sd_buf = bytearray()
            fault_sw = self.faults.on_first_block(frontend, data)
            if fault_sw is not None:
                ch.drop_partial()
                return b"", fault_sw, False
        self.counters.store_data_blocks += 1
        self.counters.store_data_sizes[len(data)] = self.counters.store_data_sizes.get(len(data), 0) + 1
        self.counters.store_data_max = max(self.counters.store_data_max, len(data))
        ch.sd_buf += data
        if p1 == 0x11:
            if p2 == 0xFF:
                ch.drop_partial()
                return b"", C.SW_WRONG_P1P2, False
            ch.sd_next = p2 + 1
            return b"", C.SW_OK, False
        request = bytes(ch.sd_buf)
        ch.drop_partial()
        self.counters.commands += 1
        try:
            first_tag = der.decode_header(request, 0)[0]
        except der.DerError:
            first_tag = None
        forced_code = forced_pir = None
        if first_tag in C.BPP_SEGMENT_TAGS:
            fault_sw = self.faults.on_bpp_segment(frontend)
            if fault_sw is not None:
                return b"", fault_sw, False
            forced_pir = self.faults.pir_error(frontend, C.BPP_SEGMENT_COMMANDS[first_tag])
        elif first_tag is not None:
            answer = self.faults.es10_answer(frontend, first_tag, request)
            if answer is not None:
                out, sw = self._respond(ch, answer)
                return out, sw, False
            fault = self.faults.es10_result(frontend, first_tag)
            forced_code = int(fault.spec["code"]) if fault is not None else None
        result = self.euicc.process(request, ch.number, forced_code, forced_pir)
        if first_tag is not None and first_tag not in C.BPP_SEGMENT_TAGS:
            late = self.faults.sw_after_executing(frontend, first_tag)
            if late is not None:
                return b"", late[0], late[1]
        if result.sw != C.SW_OK:
            return b"", result.sw, False
        out, sw = self._respond(ch, result.data)
        return out, sw, result.reset_after
