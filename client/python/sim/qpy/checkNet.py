"""checkNet: QuecPython's network readiness check for applications run by sim.run, computed from
the system: ModemManager's modem (org.freedesktop.ModemManager1) and NetworkManager's overall
state (org.freedesktop.NetworkManager) on the system bus. Neither is started for the check
(no D-Bus activation); what is not running counts as what it would have told.

waitNetworkReady(timeout=60) -> (stage, state), as on the modules (also under the firmware's
other names: wait_network_connected(timeout_s), and the CheckNetwork(project_name,
project_version) class with wait_network_connected() and poweron_print_once(), which prints the
project, the modem's firmware revision and the SIM's status as the firmware does; the power-on
reason, which Linux does not know, is printed as "unknown"):
  stage 1, state = the SIM's status in sim.getStatus()'s numbers (1: ready);
  stage 2, state = the network registration in net.getState()'s numbers (3GPP TS 27.007
           +CREG/+CEREG <stat>: 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown,
           5 roaming, ...), which ModemManager's MMModem3gppRegistrationState uses too;
  stage 3, state = 1 when the data connection is up, else 0.
It returns (3, 1) as soon as everything is ready, at once for a missing or locked SIM (as the
firmware does), and otherwise after TIMEOUT seconds (1 to 3600, else OSError) with the stage and
state the system is in then. It re-reads the system whenever ModemManager or NetworkManager
announce a change (or appear or leave), never more often.

The modem is the one of esimd's eUICC (the one sim.esim uses): the ModemManager modem that has
a port named like esimd's Device (/dev/cdc-wdm0 and the port cdc-wdm0). When no modem has it
(esimd not running, an eUICC in a card reader), the modem with the lowest number.

The mapping (MM: the modem's org.freedesktop.ModemManager1.Modem properties):
  ModemManager not running, or no modem                     (1, 21) unknown, waits
  State UNKNOWN or INITIALIZING                            (1, 18) initializing, waits
  State FAILED, StateFailedReason SIM_MISSING              (1, 0)  no SIM, at once
  State FAILED, SIM_ERROR or ESIM_WITHOUT_PROFILES         (1, 20) invalid, waits (esimd may be
                                                                   installing a profile)
  State FAILED, another reason                             (1, 21) unknown, waits
  State LOCKED, UnlockRequired SIM_PIN 2, SIM_PUK 3, PH_SIM_PIN and PH_FSIM_PIN 4,
    PH_FSIM_PUK 5, SIM_PIN2 8, SIM_PUK2 9, PH_NET_PIN 10, PH_NET_PUK 11, PH_NETSUB_PIN 12,
    PH_NETSUB_PUK 13, PH_SP_PIN 14, PH_SP_PUK 15, PH_CORP_PIN 16, PH_CORP_PUK 17
                                                           (1, that number), at once
  State LOCKED, UnlockRequired UNKNOWN or NONE             (1, 21), waits
  any other State (the SIM is usable):
    Modem3gpp.RegistrationState not 1, 5, 9 or 10          (2, RegistrationState)
    (a modem without the 3GPP interface: registered when State is REGISTERED or later;
     otherwise 2 while SEARCHING, else 0)
    registered, State not CONNECTED                        (3, 0)
    State CONNECTED, NetworkManager running and not online (3, 0)
    State CONNECTED, NetworkManager online or not running  (3, 1)
NetworkManager is online when its Connectivity is FULL (4), or UNKNOWN (0: checks disabled)
with State CONNECTED_GLOBAL (70).
"""

import os
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

MM = "org.freedesktop.ModemManager1"
MM_PATH = "/org/freedesktop/ModemManager1"
MM_MODEM = MM + ".Modem"
MM_MODEM_3GPP = MM + ".Modem.Modem3gpp"
MM_MODEM_PREFIX = MM_PATH + "/Modem/"
NM = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
CALL_TIMEOUT_MS = 10000

