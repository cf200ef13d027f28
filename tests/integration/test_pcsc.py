#!/usr/bin/python3
"""Transport=pcsc end to end: the real esimd reaches the simulated eUICC through Debian's real
pcscd, with the simulator as the card of vsmartcard's vpcd reader (tests/pylib/esimtest/pcscd.py
keeps that pcscd private). The card behaves like a T=0 card on a reader (61xx for every answer
with data, 6Cxx for a SELECT with the wrong Le), so the transport's own handling of both runs on
every command. What every transport must pass lives in the shared scenarios; these are the
reader's own cases: the card pulled and put back, pcscd going away and coming back, a reader
unplugged during a download while pcscd runs on, Reader=, a card without the ISD-R, and
--check-config of the keys."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from gi.repository import GLib

from esimtest import pcscd, pki
from esimtest import world as worldmod
from esimtest.simctl import start_sim
from esimtest.world import ESIMCTL, ESIMD, MANAGER, MANAGER_IFACE, BusClient, Esimd, PrivateBus

SKIP = 77


class Rig:
    """pcscd + the simulator as its card + esimd on a private bus."""

    def __init__(self, tmpdir: str, modem: dict, sim_options: dict, readers: bool = True, pcscd_up: bool = True,
                 read_only_run: bool = False):
        self.tmpdir = tmpdir
        self.pki = pki.generate(os.path.join(tmpdir, "pki"))
        self.pcscd = pcscd.Pcscd(tmpdir)
        self.pcscd.start(readers=readers, daemon=pcscd_up)
        self.sim = start_sim(tmpdir, self.pki["dir"], apdu_socket=False, prefix=self.pcscd.enter(),
                             vpcd_port=self.pcscd.port, get_response=True, wrong_le=True, **sim_options)
        self.ctl = self.sim.ctl()
        self.bus = PrivateBus(tmpdir)
        self.config = os.path.join(tmpdir, "esimd.conf")
        with open(self.config, "w") as f:
            f.write("[Daemon]\nStateDirectory=%s\n[HTTP]\nCiCertificateDirs=%s\nTrustSystemCAs=false\n"
                    "[Modem card]\nTransport=pcsc\n" % (os.path.join(tmpdir, "state"), self.pki["ca_dir"]))
            for k, v in modem.items():
                f.write("%s=%s\n" % (k, v))
        wrapper = []
        if read_only_run:
            # As esimd.service's ProtectSystem=strict leaves /run: pcscd's socket directory
            # read-only, in a mount namespace of esimd's own.
            wrapper = ["unshare", "-rm", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && '
                       'exec "$@"', self.pcscd.run_dir]
            if os.environ.get("ESIMD_TEST_VALGRIND") == "1":
                wrapper += worldmod.valgrind_memcheck()
        self.esimd = Esimd(self.config, self.bus.address, os.path.join(tmpdir, "esimd.log"), env=self.pcscd.env(),
                           wrapper=wrapper)
        self.esimd.start()
        self.client = BusClient(self.bus.address)
        self.client.wait_for(lambda: self.client.name_has_owner() or not self.esimd.running(), 30, "esimd on the bus")
        if not self.esimd.running():
            raise RuntimeError("esimd exited; log:\n" + self.esimd.log())

    def prop(self, name: str):
        return self.client.get(MANAGER, MANAGER_IFACE, name)

    def wait_state(self, state: str, timeout: float = 60.0):
        self.client.wait_for(lambda: self.prop("State") == state, timeout, "eUICC state " + state)

    def esimctl(self, *args) -> str:
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        r = subprocess.run([ESIMCTL, *args], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("esimctl %s: %s" % (" ".join(args), r.stdout + r.stderr))
        return r.stdout

    def stop(self):
        errors = []
        for name, step in (("esimd", lambda: self.esimd.stop()), ("client", self.client.close),
                           ("ctl", self.ctl.close), ("sim", self.sim.stop), ("pcscd", self.pcscd.stop),
                           ("bus", self.bus.stop)):
            try:
                rc = step()
                if name == "esimd" and rc:
                    errors.append("esimd exited with status %s" % rc)
            except Exception as e:  # keep tearing down
                errors.append("%s: %s" % (name, e))
        if errors:
            raise AssertionError("; ".join(errors) + "; esimd log: " + self.esimd.log_path)


class PcscTransport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="esimd-pcsc-")
        cls.rig = Rig(cls.tmp, {"Refresh": "power-cycle"}, {})

    @classmethod
    def tearDownClass(cls):
        cls.rig.stop()
        if not os.environ.get("ESIMD_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.rig.ctl.call("appear")
        if not self.rig.pcscd.proc:
            self.rig.pcscd.start_pcscd()
        self.rig.wait_state("ready")

    def test_1_ready_through_the_reader(self):
        out = self.rig.esimctl("status")
        self.assertIn(worldmod.EID, out)
        trace = self.rig.ctl.call("trace")["apdus"]
        headers = [(a["header"], a["sw"]) for a in trace]
        # MANAGE CHANNEL on the basic channel, then SELECT answered 6Cxx, sent again with that Le,
        # answered 61xx, collected with GET RESPONSE on the channel.
        self.assertIn(("00700000", "9000"), [(h, s) for h, s in headers])
        selects = [i for i, (h, s) in enumerate(headers) if h[2:8] == "A40400"]
        self.assertTrue(selects, headers)
        first = selects[0]
        self.assertRegex(headers[first][1], r"^6C[0-9A-F]{2}$")
        self.assertRegex(headers[first + 1][1], r"^61[0-9A-F]{2}$")
        self.assertEqual(headers[first + 2][0][2:4], "C0")
        self.assertEqual(headers[first + 2][0][:2], headers[first][0][:2])
        # Every ES10 answer with data came through GET RESPONSE, and nothing else stayed 61xx.
        self.assertGreater(self.rig.ctl.counters()["get_responses"], 2)

    def test_2_card_pulled_and_put_back(self):
        self.rig.ctl.call("disappear")
        self.rig.wait_state("unavailable", 30)
        # The loss says what happened; UnavailableReason then says what esimd waits for.
        self.rig.client.wait_for(lambda: self.rig.prop("UnavailableReason") ==
                                 'modem card: no card in "esim-sim 00 00"; no card in "esim-sim 00 01"', 30,
                                 "UnavailableReason to name the empty readers")
        self.assertIn('lost: modem card: the card was removed from reader "%s"' % self.rig.pcscd.reader_names[0],
                      self.rig.esimd.log())
        self.rig.ctl.call("appear")
        self.rig.wait_state("ready", 30)
        self.assertIn(worldmod.EID, self.rig.esimctl("status"))

    def test_3_pcscd_gone_and_back(self):
        self.rig.pcscd.stop_pcscd()
        self.rig.wait_state("unavailable", 30)
        self.assertIn("pcscd", self.rig.prop("UnavailableReason"))
        self.rig.pcscd.start_pcscd()
        self.rig.wait_state("ready", 60)

    def test_4_pcscd_killed_and_back(self):
        self.rig.pcscd.kill_pcscd()
        self.rig.wait_state("unavailable", 30)
        self.rig.pcscd.start_pcscd()
        self.rig.wait_state("ready", 60)


class PcscWaiting(unittest.TestCase):
    """Readers that hold no eUICC for this section: esimd waits and says why in its log."""

    def run_rig(self, modem: dict, sim_options: dict, expect: str):
        tmp = tempfile.mkdtemp(prefix="esimd-pcsc-wait-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rig = Rig(tmp, modem, sim_options)
        try:
            rig.client.wait_for(lambda: re.search(expect, rig.esimd.log()), 30, "esimd to say: " + expect)
            self.assertEqual(rig.prop("State"), "unavailable")
        finally:
            rig.stop()

    def test_reader_that_is_not_there(self):
        self.run_rig({"Reader": "Gemalto"}, {},
                     r'waiting for an eUICC: no reader matches Reader=Gemalto \(readers: "esim-sim 00 00", '
                     r'"esim-sim 00 01"\)')

    def test_card_without_the_isdr(self):
        self.run_rig({"Reader": "esim-sim 00 00"}, {"isdr_aid": "A0000005591010FFFFFFFF8900000200"},
                     r"no eUICC found \(esim-sim 00 00: modem card: no ISD-R A0000005591010FFFFFFFF8900000100 on the "
                     r"card \(SELECT answered 6A82")


class PcscReaders(unittest.TestCase):
    """What esimd says before it has a reader, and readers coming and going. pcscd 1.9.9 loads
    the vpcd driver only when it starts, so a reader is plugged in or unplugged by starting pcscd
    again with or without its entry; the card, though, comes and goes through the vpcd protocol
    itself (the simulator's connection to the reader's port is the card in the slot)."""

    def rig(self, **kw) -> Rig:
        tmp = tempfile.mkdtemp(prefix="esimd-pcsc-readers-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rig = Rig(tmp, {"Refresh": "power-cycle"}, {}, **kw)
        self.addCleanup(rig.stop)
        return rig

    def reason(self, rig: Rig, expect: str):
        rig.client.wait_for(lambda: re.search(expect, rig.prop("UnavailableReason")), 30,
                            "UnavailableReason to say: " + expect)
        self.assertEqual(rig.prop("State"), "unavailable")

    def test_before_pcscd_runs(self):
        rig = self.rig(pcscd_up=False)
        self.reason(rig, r"^modem card: cannot reach pcscd: Service not available\. \(0x8010001D\)$")
        rig.pcscd.start_pcscd()
        rig.wait_state("ready", 60)

    def test_before_the_first_reader_and_a_reader_unplugged(self):
        rig = self.rig(readers=False)
        self.reason(rig, r"^modem card: no smart-card reader \(pcscd has none\)$")
        # The reader plugged in: esimd finds the card in it.
        rig.pcscd.stop_pcscd()
        rig.pcscd.add_reader()
        rig.pcscd.start_pcscd()
        rig.wait_state("ready", 60)
        self.assertIn(worldmod.EID, rig.esimctl("status"))
        # Unplugged again: the reader's loss is the eUICC's, with the reason.
        rig.pcscd.stop_pcscd()
        rig.pcscd.remove_reader()
        rig.pcscd.start_pcscd()
        self.reason(rig, r"^modem card: no smart-card reader \(pcscd has none\)$")

    def test_through_a_read_only_run(self):
        """esimd.service's sandbox: /run read-only (ProtectSystem=strict) still lets esimd
        connect to pcscd's socket there and use the card."""
        rig = self.rig(read_only_run=True)
        rig.wait_state("ready", 60)
        self.assertIn(worldmod.EID, rig.esimctl("status"))
        with open("/proc/%d/mountinfo" % rig.esimd.proc.pid) as f:
            mounts = [line.split() for line in f]
        run = [m for m in mounts if m[4] == rig.pcscd.run_dir]
        self.assertTrue(run and "ro" in run[-1][5].split(","), run)

    def test_empty_reader_then_the_card_inserted(self):
        rig = self.rig()
        rig.ctl.call("disappear")  # the card out before esimd ever saw it
        rig.esimd.stop()
        rig.esimd.start()
        rig.client.wait_for(lambda: rig.client.name_has_owner(), 30, "esimd on the bus")
        self.reason(rig, r'^modem card: no card in "esim-sim 00 00"; no card in "esim-sim 00 01"$')
        rig.ctl.call("appear")  # the vpcd connection again: a card in the slot
        rig.wait_state("ready", 30)
        self.assertIn(worldmod.EID, rig.esimctl("status"))


