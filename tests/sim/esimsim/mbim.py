"""The fake modem's MBIM function on a pseudo-terminal: MBIM 1.0 framing (open, close, commands,
fragments, indications), Basic Connect (device caps with the IMEI, subscriber ready status, radio
state, device services), the Microsoft UICC Low Level Access service (open channel, APDU, close
channel, UICC reset, ATR), the Microsoft Basic Connect Extensions slot commands (system caps,
device slot mappings, slot info) and the QMI-over-MBIM service, whose QMUX messages go to the QMI
front's handler (qmi.py) unchanged.

Layouts: USB-IF MBIM 1.0 (errata-1) §9 for the messages and §10.5 for Basic Connect; Microsoft's
"MB low level UICC access" and "MB multi-SIM operations" pages for the MS services. The Status of
an APDU or open-channel answer carries SW1 in its lowest byte and SW2 in the next (as Windows,
ModemManager, Hermes and lpac read it: 9000 is the little-endian number 0x0090), and the MS UICC
structures give their variable fields as (size, offset), not MBIM 1.0's (offset, size)."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import tty
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import codes as C
from .card import Card, Counters
from .faults import Faults
from .qmi import DropConnection, Link, QmiFormatError, QmiModem, parse_frame

log = logging.getLogger("esim-sim.mbim")

# Message types (MBIM 1.0 §9.1)
OPEN = 0x00000001
CLOSE = 0x00000002
COMMAND = 0x00000003
HOST_ERROR = 0x00000004
OPEN_DONE = 0x80000001
CLOSE_DONE = 0x80000002
COMMAND_DONE = 0x80000003
FUNCTION_ERROR = 0x80000004
INDICATE_STATUS = 0x80000007

# Protocol errors (MBIM 1.0 §9.4.4)
E_TIMEOUT_FRAGMENT = 1
E_FRAGMENT_OUT_OF_SEQUENCE = 2
E_LENGTH_MISMATCH = 3
E_NOT_OPENED = 5
E_UNKNOWN = 6

# Status codes (MBIM 1.0 §9.4.5 and the MS UICC page)
S_SUCCESS = 0
S_BUSY = 1
S_FAILURE = 2
S_SIM_NOT_INSERTED = 3
S_NO_DEVICE_SUPPORT = 9
S_NOT_INITIALIZED = 14
S_INVALID_PARAMETERS = 21
S_OPERATION_NOT_ALLOWED = 28
S_MS_NO_LOGICAL_CHANNELS = 0x87430001
S_MS_SELECT_FAILED = 0x87430002
S_MS_INVALID_LOGICAL_CHANNEL = 0x87430003

QUERY = 0
SET = 1

UUID_BASIC_CONNECT = bytes.fromhex("a289cc33bcbb8b4fb6b0133ec2aae6df")
UUID_MS_BASIC_CONNECT_EXT = bytes.fromhex("3d01dcc5fef54d050d3abef7058e9aaf")
UUID_MS_UICC_LOW_LEVEL = bytes.fromhex("c2f6588ef0374bc98665f4d44bd09367")
UUID_QMI = bytes.fromhex("d1a30bc2f97a6e43bf65c7e24fb0f0d3")

SERVICE_NAMES = {
    UUID_BASIC_CONNECT: "basic-connect",
    UUID_MS_BASIC_CONNECT_EXT: "ms-basic-connect-extensions",
    UUID_MS_UICC_LOW_LEVEL: "ms-uicc-low-level-access",
    UUID_QMI: "qmi",
}

# Basic Connect CIDs
BC_DEVICE_CAPS = 1
BC_SUBSCRIBER_READY_STATUS = 2
BC_RADIO_STATE = 3
BC_DEVICE_SERVICES = 16
BC_DEVICE_SERVICE_SUBSCRIBE_LIST = 19
# MS Basic Connect Extensions CIDs
BCX_SYS_CAPS = 5
BCX_DEVICE_SLOT_MAPPINGS = 7
BCX_SLOT_INFO_STATUS = 8
# MS UICC Low Level Access CIDs
UICC_ATR = 1
UICC_OPEN_CHANNEL = 2
UICC_CLOSE_CHANNEL = 3
UICC_APDU = 4
UICC_TERMINAL_CAPABILITY = 5
UICC_RESET = 6
# QMI service
QMI_MSG = 1

CID_NAMES = {
    (UUID_BASIC_CONNECT, BC_DEVICE_CAPS): "device-caps",
    (UUID_BASIC_CONNECT, BC_SUBSCRIBER_READY_STATUS): "subscriber-ready-status",
    (UUID_BASIC_CONNECT, BC_RADIO_STATE): "radio-state",
    (UUID_BASIC_CONNECT, BC_DEVICE_SERVICES): "device-services",
    (UUID_BASIC_CONNECT, BC_DEVICE_SERVICE_SUBSCRIBE_LIST): "device-service-subscribe-list",
    (UUID_MS_BASIC_CONNECT_EXT, BCX_SYS_CAPS): "sys-caps",
    (UUID_MS_BASIC_CONNECT_EXT, BCX_DEVICE_SLOT_MAPPINGS): "device-slot-mappings",
    (UUID_MS_BASIC_CONNECT_EXT, BCX_SLOT_INFO_STATUS): "slot-info-status",
    (UUID_MS_UICC_LOW_LEVEL, UICC_ATR): "atr",
    (UUID_MS_UICC_LOW_LEVEL, UICC_OPEN_CHANNEL): "open-channel",
    (UUID_MS_UICC_LOW_LEVEL, UICC_CLOSE_CHANNEL): "close-channel",
    (UUID_MS_UICC_LOW_LEVEL, UICC_APDU): "apdu",
    (UUID_MS_UICC_LOW_LEVEL, UICC_TERMINAL_CAPABILITY): "terminal-capability",
    (UUID_MS_UICC_LOW_LEVEL, UICC_RESET): "reset",
    (UUID_QMI, QMI_MSG): "msg",
}

# Subscriber ready states, UICC slot states
READY_INITIALIZED = 1
READY_SIM_NOT_INSERTED = 2
READY_NO_ESIM_PROFILE = 7
SLOT_OFF = 2
SLOT_EMPTY = 3
SLOT_ACTIVE_ESIM = 7
SLOT_ACTIVE_ESIM_NO_PROFILES = 8

CLASS_BYTE_INTER_INDUSTRY = 0
CLASS_BYTE_EXTENDED = 1

HEADER = 12  # type, length, transaction id
FRAGMENT_HEADER = 8  # total, current
MAX_MESSAGE = 64 * 1024
ATR = bytes.fromhex("3B9F96801FC78031E073FE211B674A4C753034054BA9")
# Longest answer the function assembles from 61xx chunks before it gives up on a card.
MAX_RESPONSE = 64 * 1024


class MbimFormatError(Exception):
    pass


def sw_status(sw: int) -> int:
    """The Status field of an APDU/open-channel answer: SW1 in the low byte, SW2 in the next."""
    return (sw >> 8) | ((sw & 0xFF) << 8)


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


class InfoBuffer:
    """Builds an information buffer: a fixed part of 32-bit fields and (offset, size) pairs, then
    the variable data they point to, each item padded to 4 bytes (MBIM 1.0 §10.3)."""

    def __init__(self):
        self.fixed: list = []  # int, or ("ref", bytes)

    def u32(self, v: int) -> "InfoBuffer":
        self.fixed.append(struct.pack("<I", v))
        return self

    def u64(self, v: int) -> "InfoBuffer":
        self.fixed.append(struct.pack("<Q", v))
        return self

    def ref(self, data: bytes) -> "InfoBuffer":
        """An MBIM 1.0 OL_PAIR: offset, then size."""
        self.fixed.append(("ref", data))
        return self

    def ref_sized(self, data: bytes) -> "InfoBuffer":
        """The MS UICC Low Level Access structures' pair: size, then offset."""
        self.fixed.append(("sized", data))
        return self

    def build(self) -> bytes:
        size = sum(8 if isinstance(f, tuple) else len(f) for f in self.fixed)
        head = bytearray()
        tail = bytearray()
        for f in self.fixed:
            if isinstance(f, tuple):
                kind, data = f
                offset = size + len(tail) if data else 0
                if kind == "ref":
                    head += struct.pack("<II", offset, len(data))
                else:
                    head += struct.pack("<II", len(data), offset)
                tail += data + b"\0" * (-len(data) % 4)
            else:
                head += f
        return bytes(head + tail)


