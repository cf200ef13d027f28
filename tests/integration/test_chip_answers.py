#!/usr/bin/python3
"""ES10 answers the way real eUICCs give them, replayed by the simulator in place of its own
(its `es10_answer` fault): what one odd entry of a list must not cost the others.

* A ProfileInfo whose descriptive members do not decode. The eUICC echoes the metadata its
  SM-DP+ bound into the profile (notificationConfigurationInfo, profileOwner, refArDo, PPRs, AID)
  for as long as the profile is installed; lpac lists such a profile (its
  es10c_get_profiles_info skips B6, B7, B8 and 99). esimd failed the whole list: no profile of
  the eUICC could be listed or switched.
* An EUICCInfo2 whose descriptive members (versions, capabilities, category) do not decode:
  esimd failed the whole EUICCInfo2 and with it every operation that needs it.
* EuiccConfiguredAddresses with a byte that is not UTF-8: the read, and every Refresh, failed.
* A pending notification whose operation is only in a bit no SGP.22 version names (v2.2.2 names
  bits 0 to 3, v3 bits 4 to 7; lpac lists an operation it does not know as "unknown"). esimd
  failed the whole ListNotification, and the batch delivery's RetrieveNotificationsList: every
  other notification stayed undelivered. Then it skipped that one: left on the card, unlisted
  and undelivered, for good. It is listed as "unknown" and its server gets the card's signed
  notification unchanged.
* A card that refuses RetrieveNotificationsList without a search criterion (the batch form:
  a status word such as 6A80, or undefinedError(127)) but answers it by seqNumber, the form
  lpac's `notification process` (src/applet/notification/process.c) and AOSP's
  EuiccPort.retrieveNotification use. Every server backed off and nothing was ever delivered;
  each listed one is now retrieved by its sequence number, and later runs go straight to that
  until a Refresh."""

import unittest

from gi.repository import GLib

from esimtest import der
from esimtest.world import SMDP_HOST, World, activation_code, dbus_error_name

ODD_ICCID = "8949449999999990912"
PLAIN_ICCID = "8949449999999990920"


def e(tag, value=b""):
    return der.encode(tag, value)


class ChipAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World(config={"Notifications": {"AutoSend": "false"}})
        cls.sim = cls.w.sim.ctl()
        cls.smdp = cls.w.smdp.control

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def tearDown(self):
        self.sim.clear_faults()
        self.w.manager("Refresh")
        self.w.wait_idle()

    def test_profile_with_undecodable_members_is_listed(self):
        odd = e(0xE3, [e(0x5A, der.iccid_to_bcd(ODD_ICCID)), e(0x4F, bytes.fromhex("A0000005")),
                       e(0x9F70, b"\x01"), e(0x91, b"Odd Operator"), e(0x92, b"Odd Plan"), e(0x99, b""),
                       e(0xB6, [e(0x30, [e(0x80, der.encode_bits([0], 1))])]),
                       e(0xB7, [e(0x80, bytes.fromhex("00f1"))]),
                       e(0xBF76, [e(0xE2, [e(0xE1, [e(0x4F, bytes.fromhex("A000000151"))]),
                                           e(0xE3, [e(0xDB, b"\x00")])])])])
        plain = e(0xE3, [e(0x5A, der.iccid_to_bcd(PLAIN_ICCID)), e(0x9F70, b"\x00"),
                         e(0x91, b"Plain Operator"), e(0x92, b"Plain Plan")])
        self.sim.add_fault(kind="es10_answer", tag="BF2D", data=e(0xBF2D, [e(0xA0, [odd, plain])]).hex())
        self.w.manager("Refresh")
        profiles = {p["iccid"]: p for p in self.w.profiles()}
        self.assertEqual(set(profiles), {ODD_ICCID, PLAIN_ICCID}, profiles)
        self.assertEqual(profiles[ODD_ICCID]["state"], "enabled")
        self.assertEqual(profiles[ODD_ICCID]["service_provider"], "Odd Operator")
        self.assertNotIn("isdp_aid", profiles[ODD_ICCID])
        self.assertEqual(profiles[PLAIN_ICCID]["state"], "disabled")
        r = self.w.esimctl("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(ODD_ICCID, r.stdout)

    def test_euicc_info2_with_undecodable_members_is_read(self):
        before = self.w.manager("GetInfo")[0]
        pkids = [bytes.fromhex(k) for k in before["ci_pkids_verification"]]
        signing = [bytes.fromhex(k) for k in before["ci_pkids_signing"]]
        # Versions of 2 and 5 bytes, empty BIT STRINGs, a 9-byte category: fields esimd only shows.
        bf22 = e(0xBF22, [e(0x81, b"\x02\x01"), e(0x82, b"\x02\x02\x02"), e(0x83, bytes(range(1, 6))),
                          e(0x85, b""), e(0x86, b""), e(0x87, b"\x02\x03\x00"), e(0x88, b""),
                          e(0xA9, [e(0x04, k) for k in pkids]), e(0xAA, [e(0x04, k) for k in signing]),
                          e(0x8B, bytes(9)), e(0x99, b""), e(0x04, b"\x01\x00"), e(0x0C, b"GI-BA-UP-0419")])
        self.sim.add_fault(kind="es10_answer", tag="BF22", data=bf22.hex())
        self.w.manager("Refresh")
        info = self.w.manager("GetInfo")[0]
        self.assertEqual(info["svn"], "2.2.2")
        self.assertEqual(info["ci_pkids_verification"], before["ci_pkids_verification"])
        self.assertEqual(info["globalplatform_version"], "2.3.0")
        self.assertEqual(info["sas_accreditation"], "GI-BA-UP-0419")
        for key in ("profile_version", "firmware_version", "ts102241_version", "pp_version", "category",
                    "forbidden_policy_rules"):
            self.assertNotIn(key, info)
        r = self.w.esimctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_configured_address_that_is_not_utf8(self):
        # A defaultDpAddress with a byte that is not UTF-8: the read (and with it every Refresh)
        # failed; it reads with U+FFFD, and only a download to it fails, by name.
        bf3c = e(0xBF3C, [e(0x80, b"dp.ex\xffample.com"), e(0x81, b"lpa.ds.gsma.com")])
        self.sim.add_fault(kind="es10_answer", tag="BF3C", data=bf3c.hex())
        self.w.manager("Refresh")
        self.assertEqual(self.w.manager_prop("DefaultSmdpAddress"), "dp.ex\ufffdample.com")
        self.assertEqual(self.w.manager_prop("RootSmdsAddress"), "lpa.ds.gsma.com")
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("Download", GLib.Variant("(ssa{sv})", ("", "", {})))
        self.assertIn("is not an SM-DP+ address", cm.exception.message)

    def test_configured_addresses_the_card_lacks(self):
        # GetEuiccConfiguredAddresses is an optional read: lpac's `chip info` used to fail on a
        # card whose BF3C failed and since reads it as null (src/applet/chip/info.c, 14441b1),
        # as it does EUICCInfo2. A card without the function answers STORE DATA 6D00 (or 6A81,
        # 6A88). esimd failed every Refresh on it and read the whole card again, with back-off,
        # for as long as it ran; it says so in ReadErrors, and Refresh, listing and enabling work.
        self.sim.add_fault(kind="sw", sw="6D00", tag="BF3C", count=None)
        self.w.manager("Refresh")
        errors = self.w.manager_prop("ReadErrors")
        self.assertEqual(set(errors), {"addresses"}, errors)
        self.assertIn("6D00", errors["addresses"])
        self.assertIn("not supported", errors["addresses"])
        self.assertEqual(self.w.manager_prop("State"), "ready")
        self.assertEqual(self.w.manager_prop("DefaultSmdpAddress"), "")
        self.assertEqual(self.w.profiles(), [])  # listed, not refused
        r = self.w.esimctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_memory_reset_answered_6f00(self):
        # The same for eUICCMemoryReset (AOSP's resetMemory goes through the same workaround):
        # done when no operational profile is left; a reset that did nothing keeps its 6F00.
        with World(config={"Notifications": {"AutoSend": "false"}}) as w:
            sim = w.sim.ctl()
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            w.wait_idle()
            sim.add_fault(kind="sw", sw="6F00", tag="BF34")
            with self.assertRaises(GLib.Error) as cm:
                w.manager("ResetMemory", GLib.Variant("(u)", (1,)))
            self.assertIn("6F00", cm.exception.message)
            self.assertEqual(len(w.profiles()), 1)
            sim.add_fault(kind="sw", sw="6F00", tag="BF34", executed=True)
            w.manager("ResetMemory", GLib.Variant("(u)", (1,)))
            self.assertEqual(w.profiles(), [])
            # the card reset after it: its channel is gone, a new one reads what it holds
            job, props = w.download(activation_code("DEMO-TWO"))
            self.assertEqual(props["State"], "succeeded", props)
            w.wait_idle()
            sim.add_fault(kind="sw", sw="6F00", tag="BF34", executed=True, reset=True)
            w.manager("ResetMemory", GLib.Variant("(u)", (1,)))
            self.assertEqual(w.profiles(), [])

    def test_switch_answered_6f00(self):
        # A card that switched profiles may be reset before it answers, and answer 6F00: AOSP
        # takes that for success (EuiccPort's sendApduWithSimResetErrorWorkaround, for enable,
        # disable and memory reset). esimd failed the enable the card had done. It reads the
        # list and goes by it: done when the profile is in the state asked for, else the 6F00.
        iccid = "8949449999999990029"
        if iccid not in {p["iccid"] for p in self.w.profiles()}:
            job, props = self.w.download(activation_code("DEMO-TWO"))
            self.assertEqual(props["State"], "succeeded", props)
            self.w.wait_idle()
        self.sim.add_fault(kind="sw", sw="6F00", tag="BF31", executed=True)
        self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual({p["iccid"]: p["state"] for p in self.w.profiles()}[iccid], "enabled")
        self.sim.add_fault(kind="sw", sw="6F00", tag="BF32", executed=True)
        self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual({p["iccid"]: p["state"] for p in self.w.profiles()}[iccid], "disabled")
        # 9000 without the EnableProfileResponse: the same, as the card's list says
        self.sim.add_fault(kind="sw", sw="9000", tag="BF31", executed=True)
        self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual({p["iccid"]: p["state"] for p in self.w.profiles()}[iccid], "enabled")
        self.sim.add_fault(kind="es10_answer", tag="BF32", data="")
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertIn("no result", cm.exception.message)
        self.assertIn("org.esim.Error.ProtocolError", cm.exception.message)
        self.sim.clear_faults()
        self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        # 6F00, the card then reset (as a modem resets it): its channel is gone; a new one reads
        self.sim.add_fault(kind="sw", sw="6F00", tag="BF31", executed=True, reset=True)
        self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertEqual({p["iccid"]: p["state"] for p in self.w.profiles()}[iccid], "enabled")
        self.w.manager("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        # 6F00 from a card that did not switch is still the failure, and not sent again
        self.sim.add_fault(kind="sw", sw="6F00", tag="BF31")
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertIn("6F00", cm.exception.message)
        self.assertEqual({p["iccid"]: p["state"] for p in self.w.profiles()}[iccid], "disabled")
        # SetNickname and DeleteProfile answered 9000 without their result: the list decides
        self.sim.clear_faults()
        self.sim.add_fault(kind="sw", sw="9000", tag="BF29", executed=True)
        self.w.manager("SetNickname", GLib.Variant("(ss)", (iccid, "Travel")))
        self.assertEqual({p["iccid"]: p["nickname"] for p in self.w.profiles()}[iccid], "Travel")
        self.sim.add_fault(kind="sw", sw="9000", tag="BF33", executed=True)
        self.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {})))
        self.assertNotIn(iccid, {p["iccid"] for p in self.w.profiles()})

    def test_batch_retrieval_refused(self):
        with World(config={"Notifications": {"AutoSend": "false"}}) as w:
            sim, smdp = w.sim.ctl(), w.smdp.control
            iccid = "8949449999999990011"

            def switch_twice():
                """Two more pending notifications: the profile enabled, then disabled."""
                for method in ("EnableProfile", "DisableProfile"):
                    w.manager(method, GLib.Variant("(sa{sv})", (iccid, {})))
                w.wait_idle()
                pending = sim.state()["notifications"]
                self.assertGreaterEqual(len(pending), 2, pending)
                return pending

            def send_all(pending):
                before = smdp.calls().get("smdp:handleNotification", 0)
                (delivered,) = w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=120)
                self.assertEqual(delivered, len(pending))
                self.assertEqual(smdp.calls().get("smdp:handleNotification", 0) - before, len(pending))
                self.assertEqual(sim.state()["notifications"], [])
                self.assertEqual(w.notifications(), [])

            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            w.wait_idle()
            refused = sim.add_fault(kind="sw", sw="6A80", tag="BF2B00", count=None)
            send_all(switch_twice())
            self.assertEqual(sim.fault(refused)["fired"], 1)
            # remembered: the next run asks for each by its sequence number at once
            send_all(switch_twice())
            self.assertEqual(sim.fault(refused)["fired"], 1)
            # a Refresh forgets it; the same for a card answering the batch with undefinedError
            sim.clear_faults()
            w.manager("Refresh")
            undefined = sim.add_fault(kind="es10_answer", tag="BF2B", request="BF2B00",
                                      data=e(0xBF2B, e(0x81, b"\x7f")).hex())
            send_all(switch_twice())
            self.assertEqual(sim.fault(undefined)["fired"], 1)

    def test_retrieval_refused_in_both_forms(self):
        """A card that refuses RetrieveNotificationsList in both forms (BF2B00 and by seqNumber,
        6A80 here) fails the delivery on the card's side: no server was asked, so no server's
        back-off grows (once, every server of the card backed off, here 600 s, as if it had
        failed, and held the notification after the card answered again). esimd's own delivery
        does not try it again by itself (no loop); an explicit SendNotifications fails with
        EuiccError naming the card, and a Refresh lets esimd's own delivery try again."""
        with World(config={"Notifications": {"AutoSend": "true", "RetryInitial": "600", "RetryMax": "3600"}}) as w:
            sim, smdp = w.sim.ctl(), w.smdp.control
            iccid = "8949449999999990011"
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            w.client.wait_for(lambda: sim.state()["notifications"] == [], 60, "the install result delivered")
            w.wait_idle()
            posted = smdp.calls().get("smdp:handleNotification", 0)
            refused = sim.add_fault(kind="sw", sw="6A80", tag="BF2B", count=None)
            for method in ("EnableProfile", "DisableProfile"):
                w.manager(method, GLib.Variant("(sa{sv})", (iccid, {})))
            w.wait_idle()
            pending = sim.state()["notifications"]
            self.assertEqual(len(pending), 2, pending)
            # esimd's own delivery tries each once. Whether its first attempt tried the batch form
            # depends on when the Disable came (the delivery after the Enable gives way to it), so
            # the commands are counted from a Refresh with nothing else queued: the batch, then
            # each by its sequence number, once.
            w.client.wait_for(lambda: all(f"did not give notification {n} (6A80" in w.esimd.log() for n in (1, 2)),
                              60, "the automatic delivery's attempts")
            w.wait_idle()
            mark = len(w.esimd.log())
            before = sim.fault(refused)["fired"]
            w.manager("Refresh")
            w.client.wait_for(lambda: "not retrieved at once (6A80" in w.esimd.log()[mark:] and
                              "did not give notification 2 (6A80" in w.esimd.log()[mark:],
                              60, "the automatic delivery's attempt after the Refresh")
            w.wait_idle()
            self.assertEqual(sim.fault(refused)["fired"], before + 3)
            self.assertEqual(w.manager_prop("PendingNotifications"), 2)
            # asked for: each by its sequence number, a named error about the card
            with self.assertRaises(GLib.Error) as raised:
                w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=120)
            self.assertEqual(dbus_error_name(raised.exception), "org.esim.Error.EuiccError")
            self.assertIn("the eUICC did not give notification", raised.exception.message)
            self.assertIn("no server was asked", raised.exception.message)
            w.wait_idle()
            self.assertEqual(sim.fault(refused)["fired"], before + 5)  # no delivery of esimd's own since
            self.assertEqual(smdp.calls().get("smdp:handleNotification", 0), posted)
            # the card answers again: after a Refresh esimd's own delivery sends both at once,
            # no server having been held back
            sim.clear_faults()
            w.manager("Refresh")
            w.client.wait_for(lambda: sim.state()["notifications"] == [], 60,
                              "both delivered after the Refresh, no server backed off")
            self.assertEqual(smdp.calls().get("smdp:handleNotification", 0), posted + 2)
            w.wait_idle()

    def test_modem_failing_a_retrieval_backs_the_card_off(self):
        """The modem itself fails (a command timeout, not the card's answer) while the card gives
        a notification: the card's own back-off (9667a78; RetryInitial 600 s here) holds esimd's
        own delivery of it, also after a Refresh, so that esimd does not ask the card again at
        once and again; a caller's SendNotifications still delivers it."""
        with World(config={"Notifications": {"AutoSend": "true", "RetryInitial": "600", "RetryMax": "3600"},
                           "Modem sim": {"CommandTimeout": "2"}}) as w:
            sim, smdp = w.sim.ctl(), w.smdp.control
            iccid = "8949449999999990011"
            job, props = w.download(activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            w.client.wait_for(lambda: sim.state()["notifications"] == [], 60, "the install result delivered")
            w.wait_idle()
            # two notifications, which the card refuses to give until the next Refresh
            sim.add_fault(kind="sw", sw="6A80", tag="BF2B", count=None)
            for method in ("EnableProfile", "DisableProfile"):
                w.manager(method, GLib.Variant("(sa{sv})", (iccid, {})))
            w.client.wait_for(lambda: all(f"did not give notification {n} (6A80" in w.esimd.log() for n in (1, 2)),
                              60, "the automatic delivery's attempts")
            w.wait_idle()
            # Once more, with nothing else queued: the batch form refused too, so that each is
            # asked for by its sequence number until the next Refresh (whether the first attempt
            # tried the batch form depends on when the Disable came).
            mark = len(w.esimd.log())
            w.manager("Refresh")
            w.client.wait_for(lambda: "not retrieved at once (6A80" in w.esimd.log()[mark:] and
                              "did not give notification 2 (6A80" in w.esimd.log()[mark:],
                              60, "the automatic delivery's attempt after the Refresh")
            w.wait_idle()
            sim.clear_faults()
            # The third command of the delivery (notification 1 given, removed, notification 2
            # asked for) gets no answer in time: the job's last command, so no later success of
            # the card's releases its back-off. Held 3 s against the 2 s CommandTimeout: the
            # list's read-back, sent when the command timed out, waits behind it for about 1 s
            # and is answered in time. (Held 4 s, under valgrind the read-back timed out too; two
            # in a row take the link as lost, and the modem coming back rightly releases the
            # back-off.)
            sim.call("trace", reset=True)
            sim.add_fault(kind="delay", ms=3000, nth=3)
            w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=120)
            w.wait_idle()
            # the late answer is in (nothing sent meanwhile waits behind the held command)
            w.client.wait_for(lambda: len(sim.call("trace")["apdus"]) >= 3, 60, "the held command's answer")
            self.assertIn("the eUICC did not give notification 2 (Send APDU on modem sim: Transaction timed out)",
                          w.esimd.log()[mark:])
            # the time is the card's back-off, which a notification the card gives later ends
            self.assertIn("tries it again in 600 s, or sooner if another notification goes through first",
                          w.esimd.log()[mark:])
            self.assertEqual(w.manager_prop("PendingNotifications"), 1)
            posted = smdp.calls().get("smdp:handleNotification", 0)
            # a Refresh lets refused ones go again, not one the modem failed: the card backs off
            w.manager("Refresh")
            w.wait_idle()
            self.assertEqual(w.manager_prop("PendingNotifications"), 1)
            self.assertEqual(smdp.calls().get("smdp:handleNotification", 0), posted)
            w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=120)
            self.assertEqual(w.manager_prop("PendingNotifications"), 0)
            self.assertEqual(smdp.calls().get("smdp:handleNotification", 0), posted + 1)

    def test_unreadable_notification_leaves_the_others_deliverable(self):
        job, props = self.w.download(activation_code("DEMO-ONE"))
        self.assertEqual(props["State"], "succeeded", props)
        self.w.wait_idle()
        self.w.manager("EnableProfile", GLib.Variant("(sa{sv})", ("8949449999999990011", {})))
        self.w.wait_idle()
        pending = self.sim.state()["notifications"]
        self.assertGreaterEqual(len(pending), 2, pending)
        blobs = [bytes.fromhex(n["blob"]) for n in pending]
        metadata = []
        for blob in blobs:
            tlv = der.decode(blob)
            inner = tlv.find(0xBF27) if tlv.tag == 0xBF37 else tlv
            metadata.append(inner.find(0xBF2F).raw)
        # What a newer eUICC may list: an operation only in bit 8, to the same server, signed as
        # an OtherSignedNotification (the card's certificates from its enable notification).
        unknown = e(0xBF2F, [e(0x80, der.encode_int(900)), e(0x81, der.encode_bits([8], 9)),
                             e(0x0C, SMDP_HOST.encode())])
        other = next(der.decode(b) for b in blobs if b[0] == 0x30)
        signed = e(0x30, [unknown, e(0x5F37, bytes(64))] + [c.raw for c in other.children()[2:]])
        self.sim.add_fault(kind="es10_answer", tag="BF28",
                           data=e(0xBF28, [e(0xA0, metadata[:1] + [unknown] + metadata[1:])]).hex())
        self.sim.add_fault(kind="es10_answer", tag="BF2B",
                           data=e(0xBF2B, [e(0xA0, blobs[:1] + [signed] + blobs[1:])]).hex())
        self.w.manager("Refresh")
        listed = self.w.notifications()
        self.assertEqual(sorted(int(n["seq"]) for n in listed), sorted([900] + [n["seq"] for n in pending]), listed)
        self.assertEqual([n["operation"] for n in listed if n["seq"] == 900], ["unknown"])
        self.assertEqual([int(n["seq"]) for n in self.w.notifications({"operation": GLib.Variant("s", "unknown")})],
                         [900])
        r = self.w.esimctl("notifications", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^\s*900\s+unknown\b")
        before = self.smdp.calls().get("smdp:handleNotification", 0)
        self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)), timeout=120)
        self.assertEqual(self.smdp.calls().get("smdp:handleNotification", 0) - before, len(pending) + 1)
        self.assertEqual(self.sim.state()["notifications"], [])
        # the server got the card's signed notification, byte for byte
        got = [n for n in self.smdp.notifications() if n["seq"] == 900]
        self.assertEqual([bytes.fromhex(n["raw"]) for n in got], [signed], got)


if __name__ == "__main__":
    unittest.main()
