"""Test doubles of system services (ModemManager, NetworkManager) on the private bus: what they
share. A service owns its well-known name on the bus and serves its objects from a thread of its
own; each object is described by the interfaces it serves (Interface: the subset of the real
service's members that the fake implements), and every member it serves can be checked against
the real service's own introspection XML (mismatches()), so a fake never invents a name or a
signature the real service does not have.

Fakes are driven from the test's thread: every change (a property, an object added or removed)
is carried out in the service's thread and has been announced on the bus (PropertiesChanged,
InterfacesAdded/Removed) when the call returns.
"""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from typing import Callable, Optional

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

# Where Debian's -dev packages install the services' introspection XML (modemmanager-dev,
# network-manager-dev), one file per interface, named after it.
INTERFACES_DIR = "/usr/share/dbus-1/interfaces"
# The bus policy that lets the fakes own their names and be called on the private bus.
BUS_POLICY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-services.conf")

PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"
STANDARD_IFACES = {"org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                   PROPERTIES_IFACE, OBJECT_MANAGER_IFACE}


class DBusError(Exception):
    """Raised by a method handler: the caller gets the D-Bus error NAME with MESSAGE."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


class Interface:
    """The members of one D-Bus interface that a fake serves.

    properties: {name: signature} (read-only) or {name: (signature, access)};
    methods: {name: ([(arg, signature), ...] in, [(arg, signature), ...] out)};
    signals: {name: [(arg, signature), ...]}.
    """

    def __init__(self, name: str, properties: Optional[dict] = None, methods: Optional[dict] = None,
                 signals: Optional[dict] = None):
        self.name = name
        self.properties = {p: (v, "read") if isinstance(v, str) else tuple(v)
                           for p, v in (properties or {}).items()}
        self.methods = dict(methods or {})
        self.signals = dict(signals or {})

    def xml(self) -> str:
        out = [f'<interface name="{self.name}">']
        for name, (ins, outs) in self.methods.items():
            out.append(f'<method name="{name}">')
            out += [f'<arg name="{a}" type="{t}" direction="in"/>' for a, t in ins]
            out += [f'<arg name="{a}" type="{t}" direction="out"/>' for a, t in outs]
            out.append("</method>")
        for name, args in self.signals.items():
            out.append(f'<signal name="{name}">')
            out += [f'<arg name="{a}" type="{t}"/>' for a, t in args]
            out.append("</signal>")
        for name, (sig, access) in self.properties.items():
            out.append(f'<property name="{name}" type="{sig}" access="{access}"/>')
        out.append("</interface>")
        return "".join(out)

    def info(self) -> Gio.DBusInterfaceInfo:
        node = Gio.DBusNodeInfo.new_for_xml(f"<node>{self.xml()}</node>")
        return node.lookup_interface(self.name)

    def out_signature(self, method: str) -> str:
        return "(" + "".join(t for _a, t in self.methods[method][1]) + ")"

    def signal_signature(self, signal: str) -> str:
        return "(" + "".join(t for _a, t in self.signals[signal]) + ")"


class FakeObject:
    """One object of a fake service: its path and, for each interface it serves, its property
    values (Python values, converted with the interface's signatures). A subclass lists its
    interfaces and their initial values in INTERFACES ({Interface: {property: value}}) and
    handles a method NAME with a method handle_NAME(sender, *args) returning the out arguments
    as a tuple (or raising DBusError). A method without a handler is not served."""

    INTERFACES: dict = {}
    # Whether the service's object manager lists it (ModemManager lists modems, not SIMs).
    MANAGED = True

    def __init__(self, path: str, **values):
        self.path = path
        self.service: Optional["FakeService"] = None
        self.interfaces = {iface.name: iface for iface in self.INTERFACES}
        self.values = {iface.name: dict(defaults) for iface, defaults in self.INTERFACES.items()}
        self._ids: list[int] = []
        self.update(values)

    def update(self, values: dict):
        """Sets properties before export (the object's own bookkeeping, no signal)."""
        for prop, value in values.items():
            self.values[self.interface_of(prop)][prop] = value

    def interface_of(self, prop: str) -> str:
        names = [n for n, iface in self.interfaces.items() if prop in iface.properties]
        if len(names) != 1:
            raise KeyError(f"{self.path}: {prop} is a property of {names or 'none'} of {list(self.interfaces)}")
        return names[0]

    def variant(self, iface: str, prop: str) -> GLib.Variant:
        return GLib.Variant(self.interfaces[iface].properties[prop][0], self.values[iface][prop])

    def all_properties(self, iface: str) -> dict:
        return {p: self.variant(iface, p) for p in self.values[iface]}

    def get(self, prop: str):
        return self.values[self.interface_of(prop)][prop]

    def set(self, **values):
        """Changes properties as the real service would: one PropertiesChanged per interface."""
        self._service().call(self._set, values)

    def _set(self, values: dict):
        changed: dict[str, dict] = {}
        for prop, value in values.items():
            iface = self.interface_of(prop)
            old = self.values[iface].get(prop)
            self.values[iface][prop] = value
            self.changed(iface, prop, old, value)
            changed.setdefault(iface, {})[prop] = self.variant(iface, prop)
        for iface, props in changed.items():
            self.service.emit(self.path, PROPERTIES_IFACE, "PropertiesChanged",
                              GLib.Variant("(sa{sv}as)", (iface, props, [])))

    def changed(self, iface: str, prop: str, old, new):
        """Called in the service's thread for every property set; for signals that go with it."""

    def emit(self, iface: str, signal: str, *args):
        self.service.emit(self.path, iface, signal,
                          GLib.Variant(self.interfaces[iface].signal_signature(signal), args))

    def _service(self) -> "FakeService":
        if self.service is None:
            raise RuntimeError(f"{self.path} is not exported")
        return self.service


class FakeService:
    """Owns NAME on the bus at ADDRESS and serves FakeObjects from a thread of its own (a GLib
    main context and loop). OBJECT_MANAGER_PATH, when set, implements
    org.freedesktop.DBus.ObjectManager there for every object exported below it."""

    OBJECT_MANAGER_PATH: Optional[str] = None

    def __init__(self, address: str, name: str):
        self.address = address
        self.name = name
        self.objects: dict[str, FakeObject] = {}
        self._ctx = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._ctx, False)
        self._om_id = 0
        self._name_watches: dict[str, tuple[int, list]] = {}
        started = threading.Event()
        self._startup_error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(started,), name=f"fake {name}",
                                        daemon=True)
        self._thread.start()
        started.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error

    # -- the service's thread ---------------------------------------------------------------

    def _run(self, started: threading.Event):
        self._ctx.push_thread_default()
        try:
            self.conn = Gio.DBusConnection.new_for_address_sync(
                self.address,
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
                None, None)
            self.conn.set_exit_on_close(False)
            if self.OBJECT_MANAGER_PATH:
                self._om_id = self.conn.register_object(
                    self.OBJECT_MANAGER_PATH, _OBJECT_MANAGER.info(), self._on_object_manager_call, None, None)
            self.setup()
            reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "RequestName", GLib.Variant("(su)", (self.name, 4)),  # DO_NOT_QUEUE
                                        GLib.VariantType.new("(u)"), Gio.DBusCallFlags.NONE, 10000, None)
            if reply.unpack()[0] != 1:  # PRIMARY_OWNER
                raise RuntimeError(f"cannot own {self.name} on {self.address}")
        except BaseException as e:  # reported to the constructor's caller
            self._startup_error = e
            self._ctx.pop_thread_default()
            started.set()
            return
        started.set()
        self._loop.run()
        self._ctx.pop_thread_default()

    def setup(self):
        """Exports the objects the service has from the start (called in its thread)."""

    def call(self, fn: Callable, *args):
        """Runs fn(*args) in the service's thread; its result, or its exception raised here."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        done = threading.Event()
        out: dict = {}

        def run(*_):
            try:
                out["result"] = fn(*args)
            except BaseException as e:
                out["error"] = e
            done.set()
            return GLib.SOURCE_REMOVE

        source = GLib.idle_source_new()
        source.set_callback(run)
        source.attach(self._ctx)
        if not done.wait(30):
            raise TimeoutError(f"the fake {self.name} did not answer")
        if "error" in out:
            raise out["error"]
        return out.get("result")

    def emit(self, path: str, iface: str, signal: str, args: GLib.Variant):
        self.conn.emit_signal(None, path, iface, signal, args)

    # -- objects --------------------------------------------------------------------------

    def export(self, obj: FakeObject) -> FakeObject:
        """Serves OBJ on the bus (announced with InterfacesAdded under the object manager)."""
        return self.call(self._export, obj)

    def _export(self, obj: FakeObject) -> FakeObject:
        if obj.path in self.objects:
            raise ValueError(f"{obj.path} is already exported")
        obj.service = self
        for iface in obj.interfaces.values():
            obj._ids.append(self.conn.register_object(obj.path, iface.info(), self._on_method_call,
                                                      self._on_get_property, None))
        self.objects[obj.path] = obj
        if self._managed(obj):
            self.emit(self.OBJECT_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesAdded",
                      GLib.Variant("(oa{sa{sv}})", (obj.path, {i: obj.all_properties(i) for i in obj.interfaces})))
        return obj

    def unexport(self, obj: FakeObject):
        """Takes OBJ off the bus (announced with InterfacesRemoved under the object manager)."""
        self.call(self._unexport, obj)

    def _unexport(self, obj: FakeObject):
        if self.objects.get(obj.path) is not obj:
            raise ValueError(f"{obj.path} is not exported")
        for reg in obj._ids:
            self.conn.unregister_object(reg)
        obj._ids.clear()
        del self.objects[obj.path]
        obj.service = None
        if self._managed(obj):
            self.emit(self.OBJECT_MANAGER_PATH, OBJECT_MANAGER_IFACE, "InterfacesRemoved",
                      GLib.Variant("(oas)", (obj.path, list(obj.interfaces))))

    def _managed(self, obj: FakeObject) -> bool:
        root = self.OBJECT_MANAGER_PATH
        return bool(root) and obj.MANAGED and obj.path.startswith(root.rstrip("/") + "/")

    # -- callers --------------------------------------------------------------------------

    def watch_caller(self, unique_name: str, on_vanished: Callable[[], None]):
        """Calls on_vanished (in the service's thread) once UNIQUE_NAME has left the bus."""
        if unique_name not in self._name_watches:
            sub = self.conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                                             "/org/freedesktop/DBus", unique_name, Gio.DBusSignalFlags.NONE,
                                             self._on_owner_changed)
            self._name_watches[unique_name] = (sub, [])
            # it may have left before the subscription reached the bus
            has_owner = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                            "NameHasOwner", GLib.Variant("(s)", (unique_name,)),
                                            GLib.VariantType.new("(b)"), Gio.DBusCallFlags.NONE, 10000, None)
            if not has_owner.unpack()[0]:
                self._name_watches.pop(unique_name)
                self.conn.signal_unsubscribe(sub)
                on_vanished()
                return
        self._name_watches[unique_name][1].append(on_vanished)

    def _on_owner_changed(self, conn, sender, path, iface, member, params):
        name, _old, new = params.unpack()
        if new or name not in self._name_watches:
            return
        sub, callbacks = self._name_watches.pop(name)
        self.conn.signal_unsubscribe(sub)
        for callback in callbacks:
            callback()

    # -- dispatch -------------------------------------------------------------------------

    def _on_method_call(self, conn, sender, path, iface, method, params, invocation):
        obj = self.objects.get(path)
        handler = getattr(obj, "handle_" + method, None) if obj else None
        if handler is None:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod",
                                         f"the fake {self.name} does not serve {iface}.{method}")
            return
        try:
            out = handler(sender, *params.unpack())
        except DBusError as e:
            invocation.return_dbus_error(e.name, e.message)
            return
        invocation.return_value(GLib.Variant(obj.interfaces[iface].out_signature(method), tuple(out or ())))

    def _on_get_property(self, conn, sender, path, iface, prop):
        return self.objects[path].variant(iface, prop)

    def _on_object_manager_call(self, conn, sender, path, iface, method, params, invocation):
        managed = {p: {i: o.all_properties(i) for i in o.interfaces}
                   for p, o in self.objects.items() if self._managed(o)}
        invocation.return_value(GLib.Variant("(a{oa{sa{sv}}})", (managed,)))

    # -- the end --------------------------------------------------------------------------

    def stop(self):
        """Leaves the bus, as the daemon does when it exits: its name goes, then its connection.
        The name is released first, and the bus has answered, so that the name is gone for
        everyone when stop() returns (a mere disconnection reaches the bus in its own time)."""
        if not self._thread.is_alive():
            return

        def close():
            if not self.conn.is_closed():
                try:
                    self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "ReleaseName", GLib.Variant("(s)", (self.name,)),
                                        GLib.VariantType.new("(u)"), Gio.DBusCallFlags.NONE, 10000, None)
                except GLib.Error:
                    pass  # the bus itself is gone
                self.conn.close_sync(None)
            self._loop.quit()

        self.call(close)
        self._thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


