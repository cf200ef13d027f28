"""Issue 18, targets 5 and 6: many eUICCs on one esimd (8 simulated eUICCs behind 8 fake QMI
modems, downloading at once: total time against one download's, memory per extra eUICC, idle
wakeups), and a cold start to the first ListProfiles answered, with its APDUs."""

from __future__ import annotations

import os
import time

from gi.repository import Gio, GLib

from esimtest.simctl import start_sim
from esimtest.world import MANAGER_IFACE, World, activation_code

from . import procfs
from .bench import SIM_MEMORY, iccid_for, ms
from .timeline import Timeline, failure, job_finished

STARTUP_READS = {"BF3E", "BF20", "BF22", "BF3C", "BF2D", "BF28"}  # EID, EUICCInfo1/2, addresses,
# profiles, notifications: one command each is the floor of reading the card into the cache


def manager(i: int) -> str:
    return f"/org/esim/euicc/{i}"


class ManyWorld:
    """One World (its simulator is eUICC 0) plus n-1 more simulators, each behind its own
    qmi-proxy socket and [Modem simK] section; one esimd for them all."""

    def __init__(self, n: int):
        # The simulators sleep out their injected delay without spinning its end (--delay-spin-us
        # 0, ~0.1 ms late per APDU): eight spinning at the same moments on two cores took CPU from
        # esimd and from each other (1.08-1.11x against 1.05-1.07x, load 0.1). One download and
        # eight at once run on the same simulators, so the ratio compares like with like.
        sim_options = {"total_memory": SIM_MEMORY, "delay_spin_us": 0}
        self.w = World(orders=[], start_esimd=False, sim_options=sim_options)
        self.sims = [self.w.sim]
        self.timeline = None
        self.orders = 0
        try:
            for k in range(1, n):
                d = os.path.join(self.w.tmpdir, f"sim{k}")
                os.makedirs(d)
                self.sims.append(start_sim(d, self.w.pki["dir"], qmi_proxy_socket=True, **sim_options))
            self.ctls = [s.ctl() for s in self.sims]
        except BaseException:
            self.close()
            raise

    def configure(self, n: int, autosend: bool = False):
        """esimd.conf with the first `n` eUICCs."""
        modem = {"Transport": "qmi", "Slot": "1", "Refresh": "refresh-flag", "Device": "/dev/esim-sim-modem",
                 "UseProxy": "true", "NoFileCheck": "true"}
        # Finished jobs leave the bus after JobLinger (a timer): short, so the idle windows after
        # the settling time see esimd at rest.
        cfg: dict = {"Notifications": {"AutoSend": "true" if autosend else "false"}, "Daemon": {"JobLinger": "1"}}
        for k in range(1, n):
            cfg[f"Modem sim{k}"] = dict(modem, ProxySocket=self.sims[k].qmi_proxy_socket,
                                        Device=f"/dev/esim-sim-modem{k}")
        self.w.write_config(cfg)

    def start(self, n: int):
        if self.w.esimd.running():
            self.w.esimd.stop()
        if self.timeline:
            self.timeline.close()
        self.configure(n)
        self.w.start_esimd()
        for i in range(n):
            self.w.client.wait_for(lambda i=i: self.w.client.get(manager(i), MANAGER_IFACE, "State") == "ready",
                                   120, f"eUICC {i} ready")
        self.timeline = Timeline(self.w.bus.address, lambda: None)

    def order(self, size: int) -> str:
        self.orders += 1
        mid = f"BENCH-M-{self.orders:04d}"
        self.w.smdp.control.add_order({"matchingId": mid, "iccid": iccid_for(500 + self.orders),
                                       "profile": {"generate": {"size": size}},
                                       "metadata": {"serviceProviderName": "Bench Operator", "profileName": mid}})
        return mid

    def downloads(self, which: list[int], size: int, latency_ms: int) -> dict:
        """Download() on each eUICC in `which` at once; the time from the first call to the last
        Finished."""
        for i in which:
            self.ctls[i].clear_faults()
            if latency_ms:
                self.ctls[i].add_fault(kind="delay", ms=latency_ms)
        mids = [self.order(size) for _ in which]
        self.timeline.clear()
        pid = self.w.esimd.proc.pid
        # Whose CPU the downloads took: esimd's, the simulators' and the SM-DP+'s (Python, each
        # its own process), and the whole machine's (the other users of these 2 cores included).
        others = {"sims": [s.proc.pid for s in self.sims], "smdp": [self.w.smdp.proc.pid]}
        other0 = {k: sum(procfs.process_cpu_ns(p) for p in v) for k, v in others.items()}
        machine0 = procfs.machine_cpu()
        load0 = os.getloadavg()[0]
        cpu0 = procfs.cpu_ns(pid)
        t0 = time.monotonic()
        # All the calls go out at once (as from n clients), none waits for another's answer:
        # one client calling in turn made the last download start 160 ms late under load.
        replies: dict = {}

        def answered(conn, res, k):
            try:
                replies[k] = (conn.call_finish(res).unpack()[0], time.monotonic())
            except GLib.Error as e:
                replies[k] = (e, time.monotonic())

        for k, (i, mid) in enumerate(zip(which, mids)):
            self.w.client.conn.call("org.esim", manager(i), MANAGER_IFACE, "Download",
                                    GLib.Variant("(ssa{sv})", (activation_code(mid), "", {})), None,
                                    Gio.DBusCallFlags.NONE, 120000, None, answered, k)
        ctx = GLib.MainContext.default()
        while len(replies) < len(which):
            ctx.iteration(True)
        errors = [f"eUICC {which[k]}: Download(): {r[0].message}" for k, r in replies.items()
                  if isinstance(r[0], GLib.Error)]
        if errors:
            raise RuntimeError("; ".join(errors))
        jobs = [replies[k][0] for k in range(len(which))]
        calls = [ms(replies[k][1] - t0) for k in range(len(which))]  # when each call was answered
        ends = [self.timeline.wait(job_finished(j), 600, f"{j} to finish") for j in jobs]
        t_end = max(e.t for e in ends)
        cpu1 = procfs.cpu_ns(pid)
        other1 = {k: sum(procfs.process_cpu_ns(p) for p in v) for k, v in others.items()}
        machine1 = procfs.machine_cpu()
        for i in which:
            self.ctls[i].clear_faults()
        # From the signals: a job that failed early has left the bus by now (JobLinger=1).
        events = self.timeline.snapshot()
        failed = [f"eUICC {i}: {failure(events, j)}" for i, j, e in zip(which, jobs, ends) if e.args[0] != "succeeded"]
        each = [ms(e.t - t0) for e in ends]
        busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
        wall_s = max(t_end - t0, 1e-3)
        return {"euiccs": len(which), "latency_ms": latency_ms, "total_ms": max(each), "each_ms": each, "calls_ms": calls,
                "esimd_cpu_ms": round((cpu1 - cpu0) / 1e6, 1),
                "sims_cpu_ms": round((other1["sims"] - other0["sims"]) / 1e6),
                "smdp_cpu_ms": round((other1["smdp"] - other0["smdp"]) / 1e6),
                # Busy share of the machine's CPUs over the downloads (1.0 = every core busy), and
                # the cores' worth of it that was neither esimd, the simulators nor the server.
                "machine_busy": round(busy / total, 2) if total else None,
                "others_cores": round(max(0.0, busy / total * (os.cpu_count() or 1) - (
                    (cpu1 - cpu0) + sum(other1[k] - other0[k] for k in other1)) / 1e9 / wall_s), 2) if total else None,
                "load_average": os.getloadavg()[0], "load_average_before": load0, "failed": failed}

    def close(self):
        for closer in [getattr(self.timeline, "close", None)] + [s.stop for s in self.sims[1:]] + [self.w.stop]:
            if closer:
                try:
                    closer()
                except Exception:
                    pass


