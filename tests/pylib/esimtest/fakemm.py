"""A fake ModemManager on the private bus: org.freedesktop.ModemManager1 with the Manager object,
modems (org.freedesktop.ModemManager1.Modem, optionally .Modem.Modem3gpp) and SIMs
(org.freedesktop.ModemManager1.Sim), serving the subset of ModemManager's API that esimd's
clients use, with ModemManager's own names and signatures (checked against Debian
modemmanager-dev's XML by tests/compat/test_fakes.py).

    mm = FakeModemManager(bus_address)
    modem = mm.add_modem(ports=[("cdc-wdm0", PORT_QMI)], state=STATE_REGISTERED,
                         registration=REG_HOME, sim=dict(SimIdentifier="8949..."))
    modem.set(State=STATE_CONNECTED)       # PropertiesChanged (+ StateChanged), as ModemManager
    mm.remove_modem(modem)                 # InterfacesRemoved
    mm.stop()                              # ModemManager leaves the bus
    mm = FakeModemManager(bus_address)     # ... and restarts: modems numbered from 0 again

A card put in or taken out of a slot while the modem object stays: mm.set_slot_sim(modem, 2, {...} or
None), or mm.set_sim(modem, {...} or None) for a modem with one slot; the modem switching its slot by itself, followed by ModemManager without a new probe:
mm.switch_slot_in_place(modem, 2); a Sim's own change (a late Eid): sim.set(Eid=...).

A modem with several SIM slots: add_modem(sim_slots=[{...SIM properties...}, None], primary_slot=1)
(None: an empty slot, "/" in SimSlots). SetPrimarySimSlot is recorded (slot_switches()), calls
mm.on_primary_slot(modem, slot) so the test can switch the simulated modem, and probes the modem
again as ModemManager does: the modem object goes and a new one comes with that slot primary. InhibitDevice is recorded (inhibitions()) and can be
checked given back (assert_released()): by the caller, or by its leaving the bus.

To serve more of ModemManager, add the members to the Interface below (the check keeps them
honest) and, for a method, a handle_<Method> to the object's class.
"""

from __future__ import annotations

from typing import Optional

from .fakebus import DBusError, FakeObject, FakeService, Interface

NAME = "org.freedesktop.ModemManager1"
PATH = "/org/freedesktop/ModemManager1"
MODEM_PREFIX = PATH + "/Modem/"
SIM_PREFIX = PATH + "/SIM/"
MODEM_IFACE = NAME + ".Modem"
MODEM_3GPP_IFACE = NAME + ".Modem.Modem3gpp"
SIM_IFACE = NAME + ".Sim"
ERROR_NOT_FOUND = NAME + ".Error.Core.NotFound"
ERROR_IN_PROGRESS = NAME + ".Error.Core.InProgress"
ERROR_INVALID_ARGS = NAME + ".Error.Core.InvalidArgs"

# The values of ModemManager-enums.h (modemmanager-dev) that tests use.
STATE_FAILED, STATE_UNKNOWN, STATE_INITIALIZING, STATE_LOCKED, STATE_DISABLED = -1, 0, 1, 2, 3
STATE_DISABLING, STATE_ENABLING, STATE_ENABLED, STATE_SEARCHING, STATE_REGISTERED = 4, 5, 6, 7, 8
STATE_DISCONNECTING, STATE_CONNECTING, STATE_CONNECTED = 9, 10, 11
FAILED_NONE, FAILED_UNKNOWN, FAILED_SIM_MISSING, FAILED_SIM_ERROR = 0, 1, 2, 3
FAILED_UNKNOWN_CAPABILITIES, FAILED_ESIM_WITHOUT_PROFILES = 4, 5
LOCK_UNKNOWN, LOCK_NONE, LOCK_SIM_PIN, LOCK_SIM_PIN2, LOCK_SIM_PUK = 0, 1, 2, 3, 4
REG_IDLE, REG_HOME, REG_SEARCHING, REG_DENIED, REG_UNKNOWN, REG_ROAMING = 0, 1, 2, 3, 4, 5
PORT_UNKNOWN, PORT_NET, PORT_AT, PORT_QCDM, PORT_GPS, PORT_QMI, PORT_MBIM = 1, 2, 3, 4, 5, 6, 7
STATE_CHANGE_REASON_UNKNOWN = 0
SIM_TYPE_UNKNOWN, SIM_TYPE_PHYSICAL, SIM_TYPE_ESIM = 0, 1, 2
ESIM_STATUS_UNKNOWN, ESIM_STATUS_NO_PROFILES, ESIM_STATUS_WITH_PROFILES = 0, 1, 2
REMOVABILITY_UNKNOWN, REMOVABILITY_REMOVABLE, REMOVABILITY_NOT_REMOVABLE = 0, 1, 2

