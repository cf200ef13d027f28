#!/usr/bin/python3
"""What a caller pastes, esimd and esimctl read alike.

A confirmation code pasted from an e-mail comes with a newline, spaces or a no-break space
around it. SGP.22 hashes the code as given (SHA-256(SHA-256(code) | transactionId)), so a code
sent with them is a wrong code, and the SM-DP+ counts it against its few attempts (8.2.7/3.8,
then 6.4 "retries exceeded": the order is lost). esimctl already read codes from its prompt and
files without the white space around them, and the activation code parser trims it; OpenEUICC
trims the code, the matching ID and the address typed into its download form
(app-common/.../wizard/DownloadWizardDetailsFragment.kt, saveState: `.trim()`). So esimd reads
the code, the matching ID and the SM-DP+ address of a D-Bus caller the same way, before any
server is asked; a control character inside is still refused with InvalidArgs.
"""

import unittest

from gi.repository import GLib

from esimtest.world import World, activation_code, dbus_error_name

JOB_IFACE = "org.esim.Job"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
CODE = "12345678"


class CallerInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.smdp = cls.w.smdp.control
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.w.wait_idle()

    def order(self, cc=None):
        """A new order (a confirmation code's attempts are counted per order); returns its
        matching ID and its index."""
        type(self).n += 1
        mid = "PASTE-%02d" % self.n
        order = {"matchingId": mid, "iccid": "89494499999999901%02d" % self.n,
                 "profile": {"generate": {"size": 4096}},
                 "metadata": {"serviceProviderName": "Test Operator", "profileName": mid}}
        if cc:
            order["confirmationCode"] = cc
        self.smdp.add_order(order)
        index = [o["matchingId"] for o in self.smdp.orders()].index(mid)
        return mid, index

    def attempts(self, index):
        return self.smdp.orders()[index]["ccAttempts"]

    def delete(self, props):
        iccid = props["Result"]["iccid"]
        self.w.wait_idle()
        self.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {})))

    def test_pasted_confirmation_code_over_dbus(self):
        for pasted in (CODE + "\n", " " + CODE + " ", "\u00a0" + CODE + "\r\n", "\ufeff" + CODE + "\t"):
            with self.subTest(pasted=pasted):
                mid, index = self.order(CODE)
                job, props = self.w.download(activation_code(mid, True), pasted)
                self.assertEqual(props["State"], "succeeded", props)
                self.assertEqual(self.attempts(index), 0, "a wrong code was sent")
                self.delete(props)

    def test_control_character_inside_is_refused_before_any_server(self):
        mid, index = self.order(CODE)
        before = len(self.smdp.requests())
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid, True), "1234\n5678", {})))
        self.assertEqual(dbus_error_name(cm.exception), INVALID_ARGS)
        self.assertIn("confirmation code", cm.exception.message)
        self.assertEqual(len(self.smdp.requests()), before)
        # only white space is no code at all: the code is missing
        with self.assertRaises(GLib.Error) as cm:
            self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid, True), " \n", {})))
        self.assertEqual(dbus_error_name(cm.exception), "org.esim.Error.ConfirmationCodeRequired")
        self.assertEqual(len(self.smdp.requests()), before)

    def test_pasted_code_given_to_the_job(self):
        """Job.SupplyConfirmationCode reads the code the same way."""
        mid, index = self.order(CODE)
        job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (
            activation_code(mid, True), "", {"ask_confirmation_code": GLib.Variant("b", True)})))[0]
        self.w.client.wait_for(lambda: self.w.client.get(job, JOB_IFACE, "State") == "awaiting-confirmation-code",
                               60, "the job to ask for the code")
        self.w.client.call(job, JOB_IFACE, "SupplyConfirmationCode", GLib.Variant("(s)", (" " + CODE + "\n",)))
        props = self.w.wait_job(job)
        self.assertEqual(props["State"], "succeeded", props)
        self.assertEqual(self.attempts(index), 0)
        self.delete(props)

    def test_pasted_matching_id_and_address_over_dbus(self):
        mid, _ = self.order()
        job, props = self.w.download("", options={"smdp_address": " %s\n" % self.w.smdp.hostname,
                                                  "matching_id": "\u00a0%s \n" % mid})
        self.assertEqual(props["State"], "succeeded", props)
        self.delete(props)

    def test_esimctl_reads_them_as_esimd_does(self):
        mid, index = self.order(CODE)
        r = self.w.esimctl("download", "--confirmation-code", CODE + "\n", activation_code(mid, True))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.attempts(index), 0)
        self.w.wait_idle()
        r = self.w.esimctl("delete", "--yes", "89494499999999901%02d" % self.n)
        self.assertEqual(r.returncode, 0, r.stderr)
        mid, _ = self.order()
        r = self.w.esimctl("download", "--smdp", self.w.smdp.hostname + " ", "--matching-id", " " + mid + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # inside, a control character is refused before esimd is asked, as esimd refuses it
        r = self.w.esimctl("download", "--confirmation-code", "1234\n5678", activation_code(mid, True))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("confirmation code", r.stderr)

    def test_server_addresses_are_host_names(self):
        """SetDefaultSmdpAddress let through any run of letters, digits, '.' and '-' ("a..b",
        "-x-", 300 characters): written to the card as its default SM-DP+, where every later
        download from it failed. Discover's smds_address was not checked at all before its job
        was queued. Both are now read as Download's smdp_address is: white space around dropped,
        then a host name, or InvalidArgs before anything is queued."""
        sim = self.w.sim.ctl()
        self.addCleanup(sim.close)
        self.w.manager("SetDefaultSmdpAddress", GLib.Variant("(s)", (" %s\n" % self.w.smdp.hostname,)))
        self.w.wait_idle()
        self.assertEqual(sim.state()["default_smdp"], self.w.smdp.hostname)
        for bad in ("a..b", "-x-.example.com", "x" * 300, "host/path", "user@host", "host:443"):
            with self.subTest(bad=bad):
                with self.assertRaises(GLib.Error) as cm:
                    self.w.manager("SetDefaultSmdpAddress", GLib.Variant("(s)", (bad,)))
                self.assertEqual(dbus_error_name(cm.exception), INVALID_ARGS)
                self.assertLess(len(cm.exception.message), 200)
                jobs_before = self.w.manager_prop("Jobs")
                with self.assertRaises(GLib.Error) as cm:
                    self.w.manager("Discover", GLib.Variant("(a{sv})", ({"smds_address": GLib.Variant("s", bad)},)))
                self.assertEqual(dbus_error_name(cm.exception), INVALID_ARGS)
                self.assertEqual(self.w.manager_prop("Jobs"), jobs_before)
        self.w.wait_idle()
        self.assertEqual(sim.state()["default_smdp"], self.w.smdp.hostname)
        self.w.manager("Discover", GLib.Variant("(a{sv})", ({"smds_address": GLib.Variant(
            "s", "\u00a0%s \n" % self.w.smdp.smds_hostname)},)))
        self.w.manager("SetDefaultSmdpAddress", GLib.Variant("(s)", ("",)))
        self.w.wait_idle()

    def test_a_callers_text_is_echoed_short_and_on_one_line(self):
        """An error that names what the caller sent showed it whole: a megabyte back, and its
        escape sequences or newlines in a panel's or a terminal's message."""
        for method, args in (
                ("EnableProfile", GLib.Variant("(sa{sv})", ("\x1b[2J" + "9" * 100000 + "\nforged", {}))),
                ("Download", GLib.Variant("(ssa{sv})", ("", "", {"smdp_address": GLib.Variant(
                    "s", "\x1b[2J" + "x" * 100000 + "\nforged")}))),
                ("SetDefaultSmdpAddress", GLib.Variant("(s)", ("\x1b[2J" + "x" * 100000 + "\nforged",)))):
            with self.subTest(method=method):
                with self.assertRaises(GLib.Error) as cm:
                    self.w.manager(method, args)
                self.assertLess(len(cm.exception.message), 300, method)
                self.assertNotIn("\x1b", cm.exception.message)
                self.assertNotIn("\n", cm.exception.message)


class ProfileArguments(unittest.TestCase):
    """esimctl read a PROFILE argument of 18 to 20 digits as an ICCID without looking at the
    profiles, a 1-3 digit one as a list number, and refused other digit runs: a profile
    nicknamed "89012345678901234567", "12345" or another profile's ICCID could not be named by
    its nickname, or named another profile. Now every reading is weighed against the list, and
    two readings that find different profiles are an error naming both."""

    @classmethod
    def setUpClass(cls):
        cls.w = World()
        cls.iccids = []
        for i, mid in enumerate(("ARG-ONE", "ARG-TWO")):
            iccid = "89494499999999902%02d" % i
            cls.w.smdp.control.add_order({"matchingId": mid, "iccid": iccid,
                                          "profile": {"generate": {"size": 4096}},
                                          "metadata": {"serviceProviderName": "Op", "profileName": mid}})
            job, props = cls.w.download(activation_code(mid))
            assert props["State"] == "succeeded", props
            cls.iccids.append(iccid)
        cls.w.wait_idle()

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()

    def setUp(self):
        self.w.wait_idle()
        for iccid in self.iccids:
            self.w.manager("SetNickname", GLib.Variant("(ss)", (iccid, "")))

    def nickname(self, iccid, name):
        self.w.manager("SetNickname", GLib.Variant("(ss)", (iccid, name)))

    def number_of(self, iccid):
        return str([p["iccid"] for p in self.w.profiles()].index(iccid) + 1)

    def state_of(self, iccid):
        return {p["iccid"]: p["state"] for p in self.w.profiles()}[iccid]

    def esimctl(self, *args):
        r = self.w.esimctl(*args)
        self.w.wait_idle()
        return r

    def test_profile_objects_nickname_follows_the_same_rule(self):
        """Manager.SetNickname refuses a nickname with a control character before polkit is
        asked or anything queued (lpa_nickname_problem()); the Profile object's SetNickname only
        counted its bytes: a set-nickname job was queued (and polkit asked, an authentication
        dialog for a call that cannot succeed) before liblpa refused it."""
        path = [p["path"] for p in self.w.profiles() if p["iccid"] == self.iccids[0]][0]
        self.w.client.pump(0.2)  # what setUp's calls announced
        self.w.client.signals.clear()
        for bad in ("two\nlines", "esc\x1b[2J", "tab\there"):
            with self.subTest(nickname=bad):
                with self.assertRaises(GLib.Error) as cm:
                    self.w.client.call(path, "org.esim.Profile", "SetNickname", GLib.Variant("(s)", (bad,)))
                self.assertEqual(dbus_error_name(cm.exception), "org.freedesktop.DBus.Error.InvalidArgs")
                self.assertIn("the nickname has a control character", cm.exception.message)
        self.w.client.pump(0.2)
        added = [s for s in self.w.client.signals_named("InterfacesAdded") if s[3][0].startswith("/org/esim/job/")]
        self.assertEqual(added, [], "a job was queued for a nickname refused")

    def test_nickname_that_looks_like_an_iccid(self):
        one, two = self.iccids
        self.nickname(one, "89012345678901234567")
        r = self.esimctl("enable", "89012345678901234567")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state_of(one), "enabled")
        self.esimctl("disable", one)

    def test_nickname_of_digits(self):
        one, two = self.iccids
        self.nickname(two, "12345")
        r = self.esimctl("enable", "12345")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state_of(two), "enabled")
        self.esimctl("disable", two)
        # no profile has it: still the usage error that names the rule
        r = self.esimctl("enable", "123456")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("neither an ICCID", r.stderr)

    def test_nickname_that_is_another_profiles_iccid(self):
        one, two = self.iccids
        self.nickname(one, two)
        r = self.esimctl("enable", two)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("names two profiles", r.stderr)
        self.assertIn(one, r.stderr)
        self.assertIn(two, r.stderr)
        self.assertEqual(self.state_of(one), "disabled")
        self.assertEqual(self.state_of(two), "disabled")
        # the nickname's own profile by its number, the ICCID's by its number
        r = self.esimctl("enable", self.number_of(two))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state_of(two), "enabled")
        self.esimctl("disable", self.number_of(two))

    def test_nickname_that_is_another_profiles_number(self):
        one, two = self.iccids
        self.nickname(two, self.number_of(one))
        r = self.esimctl("enable", self.number_of(one))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("names two profiles", r.stderr)
        self.assertIn(one, r.stderr)
        self.assertIn(two, r.stderr)
        # its own ICCID and its own nickname on the same profile is no ambiguity
        self.nickname(two, two)
        r = self.esimctl("enable", two)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.state_of(two), "enabled")
        self.esimctl("disable", two)


if __name__ == "__main__":
    unittest.main(verbosity=2)
