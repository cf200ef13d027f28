"""The PC/SC front: the card as a virtual smart card of vsmartcard's vpcd reader driver.

pcscd loads vpcd (Debian: vsmartcard-vpcd), which listens on a TCP port per slot; a virtual card
connects to it, and the connection is the card being in the reader. The protocol (vsmartcard's
virtualsmartcard/doc/api.rst, "Creating a Virtual Smart Card"): vpcd sends a 2-byte big-endian
length and that many bytes; one byte is a control code (00 power off, 01 power on, 02 reset,
04 get ATR, answered with the ATR), anything longer is a command APDU, answered with the
response APDU. Nothing else is ever sent unasked.

Removing the card is closing the connection (vpcd then reports the slot empty at its next poll);
inserting it is connecting again. A 'drop' fault is a card pulled mid-command and put back a
moment later, which is what a loose card does to a reader.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from typing import Optional

from .card import Card
from .faults import Faults

log = logging.getLogger("esim-sim.vpcd")

# A real eUICC's ATR on a PC/SC reader (NekokoLPA2 issue #31): T=0 only, as UICCs are, so the
# host has to deal with 61xx and 6Cxx itself.
DEFAULT_ATR = bytes.fromhex("3B9F96801FC78031E073FE211B57AA866016010001BA")

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0x00, 0x01, 0x02, 0x04
# How long a pulled card stays out: longer than pcscd's 400 ms presence poll, so the reader
# sees it gone (a real reader's card-detect switch would).
REINSERT_DELAY = 1.0
RETRY_DELAY = 0.2


class VpcdCard:
    def __init__(self, card: Card, faults: Faults, host: str, port: int, atr: bytes = DEFAULT_ATR):
        self.card = card
        self.faults = faults
        self.host = host
        self.port = port
        self.atr = atr
        self.inserted = True
        self.writer: Optional[asyncio.StreamWriter] = None
        self.task: Optional[asyncio.Task] = None
        self.wakeup = asyncio.Event()
        self.connected = asyncio.Event()
        self.sessions = 0

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self._close()

    def remove(self) -> None:
        """The card leaves the reader and stays out until insert()."""
        self.inserted = False
        self._close()

    def insert(self) -> None:
        self.inserted = True
        self.wakeup.set()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.connected.clear()

    # ------------------------------------------------------------------ the connection
    async def _run(self) -> None:
        while True:
            if not self.inserted:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                # pcscd (or its vpcd slot) is not there yet, or restarting.
                await asyncio.sleep(RETRY_DELAY)
                continue
            if not self.inserted:
                writer.close()
                continue
            self.writer = writer
            self.connected.set()
            self.sessions += 1
            self.card.counters.connections["vpcd"] += 1
            log.info("card inserted (vpcd %s:%d)", self.host, self.port)
            pulled = await self._serve(reader, writer)
            self._close()
            # The card is out: whatever it held in RAM is gone.
            self.card.reset()
            log.info("card removed%s", " (fault: pulled mid-command)" if pulled else "")
            await asyncio.sleep(REINSERT_DELAY if pulled else RETRY_DELAY)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answers vpcd until the connection ends; True when a 'drop' fault pulled the card."""
        owner = ("vpcd", self.sessions)
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack(">H", header)
                data = await reader.readexactly(length) if length else b""
                if length == 1:
                    reply = self._control(data[0])
                else:
                    reply = await self._apdu(data, owner)
                    if reply is None:
                        return True
                if reply is not None:
                    writer.write(struct.pack(">H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return False
        finally:
            self.card.close_owned(owner)

    def _control(self, code: int) -> Optional[bytes]:
        if code == CTRL_ATR:
            return self.atr
        if code == CTRL_OFF:
            if self.card.powered:
                self.card.powered = False
                self.card.reset()
            log.debug("power off")
        elif code == CTRL_ON:
            self.card.powered = True
            log.debug("power on")
        elif code == CTRL_RESET:
            self.card.powered = True
            self.card.reset()
            log.debug("warm reset")
        else:
            log.warning("unknown vpcd control code %02X", code)
        return None

    async def _apdu(self, apdu: bytes, owner) -> Optional[bytes]:
        await self.faults.hold("vpcd", time.monotonic())
        t = self.card.transmit(apdu, "vpcd", owner)
        if t.response is None:
            return None
        if t.reset_after:
            # A REFRESH the eUICC asked for: the reader sees the card reset, as a modem would.
            self.card.reset()
        return t.response