MANAGER = Interface(NAME, properties={"Version": "s"}, methods={
    "ScanDevices": ([], []),
    "InhibitDevice": ([("uid", "s"), ("inhibit", "b")], []),
})

MODEM = Interface(MODEM_IFACE, properties={
    "Sim": "o", "SimSlots": "ao", "PrimarySimSlot": "u", "Bearers": "ao",
    "Manufacturer": "s", "Model": "s", "Revision": "s", "DeviceIdentifier": "s",
    "Device": "s", "Drivers": "as", "Plugin": "s", "PrimaryPort": "s", "Ports": "a(su)",
    "EquipmentIdentifier": "s", "UnlockRequired": "u", "State": "i", "StateFailedReason": "u",
}, methods={
    "SetPrimarySimSlot": ([("sim_slot", "u")], []),
}, signals={
    "StateChanged": [("old", "i"), ("new", "i"), ("reason", "u")],
})

MODEM_3GPP = Interface(MODEM_3GPP_IFACE, properties={
    "Imei": "s", "RegistrationState": "u", "OperatorCode": "s", "OperatorName": "s",
})

SIM = Interface(SIM_IFACE, properties={
    "Active": "b", "SimIdentifier": "s", "Imsi": "s", "Eid": "s", "OperatorIdentifier": "s",
    "OperatorName": "s", "SimType": "u", "EsimStatus": "u", "Removability": "u",
})


class Manager(FakeObject):
    """/org/freedesktop/ModemManager1: the Manager interface (the object manager is the
    service's)."""

    INTERFACES = {MANAGER: {"Version": "1.20.4"}}

    def __init__(self, mm: "FakeModemManager"):
        super().__init__(PATH)
        self.mm = mm

    def handle_ScanDevices(self, sender):
        return ()

    def handle_InhibitDevice(self, sender, uid, inhibit):
        # As documented in ModemManager's XML: the modem whose Device is UID is unexported while
        # inhibited; the inhibition ends with its caller's presence on the bus.
        if inhibit and self.mm.refuse_inhibit:
            raise DBusError(*self.mm.refuse_inhibit)
        if inhibit:
            self.mm._inhibit(uid, sender)
        else:
            self.mm._uninhibit(uid)
        return ()


class Sim(FakeObject):
    """A SIM: on the bus at its own path, not listed by the object manager (as in ModemManager,
    whose modems name it in their Sim property)."""

    MANAGED = False
    INTERFACES = {SIM: {"Active": True, "SimIdentifier": "", "Imsi": "", "Eid": "", "OperatorIdentifier": "",
                        "OperatorName": "", "SimType": SIM_TYPE_PHYSICAL, "EsimStatus": ESIM_STATUS_UNKNOWN,
                        "Removability": REMOVABILITY_UNKNOWN}}


