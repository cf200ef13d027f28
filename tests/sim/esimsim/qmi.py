"""The fake modem's QMI side: QMUX framing, the CTL service, the UIM messages an LPA uses and the
DMS Get IDs that tells it the IMEI."""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from esimtest import der

from . import codes as C
from .card import Card, Counters
from .faults import Faults
from .slots import EMPTY, EUICC, PLAIN, SlotError, Slots

log = logging.getLogger("esim-sim.qmi")

QMUX_MARKER = 0x01
QMUX_FLAG_SERVICE = 0x80
SERVICE_CTL = 0x00
SERVICE_DMS = 0x02
SERVICE_UIM = 0x0B

CTL_FLAG_RESPONSE = 0x01
SVC_FLAG_RESPONSE = 0x02

CTL_GET_VERSION_INFO = 0x0021
CTL_ALLOCATE_CID = 0x0022
CTL_RELEASE_CID = 0x0023
CTL_SYNC = 0x0027
CTL_INTERNAL_PROXY_OPEN = 0xFF00

DMS_GET_IDS = 0x0025

UIM_GET_CARD_STATUS = 0x002F
UIM_POWER_OFF_SIM = 0x0030
UIM_POWER_ON_SIM = 0x0031
UIM_SEND_APDU = 0x003B
UIM_LOGICAL_CHANNEL = 0x003F
UIM_OPEN_LOGICAL_CHANNEL = 0x0042
UIM_SWITCH_SLOT = 0x0046
UIM_GET_SLOT_STATUS = 0x0047

# QmiProtocolError values (libqmi qmi-errors.h)
E_NONE = 0
E_MALFORMED_MESSAGE = 1
E_INVALID_CLIENT_ID = 7
E_MISSING_ARGUMENT = 17
E_NO_EFFECT = 26
E_INVALID_SERVICE_TYPE = 31
E_UIM_UNINITIALIZED = 37
E_INVALID_ARGUMENT = 48
E_INSUFFICIENT_RESOURCES = 68
E_INVALID_QMI_COMMAND = 71
E_SIM_FILE_NOT_FOUND = 80

NAMES = {
    (SERVICE_CTL, CTL_GET_VERSION_INFO): "ctl-get-version-info",
    (SERVICE_CTL, CTL_ALLOCATE_CID): "ctl-allocate-cid",
    (SERVICE_CTL, CTL_RELEASE_CID): "ctl-release-cid",
    (SERVICE_CTL, CTL_SYNC): "ctl-sync",
    (SERVICE_CTL, CTL_INTERNAL_PROXY_OPEN): "ctl-internal-proxy-open",
    (SERVICE_DMS, DMS_GET_IDS): "dms-get-ids",
    (SERVICE_UIM, UIM_GET_CARD_STATUS): "uim-get-card-status",
    (SERVICE_UIM, UIM_POWER_OFF_SIM): "uim-power-off-sim",
    (SERVICE_UIM, UIM_POWER_ON_SIM): "uim-power-on-sim",
    (SERVICE_UIM, UIM_SEND_APDU): "uim-send-apdu",
    (SERVICE_UIM, UIM_LOGICAL_CHANNEL): "uim-logical-channel",
    (SERVICE_UIM, UIM_OPEN_LOGICAL_CHANNEL): "uim-open-logical-channel",
    (SERVICE_UIM, UIM_SWITCH_SLOT): "uim-switch-slot",
    (SERVICE_UIM, UIM_GET_SLOT_STATUS): "uim-get-slot-status",
}

USIM_AID = bytes.fromhex("A0000000871002FF49FF0589")
# A Luhn-valid IMEI (TAC 35693803): what the modem answers to DMS Get IDs unless told otherwise.
DEFAULT_IMEI = "356938035643809"
ATR = bytes.fromhex("3B9F96801FC78031E073FE211B674A4C753034054BA9")
# The ICCID a plain SIM in another slot reports (an operator's ordinary SIM).
PLAIN_ICCID = "8944500000000000014"


