"""The modem's physical SIM slots: which one holds the eUICC, which a plain SIM (a UICC with no
ISD-R) or nothing, and which one the modem uses. Laptop cards and car modules often have an eSIM
and a SIM tray; only the active slot's card answers APDUs, and the modem reports every slot (QMI
UIM Get Slot Status) so that a host can find an eUICC in a slot it does not use."""

from __future__ import annotations

import logging

from .card import Card

log = logging.getLogger("esim-sim.slots")

EUICC, PLAIN, EMPTY = "euicc", "plain", "empty"
KINDS = (EUICC, PLAIN, EMPTY)
MAX_SLOTS = 4


class SlotError(ValueError):
    pass


def parse_slots(text: str) -> list[str]:
    """'euicc,plain' → ['euicc', 'plain']: what each slot holds, slot 1 first."""
    kinds = [k.strip() for k in text.split(",")]
    if not 1 <= len(kinds) <= MAX_SLOTS or any(k not in KINDS for k in kinds):
        raise SlotError("slots: 1 to %d of %s, comma-separated" % (MAX_SLOTS, "|".join(KINDS)))
    if kinds.count(EUICC) > 1:
        raise SlotError("slots: the simulator has one eUICC")
    return kinds


class Slots:
    """Slot numbers are 1-based, as QMI and ModemManager count them. The one Card object is the
    card in the active slot: the eUICC when that slot holds it, otherwise a card without an ISD-R
    (Card.plain), so every front reaches what the modem would."""

    def __init__(self, card: Card, kinds: list[str], active: int = 1):
        if not 1 <= active <= len(kinds):
            raise SlotError("active slot %d: the modem has %d slot(s)" % (active, len(kinds)))
        self.card = card
        self.kinds = list(kinds)
        self.active = active
        self.switches = 0
        self._apply()

    @property
    def count(self) -> int:
        return len(self.kinds)

    def holds(self, number: int) -> str:
        return self.kinds[number - 1]

    def present(self, number: int) -> bool:
        return self.holds(number) != EMPTY

    def active_kind(self) -> str:
        return self.holds(self.active)

    def _apply(self) -> None:
        self.card.plain = self.active_kind() != EUICC

    def switch(self, number: int) -> bool:
        """Makes slot NUMBER the active one; False when it already is (the modem's 'no effect').
        The modem leaves the card it used: every channel closes, as in a reset."""
        if not 1 <= number <= self.count:
            raise SlotError("no slot %d: the modem has %d" % (number, self.count))
        if number == self.active:
            return False
        self.card.reset()
        self.active = number
        self.switches += 1
        self._apply()
        log.info("active slot is now %d (%s)", number, self.active_kind())
        return True

    def put(self, number: int, kind: str) -> None:
        """What slot NUMBER holds now (a card put in, swapped or taken out of its tray): in the
        active slot the modem reads the new card, every channel closed."""
        if not 1 <= number <= self.count:
            raise SlotError("no slot %d: the modem has %d" % (number, self.count))
        if kind not in KINDS:
            raise SlotError("slot %d: %s is not one of %s" % (number, kind, "|".join(KINDS)))
        if kind == EUICC and any(k == EUICC for n, k in enumerate(self.kinds, 1) if n != number):
            raise SlotError("slots: the simulator has one eUICC")
        self.kinds[number - 1] = kind
        if number == self.active:
            self.card.reset()
            self._apply()
        log.info("slot %d now holds: %s", number, kind)

    def describe(self) -> dict:
        return {"kinds": list(self.kinds), "active": self.active, "switches": self.switches}