_OBJECT_MANAGER = Interface(OBJECT_MANAGER_IFACE, methods={
    "GetManagedObjects": ([], [("objects", "a{oa{sa{sv}}}")]),
}, signals={
    "InterfacesAdded": [("object", "o"), ("interfaces", "a{sa{sv}}")],
    "InterfacesRemoved": [("object", "o"), ("interfaces", "as")],
})


# -- checking a fake against the real service's introspection XML ----------------------------


def members(iface: ET.Element) -> dict:
    """{(kind, name): signature} of an introspection <interface>: a property's (type, access), a
    method's [(type, direction), ...], a signal's [type, ...]. Argument names are documentation,
    not part of the wire format, and are left out."""
    out = {}
    for el in iface:
        if el.tag == "method":
            out[("method", el.get("name"))] = [(a.get("type"), a.get("direction", "in")) for a in el.findall("arg")]
        elif el.tag == "signal":
            out[("signal", el.get("name"))] = [a.get("type") for a in el.findall("arg")]
        elif el.tag == "property":
            out[("property", el.get("name"))] = (el.get("type"), el.get("access"))
    return out


def reference(iface_name: str, directory: str = INTERFACES_DIR) -> dict:
    """members() of IFACE_NAME in the real service's XML (DIRECTORY/IFACE_NAME.xml)."""
    path = os.path.join(directory, iface_name + ".xml")
    root = ET.parse(path).getroot()
    found = root if root.tag == "interface" else root.find(f"interface[@name='{iface_name}']")
    if found is None or found.get("name") != iface_name:
        raise LookupError(f"{path} does not describe {iface_name}")
    return members(found)