class Modem(FakeObject):
    """A modem; StateChanged goes with every change of State, as in ModemManager."""

    INTERFACES = {
        MODEM: {"Sim": "/", "SimSlots": [], "PrimarySimSlot": 0, "Bearers": [], "Manufacturer": "",
                "Model": "", "Revision": "", "DeviceIdentifier": "", "Device": "", "Drivers": [], "Plugin": "",
                "PrimaryPort": "", "Ports": [], "EquipmentIdentifier": "", "UnlockRequired": LOCK_NONE,
                "State": STATE_DISABLED, "StateFailedReason": FAILED_NONE},
    }

    def __init__(self, path: str, three_gpp: bool = True, **values):
        if three_gpp:
            self.INTERFACES = {**self.INTERFACES, MODEM_3GPP: {"Imei": "", "RegistrationState": REG_IDLE,
                                                               "OperatorCode": "", "OperatorName": ""}}
        super().__init__(path, **values)
        self.sim: Optional[Sim] = None
        self.slot_sims: list = []  # Sim or None per slot, when it has SimSlots
        self.mm: Optional["FakeModemManager"] = None

    def handle_SetPrimarySimSlot(self, sender, sim_slot):
        # As ModemManager does: a slot in [1, N] of SimSlots; the modem is switched and probed
        # again, so this object goes away and a new one comes with the slot in use.
        if not 1 <= sim_slot <= len(self.slot_sims):
            raise DBusError(ERROR_INVALID_ARGS, f"SIM slot {sim_slot} out of range [1, {len(self.slot_sims)}]")
        self.mm._set_primary_slot(self, sim_slot, sender)
        return ()

    def changed(self, iface, prop, old, new):
        if iface == MODEM_IFACE and prop == "State" and old != new:
            self.emit(MODEM_IFACE, "StateChanged", old, new, STATE_CHANGE_REASON_UNKNOWN)


