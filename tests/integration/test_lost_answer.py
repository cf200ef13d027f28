"""A download whose answer to the last segment of the Bound Profile Package was lost (issue 11's
fault matrix, `framing bad-frame@31(86#5)`): the eUICC executed it and installed the profile, but
the modem vanished before its answer came back. The outcome is not final until the card is read
again:

* the modem comes back: esimd reads the profile list and the job succeeds (nickname and enable
  done, the install result delivered as after any install);
* the modem does not come back within ModemReturnTimeout: the job fails, saying that whether the
  profile was installed is unknown (never "installed" unseen); the card is read once it returns;
* Cancel ends that wait.

Every case: DownloadResult before Job.Finished, exactly one of each. Registered once per
transport (`--transport NAME`, as test_transport_scenarios.py): each reports the lost modem its
own way through modem.h's availability. The simulator's fault `drop`
with `installed` fires at the APDU that completes an install: executed, its answer lost (on every
front the same way: the connection or pty goes away); `vanish` keeps the modem away.
"""

import unittest

from gi.repository import GLib

from esimtest import transportmain
from esimtest.world import JOB_IFACE, MANAGER, World, activation_code

ICCID_ONE = "8949449999999990011"
UNKNOWN_PHRASE = "whether the profile was installed is unknown"


def signals_of(w, job):
    return [s[2] for s in w.client.signals
            if (s[2] == "DownloadResult" and s[3][0] == job) or (s[2] == "Finished" and s[0] == job)]


def download_result(w, job):
    results = [s[3] for s in w.client.signals_named("DownloadResult", MANAGER) if s[3][0] == job]
    assert len(results) == 1, results
    return results[0]


def stages(w, job):
    """Every Stage the job announced, in order."""
    out = []
    for path, iface, member, args in w.client.signals:
        if path == job and member == "PropertiesChanged" and args[0] == JOB_IFACE and "Stage" in args[1]:
            out.append(args[1]["Stage"])
    return out


class LostAnswer(unittest.TestCase):

    def start(self, w, options=None):
        opts = {k: (GLib.Variant("b", v) if isinstance(v, bool) else GLib.Variant("s", v))
                for k, v in (options or {}).items()}
        return w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code("DEMO-ONE"), "", opts)))[0]

    def test_the_modem_comes_back_and_the_profile_is_there(self):
        with World() as w:
            w.wait_idle()
            fault = w.sim.ctl().add_fault(kind="drop", installed=True)
            job = self.start(w, {"nickname": "lost answer", "enable": True})
            props = w.wait_job(job)
            self.assertEqual(w.sim.ctl().fault(fault)["fired"], 1)
            self.assertEqual(props["State"], "succeeded", props)
            self.assertEqual(props["Result"].get("iccid"), ICCID_ONE)
            self.assertEqual(signals_of(w, job), ["DownloadResult", "Finished"])
            self.assertEqual(tuple(download_result(w, job)), (job, 0, ICCID_ONE, "", ""))
            self.assertIn("checking-install", stages(w, job))
            # what the caller asked for after the install was done on the modem that came back,
            # and the eUICC's state is known when the job ends
            self.assertIn(w.manager_prop("State"), ("ready", "busy"))
            profiles = {p["iccid"]: p for p in w.profiles()}
            self.assertEqual(profiles[ICCID_ONE]["state"], "enabled")
            self.assertEqual(profiles[ICCID_ONE]["nickname"], "lost answer")
            # the install result reaches the server as after any install
            w.client.wait_for(lambda: not w.sim.ctl().state()["notifications"], 60, "the PIR to be delivered")
            self.assertIn("installed profile", w.esimd.log())

    def test_the_modem_does_not_come_back_in_time(self):
        with World(config={"Daemon": {"ModemReturnTimeout": "2"}}) as w:
            w.wait_idle()
            w.sim.ctl().add_fault(kind="drop", installed=True, vanish=True)
            job = self.start(w)
            props = w.wait_job(job)
            self.assertEqual(props["State"], "failed", props)
            self.assertEqual(props["Error"], "org.esim.Error.Transport")
            self.assertIn(UNKNOWN_PHRASE, props["ErrorMessage"])
            self.assertIn("within 2 s", props["ErrorMessage"])
            self.assertNotIn("is installed", props["ErrorMessage"])
            self.assertEqual(signals_of(w, job), ["DownloadResult", "Finished"])
            result = download_result(w, job)
            self.assertEqual(result[1], 1)
            self.assertIn(UNKNOWN_PHRASE, result[4])
            self.assertIn("awaiting-modem", stages(w, job))
            # The card did install it: once the modem is back, esimd reads it and delivers its PIR.
            w.sim.ctl().appear()
            w.wait_idle(60)
            self.assertIn(ICCID_ONE, [p["iccid"] for p in w.profiles()])
            w.client.wait_for(lambda: not w.sim.ctl().state()["notifications"], 60, "the PIR to be delivered")

    def test_cancel_ends_the_wait(self):
        with World() as w:  # the default ModemReturnTimeout (60 s): Cancel ends the wait first
            w.wait_idle()
            w.sim.ctl().add_fault(kind="drop", installed=True, vanish=True)
            job = self.start(w)
            w.client.wait_for(lambda: w.client.get(job, JOB_IFACE, "Stage") == "awaiting-modem", 60,
                              "the job to wait for the modem")
            w.client.call(job, JOB_IFACE, "Cancel")
            props = w.wait_job(job, 20)
            self.assertEqual(props["State"], "cancelled", props)
            self.assertIn(UNKNOWN_PHRASE, props["ErrorMessage"])
            self.assertEqual(signals_of(w, job), ["DownloadResult", "Finished"])
            w.sim.ctl().appear()
            w.wait_idle(60)
            self.assertIn(ICCID_ONE, [p["iccid"] for p in w.profiles()])


if __name__ == "__main__":
    transportmain.main()