class Reader:
    """Reads the fixed fields and referenced data of a received information buffer."""

    def __init__(self, info: bytes):
        self.info = info
        self.pos = 0

    def u32(self) -> int:
        if self.pos + 4 > len(self.info):
            raise MbimFormatError("information buffer too short")
        v = struct.unpack_from("<I", self.info, self.pos)[0]
        self.pos += 4
        return v

    def ref(self, sized: bool = False) -> bytes:
        """The data an (offset, size) pair points to; sized=True: a (size, offset) pair."""
        offset, size = self.u32(), self.u32()
        if sized:
            offset, size = size, offset
        if size == 0:
            return b""
        if offset + size > len(self.info) or offset < self.pos:
            raise MbimFormatError("reference (%d, %d) outside the information buffer" % (offset, size))
        return self.info[offset : offset + size]


def message(mtype: int, tid: int, body: bytes) -> bytes:
    return struct.pack("<III", mtype, HEADER + len(body), tid) + body


def fragments(mtype: int, tid: int, payload: bytes, max_transfer: int) -> list[bytes]:
    """A command-done or indication (payload = what follows the fragment header), cut so that no
    fragment is longer than the host's MaxControlTransfer (MBIM 1.0 §9.2)."""
    room = max(max_transfer - HEADER - FRAGMENT_HEADER, 1)
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    return [message(mtype, tid, struct.pack("<II", len(chunks), i) + chunk) for i, chunk in enumerate(chunks)]


