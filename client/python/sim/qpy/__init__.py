"""sim.qpy: stand-ins for the QuecPython firmware modules that eSIM applications import (utime,
checkNet, atcmd, _thread), installed under their firmware names by the runner
(`python3 -m sim.run app.py`). Each does on Linux what the firmware's does, computed from the
system, or raises NotAvailable where Linux has no honest equivalent."""


class NotAvailable(RuntimeError):
    """A firmware facility that has no equivalent under sim.run; the message says why and what
    to use instead."""