def mismatches(introspection_xml: str, directory: str = INTERFACES_DIR) -> list:
    """What an object serves (its Introspect() answer) that the real service's XML does not have
    with the same signature, one line each; [] when everything matches. Standard interfaces are
    left out; an interface the XML directory has no file for is a mismatch."""
    problems = []
    for iface in ET.fromstring(introspection_xml).findall("interface"):
        name = iface.get("name")
        if name in STANDARD_IFACES:
            continue
        try:
            want = reference(name, directory)
        except (OSError, LookupError) as e:
            problems.append(f"{name}: no reference: {e}")
            continue
        for key, signature in members(iface).items():
            if key not in want:
                problems.append(f"{name}: {key[0]} {key[1]} is not in the real interface")
            elif want[key] != signature:
                problems.append(f"{name}: {key[0]} {key[1]} is {signature}, the real one {want[key]}")
    return problems


def walk(conn: Gio.DBusConnection, name: str, path: str = "/") -> dict:
    """{path: Introspect() XML} of every object NAME serves at or below PATH."""
    found = {}
    xml = conn.call_sync(name, path, "org.freedesktop.DBus.Introspectable", "Introspect", None,
                         GLib.VariantType.new("(s)"), Gio.DBusCallFlags.NONE, 10000, None).unpack()[0]
    root = ET.fromstring(xml)
    if root.findall("interface"):
        found[path] = xml
    for child in root.findall("node"):
        found.update(walk(conn, name, path.rstrip("/") + "/" + child.get("name")))
    return found