# MMModemState, MMModemStateFailedReason, MMModemLock (ModemManager-enums.h)
_FAILED, _UNKNOWN, _INITIALIZING, _LOCKED = -1, 0, 1, 2
_SEARCHING, _REGISTERED, _CONNECTED = 7, 8, 11
_SIM_MISSING, _SIM_ERROR, _ESIM_WITHOUT_PROFILES = 2, 3, 5
_LOCKS = {2: 2, 4: 3, 10: 4, 13: 4, 14: 5, 3: 8, 5: 9, 8: 10, 9: 11, 15: 12, 16: 13, 6: 14, 7: 15,
          11: 16, 12: 17}
# 3GPP registrations that carry data: home, roaming, and both "CSFB not preferred"
_REGISTERED_3GPP = {1, 5, 9, 10}
# sim.getStatus() numbers
SIM_ABSENT, SIM_READY, SIM_INITIALIZING, SIM_INVALID, SIM_UNKNOWN = 0, 1, 18, 20, 21
# what the firmware waits out; for any other SIM status it returns at once
_SIM_WAITS = {SIM_INITIALIZING, SIM_INVALID, SIM_UNKNOWN}
# NMConnectivityState, NMState
_NM_CONNECTIVITY_UNKNOWN, _NM_CONNECTIVITY_FULL, _NM_STATE_CONNECTED_GLOBAL = 0, 4, 70


def wait_network_connected(timeout_s=60):
    return waitNetworkReady(timeout_s)


class CheckNetwork:
    def __init__(self, project_name, project_version):
        self.PROJECT_NAME = project_name
        self.PROJECT_VERSION = project_version

    def poweron_print_once(self):
        revision, sim_status = "unknown", SIM_UNKNOWN
        try:
            watch = _Watch()
        except GLib.Error:
            watch = None
        if watch is not None:
            try:
                stage, state = watch.evaluate()
                sim_status = state if stage == 1 else SIM_READY
                modem = watch.modem()
                revision = (modem or {}).get("Revision") or revision
            finally:
                watch.close()
        print("==================================================")
        print("PROJECT_NAME     : {}".format(self.PROJECT_NAME))
        print("PROJECT_VERSION  : {}".format(self.PROJECT_VERSION))
        print("FIRMWARE_VERSION : {}".format(revision))
        print("POWERON_REASON   : unknown")
        print("SIM_CARD_STATUS  : {}".format(sim_status))
        print("==================================================")

    def wait_network_connected(self, timeout_s=60):
        return waitNetworkReady(timeout_s)


def waitNetworkReady(timeout=60):
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 3600:
        raise OSError("timeout should be in [1, 3600] s!")
    deadline = time.monotonic() + timeout
    try:
        watch = _Watch()
    except GLib.Error as e:
        print(f"checkNet: cannot reach the system bus ({e.message}): the SIM's status is unknown",
              file=sys.stderr)
        return (1, SIM_UNKNOWN)
    try:
        while True:
            stage, state = watch.evaluate()
            if (stage, state) == (3, 1) or (stage == 1 and state not in _SIM_WAITS):
                return (stage, state)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return (stage, state)
            watch.wait(remaining)
    finally:
        watch.close()