class MbimDecoder:
    """Splits the byte stream of a pseudo-terminal into MBIM messages by their length field (a
    real cdc-wdm read returns one message; a pty has no boundaries). MBIM has no marker to
    resynchronise on: a length that cannot be right throws the buffer away, as libmbim does."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER:
            length = struct.unpack_from("<I", self.buf, 4)[0]
            if length < HEADER or length > MAX_MESSAGE:
                log.warning("discarding %d bytes: impossible MBIM message length %d", len(self.buf), length)
                self.buf.clear()
                raise MbimFormatError("bad message length %d" % length)
            if len(self.buf) < length:
                break
            out.append(bytes(self.buf[:length]))
            del self.buf[:length]
        return out


@dataclass
class Partial:
    total: int
    next: int
    data: bytearray = field(default_factory=bytearray)


class MbimFunction:
    """The modem's MBIM function behind one control port: session state and services."""

    def __init__(self, card: Card, faults: Faults, counters: Counters, qmi: QmiModem, imei: str,
                 slots: int, card_slot: int, enabled_iccid: Callable[[], Optional[str]],
                 uicc_reset: bool = True, mapped_slot: Optional[int] = None, non_telecom_open: bool = False,
                 slow_card_read: Optional[str] = None):
        self.card = card
        self.faults = faults
        self.counters = counters
        self.qmi = qmi
        self.imei = imei
        self.slots = slots  # 0: no MS Basic Connect Extensions slot commands
        self.card_slot = card_slot if slots else 0  # 0-based index of the slot holding the eUICC
        # 0-based, the slot executor 0 uses: the card's unless told otherwise
        self.mapped_slot = self.card_slot if mapped_slot is None or not slots else mapped_slot
        self.enabled_iccid = enabled_iccid
        self.uicc_reset = uicc_reset
        self.non_telecom_open = non_telecom_open
        # After a UICC reset: how the ready status answers while the card is being read, and for
        # how many queries (ModemManager's mm-broadband-modem-mbim.c waits through both: MBIM
        # status NotInitialized, and ready state SimNotInserted, "the MC7710 may use this while
        # the SIM is not ready yet").
        self.slow_read_how, self.slow_read_queries = None, 0
        if slow_card_read:
            how, _, n = slow_card_read.partition(":")
            if how not in ("not-initialized", "sim-not-inserted") or not n.isdigit():
                raise ValueError("--mbim-slow-card-read: not-initialized:N or sim-not-inserted:N")
            self.slow_read_how, self.slow_read_queries = how, int(n)
        self.reading_card = 0  # ready status queries still to answer before the card is back
        self.radio_on = True
        self.pass_through = 0
        self.opened = False
        self.max_transfer = 4096
        self.partial: dict[int, Partial] = {}
        self.link = Link("mbim", needs_proxy_open=False)
        self.channel_groups: dict[int, int] = {}  # logical channel -> channel group
        self.next_indication_tid = 1

    # ---------------------------------------------------------------- session
    def reset_session(self) -> None:
        """MBIM OPEN or CLOSE: the function forgets the host's state (QMI clients, channels)."""
        self.partial.clear()
        self.qmi.release_link(self.link)
        self.link = Link("mbim", needs_proxy_open=False)
        for n in list(self.channel_groups):
            self.card.close_channel(n)
        self.channel_groups.clear()

    def map_slot(self, slot: int) -> bool:
        """Maps executor 0 to SLOT (0-based); False when it already is."""
        if slot == self.mapped_slot:
            return False
        log.info("executor 0 mapped to slot %d", slot)
        self.mapped_slot = slot
        # The modem leaves the card it used and reads the one it now maps.
        self.card.reset()
        self.card_was_reset()
        return True

    def card_reachable(self) -> bool:
        return self.card.powered and self.mapped_slot == self.card_slot

    def card_was_reset(self) -> None:
        """Forgets the channels the card no longer has (a refresh, a UICC reset, the radio, the
        control socket's card_reset all close them), even if another front reopened the number."""
        channels = self.card.channels
        self.channel_groups = {n: g for n, g in self.channel_groups.items()
                               if n in channels and channels[n].owner == ("mbim", g)}

    def _count(self, name: str) -> None:
        self.counters.mbim_messages[name] = self.counters.mbim_messages.get(name, 0) + 1

    # ---------------------------------------------------------------- messages
    async def handle(self, raw: bytes) -> tuple[list[bytes], bool]:
        """One message from the host: (messages to write, reset the card after writing them)."""
        mtype, length, tid = struct.unpack_from("<III", raw, 0)
        if length != len(raw):
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_LENGTH_MISMATCH))], False
        if mtype == OPEN:
            self._count("open")
            if len(raw) < HEADER + 4:
                return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_LENGTH_MISMATCH))], False
            self.max_transfer = struct.unpack_from("<I", raw, HEADER)[0]
            self.reset_session()
            self.opened = True
            log.info("MBIM open (MaxControlTransfer %d)", self.max_transfer)
            return [message(OPEN_DONE, tid, struct.pack("<I", S_SUCCESS))], False
        if mtype == CLOSE:
            self._count("close")
            self.reset_session()
            self.opened = False
            log.info("MBIM close")
            return [message(CLOSE_DONE, tid, struct.pack("<I", S_SUCCESS))], False
        if mtype == HOST_ERROR:
            self._count("host-error")
            code = struct.unpack_from("<I", raw, HEADER)[0] if len(raw) >= HEADER + 4 else -1
            log.warning("host reported MBIM error %d for transaction %d", code, tid)
            self.partial.pop(tid, None)
            return [], False
        if mtype != COMMAND:
            self._count("unexpected")
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_UNKNOWN))], False
        if not self.opened:
            self._count("not-opened")
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_NOT_OPENED))], False
        if len(raw) < HEADER + FRAGMENT_HEADER:
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_LENGTH_MISMATCH))], False
        total, current = struct.unpack_from("<II", raw, HEADER)
        chunk = raw[HEADER + FRAGMENT_HEADER :]
        if total > 1 or current > 0:
            p = self.partial.get(tid)
            if current == 0:
                p = self.partial[tid] = Partial(total, 0)
            if p is None or current != p.next or total != p.total:
                self.partial.pop(tid, None)
                return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_FRAGMENT_OUT_OF_SEQUENCE))], False
            p.data += chunk
            p.next += 1
            if p.next < p.total:
                return [], False
            del self.partial[tid]
            chunk = bytes(p.data)
        if len(chunk) < 28:
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_LENGTH_MISMATCH))], False
        service = chunk[:16]
        cid, ctype, info_len = struct.unpack_from("<III", chunk, 16)
        info = chunk[28:]
        if info_len != len(info):
            return [message(FUNCTION_ERROR, tid, struct.pack("<I", E_LENGTH_MISMATCH))], False
        name = "%s/%s/%s" % (SERVICE_NAMES.get(service, service.hex()), CID_NAMES.get((service, cid), str(cid)),
                             "set" if ctype == SET else "query")
        self._count(name)
        log.debug("MBIM %s tid=%d", name, tid)
        try:
            status, out, after = await self._command(service, cid, ctype, info)
        except MbimFormatError as e:
            log.warning("%s: %s", name, e)
            status, out, after = S_INVALID_PARAMETERS, b"", None
        payload = service + struct.pack("<III", cid, status, len(out)) + out
        msgs = fragments(COMMAND_DONE, tid, payload, self.max_transfer)
        reset_after = False
        if after == "reset":
            reset_after = True
        elif after is not None:
            msgs += after
        return msgs, reset_after

    def indication(self, service: bytes, cid: int, info: bytes) -> list[bytes]:
        """An unsolicited INDICATE_STATUS (e.g. the subscriber state after a UICC reset)."""
        if not self.opened:
            return []
        tid = self.next_indication_tid
        self.next_indication_tid = self.next_indication_tid % 0xFFFFFFFF + 1
        payload = service + struct.pack("<II", cid, len(info)) + info
        return fragments(INDICATE_STATUS, tid, payload, self.max_transfer)

    def ready_status_indication(self) -> list[bytes]:
        return self.indication(UUID_BASIC_CONNECT, BC_SUBSCRIBER_READY_STATUS, self._ready_status())

    async def _command(self, service: bytes, cid: int, ctype: int, info: bytes):
        """(status, information buffer, what follows: None, "reset" or indications)."""
        if service == UUID_BASIC_CONNECT:
            return self._basic_connect(cid, ctype, info)
        if service == UUID_MS_UICC_LOW_LEVEL:
            return await self._uicc(cid, ctype, info)
        if service == UUID_MS_BASIC_CONNECT_EXT and self.slots:
            return self._slots(cid, ctype, info)
        if service == UUID_QMI and cid == QMI_MSG and ctype == SET:
            return await self._qmi(info)
        return S_NO_DEVICE_SUPPORT, b"", None

    # ---------------------------------------------------------------- Basic Connect
    def _basic_connect(self, cid: int, ctype: int, info: bytes):
        if cid == BC_DEVICE_CAPS and ctype == QUERY:
            out = (InfoBuffer().u32(1)  # device type: embedded
                   .u32(1)  # cellular class: GSM
                   .u32(1)  # voice class: no voice
                   .u32(2)  # SIM class: removable
                   .u32(0x3F)  # data classes GPRS..LTE
                   .u32(0)  # SMS caps
                   .u32(0x1)  # control caps: manual registration
                   .u32(1)  # max sessions
                   .ref(b"")  # custom data class
                   .ref(utf16(self.imei))  # device id: the IMEI for a GSM device (MBIM 1.0 §10.5.1)
                   .ref(utf16("esim-sim 1.0"))  # firmware info
                   .ref(utf16("esim-sim MBIM function"))  # hardware info
                   .build())
            return S_SUCCESS, out, None
        if cid == BC_SUBSCRIBER_READY_STATUS and ctype == QUERY:
            if self.reading_card:
                self.reading_card -= 1
                self.card.powered = not self.reading_card
                if self.slow_read_how == "not-initialized":
                    return S_NOT_INITIALIZED, b"", None
            return S_SUCCESS, self._ready_status(), None
        if cid == BC_RADIO_STATE:
            after = None
            if ctype == SET:
                want = Reader(info).u32()
                if want not in (0, 1):
                    return S_INVALID_PARAMETERS, b"", None
                if bool(want) != self.radio_on:
                    self.radio_on = bool(want)
                    # This function's radio off is CFUN=0-like: the SIM powers down with the
                    # radio, so an off/on makes the modem read the card again.
                    self.card.powered = self.radio_on
                    if not self.radio_on:
                        self.card.reset()
                        self.card_was_reset()
                    log.info("radio %s", "on" if self.radio_on else "off")
                    after = self.ready_status_indication()
            return S_SUCCESS, InfoBuffer().u32(1).u32(int(self.radio_on)).build(), after
        if cid == BC_DEVICE_SERVICES and ctype == QUERY:
            services = [(UUID_BASIC_CONNECT, [BC_DEVICE_CAPS, BC_SUBSCRIBER_READY_STATUS, BC_RADIO_STATE,
                                              BC_DEVICE_SERVICES, BC_DEVICE_SERVICE_SUBSCRIBE_LIST]),
                        (UUID_MS_UICC_LOW_LEVEL, [UICC_ATR, UICC_OPEN_CHANNEL, UICC_CLOSE_CHANNEL, UICC_APDU,
                                                  UICC_TERMINAL_CAPABILITY] + ([UICC_RESET] if self.uicc_reset else [])),
                        (UUID_QMI, [QMI_MSG])]
            if self.slots:
                services.append((UUID_MS_BASIC_CONNECT_EXT, [BCX_SYS_CAPS, BCX_DEVICE_SLOT_MAPPINGS,
                                                             BCX_SLOT_INFO_STATUS]))
            buf = InfoBuffer().u32(len(services)).u32(0)
            for uuid, cids in services:
                buf.ref(uuid + struct.pack("<III", 0, 0, len(cids)) + b"".join(struct.pack("<I", c) for c in cids))
            return S_SUCCESS, buf.build(), None
        if cid == BC_DEVICE_SERVICE_SUBSCRIBE_LIST and ctype == SET:
            # Indications are sent whatever the host subscribed to; the proxy filters per client.
            return S_SUCCESS, info, None
        return S_NO_DEVICE_SUPPORT, b"", None

    def _ready_status(self) -> bytes:
        iccid = self.enabled_iccid() if self.card_reachable() else None
        if not self.card_reachable():
            state = READY_SIM_NOT_INSERTED
        elif iccid:
            state = READY_INITIALIZED
        else:
            state = READY_NO_ESIM_PROFILE
        return InfoBuffer().u32(state).ref(b"").ref(utf16(iccid or "")).u32(0).u32(0).build()

    # ---------------------------------------------------------------- MS UICC Low Level Access
    async def _uicc(self, cid: int, ctype: int, info: bytes):
        card = self.card
        self.card_was_reset()
        if cid == UICC_ATR and ctype == QUERY:
            if not self.card_reachable():
                return S_SIM_NOT_INSERTED, b"", None
            return S_SUCCESS, InfoBuffer().ref_sized(ATR).build(), None
        if cid == UICC_TERMINAL_CAPABILITY:
            return S_SUCCESS, InfoBuffer().u32(0).build(), None
        if cid == UICC_RESET:
            if not self.uicc_reset:
                return S_NO_DEVICE_SUPPORT, b"", None
            if ctype == SET:
                action = Reader(info).u32()
                if action not in (0, 1):
                    return S_INVALID_PARAMETERS, b"", None
                self.pass_through = action
                log.info("UICC reset (pass-through %s)", "enabled" if action else "disabled")
                card.reset()
                self.card_was_reset()
                if self.slow_read_queries:
                    self.reading_card = self.slow_read_queries
                    card.powered = False
                return S_SUCCESS, InfoBuffer().u32(self.pass_through).build(), self.ready_status_indication()
            return S_SUCCESS, InfoBuffer().u32(self.pass_through).build(), None
        if ctype != SET or cid not in (UICC_OPEN_CHANNEL, UICC_CLOSE_CHANNEL, UICC_APDU):
            return S_NO_DEVICE_SUPPORT, b"", None
        if not self.card_reachable():
            return S_SIM_NOT_INSERTED, b"", None
        if self.faults.mbim_busy():
            return S_BUSY, b"", None
        r = Reader(info)
        if cid == UICC_OPEN_CHANNEL:
            aid = r.ref(sized=True)
            p2 = r.u32()
            group = r.u32()
            if not 1 <= len(aid) <= 16 or p2 > 0xFF:
                return S_INVALID_PARAMETERS, b"", None
            n, sw = card.open_channel("mbim", ("mbim", group))
            if n is None:
                return S_MS_NO_LOGICAL_CHANNELS, InfoBuffer().u32(sw_status(sw)).u32(0).ref_sized(b"").build(), None
            fci, sw = card.select_isdr(n, aid)
            if self.non_telecom_open:
                # Qualcomm's qbi_svc_msuicc.c for a card in non-telecom mode (no telecom
                # application: an eUICC with no profile enabled) sends MANAGE CHANNEL and SELECT as
                # plain APDUs; QMI's Send APDU succeeds whatever the card answers, and
                # open_channel_s_apdu_rsp_cb_2 fills the Status from apdu[len - 1] and apdu[len]:
                # SW2, then the zero past the answer. The channel stays open either way.
                self.channel_groups[n] = group
                status = (sw & 0xFF)
                return S_SUCCESS, InfoBuffer().u32(status).u32(n).ref_sized(fci).build(), None
            if sw != C.SW_OK:
                card.close_channel(n)
                return S_MS_SELECT_FAILED, InfoBuffer().u32(sw_status(sw)).u32(0).ref_sized(b"").build(), None
            self.channel_groups[n] = group
            # P2 04 asks for the FCP template, 00 for the FCI: this card answers its FCI to both;
            # 0C asks for no data.
            data = b"" if p2 & 0x0C == 0x0C else fci
            return S_SUCCESS, InfoBuffer().u32(sw_status(C.SW_OK)).u32(n).ref_sized(data).build(), None
        if cid == UICC_CLOSE_CHANNEL:
            n = r.u32()
            group = r.u32()
            if n == 0:
                # Channel 0 closes every channel of the group (how a host cleans up after itself).
                for ch in [c for c, g in self.channel_groups.items() if g == group]:
                    card.close_channel(ch)
                    del self.channel_groups[ch]
                return S_SUCCESS, InfoBuffer().u32(sw_status(C.SW_OK)).build(), None
            if self.channel_groups.get(n) != group or n not in card.channels:
                return S_MS_INVALID_LOGICAL_CHANNEL, b"", None
            card.close_channel(n)
            del self.channel_groups[n]
            return S_SUCCESS, InfoBuffer().u32(sw_status(C.SW_OK)).build(), None
        # UICC_APDU
        received = time.monotonic()
        n = r.u32()
        secure = r.u32()
        class_type = r.u32()
        command = r.ref(sized=True)
        if n not in self.channel_groups or n not in card.channels:
            return S_MS_INVALID_LOGICAL_CHANNEL, b"", None
        if secure != 0 or class_type not in (CLASS_BYTE_INTER_INDUSTRY, CLASS_BYTE_EXTENDED) or len(command) < 4:
            return S_INVALID_PARAMETERS, b"", None
        if class_type == CLASS_BYTE_INTER_INDUSTRY and n > 3:
            return S_INVALID_PARAMETERS, b"", None
        await self.faults.hold("mbim", received)
        owner = ("mbim", self.channel_groups[n])
        t = card.transmit(command, "mbim", owner, n)
        if t.response is None:
            raise DropConnection()
        data, sw = t.response[:-2], int.from_bytes(t.response[-2:], "big")
        # The function, not the host, fetches what a T=0 card holds back (MS UICC page: "the
        # modem must issue a GET RESPONSE ... until all the data has been received").
        while sw >> 8 == 0x61 and len(data) < MAX_RESPONSE:
            cla = n if n <= 3 else 0x40 | (n - 4)
            more = card.transmit(bytes([cla, 0xC0, 0x00, 0x00, sw & 0xFF]), "mbim", owner, n)
            if more.response is None:
                raise DropConnection()
            data += more.response[:-2]
            sw = int.from_bytes(more.response[-2:], "big")
        out = InfoBuffer().u32(sw_status(sw)).ref_sized(data).build()
        return S_SUCCESS, out, ("reset" if t.reset_after else None)

    # ---------------------------------------------------------------- MS Basic Connect Extensions
    def _slots(self, cid: int, ctype: int, info: bytes):
        if cid == BCX_SYS_CAPS and ctype == QUERY:
            return S_SUCCESS, InfoBuffer().u32(1).u32(self.slots).u32(1).u64(0x0E51A51A).build(), None
        if cid == BCX_DEVICE_SLOT_MAPPINGS:
            after = None
            if ctype == SET:
                r = Reader(info)
                count = r.u32()
                if count != 1:
                    return S_INVALID_PARAMETERS, b"", None
                slot_ref = r.ref()
                if len(slot_ref) != 4:
                    return S_INVALID_PARAMETERS, b"", None
                slot = struct.unpack("<I", slot_ref)[0]
                if slot >= self.slots:
                    return S_INVALID_PARAMETERS, b"", None
                if self.map_slot(slot):
                    after = self.ready_status_indication()
            out = InfoBuffer().u32(1).ref(struct.pack("<I", self.mapped_slot)).build()
            return S_SUCCESS, out, after
        if cid == BCX_SLOT_INFO_STATUS and ctype == QUERY:
            slot = Reader(info).u32()
            if slot >= self.slots:
                return S_INVALID_PARAMETERS, b"", None
            if slot != self.card_slot:
                state = SLOT_EMPTY
            elif not self.card.powered:
                state = SLOT_OFF
            else:
                state = SLOT_ACTIVE_ESIM if self.enabled_iccid() else SLOT_ACTIVE_ESIM_NO_PROFILES
            return S_SUCCESS, InfoBuffer().u32(slot).u32(state).build(), None
        return S_NO_DEVICE_SUPPORT, b"", None

    # ---------------------------------------------------------------- QMI over MBIM
    async def _qmi(self, info: bytes):
        try:
            msg = parse_frame(info)
        except QmiFormatError as e:
            log.warning("bad QMUX frame inside MBIM: %s", e)
            return S_INVALID_PARAMETERS, b"", None
        frames, reset_after = await self.qmi.handle(self.link, msg)
        if not frames:
            return S_FAILURE, b"", None
        return S_SUCCESS, frames[0], ("reset" if reset_after else None)


