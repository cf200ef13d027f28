#!/usr/bin/python3
"""Signals a panel can trust (issue 16, item 4): a client that reads GetManagedObjects once and
then only listens (InterfacesAdded/Removed, PropertiesChanged) knows exactly what a fresh read
says, every change reaches it once (never a value it already has), properties the XML calls
const never change, and a recursive introspection finds every object once."""

import os
import unittest
import xml.etree.ElementTree as ET
from collections import Counter

from gi.repository import Gio, GLib

from esimtest.world import (DEFAULT_ORDERS, JOB_IFACE, MANAGER, MANAGER_IFACE, SOURCE_ROOT, World,
                            activation_code, dbus_error_name)

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"
EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def documented_emits() -> dict:
    """interface -> property -> "true" | "invalidates" | "const" | "false", from dbus/*.xml."""
    out = {}
    for f in ("org.esim.Manager.xml", "org.esim.Profile.xml", "org.esim.Job.xml"):
        root = ET.parse(os.path.join(SOURCE_ROOT, "dbus", f)).getroot()
        for iface in root.findall("interface"):
            props = out.setdefault(iface.get("name"), {})
            for p in iface.findall("property"):
                value = "true"
                for a in p.findall("annotation"):
                    if a.get("name") == EMITS:
                        value = a.get("value")
                props[p.get("name")] = value
    return out