class _Watch:
    """A private system-bus connection in a main context of the calling thread's own, listening
    to ModemManager, NetworkManager, and their names coming and going."""

    def __init__(self):
        self.ctx = GLib.MainContext.new()
        self.ctx.push_thread_default()
        try:
            address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
            self.conn = Gio.DBusConnection.new_for_address_sync(
                address,
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
                None, None)
        except GLib.Error:
            self.ctx.pop_thread_default()
            raise
        self.conn.set_exit_on_close(False)
        self.changed = False
        self.device = ""
        self.subs = [self.conn.signal_subscribe(sender, None, None, None, None, Gio.DBusSignalFlags.NONE,
                                                self._on_signal) for sender in (MM, NM)]
        self.subs += [self.conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                                                 "/org/freedesktop/DBus", name, Gio.DBusSignalFlags.NONE,
                                                 self._on_signal) for name in (MM, NM)]

    def close(self):
        for sub in self.subs:
            self.conn.signal_unsubscribe(sub)
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass  # already closed: the bus went away
        self.ctx.pop_thread_default()

    def _on_signal(self, *_):
        self.changed = True

    def wait(self, seconds):
        """Until ModemManager or NetworkManager announce something, or SECONDS pass."""
        expired = []
        timer = GLib.timeout_source_new(max(1, int(seconds * 1000)))
        timer.set_callback(lambda *_: expired.append(True) or GLib.SOURCE_REMOVE)
        timer.attach(self.ctx)
        self.changed = False
        try:
            while not self.changed and not expired:
                self.ctx.iteration(True)
        finally:
            timer.destroy()

    def _call(self, name, path, iface, method, args, reply_type):
        """The reply, unpacked; None when NAME is not on the bus or does not answer."""
        try:
            reply = self.conn.call_sync(name, path, iface, method, args, GLib.VariantType.new(reply_type),
                                        Gio.DBusCallFlags.NO_AUTO_START, CALL_TIMEOUT_MS, None)
        except GLib.Error:
            return None
        return reply.unpack()

    def _modem_interfaces(self):
        """The interfaces of the modem to check ({interface: properties}), None for none."""
        objects = self._call(MM, MM_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", None,
                             "(a{oa{sa{sv}}})")
        modems = {path: ifaces for path, ifaces in (objects[0] if objects else {}).items() if MM_MODEM in ifaces}
        return modems[self._choose(modems)] if modems else None

    def modem(self):
        """The Modem properties of the modem to check, None for none."""
        ifaces = self._modem_interfaces()
        return ifaces[MM_MODEM] if ifaces else None

    def evaluate(self):
        """(stage, state) of the system now."""
        ifaces = self._modem_interfaces()
        if not ifaces:
            return (1, SIM_UNKNOWN)
        modem = ifaces[MM_MODEM]
        state = modem.get("State", _UNKNOWN)
        if state == _FAILED:
            reason = modem.get("StateFailedReason", 0)
            if reason == _SIM_MISSING:
                return (1, SIM_ABSENT)
            return (1, SIM_INVALID if reason in (_SIM_ERROR, _ESIM_WITHOUT_PROFILES) else SIM_UNKNOWN)
        if state in (_UNKNOWN, _INITIALIZING):
            return (1, SIM_INITIALIZING)
        if state == _LOCKED:
            return (1, _LOCKS.get(modem.get("UnlockRequired", 0), SIM_UNKNOWN))
        three_gpp = ifaces.get(MM_MODEM_3GPP)
        if three_gpp is not None:
            registration = three_gpp.get("RegistrationState", 4)
            registered = registration in _REGISTERED_3GPP
        else:
            registered = state >= _REGISTERED
            registration = 1 if registered else (2 if state == _SEARCHING else 0)
        if not registered:
            return (2, registration)
        if state != _CONNECTED or not self._online():
            return (3, 0)
        return (3, 1)

    def _online(self):
        props = self._call(NM, NM_PATH, "org.freedesktop.DBus.Properties", "GetAll", GLib.Variant("(s)", (NM,)),
                           "(a{sv})")
        if props is None:
            return True  # no NetworkManager: the modem's own connection decides
        connectivity = props[0].get("Connectivity", _NM_CONNECTIVITY_UNKNOWN)
        return connectivity == _NM_CONNECTIVITY_FULL or (
            connectivity == _NM_CONNECTIVITY_UNKNOWN and props[0].get("State") == _NM_STATE_CONNECTED_GLOBAL)

    def _choose(self, modems):
        """The path of the modem with esimd's eUICC, else the lowest-numbered one."""
        def number(path):
            tail = path[len(MM_MODEM_PREFIX):]
            return (0, int(tail)) if path.startswith(MM_MODEM_PREFIX) and tail.isdigit() else (1, path)

        ordered = sorted(modems, key=number)
        if not self.device:
            from .. import esim  # only when there is a modem to choose
            self.device = esim._euicc_device()
        port = os.path.basename(self.device)
        if port:
            for path in ordered:
                modem = modems[path][MM_MODEM]
                if port == modem.get("PrimaryPort") or port in (name for name, _kind in modem.get("Ports", [])):
                    return path
        return ordered[0]