class QmiFormatError(Exception):
    pass


@dataclass
class QmiMessage:
    service: int
    cid: int
    sdu_flags: int
    tid: int
    msg_id: int
    tlvs: list = field(default_factory=list)

    def tlv(self, t: int) -> Optional[bytes]:
        for tt, v in self.tlvs:
            if tt == t:
                return v
        return None

    @property
    def name(self) -> str:
        return NAMES.get((self.service, self.msg_id), "%02x-%04x" % (self.service, self.msg_id))


def parse_frame(frame: bytes) -> QmiMessage:
    """One QMUX frame (marker included)."""
    if len(frame) < 6 or frame[0] != QMUX_MARKER:
        raise QmiFormatError("not a QMUX frame")
    length = struct.unpack_from("<H", frame, 1)[0]
    if length + 1 != len(frame):
        raise QmiFormatError("QMUX length %d for %d bytes" % (length, len(frame)))
    service, cid = frame[4], frame[5]
    sdu = frame[6:]
    if service == SERVICE_CTL:
        if len(sdu) < 6:
            raise QmiFormatError("short CTL header")
        flags, tid, msg_id, tlv_len = struct.unpack_from("<BBHH", sdu, 0)
        pos = 6
    else:
        if len(sdu) < 7:
            raise QmiFormatError("short service header")
        flags, tid, msg_id, tlv_len = struct.unpack_from("<BHHH", sdu, 0)
        pos = 7
    if pos + tlv_len != len(sdu):
        raise QmiFormatError("TLV length %d for %d bytes" % (tlv_len, len(sdu) - pos))
    tlvs = []
    while pos < len(sdu):
        if pos + 3 > len(sdu):
            raise QmiFormatError("truncated TLV header")
        t, tl = struct.unpack_from("<BH", sdu, pos)
        pos += 3
        if pos + tl > len(sdu):
            raise QmiFormatError("truncated TLV %02x" % t)
        tlvs.append((t, bytes(sdu[pos : pos + tl])))
        pos += tl
    return QmiMessage(service, cid, flags, tid, msg_id, tlvs)


def build_frame(service: int, cid: int, tid: int, msg_id: int, tlvs: list) -> bytes:
    """A response frame, from the modem (QMUX flags 0x80)."""
    body = b"".join(struct.pack("<BH", t, len(v)) + v for t, v in tlvs)
    if service == SERVICE_CTL:
        sdu = struct.pack("<BBHH", CTL_FLAG_RESPONSE, tid, msg_id, len(body)) + body
    else:
        sdu = struct.pack("<BHHH", SVC_FLAG_RESPONSE, tid, msg_id, len(body)) + body
    return struct.pack("<BHBBB", QMUX_MARKER, 5 + len(sdu), QMUX_FLAG_SERVICE, service, cid) + sdu


def result_tlv(error: int = E_NONE) -> tuple[int, bytes]:
    return (0x02, struct.pack("<HH", 1 if error else 0, error))


