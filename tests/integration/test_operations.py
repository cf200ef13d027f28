#!/usr/bin/python3
"""Every eSIM operation through the real esimd on a private system bus, checked three ways: the
D-Bus answers and signals, the simulated eUICC's state, and what the test SM-DP+ received."""

import unittest

from gi.repository import GLib

from esimtest.world import (MANAGER, MANAGER_IFACE, PROFILE_IFACE, SIM_IMEI, World, activation_code,
                            dbus_error_name)

ICCID_ONE = "8949449999999990011"
ICCID_TWO = "8949449999999990029"


class Operations(unittest.TestCase):
    """One world, scenarios in order (test names sort): download, enable, switch, delete."""

    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.sim = cls.w.sim.ctl()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def error_of(self, fn, *args, **kw):
        with self.assertRaises(GLib.Error) as cm:
            fn(*args, **kw)
        return dbus_error_name(cm.exception), cm.exception.message

    def sim_profiles(self):
        return {p["iccid"]: p for p in self.sim.state()["profiles"]}

    def smdp_ctl(self):
        return self.w.smdp.control

    def test_00_identity_and_info(self):
        w = self.w
        self.assertEqual(w.manager_prop("Eid"), "89049032123451234512345678901235")
        self.assertEqual(w.manager_prop("State"), "ready")
        self.assertEqual(w.manager_prop("Transport"), "qmi")
        self.assertEqual(w.manager_prop("Name"), "sim")
        self.assertEqual(w.manager_prop("SpecVersion"), "2.2.2")
        self.assertEqual(w.manager_prop("RootSmdsAddress"), "testrootsmds.example.com")
        self.assertEqual(w.manager_prop("SegmentSize"), 255)
        self.assertEqual(w.manager_prop("ActiveProfile"), "/")
        info = w.manager("GetInfo")[0]
        self.assertEqual(info["svn"], "2.2.2")
        self.assertEqual(info["free_non_volatile_memory"], w.manager_prop("FreeNonVolatileMemory"))
        self.assertEqual(len(info["ci_pkids_verification"]), 1)
        self.assertEqual(len(info["ci_pkids_verification"][0]), 40)
        self.assertEqual(w.profiles(), [])
        # the modem's IMEI was read once, when it appeared (no Imei= is configured)
        self.assertEqual(self.sim.counters()["qmi_messages"].get("dms-get-ids"), 1)

    def test_01_download(self):
        w = self.w
        free_before = w.manager_prop("FreeNonVolatileMemory")
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual(props["Kind"], "download")
        self.assertEqual(props["Progress"], 1.0)
        self.assertEqual(props["Result"]["iccid"], ICCID_ONE)
        self.assertEqual(props["ProfileMetadata"]["service_provider"], "Test Operator")
        # DownloadResult(job, 0, iccid, "", "")
        results = [s[3] for s in w.client.signals_named("DownloadResult", MANAGER)]
        self.assertIn((job, 0, ICCID_ONE, "", ""), results)
        # ... sent before the Job's Finished, so that Finished is the last word
        order = [s[2] for s in w.client.signals
                 if (s[2] == "DownloadResult" and s[3][0] == job) or (s[2] == "Finished" and s[0] == job)]
        self.assertEqual(order, ["DownloadResult", "Finished"])
        # stages were published while it ran
        stages = [s[3][1].get("Stage") for s in w.client.signals_named("PropertiesChanged", job)
                  if "Stage" in s[3][1]]
        for stage in ("authenticating", "downloading", "installing"):
            self.assertIn(stage, stages)
        # the card has it, disabled, with its metadata; esimd lists it so as soon as the job ends
        self.assertEqual(self.sim_profiles()[ICCID_ONE]["state"], "disabled")
        profiles = w.profiles()
        self.assertEqual([p["iccid"] for p in profiles], [ICCID_ONE])
        self.assertEqual(profiles[0]["state"], "disabled")
        self.assertEqual(profiles[0]["name"], "Everyday Plan")
        self.assertEqual(profiles[0]["path"], f"{MANAGER}/profile/{ICCID_ONE}")
        # The free memory and the card's own list are read after the outcome: the list then is
        # the one esimd answered with at the outcome.
        w.client.wait_for(lambda: w.manager_prop("FreeNonVolatileMemory") < free_before, 30,
                          "the free memory read after the download")
        # the install notification reaches the SM-DP+ by itself and leaves the card
        w.wait_idle()
        self.assertEqual(w.profiles(), profiles)
        self.assertEqual(w.manager_prop("PendingNotifications"), 0)
        self.assertEqual(self.sim.state()["notifications"], [])
        ops = [(n["operation"], n["iccid"], n["verified"]) for n in self.smdp_ctl().notifications()]
        self.assertIn(("install", ICCID_ONE, True), ops)
        # no Imei= is configured: the server got the one esimd read from the modem
        self.assertEqual([s["imei"] for s in self.smdp_ctl().sessions()], [SIM_IMEI])

    def test_02_profile_object(self):
        w = self.w
        path = f"{MANAGER}/profile/{ICCID_ONE}"
        props = w.client.get_all(path, PROFILE_IFACE)
        self.assertEqual(props["Iccid"], ICCID_ONE)
        self.assertEqual(props["State"], "disabled")
        self.assertEqual(props["Class"], "operational")
        self.assertEqual(props["ServiceProvider"], "Test Operator")
        self.assertEqual(props["Euicc"], MANAGER)
        self.assertEqual(len(props["IsdpAid"]), 32)
        self.assertEqual(w.manager_prop("Profiles"), [path])
        objects = w.client.managed_objects()
        self.assertIn(PROFILE_IFACE, objects[path])
        # ListProfiles writes its entries straight into the message, the properties go through
        # one GVariant per profile: the two must say the same, field by field.
        listed = {p["iccid"]: p for p in w.profiles()}[ICCID_ONE]
        names = {"iccid": "Iccid", "state": "State", "class": "Class", "nickname": "Nickname",
                 "service_provider": "ServiceProvider", "name": "Name", "icon_type": "IconType",
                 "icon": "Icon", "owner": "Owner", "policy_rules": "PolicyRules", "isdp_aid": "IsdpAid"}
        self.assertEqual(set(listed), set(names) | {"path"})
        for key, prop in names.items():
            self.assertEqual(listed[key], props[prop], key)

    def test_03_nickname(self):
        w = self.w
        w.manager("SetNickname", GLib.Variant("(ss)", (ICCID_ONE, "Work")))
        self.assertEqual(self.sim_profiles()[ICCID_ONE]["nickname"], "Work")
        self.assertEqual(w.client.get(f"{MANAGER}/profile/{ICCID_ONE}", PROFILE_IFACE, "Nickname"), "Work")
        # the limit is 64 bytes of UTF-8, not 64 characters: 32 two-byte characters fit
        w.manager("SetNickname", GLib.Variant("(ss)", (ICCID_ONE, "é" * 32)))
        self.assertEqual(w.profiles()[0]["nickname"], "é" * 32)
        # through the Profile object too, and back to none
        w.client.call(f"{MANAGER}/profile/{ICCID_ONE}", PROFILE_IFACE, "SetNickname", GLib.Variant("(s)", ("",)))
        self.assertEqual(w.profiles()[0]["nickname"], "")

    def test_03a_iccid_as_people_give_it(self):
        """An ICCID pasted with a newline, printed with EF_ICCID's F padding or typed in lower case
        names the listed profile; anything else is refused with what is accepted."""
        w = self.w
        for given in (ICCID_ONE + "F", f" {ICCID_ONE}\r\n", ICCID_ONE + "f"):
            w.manager("SetNickname", GLib.Variant("(ss)", (given, "Pasted")))
            self.assertEqual(self.sim_profiles()[ICCID_ONE]["nickname"], "Pasted", repr(given))
            w.manager("SetNickname", GLib.Variant("(ss)", (ICCID_ONE, "")))
        self.assertEqual([p["iccid"] for p in w.profiles()], [ICCID_ONE])
        # a-e are the listed A-E (hex nibbles some cards carry): this one is simply not installed
        name, _ = self.error_of(w.manager, "DisableProfile", GLib.Variant("(sa{sv})", ("894944999999999001a", {})))
        self.assertEqual(name, "org.esim.Error.ProfileNotFound")
        for given in (ICCID_ONE + "FF", "8949449999999990F11", "8949 4499 9999 9990 011"):
            name, msg = self.error_of(w.manager, "EnableProfile", GLib.Variant("(sa{sv})", (given, {})))
            self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs", given)
            self.assertIn("either case; trailing F padding and surrounding spaces are ignored", msg)
        self.assertEqual(w.notifications({"iccid": GLib.Variant("s", ICCID_ONE + "F\n")}),
                         w.notifications({"iccid": GLib.Variant("s", ICCID_ONE)}))

    def test_03b_rpm_operations_are_named(self):
        """SGP.22 v3's RPM notifications have names a caller can filter on (they were "unknown");
        "unknown" is the operation of one in no bit SGP.22 names, and filters too; the message
        of a wrong name lists them all."""
        w = self.w
        for op in ("rpm-enable", "rpm-disable", "rpm-delete", "rpm-package-result", "unknown"):
            self.assertEqual(w.notifications({"operation": GLib.Variant("s", op)}), [], op)
        name, msg = self.error_of(w.notifications, {"operation": GLib.Variant("s", "rpm")})
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertIn("install, enable, disable, delete, rpm-enable, rpm-disable, rpm-delete, "
                      "rpm-package-result, unknown", msg)

    def test_04_enable(self):
        w = self.w
        w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(self.sim_profiles()[ICCID_ONE]["state"], "enabled")
        self.assertEqual(w.manager_prop("ActiveProfile"), f"{MANAGER}/profile/{ICCID_ONE}")
        self.assertEqual(w.profiles()[0]["state"], "enabled")
        # enabling twice: the eUICC's profileNotInDisabledState, named
        name, msg = self.error_of(w.manager, "EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(name, "org.esim.Error.WrongProfileState")
        self.assertIn("profileNotInDisabledState", msg)
        w.wait_idle()
        ops = [(n["operation"], n["iccid"]) for n in self.smdp_ctl().notifications()]
        self.assertIn(("enable", ICCID_ONE), ops)

    def test_05_second_profile_and_switch(self):
        w = self.w
        job, props = w.download(activation_code("DEMO-TWO"), options={"enable": True, "nickname": "Travel"})
        self.assertEqual(props["State"], "succeeded", props)
        listed = w.profiles()
        states = {p["iccid"]: p["state"] for p in listed}
        self.assertEqual(states, {ICCID_ONE: "disabled", ICCID_TWO: "enabled"})
        self.assertEqual({p["iccid"]: p["nickname"] for p in listed}[ICCID_TWO], "Travel")
        self.assertEqual(self.sim_profiles()[ICCID_TWO]["nickname"], "Travel")
        # what esimd listed at the outcome is what the card's own list says once read after it
        w.wait_idle()
        self.assertEqual(w.profiles(), listed)
        self.assertEqual(w.manager_prop("ActiveProfile"), f"{MANAGER}/profile/{ICCID_TWO}")
        # back to the first through its Profile object
        w.client.call(f"{MANAGER}/profile/{ICCID_ONE}", PROFILE_IFACE, "Enable", GLib.Variant("(a{sv})", ({},)))
        states = {p["iccid"]: p["state"] for p in w.profiles()}
        self.assertEqual(states, {ICCID_ONE: "enabled", ICCID_TWO: "disabled"})
        w.wait_idle()
        self.assertEqual(w.manager_prop("PendingNotifications"), 0)

    def test_06_delete(self):
        w = self.w
        # enabled profiles cannot be deleted
        name, _ = self.error_of(w.manager, "DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(name, "org.esim.Error.WrongProfileState")
        w.manager("DisableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        self.assertEqual(w.manager_prop("ActiveProfile"), "/")
        # keep the delete notification on the card for a moment: the server is unreachable
        self.smdp_ctl().add_fault(function="handleNotification", action="reset", times=1)
        w.client.signals.clear()
        w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (ICCID_TWO, {})))
        self.assertNotIn(ICCID_TWO, self.sim_profiles())
        self.assertEqual([p["iccid"] for p in w.profiles()], [ICCID_ONE])
        w.client.wait_for(lambda: [s for s in w.client.signals_named("InterfacesRemoved")
                                   if s[3][0] == f"{MANAGER}/profile/{ICCID_TWO}"], 10,
                          "InterfacesRemoved for the deleted profile")
        pending = w.client.wait_for(lambda: [s[3] for s in w.client.signals_named("NotificationPending", MANAGER)
                                             if s[3][1] == "delete"], 30, "NotificationPending(delete)")
        seq, op, iccid, address = pending[0]
        self.assertEqual((op, iccid, address), ("delete", ICCID_TWO, "testsmdpplus1.example.com"))
        # the existing API's getProfileDelNotification / reportProfileDelNotification
        listed = w.client.wait_for(lambda: w.notifications({"operation": GLib.Variant("s", "delete")})
                                   or self.smdp_ctl().notifications(), 30)
        delivered = w.manager("SendNotifications", GLib.Variant("(a{sv})", ({"iccid": GLib.Variant("s", ICCID_TWO)},)))
        w.wait_idle()
        self.assertEqual(w.notifications({"operation": GLib.Variant("s", "delete")}), [])
        ops = [(n["operation"], n["iccid"]) for n in self.smdp_ctl().notifications()]
        self.assertIn(("delete", ICCID_TWO), ops)
        self.assertIsNotNone(listed)
        self.assertIn(delivered[0], (0, 1))  # 0 if the automatic retry got there first

    def test_06a_notifications_listed_right_after_the_operation(self):
        """An operation is answered before esimd reads the card's notification list again. A
        ListNotifications right after the answer waits for that read, so it lists the new
        notification: the existing API's profileHandle, then getProfileDelNotification."""
        w = self.w
        w.wait_idle()
        self.assertEqual(w.notifications(), [])
        self.smdp_ctl().add_fault(function="handleNotification", action="reset", times=1000)
        # Every APDU 300 ms late: the read after the answer is still going when the next call
        # arrives.
        delay = self.sim.add_fault(kind="delay", ms=300)
        try:
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
            listed = w.notifications()
        finally:
            self.sim.clear_faults(delay)
            self.smdp_ctl().clear_faults()
        self.assertIn(("enable", ICCID_ONE), [(n["operation"], n["iccid"]) for n in listed])
        w.wait_idle()
        w.manager("DisableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {})))
        w.wait_idle()
        w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))
        w.wait_idle()
        self.assertEqual(w.notifications(), [])

    def test_07_invalid_arguments(self):
        w = self.w
        cases = [
            ("EnableProfile", GLib.Variant("(sa{sv})", ("12345", {}))),
            ("EnableProfile", GLib.Variant("(sa{sv})", (ICCID_ONE, {"bogus": GLib.Variant("b", True)}))),
            ("SetNickname", GLib.Variant("(ss)", (ICCID_ONE, "x" * 65))),
            ("SetNickname", GLib.Variant("(ss)", (ICCID_ONE, "é" * 33))),  # 33 characters, 66 bytes
            ("SetNickname", GLib.Variant("(ss)", ("not-an-iccid", "Home"))),
            ("ListNotifications", GLib.Variant("(a{sv})", ({"operation": GLib.Variant("s", "explode")},))),
            ("ListNotifications", GLib.Variant("(a{sv})", ({"seq": GLib.Variant("s", "1")},))),
            ("ResetMemory", GLib.Variant("(u)", (0,))),
            ("SetDefaultSmdpAddress", GLib.Variant("(s)", ("https://x/y",))),
            ("Download", GLib.Variant("(ssa{sv})", ("", "", {"imei": GLib.Variant("s", "123")}))),
        ]
        for method, args in cases:
            name, msg = self.error_of(w.manager, method, args)
            self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs", (method, msg))
        for code in ("", "LPA:2$x.example.com$A", "LPA:1$$ABC", "LPA:1$host:443$A", "LPA:1$x.example.com$A$1.2$7"):
            name, msg = self.error_of(w.manager, "Download", GLib.Variant("(ssa{sv})", (code, "", {})))
            self.assertIn(name, ("org.esim.Error.InvalidActivationCode",), (code, msg))

    def test_08_not_found(self):
        w = self.w
        name, _ = self.error_of(w.manager, "EnableProfile", GLib.Variant("(sa{sv})", ("8949449999999999999", {})))
        self.assertEqual(name, "org.esim.Error.ProfileNotFound")
        name, _ = self.error_of(w.manager, "RemoveNotification", GLib.Variant("(u)", (4242,)))
        self.assertEqual(name, "org.esim.Error.NotificationNotFound")

    def test_09_default_smdp_and_reset(self):
        w = self.w
        w.manager("SetDefaultSmdpAddress", GLib.Variant("(s)", ("testsmdpplus1.example.com",)))
        self.assertEqual(w.manager_prop("DefaultSmdpAddress"), "testsmdpplus1.example.com")
        self.assertEqual(self.sim.state()["default_smdp"], "testsmdpplus1.example.com")
        self.assertEqual(w.profiles()[0]["state"], "disabled")
        w.manager("ResetMemory", GLib.Variant("(u)", (1 | 4,)))
        self.assertEqual(w.profiles(), [])
        self.assertEqual(self.sim_profiles(), {})
        self.assertEqual(w.manager_prop("DefaultSmdpAddress"), "")
        # nothing left to delete is not an error
        w.manager("ResetMemory", GLib.Variant("(u)", (1,)))


class Imei(unittest.TestCase):
    """Which IMEI a server is sent: the configured one, else the modem's, else none."""

    def download_imei(self, w):
        job, props = w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        return w.smdp.control.sessions()[-1]["imei"]

    def test_configured_imei_wins(self):
        with World(config={"Modem sim": {"Imei": "490154203237518"}}) as w:
            self.assertEqual(self.download_imei(w), "490154203237518")
            with w.sim.ctl() as sim:
                self.assertEqual(sim.counters()["qmi_messages"].get("dms-get-ids", 0), 0)

    def test_modem_without_imei(self):
        with World(sim_options={"imei": ""}) as w:
            self.assertIsNone(self.download_imei(w))
            self.assertIn("cannot read the modem's IMEI", w.esimd.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