class Mirror:
    """What a client knows from one GetManagedObjects and the signals after it, and every way
    the signals misled it."""

    def __init__(self, world: World):
        self.client = world.client
        self.emits = documented_emits()
        self.objects = None  # path -> interface -> properties; None until the first read answers
        self.problems = []
        self.changes = Counter()  # (interface, property) -> PropertiesChanged entries seen
        conn = self.client.conn
        owner = self.client.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                 GLib.Variant("(s)", ("org.esim",)), dest="org.freedesktop.DBus")[0]
        self.subs = [conn.signal_subscribe(owner, iface, None, None, None, Gio.DBusSignalFlags.NONE,
                                           self._on_signal)
                     for iface in ("org.freedesktop.DBus.ObjectManager", "org.freedesktop.DBus.Properties")]
        # Asynchronously, so the reply is handled in order with the signals around it: a signal
        # sent before the snapshot was taken is dispatched before it (and ignored).
        done = self.client.call_async("/org/esim", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        self.client.wait_for(lambda: "result" in done or "error" in done, 30, "GetManagedObjects")
        self.objects = self._esim_only(done["result"][0])

    def close(self):
        for s in self.subs:
            self.client.conn.signal_unsubscribe(s)

    @staticmethod
    def _esim_only(objects: dict) -> dict:
        return {path: {i: dict(p) for i, p in ifaces.items() if i.startswith("org.esim.")}
                for path, ifaces in objects.items()}

    def _on_signal(self, conn, sender, path, iface, member, params):
        if self.objects is None:
            return
        args = params.unpack()
        if member == "InterfacesAdded":
            obj, ifaces = args
            for i, props in ifaces.items():
                if not i.startswith("org.esim."):
                    continue
                if i in self.objects.get(obj, {}):
                    self.problems.append(f"InterfacesAdded for {obj} {i}, which was there already")
                self.objects.setdefault(obj, {})[i] = dict(props)
        elif member == "InterfacesRemoved":
            obj, ifaces = args
            for i in ifaces:
                if not i.startswith("org.esim."):
                    continue
                if i not in self.objects.get(obj, {}):
                    self.problems.append(f"InterfacesRemoved for {obj} {i}, which was not there")
                self.objects.get(obj, {}).pop(i, None)
            if obj in self.objects and not self.objects[obj]:
                del self.objects[obj]
        elif member == "PropertiesChanged":
            i, changed, invalidated = args
            known = self.objects.get(path, {}).get(i)
            if known is None:
                self.problems.append(f"PropertiesChanged on {path} {i}, not an object the client knows")
                return
            if not changed:
                self.problems.append(f"an empty PropertiesChanged on {path} {i}")
            for name, value in changed.items():
                self.changes[(i, name)] += 1
                how = self.emits.get(i, {}).get(name, "undocumented")
                if how != "true":
                    self.problems.append(f"{i}.{name} ({how}) changed on {path} to {value!r}")
                if name in known and known[name] == value:
                    self.problems.append(f"{path} {i}.{name} re-sent unchanged: {value!r}")
                known[name] = value
            for name in invalidated:
                if self.emits.get(i, {}).get(name) != "invalidates":
                    self.problems.append(f"{i}.{name} invalidated on {path}")

    def fresh(self) -> dict:
        return self._esim_only(self.client.managed_objects())


class Signals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Jobs stay on the bus for the whole test: their removal is not what this compares.
        orders = DEFAULT_ORDERS + [{"matchingId": "CANCEL-ME", "iccid": "8949449999999990045",
                                    "profile": {"generate": {"size": 4096}},
                                    "metadata": {"serviceProviderName": "Third", "profileName": "Plan"}}]
        cls.w = World(orders=orders, config={"Daemon": {"JobLinger": "3600"}})
        cls.w.wait_idle()
        cls.mirror = Mirror(cls.w)

    @classmethod
    def tearDownClass(cls):
        cls.mirror.close()
        cls.w.stop()

    def settle(self):
        """Waits until no job runs or waits and every notification is delivered (the test
        SM-DP+ accepts them), then lets every signal sent before that arrive."""
        w = self.w
        w.client.wait_for(lambda: w.manager_prop("State") == "ready" and w.manager_prop("CurrentJob") == "/"
                          and w.manager_prop("PendingNotifications") == 0, 120, "a settled eUICC")
        w.client.pump()

    def assertMirrored(self, what: str):
        self.settle()
        fresh = self.mirror.fresh()
        self.w.client.pump()
        self.assertEqual(self.mirror.problems, [], f"after {what}")
        self.assertEqual(sorted(self.mirror.objects), sorted(fresh), f"objects after {what}")
        for path, ifaces in fresh.items():
            self.assertEqual(self.mirror.objects[path], ifaces, f"{path} after {what}")

    def test_1_download_switch_rename_delete(self):
        w = self.w
        job, props = w.download(activation_code("DEMO-ONE"), options={"nickname": "Work"})
        self.assertEqual(props["State"], "succeeded", props)
        self.assertMirrored("a download")
        job, props = w.download(activation_code("DEMO-TWO"), options={"enable": True})
        self.assertEqual(props["State"], "succeeded", props)
        self.assertMirrored("a download that enables")
        w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertMirrored("a switch")
        w.manager("SetNickname", GLib.Variant("(ss)", (ICCID_TWO, "Travel")))
        self.assertMirrored("a new nickname")
        w.manager("DisableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertMirrored("a disable and a delete")
        w.manager("Refresh")
        self.assertMirrored("a refresh")
        # The states a panel shows went by, each once per change.
        self.assertGreater(self.mirror.changes[(MANAGER_IFACE, "State")], 4)
        self.assertGreater(self.mirror.changes[(JOB_IFACE, "Progress")], 5)

    def test_2_failure_and_cancel(self):
        w = self.w
        job, props = w.download(activation_code("NO-SUCH-ORDER"))
        self.assertEqual(props["State"], "failed", props)
        self.assertMirrored("a failed download")
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("CANCEL-ME"), "",
                                                              {"confirm": GLib.Variant("b", True)})))[0]
        w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation", 60,
                          "the download to wait for confirmation")
        w.client.call(job, JOB_IFACE, "Cancel")
        self.assertEqual(w.wait_job(job)["State"], "cancelled")
        self.assertMirrored("a cancelled download")
        with self.assertRaises(GLib.Error) as cm:
            w.manager("DisableProfile", GLib.Variant("(sa{sv})", (ICCID_TWO, {})))  # disabled in test_1
        self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.WrongProfileState")
        self.assertMirrored("a refused disable")

    def test_3_introspection_finds_each_object_once(self):
        """As gdbus introspect --recurse and D-Feet walk the tree: each child node named in an
        Introspect answer is introspected in turn, at its parent's path plus its name."""
        visits = Counter()
        with_interfaces = set()

        def walk(path):
            visits[path] += 1
            xml = self.w.client.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
            root = ET.fromstring(xml)
            if any(i.get("name").startswith("org.esim.") for i in root.findall("interface")):
                with_interfaces.add(path)
            for node in root.findall("node"):
                name = node.get("name")
                self.assertNotIn("/", name, f"{path} lists {name}, not a direct child")
                walk(path.rstrip("/") + "/" + name)

        walk("/")
        self.assertEqual([p for p, n in visits.items() if n > 1], [])
        objects = set(self.mirror.fresh())
        self.assertEqual(with_interfaces, objects)
        self.assertTrue(any("/profile/" in p for p in objects), objects)
        self.assertIn(MANAGER, objects)


if __name__ == "__main__":
    unittest.main(verbosity=2)