def idle_memory(pid: int, settle: float, window: float) -> dict:
    time.sleep(settle)
    mem = procfs.memory(pid)
    before = procfs.context_switches(pid)
    time.sleep(window)
    after = procfs.context_switches(pid)
    switches = sum((v - before.get(t, (0, 0))[0]) + (nv - before.get(t, (0, 0))[1]) for t, (v, nv) in after.items())
    return {"rss": mem["rss"], "rss_anon": mem["rss_anon"], "context_switches": switches, "window_s": window}


def many_euiccs(n: int, size: int, latency_ms: int, settle: float, window: float, log=print) -> dict:
    mw = ManyWorld(n)
    try:
        log(f"  esimd with 1 eUICC: idle memory, one download at {latency_ms} ms per APDU")
        mw.start(1)
        one_idle = idle_memory(mw.w.esimd.proc.pid, settle, window)
        one = mw.downloads([0], size, latency_ms)
        log(f"  esimd with {n} eUICCs: idle memory, {n} downloads at once")
        mw.start(n)
        many_idle = idle_memory(mw.w.esimd.proc.pid, settle, window)
        many = mw.downloads(list(range(n)), size, latency_ms)
        after = idle_memory(mw.w.esimd.proc.pid, settle, window)
        return {"euiccs": n, "profile_size": size, "latency_ms": latency_ms, "one": one, "many": many,
                "ratio": round(many["total_ms"] / one["total_ms"], 2),
                "idle_one": one_idle, "idle_many": many_idle, "idle_many_after": after,
                "anon_per_extra_euicc": round((many_idle["rss_anon"] - one_idle["rss_anon"]) / (n - 1)),
                "rss_per_extra_euicc": round((many_idle["rss"] - one_idle["rss"]) / (n - 1))}
    finally:
        mw.close()


