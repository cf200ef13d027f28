"""The fake modem's AT front: a pseudo-terminal speaking 3GPP TS 27.007 AT commands to the card.

AT+CCHO / AT+CGLA / AT+CCHC (logical channels by session id), AT+CSIM (raw APDUs, the channel in
the CLA), AT+CGSN, AT+CGMI/CGMM/CGMR, AT+CFUN, AT+CPIN?, ATE, AT+CMEE and Quectel's
AT+QESIM="lpa_enable". Every quirk a real modem was seen with in a public log (see
daemon/at-quirks.c for the sources) can be switched on, from the command line (--at-quirk) or the
control socket ({"cmd": "at", "quirks": {...}}), so esimd's AT transport is tested against each.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import tty
from dataclasses import asdict, dataclass, fields
from typing import Optional

from .card import Card, Counters
from .faults import Faults

log = logging.getLogger("esim-sim.at")

FRONTEND = "at"
SESSION_STYLES = ("plus", "bare", "hex")
PROBE_STYLES = ("ok", "error", "silent", "template")
# Noise a modem prints while it runs. Not RDY: that one says the modem has just (re)started.
URCS = ("+QIND: SMS DONE", "+CREG: 1", "+QUSIM: 1", "+CPIN: READY", "+QIND: PB DONE")
# What a modem prints when it restarts, and once its SIM is up, per the boot quirk:
# quectel: RDY, +CFUN: 1, then +CPIN: READY (Quectel M50 Hardware Design V2.0, the UART section;
#   +QUSIM and +QIND written for esimd after the EC2x AT manual's URCs);
# simcom: SIMCom A76xx's *ATREADY: 1, then +CPIN: READY, SMS DONE, PB DONE
#   (Xinyuan-LilyGO/LilyGo-Modem-Series issue #247, an A7670E);
# cinterion: ^SYSSTART (Cinterion modules; Huawei ME909s too), and nothing for the SIM unless
#   asked (its ^SIND indications are off by default).
# SIMCom's notices that have no sigil: the daylight-saving flag after *PSUTTZ: (AT+CLTS=1) and the
# supply warning, spelt as SIMCom drivers list it.
SIMCOM_NOTICES = ["*PSUTTZ: 24/12/06,20:00:00\",+04\",1", "DST: 1", "UNDER-VOLTAGE WARNNING"]
BOOT_STYLES = {
    "quectel": (["RDY", "+CFUN: 1"], ["+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"]),
    "simcom": (["*ATREADY: 1"], ["+CPIN: READY", "SMS DONE", "PB DONE"]),
    "cinterion": (["^SYSSTART"], []),
}


@dataclass
class AtQuirks:
    echo: bool = False  # keep echoing after ATE0 (the echo is on at start either way, as on real modems)
    urc_noise: bool = False  # URCs before, inside and after every answer
    split: int = 0  # write answers in pieces of this many bytes, a few ms apart (0: whole)
    max_line: int = 0  # command lines longer than this many characters answer ERROR (0: no limit)
    no_cgla: bool = False  # AT+CCHO/CGLA/CCHC answer ERROR: AT+CSIM only
    session: str = "plus"  # the AT+CCHO answer: "+CCHO: 1" (plus), "1" (bare), or a long hex handle (hex)
    no_space: bool = False  # "+CGLA:4,…" without the space after the colon
    lower_hex: bool = False  # answers in lower-case hex
    unquoted: bool = False  # answers' hex without quotes
    no_prefix: bool = False  # AT+CGLA/CSIM answered "4,\"9000\"" without "+CGLA: " (FM350-GL's AT+CCHO form)
    cla_passthrough: bool = False  # the modem does not put the channel into the CLA: the host must
    get_response: bool = False  # the modem hands 61xx to the host instead of fetching the data itself
    loop_6100: bool = False  # every GET RESPONSE from the host answers 6100 without data
    csim_drop: int = 0  # AT+CSIM APDUs longer than this many bytes get no answer at all (0: off)
    session0: bool = False  # AT+CGLA on session 0 reaches the basic channel without AT+CCHO
    probe: str = "ok"  # how AT+X=? test commands answer: ok, error, silent, template
    internal_lpa: bool = False  # an internal LPA holds the ISD-R until AT+QESIM="lpa_enable",0 and a CFUN cycle
    cmee_verbose: bool = False  # +CME ERROR: <text> whatever AT+CMEE the host set (AT+CMEE=2 saved and restored)
    no_cgla_code: int = 0  # with no_cgla: refuse AT+CCHO/CGLA/CCHC with this +CME ERROR code (0: plain ERROR)
    boot: str = "quectel"  # what a restart prints: quectel (RDY), simcom (*ATREADY: 1), cinterion (^SYSSTART)
    prefix_alone: bool = False  # "+CCHO:"/"+CGLA:"/"+CSIM:" alone on a line, the data on the next
    no_app_code: int = 22  # the +CME ERROR code of AT+CCHO of an AID the card has not (22 not found; 13 SIM failure)
    simcom_notices: bool = False  # SIMCom's notices without a sigil ("DST: 1", "UNDER-VOLTAGE WARNNING") before each answer
    notice: str = ""  # a line without a sigil that no list knows, written before each answer ("": none)
    manufacturer: str = "esim-sim"
    model: str = "AT front"
    revision: str = "ESIMSIM_AT_1.0"
    imei: str = "356938035643809"

    def update(self, values: dict) -> list:
        known = {f.name: f.type for f in fields(self)}
        changed = []
        for key, value in values.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError("unknown AT quirk %r (known: %s)" % (key, ", ".join(sorted(known))))
            current = getattr(self, name)
            if isinstance(current, bool):
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on", "")
            elif isinstance(current, int):
                value = int(value)
                if value < 0:
                    raise ValueError("AT quirk %r must be >= 0" % key)
            else:
                value = str(value)
            if name == "session" and value not in SESSION_STYLES:
                raise ValueError("session must be one of %s" % ", ".join(SESSION_STYLES))
            if name == "boot" and value not in BOOT_STYLES:
                raise ValueError("boot must be one of %s" % ", ".join(BOOT_STYLES))
            if name == "probe" and value not in PROBE_STYLES:
                raise ValueError("probe must be one of %s" % ", ".join(PROBE_STYLES))
            if name == "imei" and not re.fullmatch(r"[0-9]{15}", value):
                raise ValueError("imei must be 15 digits")
            setattr(self, name, value)
            changed.append(name)
        return changed


def parse_quirk_args(items: list) -> dict:
    """--at-quirk NAME[=VALUE] items into a dict (a bare NAME is TRUE)."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        out[name] = value if eq else True
    return out


