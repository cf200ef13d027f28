"""Fault injection rules and the counters that let tests prove a fault fired."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

log = logging.getLogger("esim-sim.faults")

KINDS = ("sw", "delay", "drop", "refuse_channel", "lc_limit", "corrupt", "es10_result", "at_error", "bad_frame",
         "at_restart", "es10_answer", "mbim_busy")
# ES10 functions whose response carries a result code the eUICC can be made to answer on demand.
RESULT_TAGS = ("BF38", "BF21", "BF41", "BF37", "BF31", "BF32", "BF33", "BF34", "BF29", "BF3F", "BF2D", "BF28",
               "BF2B", "BF30", "BF35")
FRONTENDS = ("qmi", "pty", "apdu", "mbim", "at", "vpcd")

# until()'s steps towards a deadline. asyncio's epoll timeout is whole milliseconds, rounded up,
# and this kind of machine wakes a sleeper 0.1-0.3 ms late (measured on a 2-vCPU VM, Python
# 3.11: a plain asyncio sleep(0.020) returned 0.23 ms late, median; a timerfd's wake-up 0.20 ms
# late; time.sleep() 0.10 ms): a sleep alone made "20 ms per APDU" 20.2-20.6 ms. So: the event
# loop sleeps to LOOP_MARGIN_S before the deadline, a blocking sleep (nanosecond timer) to
# BLOCK_MARGIN_S before it, and the loop spins the rest. Spinning the whole last millisecond was
# as precise but cost 0.9 ms of CPU per APDU (eight simulators at once doubled their CPU and
# slowed the downloads they serve); this costs ~0.15-0.2 ms. Where several simulators share few
# cores, that spin still competes with the LPA they serve: --delay-spin-us 0 leaves it out (a
# blocking sleep to the deadline, ~0.1 ms late, no CPU while waiting).
LOOP_MARGIN_S = 0.001
BLOCK_MARGIN_S = 0.00015


class FaultSpecError(ValueError):
    pass


async def until(deadline: float, spin: float = BLOCK_MARGIN_S) -> None:
    """Return once time.monotonic() reaches `deadline`, within microseconds rather than the
    timer's fraction of a millisecond (with `spin` 0: a blocking sleep's ~0.1 ms). The blocking
    sleep holds the event loop for under a millisecond: other connections wait that long at most
    (one card serves them all anyway)."""
    early = deadline - LOOP_MARGIN_S - time.monotonic()
    if early > 0:
        await asyncio.sleep(early)
    early = deadline - spin - time.monotonic()
    if early > 0:
        time.sleep(early)
    while time.monotonic() < deadline:
        await asyncio.sleep(0)


@dataclass
class Fault:
    id: int
    kind: str
    spec: dict
    frontend: Optional[str] = None
    # APDUs (or responses with data, or BPP segments) seen since installation
    seen: int = 0
    fired: int = 0
    # How many times it may still fire; None = for as long as it is installed.
    remaining: Optional[int] = None

    def active(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def fire(self) -> None:
        self.fired += 1
        if self.remaining is not None:
            self.remaining -= 1
        log.info("fault %d (%s) fired", self.id, self.kind)

    def describe(self) -> dict:
        return {"id": self.id, "kind": self.kind, "spec": self.spec, "frontend": self.frontend, "seen": self.seen,
                "fired": self.fired, "remaining": self.remaining}


def _int(spec: dict, key: str, minimum: int = 0) -> int:
    try:
        v = int(spec[key])
    except (KeyError, TypeError, ValueError):
        raise FaultSpecError("fault needs integer %r" % key)
    if v < minimum:
        raise FaultSpecError("%r must be >= %d" % (key, minimum))
    return v


def _sw(spec: dict) -> int:
    try:
        v = int(str(spec["sw"]), 16)
    except (KeyError, ValueError):
        raise FaultSpecError("fault needs a hex status word 'sw'")
    if not 0 <= v <= 0xFFFF:
        raise FaultSpecError("bad status word")
    return v


class Faults:
    def __init__(self):
        self.rules: list[Fault] = []
        self.next_id = 1
        self.history: list[dict] = []
        # Set by the server: makes the modem disappear (a 'drop' fault with vanish).
        self.on_vanish: Optional[Callable[[], None]] = None
        # A vanish is under way (until 'appear'): a front that drops does not come back by itself.
        self.vanishing = False
        # How much of an injected delay's end is spun rather than slept (until()).
        self.spin = BLOCK_MARGIN_S

    def add(self, spec: dict) -> Fault:
        """Validate and install one fault (see README.md for the JSON shape)."""
        if not isinstance(spec, dict):
            raise FaultSpecError("fault must be an object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultSpecError("unknown fault kind %r (one of %s)" % (kind, ", ".join(KINDS)))
        frontend = spec.get("frontend")
        if frontend is not None and frontend not in FRONTENDS:
            raise FaultSpecError("frontend must be one of %s" % ", ".join(FRONTENDS))
        remaining: Optional[int] = 1
        if kind == "sw":
            _sw(spec)
            triggers = [k for k in ("nth", "tag", "segment") if k in spec]
            if len(triggers) != 1:
                raise FaultSpecError("an 'sw' fault needs exactly one of nth, tag, segment")
            if "nth" in spec:
                _int(spec, "nth", 1)
            elif "segment" in spec:
                _int(spec, "segment", 1)
            else:
                try:
                    bytes.fromhex(spec["tag"])
                except (TypeError, ValueError):
                    raise FaultSpecError("'tag' must be hex, e.g. BF38")
        elif kind == "delay":
            _int(spec, "ms", 0)
            # With nth only that APDU waits (once): a test can act while it is held.
            if "nth" in spec:
                _int(spec, "nth", 1)
            else:
                remaining = None
        elif kind == "drop":
            # executed: the card executes that APDU first; only its answer is lost. installed
            # (instead of after): the APDU that completes a profile's installation, executed.
            # vanish: the modem then stays away (as 'disappear') until 'appear'.
            if spec.get("installed") is not True:
                _int(spec, "after", 0)
            for flag in ("executed", "vanish", "installed"):
                if not isinstance(spec.get(flag, False), bool):
                    raise FaultSpecError("%r must be true or false" % flag)
        elif kind == "refuse_channel":
            # sw: what MANAGE CHANNEL answers (default 6A81); a card without logical channels
            # answers 6881, one that does not know the command 6D00.
            if "sw" in spec:
                _sw(spec)
            remaining = None
        elif kind == "lc_limit":
            _int(spec, "max", 1)
            remaining = None
        elif kind == "corrupt":
            triggers = [k for k in ("nth", "apdu") if k in spec]
            if len(triggers) != 1:
                raise FaultSpecError("a 'corrupt' fault needs exactly one of nth, apdu")
            _int(spec, triggers[0], 1)
        elif kind == "bad_frame":
            # The QMI front executes the Nth APDU, then sends its answer in a frame whose QMUX
            # header claims `length` bytes (default 65535): a client that trusts the header
            # waits for bytes that never come, and takes the later frames for the rest of it.
            _int(spec, "nth", 1)
            if "length" in spec and not 5 <= _int(spec, "length", 0) <= 0xFFFF:
                raise FaultSpecError("'length' must be 5 to 65535")
        elif kind == "es10_result":
            tag = str(spec.get("tag", "")).upper()
            if tag not in RESULT_TAGS:
                raise FaultSpecError("'tag' must be one of %s" % ", ".join(RESULT_TAGS))
            spec = dict(spec, tag=tag)
            _int(spec, "code", 0)
            if tag == "BF37":
                _int(spec, "command", 0)
        elif kind == "es10_answer":
            # The ES10 function with that request tag answers these bytes (9000) instead of
            # executing: the answer a real eUICC gave, replayed. Unlimited unless count is given.
            tag = str(spec.get("tag", "")).upper()
            try:
                if not 1 <= len(bytes.fromhex(tag)) <= 2:
                    raise ValueError
                data = bytes.fromhex(str(spec.get("data", "")))
            except ValueError:
                raise FaultSpecError("an 'es10_answer' fault needs 'tag' (e.g. BF2D) and 'data' (hex)")
            spec = dict(spec, tag=tag, data=data.hex().upper())
            # request: only a command that is exactly these bytes (one form of the function:
            # BF2B00, RetrieveNotificationsList without a search criterion).
            if "request" in spec:
                try:
                    request = bytes.fromhex(str(spec["request"]))
                except ValueError:
                    raise FaultSpecError("'request' must be hex, e.g. BF2B00")
                spec = dict(spec, request=request.hex().upper())
            remaining = None
        elif kind == "at_error":
            # The AT front answers ERROR (code null) or +CME ERROR: code instead of executing: the
            # nth AT command, or the first (count) of one command name (e.g. CGLA, CCHO).
            if spec.get("code") is not None:
                _int(spec, "code", 0)
            triggers = [k for k in ("nth", "command") if k in spec]
            if len(triggers) != 1:
                raise FaultSpecError("an 'at_error' fault needs exactly one of nth, command")
            if "nth" in spec:
                _int(spec, "nth", 1)
            elif not isinstance(spec["command"], str) or not spec["command"]:
                raise FaultSpecError("'command' must be an AT command name, e.g. CGLA")
            spec = dict(spec, command=spec["command"].upper().lstrip("+")) if "command" in spec else spec
        elif kind == "at_restart":
            # The AT modem restarts instead of answering the nth (default 1st) command of that
            # name, without leaving the bus (a UART): RDY, its card reset and off for sim_ms.
            if not isinstance(spec.get("command"), str) or not spec["command"]:
                raise FaultSpecError("an 'at_restart' fault needs 'command', e.g. CGLA")
            if "nth" in spec:
                _int(spec, "nth", 1)
            if "sim_ms" in spec:
                _int(spec, "sim_ms", 0)
            spec = dict(spec, command=spec["command"].upper().lstrip("+"))
        elif kind == "mbim_busy":
            # The MBIM function answers UICC Open Channel / APDU / Close Channel Busy while a slot
            # mapping is in progress (Qualcomm's qbi_svc_msuicc.c, slot_mapping_in_progress):
            # 'count' of them (default 1).
            pass
        if "count" in spec:
            remaining = None if spec["count"] is None else _int(spec, "count", 1)
        f = Fault(self.next_id, kind, dict(spec), frontend, remaining=remaining)
        self.next_id += 1
        self.rules.append(f)
        log.info("fault %d installed: %s", f.id, spec)
        return f

    def clear(self, fault_id: Optional[int] = None) -> int:
        keep = [f for f in self.rules if fault_id is not None and f.id != fault_id]
        gone = [f for f in self.rules if f not in keep]
        self.history += [f.describe() for f in gone]
        self.rules = keep
        return len(gone)

    def _applicable(self, kind: str, frontend: str):
        return [f for f in self.rules if f.kind == kind and f.active() and f.frontend in (None, frontend)]

    def describe(self) -> list[dict]:
        return [f.describe() for f in self.rules]

    # ----------------------------------------------------------- hooks called by the card
    def delay_ms(self, frontend: str) -> int:
        """How long this APDU waits: every 'delay' without nth, plus one whose nth it is."""
        total = 0
        for f in self._applicable("delay", frontend):
            if "nth" not in f.spec:
                total += int(f.spec["ms"])
                continue
            f.seen += 1
            if f.seen == int(f.spec["nth"]):
                f.fire()
                total += int(f.spec["ms"])
        return total

    async def hold(self, frontend: str, received: float) -> None:
        """An APDU's injected latency, the one way every front applies it: the card is handed the
        APDU `delay` ms after `received` (time.monotonic() when the front read it), no later,
        and only then processes it, so a delayed APDU is still unexecuted while it is held (kill
        and drop tests rely on that) and the card's own time comes on top of the delay."""
        delay = self.delay_ms(frontend)
        if delay:
            await until(received + delay / 1000, self.spin)

    def on_apdu(self, frontend: str) -> tuple[Optional[Fault], Optional[int]]:
        """Count one APDU; returns (the drop fault that fired, status word to answer instead)."""
        drop = None
        sw = None
        for f in self._applicable("drop", frontend):
            if f.spec.get("installed"):
                continue
            f.seen += 1
            if f.seen > int(f.spec["after"]):
                f.fire()
                drop = drop or f
        for f in self._applicable("sw", frontend):
            if "nth" in f.spec:
                f.seen += 1
                if f.seen == int(f.spec["nth"]) and sw is None:
                    f.fire()
                    sw = _sw(f.spec)
        return drop, sw

    def on_install(self, frontend: str) -> Optional[Fault]:
        """The APDU just executed completed a profile's installation: the drop fault to fire."""
        for f in self._applicable("drop", frontend):
            if f.spec.get("installed"):
                f.fire()
                return f
        return None

    def vanish(self) -> None:
        self.vanishing = True
        if self.on_vanish:
            self.on_vanish()

    def on_first_block(self, frontend: str, data: bytes) -> Optional[int]:
        """First STORE DATA block of an ES10 command: an 'sw' fault bound to its tag."""
        for f in self._applicable("sw", frontend):
            if "tag" in f.spec and not f.spec.get("executed") and data.startswith(bytes.fromhex(f.spec["tag"])):
                f.seen += 1
                f.fire()
                return _sw(f.spec)
        return None

    def sw_after_executing(self, frontend: str, tag: int) -> Optional[tuple[int, bool]]:
        """An 'sw' fault with `executed`: the ES10 command of that tag was carried out; its answer
        is the status word alone, and with `reset` the card is reset after it (its channels gone)."""
        for f in self._applicable("sw", frontend):
            if "tag" in f.spec and f.spec.get("executed") and int(f.spec["tag"], 16) == tag:
                f.seen += 1
                f.fire()
                return _sw(f.spec), bool(f.spec.get("reset"))
        return None

    def on_bpp_segment(self, frontend: str) -> Optional[int]:
        sw = None
        for f in self._applicable("sw", frontend):
            if "segment" in f.spec:
                f.seen += 1
                if f.seen == int(f.spec["segment"]) and sw is None:
                    f.fire()
                    sw = _sw(f.spec)
        return sw

    def lc_limit(self, frontend: str, lc: int) -> bool:
        for f in self._applicable("lc_limit", frontend):
            if lc > int(f.spec["max"]):
                f.fire()
                return True
        return False

    def mbim_busy(self) -> bool:
        """Whether an 'mbim_busy' fault answers this UICC command Busy."""
        for f in self._applicable("mbim_busy", "mbim"):
            f.seen += 1
            f.fire()
            return True
        return False

    def refuse_channel(self, frontend: str) -> Optional[int]:
        """The status word MANAGE CHANNEL answers instead of opening a channel, or None."""
        for f in self._applicable("refuse_channel", frontend):
            f.fire()
            return _sw(f.spec) if "sw" in f.spec else 0x6A81
        return None

    def corrupt(self, frontend: str, data: bytes) -> bytes:
        """Flip one byte of the Nth response that carries data ('nth')."""
        if not data:
            return data
        for f in self._applicable("corrupt", frontend):
            if "nth" not in f.spec:
                continue
            f.seen += 1
            if f.seen == int(f.spec["nth"]):
                f.fire()
                return _flip(data, f.spec)
        return data

    def corrupt_apdu(self, frontend: str, response: bytes) -> bytes:
        """Flip one byte of the Nth APDU's response ('apdu', counted like the sw fault's nth):
        of its data, or, when it has none, the low byte of its status word (9000 → 90FF)."""
        for f in self._applicable("corrupt", frontend):
            if "apdu" not in f.spec:
                continue
            f.seen += 1
            if f.seen == int(f.spec["apdu"]):
                f.fire()
                if len(response) > 2:
                    return _flip(response[:-2], f.spec) + response[-2:]
                return response[:-1] + bytes([response[-1] ^ 0xFF])
        return response

    def bad_frame(self, frontend: str) -> Optional[int]:
        """Count one QMI Send APDU; the QMUX length to claim in its answer's header, or None."""
        claim = None
        for f in self._applicable("bad_frame", frontend):
            f.seen += 1
            if f.seen == int(f.spec["nth"]) and claim is None:
                f.fire()
                claim = int(f.spec.get("length", 0xFFFF))
        return claim

    def at_error(self, frontend: str, command: str) -> Optional[int]:
        """An 'at_error' fault for this AT command: the CME code to answer, -1 for a plain ERROR."""
        for f in self._applicable("at_error", frontend):
            if "nth" in f.spec:
                f.seen += 1
                if f.seen != int(f.spec["nth"]):
                    continue
            elif f.spec["command"] != command:
                continue
            else:
                f.seen += 1
            f.fire()
            return -1 if f.spec.get("code") is None else int(f.spec["code"])
        return None

    def at_restart(self, frontend: str, command: str) -> Optional[int]:
        """An 'at_restart' fault for this AT command: how long (ms) the card stays off."""
        for f in self._applicable("at_restart", frontend):
            if f.spec["command"] != command:
                continue
            f.seen += 1
            if f.seen != int(f.spec.get("nth", 1)):
                continue
            f.fire()
            return int(f.spec.get("sim_ms", 1500))
        return None

    def es10_result(self, frontend: str, tag: int) -> Optional[Fault]:
        """An 'es10_result' fault for this ES10 function (BF37: the BPP load), which fires."""
        name = "%X" % tag
        for f in self._applicable("es10_result", frontend):
            if f.spec["tag"] == name:
                f.seen += 1
                f.fire()
                return f
        return None

    def es10_answer(self, frontend: str, tag: int, request: bytes) -> Optional[bytes]:
        """The bytes an 'es10_answer' fault makes this ES10 function answer, if one fires."""
        name = "%X" % tag
        for f in self._applicable("es10_answer", frontend):
            if f.spec["tag"] == name and f.spec.get("request", request.hex().upper()) == request.hex().upper():
                f.seen += 1
                f.fire()
                return bytes.fromhex(f.spec["data"])
        return None

    def pir_error(self, frontend: str, command: int) -> Optional[tuple[int, int]]:
        """(bppCommandId, errorReason) to end the load with, at the segment of that command."""
        for f in self._applicable("es10_result", frontend):
            if f.spec["tag"] == "BF37" and int(f.spec["command"]) == command:
                f.seen += 1
                f.fire()
                return command, int(f.spec["code"])
        return None


def _flip(data: bytes, spec: dict) -> bytes:
    pos = int(spec.get("offset", len(data) // 2)) % len(data)
    b = bytearray(data)
    b[pos] ^= 0xFF
    return bytes(b)