def cold_start(latency_ms: int, profiles: int = 1, log=print) -> dict:
    """esimd started with one eUICC whose every APDU takes `latency_ms`: the time from the process
    start to the first ListProfiles answered from the cache, and the APDUs of start-up."""
    mw = ManyWorld(1)
    try:
        mw.start(1)
        for _ in range(profiles):
            mw.downloads([0], 12288, 0)
        mw.w.esimd.stop()
        ctl = mw.ctls[0]
        ctl.clear_faults()
        if latency_ms:
            ctl.add_fault(kind="delay", ms=latency_ms)
        ctl.counters(reset=True)
        t0 = time.monotonic()
        mw.w.esimd.start()
        answered = None
        while time.monotonic() - t0 < 120:
            try:
                if mw.w.client.name_has_owner():
                    mw.w.client.call(manager(0), MANAGER_IFACE, "ListProfiles", GLib.Variant("(b)", (True,)),
                                     timeout=10)
                    answered = time.monotonic()
                    break
            except GLib.Error:
                pass
            time.sleep(0.002)
        if answered is None:
            raise RuntimeError("esimd never answered ListProfiles")
        mw.w.wait_idle()
        c = ctl.counters(reset=True)
        ctl.clear_faults()
        by_tag = c["es10_by_tag"]
        return {"latency_ms": latency_ms, "profiles": profiles, "ready_ms": ms(answered - t0),
                "apdus": sum(c["apdus"].values()), "es10_by_tag": by_tag,
                "floor": len(STARTUP_READS), "channels_opened": c["channels_opened"],
                "qmi_messages": c["qmi_messages"]}
    finally:
        mw.close()


def many_runs(n: int, size: int, latency_ms: int, settle: float, window: float, repeat: int, log=print) -> dict:
    """`repeat` many_euiccs() runs, each in a world of its own; the median run (by its ratio) is
    the result, every run stays under "runs" (the machine is shared: one run says little)."""
    runs = []
    for k in range(repeat):
        log(f"run {k + 1} of {repeat}")
        runs.append(many_euiccs(n, size, latency_ms, settle, window, log))
    ok = sorted((r for r in runs if not r["many"]["failed"] and not r["one"]["failed"]), key=lambda r: r["ratio"])
    median = dict(ok[(len(ok) - 1) // 2] if ok else runs[-1])
    median["runs"] = runs
    return median