class AtModem:
    """The AT command interpreter: one per pty, shared by whoever opens the pty."""

    def __init__(self, card: Card, faults: Faults, counters: Counters, quirks: AtQuirks):
        self.card = card
        self.faults = faults
        self.counters = counters
        self.quirks = quirks
        self.echo = True
        self.cmee = 0
        self.sessions: dict[str, int] = {}  # session id as written -> card channel
        self.next_handle = 0x0385A7C0
        self.lpa_enabled = True  # with the internal_lpa quirk: until switched off and reset
        self.lpa_disable_pending = False
        self.sim_up_in: Optional[float] = None  # after a restart: seconds until the card is up
        self.commands: dict[str, int] = {}
        self.line_bytes_in = 0
        self.line_bytes_out = 0
        self.longest_line = 0
        self.owner = ("at",)

    def reset_session_state(self) -> None:
        """After the card reset (CFUN, refresh, disappear): every session is gone."""
        self.sessions.clear()

    def reset_stats(self) -> None:
        self.commands = {}
        self.line_bytes_in = self.line_bytes_out = self.longest_line = 0

    def describe(self) -> dict:
        return {"quirks": asdict(self.quirks), "echo": self.echo, "cmee": self.cmee,
                "sessions": dict(self.sessions), "lpa_enabled": self.lpa_enabled, "commands": dict(self.commands),
                "line_bytes_in": self.line_bytes_in, "line_bytes_out": self.line_bytes_out,
                "longest_line": self.longest_line}

    # ------------------------------------------------------------------ answers
    def _hex(self, data: bytes) -> str:
        h = data.hex()
        return h if self.quirks.lower_hex else h.upper()

    def _payload(self, prefix: str, data: bytes) -> list:
        h = self._hex(data)
        if not self.quirks.unquoted:
            h = '"%s"' % h
        if self.quirks.no_prefix:
            return ["%d,%s" % (len(data) * 2, h)]
        return self._info(prefix, "%d,%s" % (len(data) * 2, h))

    def _info(self, prefix: str, text: str) -> list:
        """An information line "+X: text", or with prefix_alone "+X:" and the text on its own line."""
        if self.quirks.prefix_alone:
            return [prefix + ":", text]
        sep = "" if self.quirks.no_space else " "
        return ["%s:%s%s" % (prefix, sep, text)]

    CME_NAMES = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
                 13: "SIM failure", 14: "SIM busy", 21: "invalid index", 22: "not found",
                 50: "incorrect parameters", 100: "unknown"}

    def _cme(self, code: int) -> str:
        """+CME ERROR: n, or its words where the modem is in (or stuck in) the verbose mode."""
        if self.cmee == 2 or self.quirks.cmee_verbose:
            return "+CME ERROR: %s" % self.CME_NAMES.get(code, "unknown")
        return "+CME ERROR: %d" % code

    def _error(self, code: int) -> list:
        if self.cmee == 0 and not self.quirks.cmee_verbose:
            return ["ERROR"]
        return [self._cme(code)]

    # ------------------------------------------------------------------ the card through the modem
    def _card(self, apdu: bytes, channel: Optional[int]) -> Optional[bytes]:
        """One APDU as the modem hands it to the card; None: drop (the fault engine says so)."""
        t = self.card.transmit(apdu, FRONTEND, self.owner, channel)
        if t.response is None:
            return None
        resp = t.response
        # A modem fetches what a 61xx announces itself (T=0 under the hood), unless it is one of
        # those that hand 61xx to the host.
        if not self.quirks.get_response:
            data = bytearray()
            while len(resp) >= 2 and resp[-2] == 0x61:
                data += resp[:-2]
                # GET RESPONSE on the same channel, interindustry class.
                cla = apdu[0] & 0x4F if apdu[0] & 0x40 else apdu[0] & 0x03
                t = self.card.transmit(bytes([cla, 0xC0, 0x00, 0x00, resp[-1]]), FRONTEND, self.owner, channel)
                if t.response is None:
                    return None
                resp = t.response
            resp = bytes(data) + resp
        if t.reset_after:
            self.card.reset()
            self.reset_session_state()
        return resp

    def _apdu(self, apdu: bytes, channel: Optional[int]) -> Optional[bytes]:
        if len(apdu) >= 4 and apdu[1] == 0xC0 and self.quirks.loop_6100:
            return b"\x61\x00"
        return self._card(apdu, channel)

    # ------------------------------------------------------------------ commands
    def handle(self, line: str) -> tuple[list, bool]:
        """Answer one command line: (lines of the answer, ending in a final result code; or
        None to stay silent), and whether the connection must be treated as dropped."""
        cmd = line.strip()
        upper = cmd.upper()
        name = self._name(upper)
        self.commands[name] = self.commands.get(name, 0) + 1
        self.longest_line = max(self.longest_line, len(cmd) + 1)
        if self.quirks.max_line and len(cmd) + 1 > self.quirks.max_line:
            log.info("AT line of %d characters over the limit of %d", len(cmd) + 1, self.quirks.max_line)
            return ["ERROR"], False
        restart_ms = self.faults.at_restart(FRONTEND, name)
        if restart_ms is not None:
            return self.restart(restart_ms), False
        injected = self.faults.at_error(FRONTEND, name)
        if injected is not None:
            return (["ERROR"] if injected < 0 else [self._cme(injected)]), False
        if upper.endswith("=?"):
            return self._probe(name)
        if upper == "AT":
            return ["OK"], False
        if upper in ("ATE0", "ATE1", "ATE"):
            self.echo = upper == "ATE1"
            return ["OK"], False
        m = re.fullmatch(r"AT\+CMEE=([012])", upper)
        if m:
            self.cmee = int(m.group(1))
            return ["OK"], False
        if upper == "ATI":
            return [self.quirks.manufacturer, self.quirks.model, "Revision: " + self.quirks.revision, "OK"], False
        if upper in ("AT+CGMI", "AT+GMI"):
            return [self.quirks.manufacturer, "OK"], False
        if upper in ("AT+CGMM", "AT+GMM"):
            return [self.quirks.model, "OK"], False
        if upper in ("AT+CGMR", "AT+GMR"):
            return [self.quirks.revision, "OK"], False
        if upper in ("AT+CGSN", "AT+GSN"):
            return [self.quirks.imei, "OK"], False
        if upper == "AT+CFUN?":
            return ["+CFUN: %d" % (1 if self.card.powered else 0), "OK"], False
        m = re.fullmatch(r"AT\+CFUN=([014])(?:,[01])?", upper)
        if m:
            return self._cfun(int(m.group(1))), False
        if upper == "AT+CPIN?":
            if not self.card.powered:
                return self._error(10), False
            return ["+CPIN: READY", "OK"], False
        m = re.fullmatch(r'AT\+QESIM="LPA_ENABLE",([01])', upper)
        if m:
            if "quectel" not in self.quirks.manufacturer.lower() and not self.quirks.internal_lpa:
                return ["ERROR"], False
            self.lpa_disable_pending = m.group(1) == "0"
            if m.group(1) == "1":
                self.lpa_enabled = True
            return ["OK"], False
        if upper.startswith("AT+CCHO=") or upper.startswith("AT+CCHC=") or upper.startswith("AT+CGLA="):
            if self.quirks.no_cgla:
                return (self._error(self.quirks.no_cgla_code) if self.quirks.no_cgla_code else ["ERROR"]), False
            if upper.startswith("AT+CCHO="):
                return self._ccho(cmd[8:]), False
            if upper.startswith("AT+CCHC="):
                return self._cchc(cmd[8:]), False
            return self._cgla(cmd[8:])
        if upper.startswith("AT+CSIM="):
            return self._csim(cmd[8:])
        return ["ERROR"], False

    def restart(self, sim_ms: int) -> list:
        """The modem restarts where the tty stays (a UART): the command is never answered, its
        settings are back at their defaults (echo on, AT+CMEE=0), the card was reset and its
        channels are gone, and the card is off until the front powers it after sim_ms."""
        log.info("fault: the AT modem restarts; its card is back in %d ms", sim_ms)
        self.card.close_owned(self.owner)
        self.card.powered = False
        self.card.reset()
        self.reset_session_state()
        self.echo = True
        self.cmee = 0
        self.sim_up_in = sim_ms / 1000
        return list(BOOT_STYLES[self.quirks.boot][0])

    def sim_up(self) -> list:
        self.card.powered = True
        return list(BOOT_STYLES[self.quirks.boot][1])

    @staticmethod
    def _name(upper: str) -> str:
        m = re.match(r"AT([+$^#%][A-Z]+|[A-Z&]\d?)?", upper)
        if not m or not m.group(1):
            return "AT"
        return m.group(1).lstrip("+")

    def _probe(self, name: str):
        style = self.quirks.probe
        if style == "error":
            return ["ERROR"], False
        if style == "silent":
            return None, False
        if style == "template":
            return ["+%s: <sessionid>,<length>,<command>" % name, "OK"], False
        return ["OK"], False

    def _cfun(self, mode: int) -> list:
        if mode in (0, 4):
            if self.card.powered:
                self.card.powered = False
                self.card.reset()
                self.reset_session_state()
                if self.lpa_disable_pending:
                    self.lpa_enabled = False
                    self.lpa_disable_pending = False
            return ["OK"]
        if not self.card.powered:
            self.card.powered = True
        return ["OK"]

    @staticmethod
    def _hex_arg(text: str) -> Optional[bytes]:
        t = text.strip()
        if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
            t = t[1:-1]
        try:
            return bytes.fromhex(t) if re.fullmatch(r"[0-9A-Fa-f]*", t) and len(t) % 2 == 0 else None
        except ValueError:
            return None

    def _ccho(self, arg: str) -> list:
        aid = self._hex_arg(arg)
        if aid is None or not aid:
            return self._error(50)
        if not self.card.powered:
            return self._error(10)
        if self.quirks.internal_lpa and self.lpa_enabled and aid == self.card.isdr_aid:
            # The module's own LPA holds the ISD-R (Quectel RG650E-class firmware).
            return self._error(3)
        n, _sw = self.card.open_channel(FRONTEND, self.owner)
        if n is None:
            return self._error(100)
        _fci, sw = self.card.select_isdr(n, aid)
        if sw != 0x9000:
            self.card.close_channel(n)
            return self._error(self.quirks.no_app_code)
        if self.quirks.session == "hex":
            self.next_handle += 0x1F3
            sid = "%016x" % self.next_handle
        else:
            sid = str(n)
        self.sessions[sid.lower()] = n
        if self.quirks.session == "bare":
            return [sid, "OK"]
        return self._info("+CCHO", sid) + ["OK"]

    def _cchc(self, arg: str) -> list:
        sid = arg.strip().strip('"').lower()
        n = self.sessions.pop(sid, None)
        if n is None or n not in self.card.channels:
            return self._error(21)
        self.card.close_channel(n)
        return ["OK"]

    def _split_apdu_args(self, arg: str, with_session: bool):
        parts = arg.split(",", 2 if with_session else 1)
        if len(parts) != (3 if with_session else 2):
            return None
        session = parts[0].strip().strip('"').lower() if with_session else None
        length = parts[-2].strip()
        apdu = self._hex_arg(parts[-1])
        if apdu is None or not length.isdigit() or int(length) != len(apdu) * 2 or len(apdu) < 4:
            return None
        return session, apdu

    def _cgla(self, arg: str):
        parsed = self._split_apdu_args(arg, True)
        if parsed is None:
            return self._error(50), False
        session, apdu = parsed
        if not self.card.powered:
            return self._error(10), False
        if session == "0" and self.quirks.session0:
            channel = None  # the basic channel; the CLA says which logical channel is meant
        elif session in self.sessions and self.sessions[session] in self.card.channels:
            channel = None if self.quirks.cla_passthrough else self.sessions[session]
            if channel is not None:
                # The modem codes its channel into the CLA it passes on (27.007 §8.43).
                apdu = bytes([self._cla_with_channel(apdu[0], channel)]) + apdu[1:]
        else:
            return self._error(21), False
        resp = self._apdu(apdu, channel)
        if resp is None:
            return None, True
        return self._payload("+CGLA", resp) + ["OK"], False

    def _csim(self, arg: str):
        parsed = self._split_apdu_args(arg, False)
        if parsed is None:
            return self._error(50), False
        _session, apdu = parsed
        if self.quirks.csim_drop and len(apdu) > self.quirks.csim_drop:
            log.info("AT+CSIM of %d bytes dropped (csim_drop %d)", len(apdu), self.quirks.csim_drop)
            return None, False
        if not self.card.powered:
            return self._error(10), False
        resp = self._apdu(apdu, None)
        if resp is None:
            return None, True
        return self._payload("+CSIM", resp) + ["OK"], False

    @staticmethod
    def _cla_with_channel(cla: int, channel: int) -> int:
        proprietary = cla & 0x80
        if channel <= 3:
            return proprietary | (cla & 0x0C if not cla & 0x40 else 0) | channel
        return (0xC0 if proprietary else 0x40) | (channel - 4)


