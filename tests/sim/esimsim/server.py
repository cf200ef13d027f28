"""The simulator process: asyncio front-ends and the control socket around one card.

Front-ends: the qmi-proxy socket, the pty (both QMUX), the MBIM pty (mbim.py), the AT pty
(at.py) and the plain APDU socket."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
import tty
from typing import Optional

from esimtest import crypto

from .card import Card, Counters
from .euicc import Euicc
from .faults import Faults, FaultSpecError
from .mbim import MbimFunction, MbimPty
from .vpcd import DEFAULT_ATR, VpcdCard
from .qmi import DropConnection, Link, QmiFormatError, QmiModem, QmuxDecoder, parse_frame

log = logging.getLogger("esim-sim")


class Simulator:
    def __init__(self, euicc: Euicc, card: Card, modem: QmiModem, faults: Faults, counters: Counters, args,
                 mbim: Optional[MbimFunction] = None):
        self.euicc = euicc
        self.card = card
        self.modem = modem
        self.faults = faults
        self.faults.on_vanish = lambda: asyncio.get_event_loop().create_task(self.disappear())
        self.counters = counters
        self.args = args
        self.present = True
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self.writers: dict[int, tuple[str, asyncio.StreamWriter]] = {}
        self.next_conn = 1
        self.pty_master: Optional[int] = None
        self.pty_slave: Optional[int] = None
        self.pty_link: Optional[Link] = None
        self.pty_queue: Optional[asyncio.Queue] = None
        self.pty_muted = False
        self.pty_decoder = QmuxDecoder()
        self.mbim = mbim
        self.mbim_pty: Optional[MbimPty] = None
        self.vpcd: Optional[VpcdCard] = None
        self.stopping: Optional[asyncio.Future] = None
        self.at_front = None  # esimsim.at.AtFront, when --at-pty is given

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: self.stopping.done() or self.stopping.set_result(None))
        if self.args.control:
            self.servers["control"] = await asyncio.start_unix_server(self._control_client, path=self._unlink(self.args.control))
        await self._listen()
        if self.args.pty:
            self._open_pty()
        if self.args.mbim_pty:
            self.mbim_pty = MbimPty(self.mbim, self.args.mbim_pty, self.counters, self.card.reset)
            self.mbim_pty.open()
        if self.at_front:
            self.at_front.open()
        if self.args.vpcd_port:
            self.vpcd = VpcdCard(self.card, self.faults, self.args.vpcd_host, self.args.vpcd_port, self.args.atr)
            self.vpcd.start()
        print("READY", flush=True)
        log.info("ready")
        await self.stopping
        await self._shutdown()

    @staticmethod
    def _unlink(path: str) -> str:
        if os.path.exists(path) or os.path.islink(path):
            os.unlink(path)
        return path

    async def _listen(self) -> None:
        if self.args.qmi_proxy_socket:
            self.servers["qmi"] = await asyncio.start_unix_server(self._qmi_client, path="\0" + self.args.qmi_proxy_socket)
        if self.args.apdu_socket:
            self.servers["apdu"] = await asyncio.start_unix_server(self._apdu_client, path=self._unlink(self.args.apdu_socket))

    async def disappear(self) -> None:
        """The modem leaves: every connection closes, nothing listens, the card resets."""
        if not self.present:
            return
        self.present = False
        self.pty_muted = True
        await self._stop_listening()
        if self.mbim_pty:
            self.mbim_pty.close()
        if self.at_front:
            self.at_front.close()
        if self.vpcd:
            self.vpcd.remove()
        self.card.reset()

    async def _stop_listening(self) -> None:
        for name in ("qmi", "apdu"):
            srv = self.servers.pop(name, None)
            if srv is not None:
                srv.close()
        for _conn, (kind, w) in list(self.writers.items()):
            if kind != "control":
                w.close()

    async def _shutdown(self) -> None:
        if self.at_front:
            self.at_front.close()
        for srv in self.servers.values():
            srv.close()
        for _conn, (_kind, w) in list(self.writers.items()):
            w.close()
        if self.pty_master is not None:
            asyncio.get_running_loop().remove_reader(self.pty_master)
            os.close(self.pty_master)
            os.close(self.pty_slave)
            if os.path.islink(self.args.pty):
                os.unlink(self.args.pty)
        if self.mbim_pty:
            self.mbim_pty.close()
        if self.vpcd:
            await self.vpcd.stop()
        for path in (self.args.apdu_socket, self.args.control):
            if path and os.path.exists(path):
                os.unlink(path)
        log.info("stopped")

    def _register(self, kind: str, writer: asyncio.StreamWriter) -> int:
        conn = self.next_conn
        self.next_conn += 1
        self.writers[conn] = (kind, writer)
        self.counters.connections[kind] = self.counters.connections.get(kind, 0) + 1
        return conn

    # ------------------------------------------------------------------ QMUX over the qmi-proxy socket
    async def _qmi_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.present:
            writer.close()
            return
        conn = self._register("qmi", writer)
        link = Link("qmi", needs_proxy_open=True)
        decoder = QmuxDecoder()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for frame in decoder.feed(data):
                    try:
                        msg = parse_frame(frame)
                    except QmiFormatError as e:
                        log.warning("bad QMUX frame from proxy client: %s", e)
                        continue
                    frames, reset_after = await self.modem.handle(link, msg)
                    for f in frames:
                        writer.write(f)
                    await writer.drain()
                    if reset_after:
                        self.card.reset()
        except DropConnection:
            log.info("fault: dropping qmi-proxy client connection")
        except (ConnectionError, OSError) as e:
            log.info("qmi-proxy client connection error: %s", e)
        finally:
            self.modem.release_link(link)
            self.writers.pop(conn, None)
            writer.close()

    # ------------------------------------------------------------------ QMUX on a pseudo-terminal
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw mode on the slave side (where the line discipline lives): QMUX is binary.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.pty_master, self.pty_slave = master, slave
        name = os.ttyname(slave)
        tmp = self.args.pty + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.args.pty)
        self.pty_link = Link("pty", needs_proxy_open=False)
        self.pty_queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._pty_readable)
        loop.create_task(self._pty_worker())
        self.counters.connections["pty"] += 1
        log.info("pty %s -> %s", self.args.pty, name)

    def _pty_readable(self) -> None:
        try:
            data = os.read(self.pty_master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # EIO while no client holds the slave open: ours keeps it open, so this is rare.
            return
        if self.pty_muted:
            return
        for frame in self.pty_decoder.feed(data):
            self.pty_queue.put_nowait(frame)

    async def _pty_write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.pty_master, view)
                view = view[n:]
            except BlockingIOError:
                fut = loop.create_future()
                loop.add_writer(self.pty_master, lambda: fut.done() or fut.set_result(None))
                try:
                    await fut
                finally:
                    loop.remove_writer(self.pty_master)

    async def _pty_worker(self) -> None:
        while True:
            frame = await self.pty_queue.get()
            if self.pty_muted:
                continue
            try:
                msg = parse_frame(frame)
            except QmiFormatError as e:
                log.warning("bad QMUX frame on pty: %s", e)
                continue
            try:
                frames, reset_after = await self.modem.handle(self.pty_link, msg)
            except DropConnection:
                log.info("fault: pty stops answering")
                self.pty_muted = True
                continue
            for f in frames:
                await self._pty_write(f)
            if reset_after:
                self.card.reset()

    # ------------------------------------------------------------------ plain APDU socket
    async def _apdu_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.present:
            writer.close()
            return
        conn = self._register("apdu", writer)
        owner = ("apdu", conn)
        try:
            while True:
                line = await reader.readline()
                received = time.monotonic()
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                try:
                    apdu = bytes.fromhex(text.decode("ascii"))
                except (UnicodeDecodeError, ValueError):
                    writer.write(b"ERR not a hex APDU\n")
                    await writer.drain()
                    continue
                await self.faults.hold("apdu", received)
                t = self.card.transmit(apdu, "apdu", owner)
                if t.response is None:
                    log.info("fault: dropping APDU socket connection")
                    break
                writer.write(t.response.hex().upper().encode() + b"\n")
                await writer.drain()
                if t.reset_after:
                    self.card.reset()
        except (ConnectionError, OSError) as e:
            log.info("APDU client connection error: %s", e)
        finally:
            self.card.close_owned(owner)
            self.writers.pop(conn, None)
            writer.close()

    # ------------------------------------------------------------------ control socket
    async def _control_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self._register("control", writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError("request must be a JSON object")
                    resp = await self.control(req)
                except (ValueError, KeyError, TypeError, FaultSpecError) as e:
                    resp = {"ok": False, "error": str(e)}
                writer.write(json.dumps(resp).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.pop(conn, None)
            writer.close()

    def counters_view(self) -> dict:
        c = self.counters
        return {
            "apdus": c.apdus,
            "bytes_in": c.bytes_in,
            "bytes_out": c.bytes_out,
            "store_data_blocks": c.store_data_blocks,
            "store_data_sizes": {str(k): v for k, v in sorted(c.store_data_sizes.items())},
            "store_data_max": c.store_data_max,
            "es10_commands": c.commands,
            "es10_by_tag": dict(self.euicc.command_counts),
            "get_responses": c.get_responses,
            "channels_open": sorted(n for n in self.card.channels if n != 0),
            "channels_opened": c.channels_opened,
            "channels_closed": c.channels_closed,
            "card_resets": c.card_resets,
            "drops": c.drops,
            "qmi_messages": c.qmi_messages,
            "mbim_messages": c.mbim_messages,
            "connections": c.connections,
            "cla_channel_mismatch": c.cla_channel_mismatch,
            "apdu_time_ms": {k: round(v, 3) for k, v in c.apdu_time_ms.items()},
            "apdus_timed": dict(c.apdus_timed),
            "at": self.at_front.modem.describe() if self.at_front else None,
            "pirs": self.euicc.download.pir_count,
            "state_writes": self.euicc.store.writes,
            "faults": self.faults.describe(),
            "faults_cleared": self.faults.history,
        }

    async def control(self, req: dict) -> dict:
        cmd = req.get("cmd")
        if cmd == "state":
            out = self.euicc.describe()
            out.update({"ok": True, "present": self.present, "powered": self.card.powered,
                        "channels": sorted(n for n in self.card.channels if n != 0), "pty_muted": self.pty_muted})
            if self.mbim_pty:
                out["mbim"] = {"present": self.mbim_pty.present, "open": self.mbim.opened, "muted": self.mbim_pty.muted,
                               "radio_on": self.mbim.radio_on, "mapped_slot": self.mbim.mapped_slot,
                               "channels": sorted(self.mbim.channel_groups)}
            if self.vpcd:
                out["vpcd"] = {"inserted": self.vpcd.inserted, "connected": self.vpcd.connected.is_set(),
                               "sessions": self.vpcd.sessions}
            out["slots"] = self.modem.slots.describe()
            return out
        if cmd == "counters":
            out = self.counters_view()
            if req.get("reset"):
                self.counters.reset()
                self.euicc.command_counts.clear()
            return dict(out, ok=True)
        if cmd == "trace":
            return {"ok": True, "apdus": self.card.trace_view(bool(req.get("reset")))}
        if cmd == "fault":
            action = req.get("action", "add")
            if action == "add":
                f = self.faults.add(req.get("fault"))
                return {"ok": True, "id": f.id}
            if action == "clear":
                n = self.faults.clear(req.get("id"))
                self.pty_muted = self.pty_muted and self.present and any(f.kind == "drop" for f in self.faults.rules)
                if self.mbim_pty:
                    self.mbim_pty.muted = self.mbim_pty.muted and any(f.kind == "drop" for f in self.faults.rules)
                if self.at_front:
                    self.at_front.muted = self.at_front.muted and any(f.kind == "drop" for f in self.faults.rules)
                return {"ok": True, "cleared": n}
            if action == "list":
                return {"ok": True, "faults": self.faults.describe()}
            raise ValueError("fault action must be add, clear or list")
        if cmd == "disappear":
            await self.disappear()
            return {"ok": True}
        if cmd == "appear":
            self.faults.vanishing = False
            if not self.present:
                self.present = True
                self.pty_muted = False
                await self._listen()
                if self.mbim_pty:
                    self.mbim_pty.muted = False
                    self.mbim_pty.open()
                if self.at_front:
                    self.at_front.muted = False
                    self.at_front.open()
                if self.vpcd:
                    self.vpcd.insert()
            return {"ok": True}
        if cmd == "reset":
            self.card.reset()
            self.euicc.store.reset()
            self.euicc.download.last_cancelled = None
            self.euicc.download.last_interrupted = None
            return {"ok": True}
        if cmd == "card_reset":
            self.card.reset()
            return {"ok": True}
        if cmd == "switch_slot":
            # What another host (ModemManager, a user's qmicli) switching the modem looks like.
            switched = self.modem.slots.switch(int(req["slot"]))
            return dict(self.modem.slots.describe(), ok=True, switched=switched)
        if cmd == "put_card":
            # A card put in, swapped or taken out of slot N's tray (kind euicc, plain or empty).
            self.modem.slots.put(int(req["slot"]), str(req["kind"]))
            return dict(self.modem.slots.describe(), ok=True)
        if cmd == "mbim_map_slot":
            # Another host (ModemManager) mapping the MBIM function to slot N (1-based).
            slot = int(req["slot"])
            if not self.mbim or not 1 <= slot <= self.mbim.slots:
                raise ValueError("no MBIM slot %d" % slot)
            return {"ok": True, "switched": self.mbim.map_slot(slot - 1), "mapped_slot": self.mbim.mapped_slot}
        if cmd == "set":
            return self._set(req)
        if cmd == "at":
            if not self.at_front:
                raise ValueError("no AT front (start with --at-pty)")
            changed = self.at_front.modem.quirks.update(req.get("quirks") or {})
            if "internal_lpa" in changed:
                self.at_front.modem.lpa_enabled = True
            if req.get("reset_stats"):
                self.at_front.modem.reset_stats()
            return dict(self.at_front.modem.describe(), ok=True, changed=changed, muted=self.at_front.muted,
                        pty=self.args.at_pty)
        if cmd == "test_inject_ot_key":
            # TEST ONLY: makes the next PrepareDownload use a recorded one-time key, so a BPP bound
            # in a recorded session (bsp-vector-1) can be replayed. Never part of a real eUICC.
            key = crypto.private_from_scalar(bytes.fromhex(req["private_key"]), req.get("curve", "secp256r1"))
            self.euicc.download.injected_ot_key = key
            return {"ok": True, "public_key": crypto.point_of(key).hex()}
        raise ValueError("unknown command %r" % cmd)

    def _set(self, req: dict) -> dict:
        data = self.euicc.data
        opts = self.euicc.options
        changed = []
        for key, value in req.items():
            if key == "cmd":
                continue
            if key == "rat":
                for rule in value:
                    if not isinstance(rule.get("ppr_ids"), list) or not isinstance(rule.get("operators"), list):
                        raise ValueError("a RAT rule needs ppr_ids and operators lists")
                    for op in rule["operators"]:
                        if len(bytes.fromhex(op["mcc_mnc"])) != 3:
                            raise ValueError("mcc_mnc must be 3 bytes of hex")
                data["rat"] = value
            elif key == "total_memory":
                data["total_memory"] = int(value)
            elif key == "default_smdp":
                data["default_smdp"] = value or None
            elif key == "root_smds":
                data["root_smds"] = str(value)
            elif key in ("cat_busy", "refresh_resets", "allow_provisioning_class"):
                setattr(opts, key, bool(value))
            elif key == "certification_data":
                if value is not None and (not isinstance(value, list) or len(value) != 2
                                          or not all(isinstance(v, str) for v in value)):
                    raise ValueError("certification_data is [platform_label, discovery_base_url] or null")
                opts.certification_data = tuple(value) if value else None
            elif key == "get_response":
                self.card.get_response = bool(value)
            elif key == "wrong_le":
                self.card.wrong_le = bool(value)
            elif key == "announce_6100":
                self.card.announce_6100 = bool(value)
            else:
                raise ValueError("cannot set %r" % key)
            changed.append(key)
        self.euicc.store.commit()
        return {"ok": True, "changed": changed}
