"""A test World whose modem is the simulator's MBIM function (tests/sim/esimsim/mbim.py):
esimd configured with Transport=mbim on the simulator's MBIM pseudo-terminal, directly or through
mbim-proxy (which only a private network namespace keeps away from the machine's own)."""

import os
import shutil
import tempfile

from esimtest.world import World


class MbimWorld(World):
    """qmi=True: Transport=qmi with QmiMode=mbim (QMI inside MBIM) on the same port."""

    def __init__(self, *, use_proxy: bool = False, qmi: bool = False, sim_options=None, config=None, **kw):
        self._mbim_tmp = tempfile.mkdtemp(prefix="esimd-mbim-")
        modem = {"Transport": "qmi" if qmi else "mbim", "Device": os.path.join(self._mbim_tmp, "sim-mbim"),
                 "UseProxy": "true" if use_proxy else "false"}
        if qmi:
            modem["QmiMode"] = "mbim"
        sections = dict(config or {})
        sections["Modem sim"] = dict(modem, **sections.get("Modem sim", {}))
        try:
            super().__init__(self._mbim_tmp, modem="pty", sim_options=dict(sim_options or {}, mbim_pty=True),
                             config=sections, **kw)
        except BaseException:
            shutil.rmtree(self._mbim_tmp, ignore_errors=True)
            raise

    def stop(self):
        try:
            super().stop()
        finally:
            shutil.rmtree(self._mbim_tmp, ignore_errors=True)

    def mbim_counts(self) -> dict:
        with self.sim.ctl() as c:
            return c.counters()["mbim_messages"]