class FakeModemManager(FakeService):
    """ModemManager: the Manager object, and modems numbered from 0 as ModemManager numbers
    them (a modem that comes back gets a new number)."""

    OBJECT_MANAGER_PATH = PATH

    def __init__(self, address: str):
        self.manager = Manager(self)
        self._next_modem = 0
        self._next_sim = 0
        self._inhibited: dict[str, Modem] = {}
        self._inhibitions: list[dict] = []
        self._slot_switches: list[dict] = []
        # Called (in the service's thread) with the modem and the slot when a caller switches it
        # with SetPrimarySimSlot, before ModemManager probes the modem again: the test makes the
        # simulated modem switch there.
        self.on_primary_slot = None
        # (error name, message) InhibitDevice(uid, true) fails with while set, the modem left
        # exported: ModemManager refusing to hand a modem over.
        self.refuse_inhibit = None
        super().__init__(address, NAME)

    def setup(self):
        self._export(self.manager)

    def add_modem(self, ports=(), primary_port: Optional[str] = None, device: Optional[str] = None,
                  state: int = STATE_DISABLED, registration: Optional[int] = None, three_gpp: bool = True,
                  sim: Optional[dict] = None, sim_slots: Optional[list] = None, primary_slot: int = 1,
                  **values) -> Modem:
        """A new modem (InterfacesAdded); PORTS: [(name, PORT_*), ...]; SIM: the properties of
        its SIM object, None for none; SIM_SLOTS: instead, the properties of the SIM in each
        slot (None: empty), PRIMARY_SLOT the one in use (1-based), whose SIM is Sim; other
        Modem/Modem3gpp properties by name."""
        return self.call(self._add_modem, ports, primary_port, device, state, registration, three_gpp, sim, values,
                         sim_slots, primary_slot)

    def _add_modem(self, ports, primary_port, device, state, registration, three_gpp, sim, values,
                   sim_slots=None, primary_slot=1):
        index = self._next_modem
        self._next_modem += 1
        ports = [(str(name), int(kind)) for name, kind in ports]
        props = {"Ports": ports, "PrimaryPort": primary_port or (ports[0][0] if ports else ""),
                 "Device": device if device is not None else f"/sys/devices/fake/modem{index}", "State": state}
        if three_gpp and registration is not None:
            props["RegistrationState"] = registration
        props.update(values)
        modem = Modem(MODEM_PREFIX + str(index), three_gpp=three_gpp, **props)
        modem.mm = self
        if sim_slots is not None:
            for slot, props in enumerate(sim_slots, 1):
                slot_sim = None
                if props is not None:
                    slot_sim = self._export(Sim(SIM_PREFIX + str(self._next_sim),
                                                **dict(props, Active=slot == primary_slot)))
                    self._next_sim += 1
                modem.slot_sims.append(slot_sim)
            modem.update({"SimSlots": [s.path if s else "/" for s in modem.slot_sims],
                          "PrimarySimSlot": primary_slot})
            primary = modem.slot_sims[primary_slot - 1] if 0 < primary_slot <= len(modem.slot_sims) else None
            if primary is not None:
                modem.sim = primary
                modem.update({"Sim": primary.path})
        elif sim is not None:
            modem.sim = self._export(Sim(SIM_PREFIX + str(self._next_sim), **sim))
            self._next_sim += 1
            modem.update({"Sim": modem.sim.path})
        return self._export(modem)

    def remove_modem(self, modem: Modem):
        """The modem goes away (InterfacesRemoved), its SIM with it."""
        self.call(self._remove_modem, modem)

    def _remove_modem(self, modem: Modem):
        self._unexport(modem)
        for sim in {id(s): s for s in [modem.sim, *modem.slot_sims] if s is not None}.values():
            self._unexport(sim)

    def modems(self) -> list:
        return [o for p, o in sorted(self.objects.items()) if isinstance(o, Modem)]

    # -- inhibition -----------------------------------------------------------------------

    def inhibitions(self) -> list:
        """Every InhibitDevice that took a modem, oldest first: uid, sender, the modem's path,
        and how it ended ("released": given back by the caller; "caller-left": its caller left
        the bus; None: still held)."""
        return self.call(lambda: [dict(r) for r in self._inhibitions])

    def assert_released(self):
        """Raises AssertionError when a modem is still inhibited, or was given back only by its
        caller leaving the bus (not by a call)."""
        held = [r for r in self.inhibitions() if r["ended"] != "released"]
        if held:
            raise AssertionError(f"modems not given back with InhibitDevice(uid, false): {held}")

    # -- inhibition (called in the service's thread) ----------------------------------------

    def _inhibit(self, uid: str, sender: str):
        if uid in self._inhibited:
            raise DBusError(ERROR_IN_PROGRESS, f"Device '{uid}' is already inhibited")
        modem = next((m for m in self.modems() if m.get("Device") == uid), None)
        if modem is None:
            raise DBusError(ERROR_NOT_FOUND, f"No device found with uid '{uid}'")
        self._remove_modem(modem)
        self._inhibited[uid] = modem
        self._inhibitions.append({"uid": uid, "sender": sender, "path": modem.path, "ended": None})
        self.watch_caller(sender, lambda: self._uninhibit(uid, quiet=True))

    def _uninhibit(self, uid: str, quiet: bool = False):
        modem = self._inhibited.pop(uid, None)
        if modem is None:
            if quiet:
                return
            raise DBusError(ERROR_NOT_FOUND, f"Device '{uid}' is not inhibited")
        for record in reversed(self._inhibitions):
            if record["uid"] == uid and record["ended"] is None:
                record["ended"] = "caller-left" if quiet else "released"
                break
        self._probe_again(modem)

    def slot_switches(self) -> list:
        """Every SetPrimarySimSlot, oldest first: the modem's path, the slot, the caller."""
        return self.call(lambda: [dict(r) for r in self._slot_switches])

    def _set_primary_slot(self, modem: Modem, slot: int, sender: str):
        self._slot_switches.append({"path": modem.path, "slot": slot, "sender": sender})
        if slot == modem.get("PrimarySimSlot"):
            return
        if self.on_primary_slot:
            self.on_primary_slot(modem, slot)
        self._remove_modem(modem)
        self._probe_again(modem, slot)

    # -- SIM slots changing under a modem object that stays ------------------------------------

    def set_slot_sim(self, modem: Modem, slot: int, sim: Optional[dict]) -> Optional[Sim]:
        """A card put in slot SLOT (SIM: its Sim object's properties) or taken out (None) while the
        modem object stays, as ModemManager reports a hot-swap in a slot the modem does not use:
        a new Sim object (or none), SimSlots changed (PropertiesChanged), and Sim too when SLOT
        is the primary one. Returns the new Sim."""
        return self.call(self._set_slot_sim, modem, slot, sim)

    def _set_slot_sim(self, modem: Modem, slot: int, sim: Optional[dict]) -> Optional[Sim]:
        old = modem.slot_sims[slot - 1]
        new = None
        if sim is not None:
            new = self._export(Sim(SIM_PREFIX + str(self._next_sim),
                                   **dict(sim, Active=slot == modem.get("PrimarySimSlot"))))
            self._next_sim += 1
        modem.slot_sims[slot - 1] = new
        changes = {"SimSlots": [s.path if s else "/" for s in modem.slot_sims]}
        if slot == modem.get("PrimarySimSlot"):
            modem.sim = new
            changes["Sim"] = new.path if new else "/"
        modem._set(changes)
        if old is not None:
            self._unexport(old)
        return new

    def set_sim(self, modem: Modem, sim: Optional[dict]) -> Optional[Sim]:
        """A single-slot modem's card swapped (SIM: the new Sim object's properties) or taken
        out (None) while the modem object stays: a new Sim object (or none) and the modem's Sim
        property changed (PropertiesChanged). Returns the new Sim."""
        return self.call(self._set_sim, modem, sim)

    def _set_sim(self, modem: Modem, sim: Optional[dict]) -> Optional[Sim]:
        old, new = modem.sim, None
        if sim is not None:
            new = self._export(Sim(SIM_PREFIX + str(self._next_sim), **sim))
            self._next_sim += 1
        modem.sim = new
        modem._set({"Sim": new.path if new else "/"})
        if old is not None:
            self._unexport(old)
        return new

    def switch_slot_in_place(self, modem: Modem, slot: int):
        """The modem changed its active slot by itself (another program switched it through a
        proxy, or the modem reported a switch) and ModemManager followed without probing the
        modem again: each Sim's Active, then the modem's PrimarySimSlot and Sim
        (PropertiesChanged on each object, in that order)."""
        self.call(self._switch_slot_in_place, modem, slot)

    def _switch_slot_in_place(self, modem: Modem, slot: int):
        for n, sim in enumerate(modem.slot_sims, 1):
            if sim is not None and sim.get("Active") != (n == slot):
                sim._set({"Active": n == slot})
        primary = modem.slot_sims[slot - 1]
        modem.sim = primary
        modem._set({"PrimarySimSlot": slot, "Sim": primary.path if primary else "/"})

    def _probe_again(self, modem: Modem, primary_slot: Optional[int] = None):
        """A new modem object with what the old one had (ModemManager probed it anew)."""
        values = {p: v for iface in modem.values.values() for p, v in iface.items()}
        values.pop("Sim", None)
        values.pop("SimSlots", None)
        primary_slot = primary_slot or values.pop("PrimarySimSlot", 1) or 1
        values.pop("PrimarySimSlot", None)
        sim = modem.sim and {p: v for p, v in modem.sim.values[SIM_IFACE].items()}
        slots = [s and {p: v for p, v in s.values[SIM_IFACE].items() if p != "Active"} for s in modem.slot_sims]
        three_gpp = MODEM_3GPP_IFACE in modem.interfaces
        self._add_modem(values.pop("Ports"), values.pop("PrimaryPort"), values.pop("Device"), values.pop("State"),
                        values.pop("RegistrationState", None), three_gpp, None if slots else sim, values,
                        slots or None, primary_slot)