class MbimPty:
    """The MBIM control port: a pseudo-terminal in raw mode whose slave path is symlinked to
    LINK. 'disappear' closes it and removes the link, as a modem leaving the USB bus takes its
    cdc-wdm node away (readers see a hang-up); 'appear' makes a new one under the same link. A
    'drop' fault does both at once: a modem that crashes and re-enumerates."""

    def __init__(self, function: MbimFunction, link_path: str, counters: Counters,
                 on_reset: Callable[[], None]):
        self.function = function
        self.link_path = link_path
        self.counters = counters
        self.on_reset = on_reset  # the card resets after an answer (refreshFlag)
        self.master: Optional[int] = None
        self.slave: Optional[int] = None
        self.decoder = MbimDecoder()
        self.queue: Optional[asyncio.Queue] = None
        self.worker: Optional[asyncio.Task] = None
        self.muted = False

    @property
    def present(self) -> bool:
        return self.master is not None

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        self.decoder = MbimDecoder()
        self.function.opened = False
        self.function.reset_session()
        name = os.ttyname(slave)
        tmp = self.link_path + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link_path)
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)
        self.worker = loop.create_task(self._work(self.queue))
        self.counters.connections["mbim"] = self.counters.connections.get("mbim", 0) + 1
        log.info("MBIM pty %s -> %s", self.link_path, name)

    def close(self) -> None:
        if self.master is None:
            return
        asyncio.get_running_loop().remove_reader(self.master)
        if self.worker:
            self.worker.cancel()
            self.worker = None
        if os.path.islink(self.link_path):
            os.unlink(self.link_path)
        # Our slave descriptor first: closing the master then hangs up every other opener.
        os.close(self.slave)
        os.close(self.master)
        self.master = self.slave = None
        self.function.opened = False
        self.function.reset_session()
        log.info("MBIM pty closed")

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if self.muted:
            return
        try:
            msgs = self.decoder.feed(data)
        except MbimFormatError:
            self.queue.put_nowait(b"")  # answered with a length-mismatch error
            return
        for m in msgs:
            self.queue.put_nowait(m)

    async def _write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view and self.master is not None:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                fut = loop.create_future()
                master = self.master
                loop.add_writer(master, lambda: fut.done() or fut.set_result(None))
                try:
                    await fut
                finally:
                    loop.remove_writer(master)

    async def send(self, msgs: list[bytes]) -> None:
        for m in msgs:
            await self._write(m)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            raw = await queue.get()
            if self.muted:
                continue
            if not raw:
                await self._write(message(FUNCTION_ERROR, 0, struct.pack("<I", E_LENGTH_MISMATCH)))
                continue
            try:
                msgs, reset_after = await self.function.handle(raw)
            except DropConnection:
                # What a dropped connection is for the QMI fronts: the modem falls off the bus
                # (its node hangs up) and comes back as a new node under the same name.
                log.info("fault: the MBIM function drops off the bus and comes back")
                self.close()
                if not self.function.faults.vanishing:  # a drop with vanish: it stays away
                    self.open()
                return
            await self.send(msgs)
            if reset_after:
                self.on_reset()
                self.function.card_was_reset()
                await self.send(self.function.ready_status_indication())