class QmuxDecoder:
    """Splits a byte stream into QMUX frames; resynchronises on the marker after garbage."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        frames = []
        while True:
            start = self.buf.find(bytes([QMUX_MARKER]))
            if start < 0:
                self.buf.clear()
                break
            if start:
                log.warning("skipping %d bytes of non-QMUX data", start)
                del self.buf[:start]
            if len(self.buf) < 3:
                break
            length = struct.unpack_from("<H", self.buf, 1)[0]
            if length < 5:
                del self.buf[:1]
                continue
            if len(self.buf) < length + 1:
                break
            frames.append(bytes(self.buf[: length + 1]))
            del self.buf[: length + 1]
        return frames


class DropConnection(Exception):
    """A 'drop' fault fired: the front-end must close the link without answering."""


class Link:
    """One QMUX stream: a client connection on the proxy socket, or the pty."""

    _next = 1

    def __init__(self, frontend: str, needs_proxy_open: bool):
        self.id = Link._next
        Link._next += 1
        self.frontend = frontend
        self.needs_proxy_open = needs_proxy_open
        self.proxy_device: Optional[str] = None
        self.cids: set[tuple[int, int]] = set()


class QmiModem:
    """The modem's QMI services, shared by every link (as one modem serves all its clients)."""

    def __init__(self, card: Card, faults: Faults, counters: Counters, slot: int = 1,
                 eid_bytes: bytes = b"", enabled_iccid: Callable[[], Optional[str]] = lambda: None,
                 imei: str = DEFAULT_IMEI, slots: Optional[Slots] = None, slow_card_start: int = 0):
        self.card = card
        # The physical slots (one modem: every front shares them); `slot` is the logical slot
        # UIM requests name, which the active physical slot is mapped to.
        self.slots = slots or Slots(card, [EUICC])
        self.faults = faults
        self.counters = counters
        self.slot = slot
        self.eid_bytes = eid_bytes
        self.enabled_iccid = enabled_iccid
        self.allocated: dict[tuple[int, int], int] = {}  # (service, cid) -> link id
        self.imei = imei  # "" = the modem reports none
        self.next_cid = {SERVICE_UIM: 1, SERVICE_DMS: 1}
        # After Power On SIM: the Get Card Status queries still to answer before the card is up.
        self.slow_card_start = slow_card_start
        self.starting = 0

    def card_starting(self) -> None:
        """The card is still starting, as after Power On SIM (a modem that has just booted)."""
        if self.slow_card_start:
            self.starting = self.slow_card_start
            self.card.powered = False

    def release_link(self, link: Link) -> None:
        for key in list(link.cids):
            self._release(link, key)

    def _release(self, link: Link, key: tuple[int, int]) -> None:
        self.allocated.pop(key, None)
        link.cids.discard(key)
        self.card.close_owned((link.id,) + key)

    async def handle(self, link: Link, msg: QmiMessage) -> tuple[list[bytes], bool]:
        """Answer one request: (frames to write, reset the card after writing them)."""
        self.counters.qmi_messages[msg.name] = self.counters.qmi_messages.get(msg.name, 0) + 1
        log.debug("QMI %s cid=%d tid=%d", msg.name, msg.cid, msg.tid)
        reset_after = False
        if msg.service == SERVICE_CTL:
            tlvs = self._ctl(link, msg)
        elif msg.service == SERVICE_UIM:
            if (SERVICE_UIM, msg.cid) not in self.allocated:
                tlvs = [result_tlv(E_INVALID_CLIENT_ID)]
            else:
                tlvs, reset_after = await self._uim(link, msg)
        elif msg.service == SERVICE_DMS:
            if (SERVICE_DMS, msg.cid) not in self.allocated:
                tlvs = [result_tlv(E_INVALID_CLIENT_ID)]
            else:
                tlvs = self._dms(msg)
        else:
            tlvs = [result_tlv(E_INVALID_SERVICE_TYPE)]
        if tlvs is None:
            return [], False
        frame = build_frame(msg.service, msg.cid, msg.tid, msg.msg_id, tlvs)
        if msg.service == SERVICE_UIM and msg.msg_id == UIM_SEND_APDU:
            claim = self.faults.bad_frame(link.frontend)
            if claim is not None:
                log.info("fault: the answer's QMUX header claims %d bytes", claim)
                frame = bytes([QMUX_MARKER]) + struct.pack("<H", claim) + frame[3:]
        return [frame], reset_after

    # ------------------------------------------------------------------ CTL
    def _ctl(self, link: Link, msg: QmiMessage) -> Optional[list]:
        if link.needs_proxy_open and link.proxy_device is None and msg.msg_id != CTL_INTERNAL_PROXY_OPEN:
            log.warning("qmi-proxy client spoke before 'internal proxy open': ignored")
            return None
        if msg.msg_id == CTL_INTERNAL_PROXY_OPEN:
            if not link.needs_proxy_open:
                return [result_tlv(E_INVALID_QMI_COMMAND)]
            path = msg.tlv(0x01)
            if path is None:
                return [result_tlv(E_MISSING_ARGUMENT)]
            link.proxy_device = path.rstrip(b"\0").decode("utf-8", "replace")
            log.info("proxy client opened device %s", link.proxy_device)
            return [result_tlv()]
        if msg.msg_id == CTL_GET_VERSION_INFO:
            services = [(SERVICE_CTL, 1, 5), (SERVICE_DMS, 1, 14), (SERVICE_UIM, 1, 46)]
            body = bytes([len(services)]) + b"".join(struct.pack("<BHH", s, a, b) for s, a, b in services)
            return [result_tlv(), (0x01, body)]
        if msg.msg_id == CTL_ALLOCATE_CID:
            svc = msg.tlv(0x01)
            if svc is None or len(svc) != 1:
                return [result_tlv(E_MISSING_ARGUMENT)]
            if svc[0] not in (SERVICE_UIM, SERVICE_DMS):
                return [result_tlv(E_INVALID_SERVICE_TYPE)]
            cid = self._free_cid(svc[0])
            if cid is None:
                return [result_tlv(5)]  # ClientIdsExhausted
            self.allocated[(svc[0], cid)] = link.id
            link.cids.add((svc[0], cid))
            return [result_tlv(), (0x01, bytes([svc[0], cid]))]
        if msg.msg_id == CTL_RELEASE_CID:
            v = msg.tlv(0x01)
            if v is None or len(v) != 2:
                return [result_tlv(E_MISSING_ARGUMENT)]
            key = (v[0], v[1])
            if self.allocated.get(key) != link.id:
                return [result_tlv(E_INVALID_CLIENT_ID)]
            self._release(link, key)
            return [result_tlv(), (0x01, v)]
        if msg.msg_id == CTL_SYNC:
            # A sync resets the modem's client bookkeeping for this link.
            self.release_link(link)
            return [result_tlv()]
        return [result_tlv(E_INVALID_QMI_COMMAND)]

    def _free_cid(self, service: int) -> Optional[int]:
        for _ in range(254):
            cid = self.next_cid[service]
            self.next_cid[service] = cid % 254 + 1
            if (service, cid) not in self.allocated:
                return cid
        return None

    # ------------------------------------------------------------------ DMS
    def _dms(self, msg: QmiMessage) -> list:
        if msg.msg_id != DMS_GET_IDS:
            return [result_tlv(E_INVALID_QMI_COMMAND)]
        # ESN and MEID are CDMA identities: a GSM/LTE modem answers "0" (as real ones do).
        tlvs = [result_tlv(), (0x10, b"0")]
        if self.imei:
            tlvs.append((0x11, self.imei.encode("ascii")))
        return tlvs

    # ------------------------------------------------------------------ UIM
    def _slot_ok(self, msg: QmiMessage) -> Optional[int]:
        slot = msg.tlv(0x01)
        if slot is None:
            return E_MISSING_ARGUMENT
        if len(slot) != 1 or slot[0] != self.slot:
            return E_INVALID_ARGUMENT
        return None

    async def _uim(self, link: Link, msg: QmiMessage) -> tuple[list, bool]:
        card = self.card
        owner = (link.id, SERVICE_UIM, msg.cid)
        mid = msg.msg_id
        if mid == UIM_GET_CARD_STATUS:
            if self.starting:
                self.starting -= 1
                status = self._card_status(starting=True)
                card.powered = not self.starting
                return [result_tlv(), (0x10, status)], False
            return [result_tlv(), (0x10, self._card_status())], False
        if mid == UIM_GET_SLOT_STATUS:
            return [result_tlv()] + self._slot_status(), False
        if mid == UIM_SWITCH_SLOT:
            return self._switch_slot(msg), False
        if mid in (UIM_POWER_OFF_SIM, UIM_POWER_ON_SIM, UIM_OPEN_LOGICAL_CHANNEL, UIM_SEND_APDU, UIM_LOGICAL_CHANNEL):
            err = self._slot_ok(msg)
            if err is not None:
                return [result_tlv(err)], False
        else:
            return [result_tlv(E_INVALID_QMI_COMMAND)], False
        if mid == UIM_POWER_OFF_SIM:
            if not card.powered and not self.starting:
                return [result_tlv(E_NO_EFFECT)], False
            self.starting = 0
            card.powered = False
            card.reset()
            log.info("SIM powered off")
            return [result_tlv()], False
        if mid == UIM_POWER_ON_SIM:
            if card.powered or self.starting:
                return [result_tlv(E_NO_EFFECT)], False
            card.powered = True
            log.info("SIM powered on")
            # Still starting, with --qmi-slow-card-start: unreachable until the Get Card Status
            # queries are answered.
            self.card_starting()
            return [result_tlv()], False
        if not card.powered:
            return [result_tlv(E_UIM_UNINITIALIZED)], False

        if mid == UIM_OPEN_LOGICAL_CHANNEL:
            aid = msg.tlv(0x10)
            if aid is None:
                return [result_tlv(E_MISSING_ARGUMENT)], False
            if not aid or aid[0] != len(aid) - 1:
                return [result_tlv(E_MALFORMED_MESSAGE)], False
            n, sw = card.open_channel(link.frontend, owner)
            if n is None:
                return [result_tlv(E_INSUFFICIENT_RESOURCES)], False
            fci, sw = card.select_isdr(n, aid[1:])
            if sw != C.SW_OK:
                card.close_channel(n)
                return [result_tlv(E_SIM_FILE_NOT_FOUND), (0x11, sw.to_bytes(2, "big"))], False
            return [result_tlv(), (0x10, bytes([n])), (0x11, b"\x90\x00"), (0x12, bytes([len(fci)]) + fci)], False
        if mid == UIM_LOGICAL_CHANNEL:
            ch = msg.tlv(0x11)
            if ch is None or len(ch) != 1:
                return [result_tlv(E_MISSING_ARGUMENT)], False
            if not card.close_channel(ch[0]):
                return [result_tlv(E_INVALID_ARGUMENT)], False
            return [result_tlv()], False
        # UIM_SEND_APDU
        apdu = msg.tlv(0x02)
        if apdu is None:
            return [result_tlv(E_MISSING_ARGUMENT)], False
        if len(apdu) < 2 or struct.unpack_from("<H", apdu)[0] != len(apdu) - 2:
            return [result_tlv(E_MALFORMED_MESSAGE)], False
        ch = msg.tlv(0x10)
        channel = None
        if ch is not None:
            if len(ch) != 1:
                return [result_tlv(E_MALFORMED_MESSAGE)], False
            channel = ch[0]
            if channel not in card.channels:
                return [result_tlv(E_INVALID_ARGUMENT)], False
        t0 = time.perf_counter()
        received = time.monotonic()
        await self.faults.hold(link.frontend, received)
        traced = card.trace_count
        t = card.transmit(apdu[2:], link.frontend, owner, channel)
        if t.response is None:
            raise DropConnection()
        if link.frontend in self.counters.apdu_time_ms:
            self.counters.apdu_time_ms[link.frontend] += (time.perf_counter() - t0) * 1000.0
            self.counters.apdus_timed[link.frontend] += 1
        if card.trace and card.trace[-1]["n"] == traced + 1:
            # The card's whole window in the trace (the same clock as "t"): from the Send APDU
            # read, the injected delay included, to its answer ready; the rest is the LPA's.
            card.trace[-1]["t_in"], card.trace[-1]["t_out"] = received, time.monotonic()
        return [result_tlv(), (0x10, struct.pack("<H", len(t.response)) + t.response)], t.reset_after

    def _card_status(self, starting: bool = False) -> bytes:
        """UIM Card Status TLV: one card; with a USIM application when a profile is enabled (or
        the active slot holds a plain SIM, which always has one). A card still starting after
        Power On SIM is absent, no ATR received yet."""
        card = self.card
        apps = b""
        n_apps = 0
        if card.powered and (self.slots.active_kind() == PLAIN or
                             (self.slots.active_kind() == EUICC and self.enabled_iccid() is not None)):
            n_apps = 1
            apps = bytes([2, 7, 2, 0, 0, 0, len(USIM_AID)]) + USIM_AID + bytes([0, 3, 3, 10, 3, 3, 10])
        index = 0x0000 if n_apps else 0xFFFF
        if self.slots.active_kind() == EMPTY or starting:
            state, error, n_apps, apps, index = 0, 3, 0, b"", 0xFFFF  # absent, no ATR received
        elif card.powered:
            state, error = 1, 0  # present
        else:
            state, error = 2, 1  # error: power down
        card_bytes = bytes([state, 0, 0, 0, error, n_apps]) + apps
        return struct.pack("<HHHHB", index, 0xFFFF, 0xFFFF, 0xFFFF, 1) + card_bytes

    def _slot_status(self) -> list:
        """Physical slot status (0x10), information (0x11) and EIDs (0x12), one entry per slot,
        as libqmi's QmiPhysicalSlotStatusSlot, QmiPhysicalSlotInformationSlot and slot EID
        arrays read them. A modem knows the EID of an eUICC in an inactive slot too: it read it
        when it last powered that slot, which is how a host finds an eSIM it cannot reach yet."""
        status, info, eids = [bytes([self.slots.count])], [bytes([self.slots.count])], [bytes([self.slots.count])]
        for n in range(1, self.slots.count + 1):
            kind = self.slots.holds(n)
            active = n == self.slots.active
            iccid = self.enabled_iccid() if kind == EUICC else (PLAIN_ICCID if kind == PLAIN else None)
            iccid_bytes = der.iccid_to_bcd(iccid) if iccid else b""
            card_state = 1 if kind == EMPTY else 2  # QmiUimPhysicalCardState: absent, present
            status.append(struct.pack("<IIB", card_state, 1 if active else 0, self.slot if active else 0)
                          + bytes([len(iccid_bytes)]) + iccid_bytes)
            atr = b"" if kind == EMPTY else ATR
            apps = 1 if iccid else 0
            info.append(struct.pack("<IB", 0 if kind == EMPTY else 2, apps) + bytes([len(atr)]) + atr
                        + bytes([1 if kind == EUICC else 0]))
            eid = self.eid_bytes if kind == EUICC else b""
            eids.append(bytes([len(eid)]) + eid)
        return [(0x10, b"".join(status)), (0x11, b"".join(info)), (0x12, b"".join(eids))]

    def _switch_slot(self, msg: QmiMessage) -> list:
        """UIM Switch Slot: logical slot (0x01, u8) now maps physical slot (0x02, u32)."""
        logical, physical = msg.tlv(0x01), msg.tlv(0x02)
        if logical is None or physical is None:
            return [result_tlv(E_MISSING_ARGUMENT)]
        if len(logical) != 1 or len(physical) != 4 or logical[0] != self.slot:
            return [result_tlv(E_INVALID_ARGUMENT)]
        try:
            switched = self.slots.switch(struct.unpack("<I", physical)[0])
        except SlotError as e:
            log.info("switch slot refused: %s", e)
            return [result_tlv(E_INVALID_ARGUMENT)]
        return [result_tlv(E_NONE if switched else E_NO_EFFECT)]
