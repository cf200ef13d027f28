"""The esimd a client's first call starts (D-Bus activation, issue 14 item 5): its memory while
it waits for nothing, and how long it stays.

The private bus starts esimd itself from an org.esim.service file (dbus-daemon runs Exec= when a
client first calls org.esim, as on a machine without systemd; with systemd it hands the start
to dbus-org.esim.service, the same process). esimd has no [Modem] section and discovery follows
the fake ModemManager (tests/pylib/esimtest/fakemm.py), which reports:

  - no modem at all: esimd finds nothing, and leaves after --idle-timeout;
  - one modem with an eUICC (the simulated QMI modem, reached through the real qmi-proxy):
    esimd finds it, reads it, and stays.

Memory is /proc's (procfs.memory) after `settle` seconds, then the context switches over
`window` seconds; "leaves after" is from the first call to the process gone.
"""

from __future__ import annotations

import os
import signal
import time

from esimtest.discoveryrig import DiscoveryRig, MANAGER_IFACE  # noqa: F401

from . import procfs

IDLE_TIMEOUT = 20  # seconds: the unit's --idle-timeout is longer; the measurement needs less


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"  # a zombie until the bus reaps it
    except FileNotFoundError:
        return True


def _measure(pid: int, settle: float, window: float) -> dict:
    time.sleep(settle)
    mem = procfs.memory(pid)
    mem["by_mapping"] = procfs.rss_by_mapping(pid)
    before = procfs.context_switches(pid)
    time.sleep(window)
    after = procfs.context_switches(pid)
    by_thread = {}
    for t, (v, n) in after.items():
        v0, n0 = before.get(t, (0, 0))
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                name = f.read().strip()
        except OSError:
            name = str(t)
        by_thread[name] = by_thread.get(name, 0) + (v - v0) + (n - n0)
    return {"memory": mem, "context_switches": sum(by_thread.values()), "switches_by_thread": by_thread,
            "window_s": window, "threads": len(after)}


def activated(with_euicc: bool, settle: float, window: float, log=print) -> dict:
    rig = DiscoveryRig(modemmanager=True, udev=False, activation=True, config={"Daemon": {"JobLinger": "1"}})
    pid = None
    try:
        rig.start_mm()
        eid = None
        if with_euicc:
            modem = rig.add_modem("qmi")
            rig.mm_add(modem)
            eid = modem.eid
        rig.write_activation_service(["--idle-timeout", str(IDLE_TIMEOUT)])
        t0 = time.monotonic()
        pid = rig.activated_pid()
        started_ms = round((time.monotonic() - t0) * 1000, 1)
        if eid:
            rig.wait_manager(eid)
        out = {"euiccs": 1 if eid else 0, "idle_timeout_s": IDLE_TIMEOUT, "start_ms": started_ms}
        out.update(_measure(pid, settle, window))
        if eid:
            out["left_after_s"] = None if _gone(pid) else "stays"
        else:
            deadline = t0 + IDLE_TIMEOUT + 60
            while not _gone(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            out["left_after_s"] = round(time.monotonic() - t0, 1) if _gone(pid) else None
        log(f"  activated esimd with {out['euiccs']} eUICC: RSS {out['memory']['rss'] / 2**20:.2f} MiB, "
            f"anonymous {out['memory']['rss_anon'] / 2**20:.2f} MiB, left after: {out['left_after_s']}")
        return out
    finally:
        if pid and not _gone(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while not _gone(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        rig.stop()


def run(settle: float = 5.0, window: float = 10.0, log=print) -> dict:
    log("D-Bus activation: esimd started by the bus beside ModemManager")
    return {"load_average": os.getloadavg()[0],
            "no_euicc": activated(False, settle, window, log),
            "one_euicc": activated(True, settle, window, log)}


def render(res: dict) -> str:
    rows = ["| esimd started by D-Bus activation | RSS | anonymous | PSS | threads | wakeups over the window | leaves |",
            "|---|---|---|---|---|---|---|"]
    for key, what in (("no_euicc", "no eUICC (ModemManager has no modem)"),
                      ("one_euicc", "one eUICC (ModemManager's QMI modem)")):
        r = res[key]
        m = r["memory"]
        left = r["left_after_s"]
        rows.append(f"| {what} | {m['rss'] / 2**20:.2f} MiB | {m['rss_anon'] / 2**20:.2f} MiB | "
                    f"{m['pss'] / 2**20:.2f} MiB | {r['threads']} | {r['context_switches']} in {r['window_s']:.0f} s | "
                    + ("stays" if left == "stays" else f"after {left} s (--idle-timeout {r['idle_timeout_s']})")
                    + " |")
    return "\n".join(rows)