class AtFront:
    """The pty: created at start, closed on 'disappear' (the tty goes away as a USB modem's
    does: the symlink is removed and whoever holds the slave sees a hang-up), recreated on
    'appear'."""

    def __init__(self, modem: AtModem, link: str, counters: Counters, faults: Faults):
        self.modem = modem
        self.link = link
        self.counters = counters
        self.faults = faults
        self.master: Optional[int] = None
        self.slave: Optional[int] = None
        self.buf = bytearray()
        self.queue: Optional[asyncio.Queue] = None
        self.worker: Optional[asyncio.Task] = None
        self.muted = False
        self.write_lock = asyncio.Lock()  # the SIM-up notices of a restart come between answers

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        name = os.ttyname(slave)
        tmp = self.link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link)
        self.buf.clear()
        self.modem.echo = True
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)
        self.worker = loop.create_task(self._work())
        self.counters.connections[FRONTEND] = self.counters.connections.get(FRONTEND, 0) + 1
        log.info("AT pty %s -> %s", self.link, name)

    def close(self) -> None:
        if self.master is None:
            return
        asyncio.get_running_loop().remove_reader(self.master)
        if self.worker and self.worker is not asyncio.current_task():
            self.worker.cancel()
        self.worker = None
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        if os.path.islink(self.link):
            os.unlink(self.link)
        self.modem.reset_session_state()
        log.info("AT pty closed")

    def _reset_port(self) -> None:
        self.modem.card.close_owned(self.modem.owner)  # the channels the modem had open are gone
        self.close()
        if not self.faults.vanishing:  # a drop with vanish: the modem stays away
            self.open()

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        self.modem.line_bytes_in += len(data)
        if self.muted:
            return
        if self.modem.echo or self.modem.quirks.echo:
            # A modem echoes what it receives, as it receives it (V.250 §5.2.1).
            self._write_now(data)
        self.buf += data
        while True:
            idx = self.buf.find(b"\r")
            if idx < 0:
                break
            line = bytes(self.buf[:idx]).replace(b"\n", b"")
            del self.buf[: idx + 1]
            if line.strip():
                self.queue.put_nowait(line.decode("ascii", "replace"))

    def _write_now(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            pass

    async def _write(self, data: bytes) -> None:
        async with self.write_lock:
            await self._write_locked(data)

    async def _write_locked(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.modem.line_bytes_out += len(data)
        step = self.modem.quirks.split or len(data)
        for i in range(0, len(data), step):
            view = memoryview(data[i : i + step])
            while view:
                try:
                    n = os.write(self.master, view)
                    view = view[n:]
                except BlockingIOError:
                    fut = loop.create_future()
                    loop.add_writer(self.master, lambda: fut.done() or fut.set_result(None))
                    try:
                        await fut
                    finally:
                        loop.remove_writer(self.master)
            if self.modem.quirks.split and i + step < len(data):
                await asyncio.sleep(0.003)

    def _frame(self, lines: list) -> bytes:
        """V.250 verbose framing: every line between CR LF pairs; URC noise if asked."""
        out = []
        noise = self.modem.quirks.urc_noise
        for i, line in enumerate(lines):
            if noise and i == len(lines) - 1:
                out.append(URCS[(self.modem.commands.get("AT", 0) + i) % len(URCS)])
            out.append(line)
        if noise:
            out.insert(0, URCS[sum(self.modem.commands.values()) % len(URCS)])
        if self.modem.quirks.simcom_notices:
            out[:0] = SIMCOM_NOTICES
        if self.modem.quirks.notice:
            out.insert(0, self.modem.quirks.notice)
        return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in out)

    async def _work(self) -> None:
        while True:
            line = await self.queue.get()
            # The modem serves one command at a time: its latency runs from when it takes this one.
            received = time.monotonic()
            if self.muted:
                continue
            await self.faults.hold(FRONTEND, received)
            try:
                lines, drop = self.modem.handle(line)
            except Exception:  # a bug here must show in the log, not kill the front
                log.exception("AT command failed")
                lines, drop = ["ERROR"], False
            if drop:
                # The QMI socket's drop closes the connection and the next one works; a tty's
                # is a modem that resets: the host sees a hang-up and the port comes back anew.
                log.info("fault: the AT port hangs up and comes back")
                self.counters.drops[FRONTEND] = self.counters.drops.get(FRONTEND, 0) + 1
                loop = asyncio.get_running_loop()
                loop.call_soon(self._reset_port)
                return
            if lines is None:
                continue
            if self.modem.sim_up_in is not None:
                # A restart: its boot URCs, no answer, and the SIM's notices once it is up.
                delay, self.modem.sim_up_in = self.modem.sim_up_in, None
                loop = asyncio.get_running_loop()
                loop.call_later(delay, lambda: loop.create_task(self._sim_up()))
                await self._write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))
                continue
            await self._write(self._frame(lines))

    async def _sim_up(self) -> None:
        if self.master is not None:
            await self._write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in self.modem.sim_up()))
        else:
            self.modem.sim_up()