class PcscBasicChannel(unittest.TestCase):
    """A card (or reader) that gives no logical channel: MANAGE CHANNEL answers 6881 (logical
    channel not supported). esimd selects the ISD-R on the basic channel instead and does
    everything there; a refusal that says something else (6F00) is not a reason to."""

    def test_everything_on_the_basic_channel(self):
        with worldmod.World(transport="pcsc", sim_options={"refuse_channel": "6881"}) as w:
            job, props = w.download(worldmod.activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)
            iccid = w.profiles()[0]["iccid"]
            # Enable: the card reset through pcscd while esimd holds the basic channel, then read again.
            w.manager("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {})))
            self.assertEqual({p["iccid"]: p["state"] for p in w.profiles()}[iccid], "enabled")
            w.wait_idle()
            with w.sim.ctl() as sim:
                counters = sim.counters()
                trace = sim.call("trace")["apdus"]
                self.assertEqual(sim.state()["notifications"], [])  # delivered, and removed from the card
            self.assertEqual(counters["channels_opened"], 0)
            headers = [a["header"] for a in trace]
            self.assertIn("00700000", headers)  # asked for a channel, and was refused
            self.assertTrue(all(a["sw"] == "6881" for a in trace if a["header"] == "00700000"))
            self.assertIn("00A40400", headers)  # SELECT ISD-R on the basic channel
            self.assertTrue(any(h.startswith("80E2") for h in headers))  # STORE DATA, class 80: channel 0
            self.assertFalse([h for h in headers if h[:2] not in ("00", "80")], "a command off the basic channel")
            self.assertIn('the card in reader "esim-sim 00 00" has no logical channel for esimd: using the ISD-R '
                          "on the basic channel", w.esimd.log())

    def test_other_refusals_are_not_a_reason(self):
        tmp = tempfile.mkdtemp(prefix="esimd-pcsc-basic-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rig = Rig(tmp, {"Reader": "esim-sim 00 00"}, {"refuse_channel": "6F00"})
        self.addCleanup(rig.stop)
        expect = 'modem card: the card in "esim-sim 00 00": the card opened no logical channel: 6F00 '
        rig.client.wait_for(lambda: expect in rig.prop("UnavailableReason"), 30, "UnavailableReason: " + expect)
        self.assertNotIn("00A40400", [a["header"] for a in rig.ctl.call("trace")["apdus"]])


class PcscReaderUnplugged(unittest.TestCase):
    """A reader unplugged while pcscd keeps running, during a download: vpcd cannot remove a
    reader, so pcsc-unplug-shim.c (LD_PRELOADed into esimd over the real libpcsclite and pcscd)
    answers for it as pcsc-lite 1.9.9 answers for a removed reader. The job fails at once with a
    named error, the eUICC goes unavailable, nothing is half-installed, and the reader's return
    brings the eUICC back."""

    BIG_ICCID = "8949449999999990094"
    ORDERS = [{"matchingId": "BIG-ONE", "iccid": BIG_ICCID, "profile": {"generate": {"size": 60000}},
               "metadata": {"serviceProviderName": "Big Operator", "profileName": "Large"}}] + worldmod.DEFAULT_ORDERS

    def setUp(self):
        if worldmod.esimd_is_sanitized():
            self.skipTest("AddressSanitizer's runtime must come first: no LD_PRELOAD shim")

    def test_reader_unplugged_during_a_download(self):
        tmp = tempfile.mkdtemp(prefix="esimd-pcsc-unplug-")
        self.addCleanup(shutil.rmtree, tmp, True)
        flag = os.path.join(tmp, "unplugged")
        shim = os.path.join(os.environ["ESIMD_BUILD_ROOT"], "tests", "integration", "libpcsc-unplug-shim.so")
        wrapper = ["env", "LD_PRELOAD=" + shim, "ESIMD_TEST_PCSC_UNPLUGGED=" + flag]
        if os.environ.get("ESIMD_TEST_VALGRIND") == "1":
            wrapper += worldmod.valgrind_memcheck()
        with worldmod.World(tmp, transport="pcsc", orders=self.ORDERS, sim_options={"delay_ms": 5},
                            esimd_wrapper=wrapper) as w:
            reader = w.pcscd.reader_names[0]
            sim = w.sim.ctl()
            self.addCleanup(sim.close)
            job = w.manager("Download", GLib.Variant("(ssa{sv})", (worldmod.activation_code("BIG-ONE"), "", {})))[0]
            w.client.wait_for(lambda: w.client.get(job, "org.esim.Job", "Stage") == "installing", 120,
                              "the download installing")
            with open(flag, "w") as f:
                f.write(reader + "\n")
            props = w.wait_job(job, 60)
            self.assertEqual((props["State"], props["Error"]), ("failed", "org.esim.Error.Transport"), props)
            self.assertIn('reader "%s"' % reader, props["ErrorMessage"])
            w.wait_state("unavailable", 30)
            # Either the watch saw the reader go first ('reader "R" is gone') or the card operation
            # in flight failed first (pcsc-lite answers it "Reader is unavailable"): both name it.
            self.assertRegex(w.esimd.log(), r'lost: .*reader "%s"' % re.escape(reader))
            self.assertNotIn(self.BIG_ICCID, [p["iccid"] for p in sim.state()["profiles"]])  # never half-installed
            # Plugged back: the eUICC is found in it again, and works.
            os.unlink(flag)
            w.wait_state("ready", 60)
            _, props = w.download(worldmod.activation_code("DEMO-ONE"))
            self.assertEqual(props["State"], "succeeded", props)


class PcscCheckConfig(unittest.TestCase):
    def check(self, text: str):
        d = tempfile.mkdtemp(prefix="esimd-pcsc-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "esimd.conf")
        with open(path, "w") as f:
            f.write("[HTTP]\nTrustSystemCAs=true\n" + text)
        return subprocess.run([ESIMD, "--check-config", "--config", path], capture_output=True, text=True, timeout=60)

    def test_keys(self):
        ok = self.check("[Modem a]\nTransport=pcsc\n")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("pcsc, the first reader whose card has the ISD-R", ok.stdout + ok.stderr)
        ok = self.check("[Modem a]\nTransport=pcsc\nReader=uTrust\nIsdrAid=A0000005591010FFFFFFFF8900000100\n")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn('pcsc reader "uTrust"', ok.stdout + ok.stderr)
        bad = self.check("[Modem a]\nTransport=pcsc\nSlot=2\nDevice=/dev/cdc-wdm0\n"
                         "[Modem b]\nTransport=pcsc\n"
                         "[Modem c]\nDevice=/dev/cdc-wdm0\nReader=x\n")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("[Modem a] Slot: a smart-card reader has one slot", bad.stderr)
        self.assertRegex(bad.stderr, r"\[Modem a\] Device: .*Transport=qmi")
        self.assertRegex(bad.stderr, r"\[Modem a\].*Reader= is required beside \[Modem b\]")
        self.assertRegex(bad.stderr, r"\[Modem c\] Reader: .*Transport=pcsc")


if __name__ == "__main__":
    why = pcscd.available()
    if why:
        print("SKIP: " + why)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
