"""The eUICC's non-volatile state and its atomic JSON persistence (temp file + fsync + rename)."""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
from typing import Optional

log = logging.getLogger("esim-sim.store")

FORMAT_VERSION = 1

# Default rules authorisation table: any operator ('E' nibbles are wildcards) may set ppr1 and
# ppr2 without end-user consent.
DEFAULT_RAT = [{"ppr_ids": [1, 2], "operators": [{"mcc_mnc": "EEEEEE"}], "consent_required": False}]


def initial_state(eid: str, total_memory: int, default_smdp: Optional[str], root_smds: str) -> dict:
    return {
        "version": FORMAT_VERSION,
        "eid": eid,
        "profiles": [],
        "notifications": [],
        "next_seq": 0,
        "next_isdp": 0x10,
        "default_smdp": default_smdp,
        "root_smds": root_smds,
        "rat": copy.deepcopy(DEFAULT_RAT),
        "total_memory": total_memory,
    }


class Store:
    """Holds `data` (plain JSON types) and writes it atomically on every commit()."""

    def __init__(self, path: Optional[str], initial: dict):
        self.path = path
        self.initial = copy.deepcopy(initial)
        self.writes = 0
        self.data = copy.deepcopy(initial)
        if path and os.path.exists(path):
            with open(path, "r", encoding="utf-8") as f:
                loaded = json.load(f)
            if loaded.get("version") != FORMAT_VERSION:
                raise ValueError("%s: unsupported state format %r" % (path, loaded.get("version")))
            if loaded.get("eid") != initial["eid"]:
                raise ValueError("%s belongs to EID %s, not this eUICC" % (path, loaded.get("eid")))
            self.data = loaded
            log.info("state loaded: %d profiles, %d notifications", len(loaded["profiles"]), len(loaded["notifications"]))
        else:
            self.commit()

    def reset(self) -> None:
        self.data = copy.deepcopy(self.initial)
        self.commit()

    def commit(self) -> None:
        self.writes += 1
        if not self.path:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".esim-sim-state.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
        # The rename itself must reach the disk for the new state to survive a crash.
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
