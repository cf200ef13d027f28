#!/usr/bin/python3
"""The running esimd's introspection equals dbus/*.xml, member by member (the XML is the API
reference: an undocumented or missing member fails here), and every org.esim.Error name the
daemon can produce is documented."""

import os
import re
import unittest
import xml.etree.ElementTree as ET

from esimtest.world import MANAGER, SOURCE_ROOT, World

DBUS_DIR = os.path.join(SOURCE_ROOT, "dbus")
STANDARD = {"org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
            "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.ObjectManager"}


EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def emits_changed(prop: ET.Element) -> str:
    """How a property announces its changes, as the D-Bus specification defines the annotation:
    "true" (PropertiesChanged with the value; the default), "invalidates", "const", "false"."""
    for a in prop.findall("annotation"):
        if a.get("name") == EMITS:
            return a.get("value")
    return "true"


def members(iface: ET.Element) -> dict:
    out = {}
    for el in iface:
        if el.tag == "method":
            args = [(a.get("name"), a.get("type"), a.get("direction", "in")) for a in el.findall("arg")]
            out[("method", el.get("name"))] = args
        elif el.tag == "signal":
            out[("signal", el.get("name"))] = [(a.get("name"), a.get("type")) for a in el.findall("arg")]
        elif el.tag == "property":
            out[("property", el.get("name"))] = (el.get("type"), el.get("access"), emits_changed(el))
    return out


def documented(name: str) -> dict:
    root = ET.parse(os.path.join(DBUS_DIR, name + ".xml")).getroot()
    iface = root.find(f"interface[@name='{name}']")
    return members(iface)


def live(world: World, path: str) -> dict:
    xml = world.client.call(path, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
    root = ET.fromstring(xml)
    return {i.get("name"): members(i) for i in root.findall("interface") if i.get("name") not in STANDARD}


class ApiMatchesXml(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.world = World()
        job, props = cls.world.download("LPA:1$testsmdpplus1.example.com$DEMO-ONE")
        cls.job = job
        assert props["State"] == "succeeded", props

    @classmethod
    def tearDownClass(cls):
        cls.world.stop()

    def compare(self, path, iface):
        got = live(self.world, path)
        self.assertIn(iface, got, f"{path} does not implement {iface}")
        want = documented(iface)
        self.assertEqual(sorted(got[iface]), sorted(want), f"{iface}: members differ")
        for key, value in want.items():
            self.assertEqual(got[iface][key], value, f"{iface} {key[0]} {key[1]}")

    def test_manager(self):
        self.compare(MANAGER, "org.esim.Manager")

    def test_profile(self):
        profile = self.world.profiles()[0]["path"]
        self.compare(profile, "org.esim.Profile")

    def test_job(self):
        self.compare(self.job, "org.esim.Job")

    def test_object_manager_lists_every_object(self):
        objects = self.world.client.managed_objects()
        self.assertIn(MANAGER, objects)
        self.assertIn("org.esim.Manager", objects[MANAGER])
        self.assertTrue(any("org.esim.Profile" in ifs for ifs in objects.values()))
        self.assertIn(self.job, objects)

    def test_every_error_name_is_documented(self):
        text = "".join(open(os.path.join(DBUS_DIR, f)).read() for f in os.listdir(DBUS_DIR) if f.endswith(".xml"))
        with open(os.path.join(SOURCE_ROOT, "daemon", "bus-errors.c")) as f:
            source = f.read()
        with open(os.path.join(SOURCE_ROOT, "daemon", "bus-errors.h")) as f:
            source += f.read()
        names = set(re.findall(r'ESIMD_ERROR_PREFIX "(\w+)"', source))
        self.assertGreater(len(names), 15)
        for n in sorted(names - {"Failed"}):
            self.assertTrue(f"org.esim.Error.{n}" in text, f"org.esim.Error.{n} is not documented in dbus/*.xml")


if __name__ == "__main__":
    unittest.main(verbosity=2)
