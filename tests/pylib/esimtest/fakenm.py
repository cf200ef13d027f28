"""A minimal fake NetworkManager on the private bus: /org/freedesktop/NetworkManager with the
overall State and Connectivity of org.freedesktop.NetworkManager, the StateChanged signal and
CheckConnectivity(), with NetworkManager's own names and signatures (checked against Debian
network-manager-dev's XML by tests/compat/test_fakes.py).

    nm = FakeNetworkManager(bus_address, state=STATE_CONNECTED_GLOBAL, connectivity=CONNECTIVITY_FULL)
    nm.manager.set(Connectivity=CONNECTIVITY_LIMITED)
    nm.stop()
"""

from __future__ import annotations

from .fakebus import FakeObject, FakeService, Interface

NAME = "org.freedesktop.NetworkManager"
PATH = "/org/freedesktop/NetworkManager"

# NMState and NMConnectivityState (libnm's nm-dbus-interface.h).
STATE_UNKNOWN, STATE_ASLEEP, STATE_DISCONNECTED, STATE_DISCONNECTING, STATE_CONNECTING = 0, 10, 20, 30, 40
STATE_CONNECTED_LOCAL, STATE_CONNECTED_SITE, STATE_CONNECTED_GLOBAL = 50, 60, 70
CONNECTIVITY_UNKNOWN, CONNECTIVITY_NONE, CONNECTIVITY_PORTAL, CONNECTIVITY_LIMITED, CONNECTIVITY_FULL = 0, 1, 2, 3, 4

NETWORK_MANAGER = Interface(NAME, properties={"State": "u", "Connectivity": "u"}, methods={
    "CheckConnectivity": ([], [("connectivity", "u")]),
}, signals={
    "StateChanged": [("state", "u")],
})


class Manager(FakeObject):
    """StateChanged goes with every change of State, as in NetworkManager."""

    INTERFACES = {NETWORK_MANAGER: {"State": STATE_UNKNOWN, "Connectivity": CONNECTIVITY_UNKNOWN}}

    def handle_CheckConnectivity(self, sender):
        return (self.get("Connectivity"),)

    def changed(self, iface, prop, old, new):
        if prop == "State" and old != new:
            self.emit(NAME, "StateChanged", new)


class FakeNetworkManager(FakeService):
    def __init__(self, address: str, state: int = STATE_CONNECTED_GLOBAL, connectivity: int = CONNECTIVITY_FULL):
        self.manager = Manager(PATH, State=state, Connectivity=connectivity)
        super().__init__(address, NAME)

    def setup(self):
        self._export(self.manager)
