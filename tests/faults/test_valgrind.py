#!/usr/bin/python3
"""esimd under valgrind memcheck through a few matrix cases (a download, a refused one, a modem
drop mid-load and the cancel that follows, a user's rejection, a server error, a dead and a hung
notification server) and a SIGTERM:
no invalid access and no definitely or indirectly lost block, on the failure paths too."""

import dataclasses
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matrix  # noqa: E402
import rig as rigmod  # noqa: E402

from esimtest.world import World, esimd_is_sanitized, valgrind_memcheck  # noqa: E402

VALGRIND = shutil.which("valgrind")


class ValgrindRig(rigmod.Rig):
    def __init__(self):
        wrapper = valgrind_memcheck()
        self.verbose = False
        self.case_no = self.order_no = 0
        self.w = World(orders=[], config=rigmod.CONFIG, sim_options={"log_level": "warning"},
                       esimd_wrapper=wrapper, extra_hosts={rigmod.DEAD_HOST: rigmod.DEAD_ADDRESS})
        self.wrapped = False
        self.base_wrapper = list(wrapper)
        self.sim = self.w.sim.ctl()
        self.smdp = self.w.smdp.control
        self.client = self.w.client
        self.w.wait_idle(120)


CASES = [
    matrix.Case("valgrind", "download", options=matrix.FULL_OPTIONS),
    matrix.Case("valgrind", "BF38=7", sim_faults=[{"kind": "es10_result", "tag": "BF38", "code": 7}]),
    matrix.Case("valgrind", "drop@15", sim_faults=[{"kind": "drop", "after": 14}]),
    matrix.Case("valgrind", "reject", options={"confirm": True}, during=matrix.confirm_then("cancel")),
    matrix.Case("valgrind", "authenticateClient:http500-executed",
                smdp_faults=[{"function": "authenticateClient", "action": "http", "status": 500, "execute": True,
                              "times": 1}]),
    # per-server back-off, and a delivery that gives way to the download and is cancelled
    matrix.Case("valgrind", "dead-server", before=matrix.dead_server_notification, deferred=True,
                check=matrix.others_delivered),
    matrix.Case("valgrind", "hung-server-cancelled", before=matrix.delivery_in_flight(cancel=True)),
    matrix.Case("valgrind", "hung-server", before=matrix.delivery_in_flight(cancel=False)),
    # a kept-alive connection closed without an answer: libcurl's resend refused, and let go
    *[dataclasses.replace(c, cls="valgrind") for c in matrix.drop_cases()
      if c.name in ("getBoundProfilePackage:drop-executed-reused", "initiateAuthentication:drop-executed-reused")],
]


@unittest.skipUnless(VALGRIND, "valgrind is not installed")
class Memcheck(unittest.TestCase):
    def test_no_leak_and_no_invalid_access(self):
        rig = ValgrindRig()
        try:
            for case in CASES:
                r = matrix.run_case(rig, case)
                self.assertTrue(r.ok, "%s: %s" % (case.name, [(c.name, c.detail) for c in r.checks if not c.ok]))
            rc = rig.w.esimd.stop(120)
            log = rig.w.esimd.log()
        finally:
            rig.sim.close()
            rig.w.stop()
        summary = re.findall(r"==\d+== (?:ERROR SUMMARY|definitely lost|indirectly lost).*", log)
        self.assertEqual(rc, 0, "valgrind found errors (exit %d):\n%s\n%s" % (rc, "\n".join(summary), log[-6000:]))
        self.assertIn("ERROR SUMMARY: 0 errors", log)


if __name__ == "__main__":
    if not VALGRIND or esimd_is_sanitized():  # valgrind cannot run an ASan build
        sys.exit(77)
    unittest.main(verbosity=2)
