"""The benchmark's scenarios around one test world (tests/bench/README.md says what each number
means and how it is obtained)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
from typing import Optional

from gi.repository import GLib

from esimtest import world as worldmod
from esimtest.world import JOB_IFACE, MANAGER, MANAGER_IFACE, SMDP_HOST, SMDS_HOST, World, activation_code

from . import floor, procfs
from .qmitap import QmiTap
from .recorder import HttpsRecorder
from .timeline import Timeline, failure, job_finished, notifications_drained, stage_changes

BENCH_BIN = os.path.join(worldmod.BUILD_ROOT, "tests", "bench")
TRACER = os.path.join(BENCH_BIN, "bench-alloc-trace.so")
BASELINE = os.path.join(BENCH_BIN, "bench-baseline")
LISTPROFILES = os.path.join(BENCH_BIN, "bench-listprofiles")
SIM_MEMORY = 64 * 1024 * 1024  # room for every profile the benchmark installs
BIG_BLOCK = 8192  # heap blocks at least this large are recorded with their call stack


def iccid_for(n: int) -> str:
    """A 19-digit test ICCID with a valid Luhn check digit."""
    body = "894944999%09d" % n
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


class Mode:
    """How esimd runs: plain (as shipped), or with the tap and recorder in its paths, the heap
    tracer preloaded, or under callgrind. Instrumented modes send notifications on request only,
    so a download and the notification delivery after it can be told apart exactly."""

    def __init__(self, name: str, tap=False, tracer=False, callgrind=False, autosend=True):
        self.name, self.tap, self.tracer, self.callgrind, self.autosend = name, tap, tracer, callgrind, autosend


PLAIN = Mode("plain")
COUNTING = Mode("counting", tap=True, autosend=False)
TRACED = Mode("traced", tap=True, tracer=True, autosend=False)
CALLGRIND = Mode("callgrind", callgrind=True, autosend=False)


class Bench:
    """One test world (PKI, private bus, simulated eUICC and modem, test SM-DP+) plus the
    instruments, and esimd restarted in whichever mode a scenario needs."""

    def __init__(self, log=print):
        self.log = log
        self.w = World(orders=[], start_esimd=False, sim_options={"total_memory": SIM_MEMORY})
        try:
            self.sim = self.w.sim.ctl()
            self.tap = QmiTap(self.w.sim.qmi_proxy_socket)
            self.rec = HttpsRecorder(self.w.pki, SMDP_HOST, self.w.smdp.port)
            self.timeline = Timeline(self.w.bus.address, self._cpu)
        except BaseException:
            self.w.stop()
            raise
        self.mode: Optional[Mode] = None
        self.standing_faults: list[dict] = []
        self.orders = 0
        self.alloc_socket = os.path.join(self.w.tmpdir, "alloc-trace.sock")
        self.callgrind_dir = os.path.join(self.w.tmpdir, "callgrind")

    def close(self):
        # esimd goes first, while its modem and server paths (through the tap) still answer.
        try:
            self.w.esimd.stop()
        except Exception:
            pass
        for closer in (self.timeline.close, self.rec.close, self.tap.close):
            try:
                closer()
            except Exception:
                pass
        self.w.stop()

    # -- esimd ----------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self.w.esimd.proc.pid if self.w.esimd.running() else None

    def _cpu(self) -> Optional[int]:
        pid = self.pid
        return procfs.cpu_ns(pid) if pid else None

    def start_esimd(self, mode: Mode, config: Optional[dict] = None):
        if self.w.esimd.running():
            self.w.esimd.stop()
        cfg: dict = dict(config or {})
        env: dict = {}
        wrapper: list = []
        if not mode.autosend:
            cfg["Notifications"] = {"AutoSend": "false"}
        if mode.tap:
            cfg["Modem sim"] = {"ProxySocket": self.tap.name}
            cfg["HTTP"] = {"ConnectTo": f"{SMDP_HOST}:443:127.0.0.1:{self.rec.port};"
                                        f"{SMDS_HOST}:443:127.0.0.1:{self.w.smdp.smds_port}"}
        if mode.tracer:
            env = {"LD_PRELOAD": TRACER, "BENCH_ALLOC_SOCKET": self.alloc_socket,
                   "BENCH_ALLOC_MIN": str(BIG_BLOCK)}
        if mode.callgrind:
            os.makedirs(self.callgrind_dir, exist_ok=True)
            wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                       f"--callgrind-out-file={self.callgrind_dir}/callgrind.out.%p",
                       f"--log-file={self.callgrind_dir}/valgrind.log.%p"]
        self.w.write_config(cfg)
        self.w.esimd.env = env
        self.w.esimd.wrapper = wrapper
        self.w.start_esimd()
        self.w.wait_idle()
        self.mode = mode

    def segment_size_file(self) -> str:
        return os.path.join(self.w.tmpdir, "state", "segment-size", self.w.manager_prop("Eid"))

    # -- one download ---------------------------------------------------------------------

    def new_order(self, size: int) -> tuple[str, str]:
        self.orders += 1
        mid, iccid = f"BENCH-{self.orders:04d}", iccid_for(self.orders)
        self.w.smdp.control.add_order({
            "matchingId": mid, "iccid": iccid, "profile": {"generate": {"size": size}},
            "metadata": {"serviceProviderName": "Bench Operator", "profileName": f"Bench {size} #{self.orders}"}})
        return mid, iccid

    def set_faults(self, *faults: dict):
        """Simulator faults that stay for the next downloads (each adds its latency on top)."""
        self.standing_faults = list(faults)

    def download(self, size: int, latency_ms: int = 0, timeout: float = 300.0) -> dict:
        """Downloads one profile of `size` bytes with `latency_ms` added to every APDU, measuring
        whatever the current mode allows; waits until its notification is delivered."""
        mode = self.mode
        mid, iccid = self.new_order(size)
        self.sim.clear_faults()
        for f in self.standing_faults:
            self.sim.add_fault(**f)
        if latency_ms:
            self.sim.add_fault(kind="delay", ms=latency_ms)
        self.w.wait_idle()
        pid = self.pid
        self.timeline.clear()
        self.sim.counters(reset=True)
        self.sim.call("trace", reset=True)
        self.tap.reset()
        self.rec.reset()
        sni_before = len(self.w.smdp.control.sni())
        self.w.smdp.control.timings(reset=True)
        log_before = len(self.w.esimd.log())
        alloc = AllocTracer(self.alloc_socket) if mode.tracer else None
        heap_before = alloc.report() if alloc else None
        if alloc:
            alloc.mark()
        if mode.callgrind:
            callgrind_control(pid, "--instr=on")
            callgrind_control(pid, "--zero")
        procfs.reset_peak(pid)
        sampler = procfs.PeakSampler(pid)
        cpu0 = procfs.cpu_ns(pid)

        if mode.tap:
            # What the caller is answered without waits at the tap until the answer: the split
            # between the read-back before the answer and the one after it is exact.
            self.tap.hold_after_install()
        t0 = time.monotonic()
        job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid), "", {})))[0]
        answered_while_held = mode.tap
        if mode.tap:
            self.timeline.wait(installed_or_finished(job), timeout, f"{job} to install")
            try:
                fin = self.timeline.wait(job_finished(job), OP_HOLD_S, f"{job} to finish")
            except TimeoutError:
                # The outcome waits for an APDU held back: the read-back is all before it.
                answered_while_held = False
                self.tap.release()
                fin = self.timeline.wait(job_finished(job), timeout, f"{job} to finish")
        else:
            fin = self.timeline.wait(job_finished(job), timeout, f"{job} to finish")
        if fin.args[0] != "succeeded":
            sampler.stop()
            if alloc:
                alloc.close()
            raise RuntimeError(f"download of {size} bytes {failure(self.timeline.snapshot(), job)}")
        heap = alloc.report() if alloc else None
        tap_at_finish = self.tap.snapshot()
        if mode.tap:
            self.tap.release()
        card_at_finish = self.sim.counters()
        trace = self.sim.call("trace")["apdus"]
        if mode.callgrind:
            callgrind_control(pid, "--dump=download")
        if not mode.autosend:
            self.w.manager("SendNotifications", GLib.Variant("(a{sv})", ({},)))
        drained = self.timeline.wait(notifications_drained(fin.t), 120, "notifications delivered")
        self.w.wait_idle()
        cpu_end = procfs.cpu_ns(pid)
        peaks = sampler.stop()
        mem = procfs.memory(pid)
        if mode.callgrind:
            callgrind_control(pid, "--dump=notifications")
            callgrind_control(pid, "--instr=off")
        if alloc:
            alloc.close()
        counters = self.sim.counters(reset=True)
        props = self.w.client.get_all(job, JOB_IFACE)
        if props["State"] != "succeeded":
            raise RuntimeError(f"download of {size} bytes failed: {props.get('ErrorMessage')}")
        sni = self.w.smdp.control.sni()
        server = server_times(self.w.smdp.control.timings())
        client = client_times(self.w.esimd.log()[log_before:])

        events = self.timeline.snapshot()
        st = {name: e for name, e in stage_changes(events, job)}
        out = {
            "mode": mode.name, "profile_size": size, "latency_ms": latency_ms, "iccid": iccid,
            "stages_ms": {
                "authentication": ms(st["downloading"].t - t0),
                "download": ms(st["installing"].t - st["downloading"].t),
                "installation": ms(st[""].t - st["installing"].t),
                "read_back": ms(fin.t - st[""].t),
                "total": ms(fin.t - t0),
                "notifications": ms(drained.t - fin.t),
            },
            "cpu_ms": {"download": (fin.cpu_ns - cpu0) / 1e6 if fin.cpu_ns is not None else None,
                       "notifications": (cpu_end - fin.cpu_ns) / 1e6 if fin.cpu_ns is not None else None},
            "sim_counters": {k: counters[k] for k in ("apdus", "bytes_in", "store_data_blocks", "es10_by_tag",
                                                      "get_responses", "qmi_messages")},
            "apdus_total": sum(counters["apdus"].values()),
            "tls_handshakes": len(sni) - sni_before if sni_before < 100 else None,
            "server": server,
            "client_http": client,
            # The card's own time per APDU (the simulator's, injected delay included), up to the
            # Finished signal: what "latency" really was on this machine at that moment.
            "card": {"ms": card_at_finish.get("apdu_time_ms", {}).get("qmi"),
                     "apdus": card_at_finish.get("apdus_timed", {}).get("qmi"),
                     # when the card executed each APDU, from the Download() call (same clock)
                     "executed_ms": [round((a["t"] - t0) * 1000.0, 3) for a in trace if "t" in a],
                     "finished_ms": ms(fin.t - t0),
                     "outside_ms": outside_card(trace, t0, fin.t)},
            "memory": dict(mem, **peaks),
            "segment_size_after": self.w.manager_prop("SegmentSize"),
        }
        if mode.tap:
            out.update(self._tap_results(tap_at_finish, self.tap.snapshot()))
            out["answered_while_held"] = answered_while_held
        if heap is not None:
            out["heap"] = heap_results(heap_before, heap, out.get("floor", {}).get("bpp_bytes"))
        if mode.callgrind:
            out["instructions"] = callgrind_totals(self.callgrind_dir, pid)
        return out

    # -- one profile operation --------------------------------------------------------------

    def install(self, size: int = 12288) -> str:
        """A profile downloaded at no added latency, for the operations to work on."""
        self.sim.clear_faults()
        mid, iccid = self.new_order(size)
        self.w.wait_idle()
        job = self.w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid), "", {})))[0]
        fin = self.timeline.wait(job_finished(job), 300, f"{job} to finish")
        if fin.args[0] != "succeeded":
            raise RuntimeError(f"installing a profile for the operations: {fin.args[0]}")
        self.w.wait_idle()
        return iccid

    def profile_op(self, op: str, iccid: str, latency_ms: int = 0) -> dict:
        """One operation through the Manager, timed from the call to its answer on the client's
        side; its APDUs counted by the simulator, and with the tap split into those before the
        answer and those after it (read-backs the answer does not wait for)."""
        method, args = PROFILE_OPS[op](iccid)
        self.sim.clear_faults()
        for f in self.standing_faults:
            self.sim.add_fault(**f)
        if latency_ms:
            self.sim.add_fault(kind="delay", ms=latency_ms)
        self.w.wait_idle()
        self.sim.counters(reset=True)
        self.tap.reset()
        if self.mode.tap and op in OP_TAGS:
            self.tap.hold_after(1)
        t0 = time.monotonic()
        try:
            answer = self.w.manager(method, args, timeout=OP_HOLD_S if self.mode.tap and op in OP_TAGS else 300)
            answered_while_held = self.mode.tap and op in OP_TAGS
        except GLib.Error as e:
            if "Timeout" not in str(e) and "NoReply" not in str(e):
                raise
            answer, answered_while_held = None, False  # it waits for an APDU held back: let it go
        t1 = time.monotonic()
        at_answer = self.tap.snapshot()["commands"] if self.mode.tap else []
        if self.mode.tap:
            self.tap.release()
        self.w.wait_idle()
        counters = self.sim.counters(reset=True)
        self.sim.clear_faults()
        out = {"op": op, "latency_ms": latency_ms, "wall_ms": ms(t1 - t0), "mode": self.mode.name,
               "apdus_total": sum(counters["apdus"].values()), "es10_by_tag": counters["es10_by_tag"],
               "channels_opened": counters["channels_opened"], "card_resets": counters["card_resets"]}
        if op == "notify":
            out["delivered"] = answer[0]
        if self.mode.tap:
            commands = self.tap.snapshot()["commands"]
            if answered_while_held or op not in OP_TAGS:
                before, after = commands[:len(at_answer)], commands[len(at_answer):]
            else:
                before, after = commands, []  # the answer needed everything (or never came)
            out["answered_while_held"] = answered_while_held
            out["answer"] = command_summary(before)
            out["after_answer"] = command_summary(after)
            out["floor"] = op_floor(op, before, out.get("delivered", 0), self.w.manager_prop("SegmentSize"))
        return out

    def _tap_results(self, at_finish: dict, at_end: dict) -> dict:
        download, read_back = floor.split_download(at_finish["commands"])
        # After the Finished signal: what esimd reads back once the outcome is published, then the
        # delivery (it starts with RetrieveNotificationsList, BF2B).
        later = at_end["commands"][len(at_finish["commands"]):]
        first_delivery = next((i for i, c in enumerate(later) if c["tag"] == 0xBF2B), len(later))
        read_back_after, notify = later[:first_delivery], later[first_delivery:]
        rec = self.rec.snapshot()
        if not rec["bpps"]:
            raise RuntimeError("the recorder saw no Bound Profile Package")
        bpp = rec["bpps"][-1]
        size = self.w.manager_prop("SegmentSize")
        result = {
            "floor": floor.analyse(download, bpp, size),
            "read_back": command_summary(read_back),
            "read_back_after_answer": command_summary(read_back_after),
            "notification_delivery": command_summary(notify),
            "qmi_messages": at_end["qmi_messages"],
            "http": {k: rec[k] for k in ("connections", "handshakes", "resumed", "requests")},
            "esimd_gap_ms": apdu_gaps(at_finish["apdus"], download),
        }
        if size != 255:
            result["floor_at_255"] = floor.analyse(download, bpp, 255)["floor"]
        return result


HTTP_TIMINGS = re.compile(r"HTTP (\S+): (new|reused) connection; connected ([\d.]+) ms, TLS up ([\d.]+) ms, "
                          r"request sent ([\d.]+) ms, first byte ([\d.]+) ms, done ([\d.]+) ms")


def client_times(log: str) -> dict:
    """esimd's own view of each ES9+ request of a download (its debug log, libcurl's timings from
    the request's start): a new connection's TCP and TLS set-up, the request out, the answer."""
    requests = []
    for m in HTTP_TIMINGS.finditer(log):
        path, conn, connect, tls, sent, first, done = m.groups()
        requests.append({"function": path.rsplit("/", 1)[-1], "new_connection": conn == "new",
                         "connect_ms": float(connect), "tls_ms": float(tls), "sent_ms": float(sent),
                         "first_byte_ms": float(first), "total_ms": float(done)})
    download = [r for r in requests if r["function"] in DOWNLOAD_FUNCTIONS]
    return {"requests": requests,
            # until the request could go out: DNS, TCP, TLS and the TLS profile check (prereq)
            "setup_ms": round(sum(r["sent_ms"] for r in download), 3),
            "tls_ms": round(sum(r["tls_ms"] for r in download if r["new_connection"]), 3),
            "total_ms": round(sum(r["total_ms"] for r in download), 3)}


# The ES10 commands a download sends right after each ES9+ answer: the gap before each holds the
# request (and what esimd records and parses around it).
AFTER_REQUEST_TAGS = ("BF38", "BF21", "BF36")


def outside_card(trace: list[dict], t0: float, t_end: float) -> Optional[dict]:
    """A download's time outside the card, from the simulator's window of each APDU (t_in: its
    Send APDU read, the injected delay included, to t_out: its answer ready): before the first
    APDU (the call, the job's start, the channel, esimd's checks), in the gaps that hold an ES9+
    request, in the other gaps (one QMI round trip each: esimd, the socket, the simulator's own
    framing), and after the last APDU until the Finished signal was seen. The card's window
    itself splits at "t", when the card was handed the APDU: before it the injected latency (and
    how late the simulator's timer was), after it the card's own work."""
    apdus = [a for a in trace if "t_in" in a and a["t_in"] <= t_end]
    if not apdus:
        return None
    out = {"card": 0.0, "card_wait": 0.0, "card_work": 0.0, "apdus": len(apdus),
           "before_first": (apdus[0]["t_in"] - t0) * 1000.0, "around_requests": 0.0,
           "between_apdus": 0.0, "gaps": 0, "after_last": (t_end - apdus[-1]["t_out"]) * 1000.0}
    for prev, a in zip([None] + apdus, apdus):
        out["card"] += (a["t_out"] - a["t_in"]) * 1000.0
        out["card_wait"] += (a["t"] - a["t_in"]) * 1000.0
        out["card_work"] += (a["t_out"] - a["t"]) * 1000.0
        if prev is None:
            continue
        gap = (a["t_in"] - prev["t_out"]) * 1000.0
        if a.get("tag") in AFTER_REQUEST_TAGS:
            out["around_requests"] += gap
        else:
            out["between_apdus"] += gap
            out["gaps"] += 1
    out["total"] = (t_end - t0) * 1000.0 - out["card"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def installed_or_finished(job: str):
    """The job's Stage back to "" after "installing" (the installation result is in), or its end."""
    def pred(events):
        finished = job_finished(job)(events)
        if finished:
            return finished
        stages = [stage for stage, _ in stage_changes(events, job)]
        if "installing" in stages and "" in stages[stages.index("installing"):]:
            return next(e for stage, e in reversed(stage_changes(events, job)) if stage == "")
        return None
    return pred


# The ES9+ requests a download waits for; handleNotification comes after it.
DOWNLOAD_FUNCTIONS = ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage")


def server_times(timings: list[dict]) -> dict:
    """The SM-DP+'s own time per ES9+ request of one download (its `timings`, from the request's
    headers parsed to its answer flushed), and the TLS handshakes made before its last request."""
    smdp = [t for t in timings if t["server"] == "smdp"]
    last = max((i for i, t in enumerate(smdp) if t.get("function") in DOWNLOAD_FUNCTIONS), default=-1)
    requests = [t for t in smdp if t["what"] == "request"]
    by_function: dict = {}
    for t in requests:
        by_function.setdefault(t["function"], []).append(t["ms"])
    download = [t["ms"] for t in requests if t["function"] in DOWNLOAD_FUNCTIONS]
    return {
        "by_function_ms": by_function,
        "download_ms": round(sum(download), 3),
        "download_requests": len(download),
        "notification_ms": round(sum(by_function.get("handleNotification", [])), 3),
        "handshakes_ms": [t["ms"] for t in smdp[: last + 1] if t["what"] == "handshake"],
    }


# The operations the benchmark times, as Manager calls, and the ES10 commands each one needs.
PROFILE_OPS = {
    "enable": lambda iccid: ("EnableProfile", GLib.Variant("(sa{sv})", (iccid, {}))),
    "disable": lambda iccid: ("DisableProfile", GLib.Variant("(sa{sv})", (iccid, {}))),
    "nickname": lambda iccid: ("SetNickname", GLib.Variant("(ss)", (iccid, "bench"))),
    "delete": lambda iccid: ("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {}))),
    "notify": lambda iccid: ("SendNotifications", GLib.Variant("(a{sv})", ({},))),
}
OP_HOLD_S = 10.0  # an answer that has not come this long after the op's command waits for more
OP_TAGS = {"enable": 0xBF31, "disable": 0xBF32, "nickname": 0xBF29, "delete": 0xBF33}


def op_floor(op: str, commands: list[dict], delivered: int, segment: int) -> dict:
    """The least any LPA sends for the operation (issue 18, target 1): its one ES10 command in
    ceil(len/segment) blocks (enable and disable: plus the refresh the configuration asks for,
    which is no APDU with refreshFlag); notification delivery one RetrieveNotificationsList for the
    batch and one RemoveNotificationFromList per delivered notification."""
    def blocks(c):
        return -(-c["length"] // segment)
    if op == "notify":
        retrieve = [c for c in commands if c["tag"] == 0xBF2B]
        remove = [c for c in commands if c["tag"] == 0xBF30]
        floor = (blocks(retrieve[0]) if retrieve else 1) + sum(blocks(c) for c in remove[:delivered])
    else:
        own = [c for c in commands if c["tag"] == OP_TAGS[op]]
        floor = blocks(own[0]) if own else 1
    apdus = sum(c["apdus"] for c in commands)
    return {"apdus": apdus, "floor": floor, "ratio": round(apdus / floor, 2) if floor else None}


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def command_summary(commands: list[dict]) -> dict:
    tags: dict = {}
    for c in commands:
        name = "%X" % c["tag"] if c["tag"] is not None else "?"
        tags[name] = tags.get(name, 0) + 1
    return {"commands": len(commands), "apdus": sum(c["apdus"] for c in commands),
            "bytes_to_euicc": sum(c["apdu_bytes"] for c in commands), "by_tag": tags}


def apdu_gaps(apdus: list[dict], download: list[dict]) -> dict:
    """Time esimd takes between receiving one R-APDU and sending the next C-APDU while it loads
    the BPP (no server round trip in between), as seen at the tap: the card's time is not in it.
    `card_*` is the other side: request to answer at the tap (the simulator and its latency)."""
    load = [c for c in download if c["tag"] in floor.BPP_TAGS]
    if not load:
        return {}
    t_start, t_end = load[0]["t_first"], load[-1]["t_last"]
    window = [a for a in apdus if t_start <= a["t_req"] <= t_end]
    gaps = sorted(b["t_req"] - a["t_resp"] for a, b in zip(window, window[1:]))
    card = sorted(a["t_resp"] - a["t_req"] for a in window)
    if not gaps:
        return {}
    return {"apdus": len(window), "p50": round(statistics.median(gaps) * 1000, 3),
            "p90": round(gaps[int(0.9 * (len(gaps) - 1))] * 1000, 3), "max": round(gaps[-1] * 1000, 3),
            "sum": ms(sum(gaps)), "card_p50": round(statistics.median(card) * 1000, 3), "card_sum": ms(sum(card)),
            "load_wall": ms(t_end - t_start)}


# -- heap ---------------------------------------------------------------------------------------


class AllocTracer:
    """Client of alloc-trace.c's control socket."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")

    def _ask(self, cmd: str) -> bytes:
        self.f.write(cmd.encode() + b"\n")
        self.f.flush()
        return self.f.readline()

    def mark(self):
        if self._ask("mark").strip() != b"ok":
            raise RuntimeError("alloc tracer: mark failed")

    def report(self) -> dict:
        return json.loads(self._ask("report"))

    def close(self):
        self.f.close()
        self.sock.close()


_addr2line_cache: dict = {}
_debug_info: dict = {}


def has_debug_info(obj: str) -> bool:
    if obj not in _debug_info:
        r = subprocess.run(["readelf", "-S", "-W", obj], capture_output=True, text=True)
        _debug_info[obj] = ".debug_info" in r.stdout
    return _debug_info[obj]


def resolve_frame(frame: dict) -> str:
    """A name for one return address. Objects with debug information (esimd) resolve exactly
    through addr2line; shared libraries without it give only the nearest exported symbol, shown
    with its distance (lib:symbol+0xN) so an internal function is not mistaken for it."""
    obj, off = frame["object"], frame["offset"]
    key = (obj, off)
    if key not in _addr2line_cache:
        name = None
        if obj and shutil.which("addr2line") and has_debug_info(obj):
            r = subprocess.run(["addr2line", "-f", "-e", obj, hex(max(off - 1, 0))], capture_output=True, text=True)
            first = r.stdout.split("\n")[0]
            if first and first != "??":
                name = first
        if name is None:
            lib = os.path.basename(obj).split(".so")[0]
            sym = frame["symbol"]
            name = f"{lib}:{sym}+{hex(frame.get('symbol_offset', 0))}" if sym else f"{lib}+{hex(off)}"
        _addr2line_cache[key] = name
    return _addr2line_cache[key]


def buffer_role(kind: str, frames: list[str]) -> str:
    """What a BPP-carrying heap block is, from where it was allocated."""
    chain = " ".join(frames)
    if "write_cb" in frames:
        return "HTTP response body, as received (http.c write_cb)"
    if "lpa_base64_decode" in frames:
        if kind == "bpp-der":
            return "decoded BPP (lpa_base64_decode: the GBytes everything slices)"
        if "g_string" in chain:
            return "whitespace-stripped base64 copy (lpa_base64_decode's GString)"
        return "base64 copy inside gnutls_base64_decode2"
    if "libjson-glib" in chain:
        return "json-glib's copy of the base64 string (parser)"
    if all(f.startswith(("libgnutls", "libcurl", "libnettle", "libc:")) for f in frames[:4]):
        return "TLS record buffer (GnuTLS, at most 16 KiB)"
    return "other"


def heap_results(before: dict, after: dict, bpp_bytes: Optional[int]) -> dict:
    """Heap peak of the download over the heap before it, and every block the BPP (in any
    encoding) occupied, with where it was allocated. A "copy" is a block of at least the BPP's
    size that holds all of it (DER, base64 or the JSON around it); TLS record buffers hold at
    most 16 KiB of it and are listed but not counted."""
    blocks = []
    for b in after["big"]:
        if not b["this_phase"]:
            continue
        frames = [resolve_frame(f) for f in b["frames"][:10]]
        entry = {"size": b["max_size"], "kind": b["kind"], "moves": b["moves"], "live_after": b["live"],
                 "site": " < ".join(frames[:6])}
        if b["kind"].startswith("bpp-"):
            entry["role"] = buffer_role(b["kind"], frames)
        blocks.append(entry)
    bpp_blocks = [b for b in blocks if "role" in b]
    copies = [b for b in bpp_blocks if not b["role"].startswith("TLS record")
              and (bpp_bytes is None or b["size"] >= bpp_bytes)]
    return {
        "live_before": before["live"], "live_after": after["live"], "peak": after["peak"],
        "peak_over_before": after["peak"] - before["live"],
        "big_live_at_peak": after["big_live_at_peak"],
        "allocations": after["allocs"], "allocated_bytes": after["alloc_bytes"],
        "bpp_bytes": bpp_bytes,
        "bpp_buffers": bpp_blocks,
        "bpp_copies": len(copies),
        "bpp_copy_bytes": sum(b["size"] for b in copies),
        "bpp_copies_beyond_received": max(0, len(copies) - 1),
        "big_blocks": len(blocks),
        "dropped_records": after["dropped"],
    }


# -- callgrind ------------------------------------------------------------------------------------


def callgrind_control(pid: int, *args: str):
    r = subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "OK" not in r.stdout:
        raise RuntimeError(f"callgrind_control {' '.join(args)}: {r.stdout}{r.stderr}")


def callgrind_totals(directory: str, pid: int) -> dict:
    """Instructions (Ir) of each dump since the last, by the name given in --dump=NAME; the dump
    files are removed once read."""
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, f"callgrind.out.{pid}.*")),
                       key=lambda p: int(p.rsplit(".", 1)[1])):
        trigger, total = None, None
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("desc: Trigger:"):
                    trigger = line.split(":", 2)[2].strip()
                    trigger = trigger[len("dump "):] if trigger.startswith("dump ") else trigger
                elif line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        if trigger and total is not None:
            out[trigger] = total
        os.unlink(path)
    return out


def callgrind_bus_calls(bench: Bench, calls: int = 100) -> dict:
    """Instructions esimd spends per ListProfiles call and per Peer.Ping (the same bus path
    without a handler), one client, back to back: a figure the machine's load does not move."""
    pid = bench.pid
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bench.w.bus.address)
    out = {"profiles": len(bench.w.profiles()), "calls": calls}
    for method in ("list", "ping"):
        callgrind_control(pid, "--instr=on")
        callgrind_control(pid, "--zero")
        subprocess.run([LISTPROFILES, "--clients", "1", "--calls", str(calls - 1), "--warmup", "1",
                        "--interval-us", "0", "--method", method], check=True, capture_output=True, env=env,
                       timeout=600)
        callgrind_control(pid, f"--dump={method}")
        callgrind_control(pid, "--instr=off")
    totals = callgrind_totals(bench.callgrind_dir, pid)
    for method in ("list", "ping"):
        out[f"{method}_instructions_per_call"] = round(totals.get(method, 0) / calls)
    return out


# -- idle daemon, baseline, ListProfiles ----------------------------------------------------------


def idle(bench: Bench, settle: float, window: float, strace_window: float) -> dict:
    """A freshly started esimd with profiles installed, left alone: memory, wakeups (context
    switches), read/write system calls, CPU time, and where each thread waits. Finished jobs stay
    on the bus for JobLinger, then their objects go (a timer): the start-up job's linger is made
    shorter than the settling time, so the window sees esimd at rest."""
    bench.start_esimd(PLAIN, {"Daemon": {"JobLinger": "1"}})
    pid = bench.pid
    time.sleep(settle)
    mem = procfs.memory(pid)
    mem["by_mapping"] = procfs.rss_by_mapping(pid)
    waits = procfs.thread_waits(pid)
    before, sys0, cpu0 = procfs.context_switches(pid), procfs.syscalls(pid), procfs.cpu_ns(pid)
    time.sleep(window)
    after, sys1, cpu1 = procfs.context_switches(pid), procfs.syscalls(pid), procfs.cpu_ns(pid)
    switches = 0
    for tid, (v, n) in after.items():
        v0, n0 = before.get(tid, (0, 0))
        switches += (v - v0) + (n - n0)
    per_minute = 60.0 / window
    out = {"profiles": len(bench.w.profiles()), "memory": mem, "thread_waits": waits,
           "window_s": window, "context_switches": switches,
           "wakeups_per_minute": round(switches * per_minute, 1),
           "rw_syscalls_per_minute": round((sys1 - sys0) * per_minute, 1),
           "cpu_ms_per_minute": round((cpu1 - cpu0) / 1e6 * per_minute, 1),
           "cpu_percent": round((cpu1 - cpu0) / 1e9 / window * 100, 1),
           "threads": len(after)}
    if strace_window > 0 and shutil.which("strace"):
        out["strace"] = strace_summary(pid, strace_window, os.path.join(bench.w.tmpdir, "idle.strace"))
    return out


def strace_summary(pid: int, window: float, path: str) -> dict:
    """strace -c on every thread for `window` seconds: which system calls an idle esimd makes."""
    proc = subprocess.Popen(["strace", "-f", "-c", "-p", str(pid), "-o", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(window)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
    return {"window_s": window, "syscalls": sum(calls.values()), "by_name": calls}


def baseline(bus_address: str, settle: float, qmi_proxy: Optional[str] = None) -> dict:
    """Memory of bench-baseline (baseline.c): esimd's libraries initialised; with `qmi_proxy`, a
    QMI device opened through that socket as well."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus_address)
    argv = [BASELINE] + (["--qmi-proxy", qmi_proxy] if qmi_proxy else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("bench-baseline did not start: " + proc.stderr.read())
        time.sleep(settle)
        return dict(procfs.memory(proc.pid), by_mapping=procfs.rss_by_mapping(proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def list_profiles_load(bench: Bench, clients: int, calls: int, interval_us: int, method: str = "list") -> dict:
    """`clients` concurrent bus clients call ListProfiles (or, with method "ping", Peer.Ping: the
    same path without esimd's handler) `calls` times each, one call every `interval_us`."""
    pid = bench.pid
    bench.sim.counters(reset=True)
    cpu0 = procfs.cpu_ns(pid)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bench.w.bus.address)
    r = subprocess.run([LISTPROFILES, "--clients", str(clients), "--calls", str(calls),
                        "--interval-us", str(interval_us), "--method", method], capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"bench-listprofiles: {r.stderr}")
    out = json.loads(r.stdout)
    out["esimd_cpu_ms"] = (procfs.cpu_ns(pid) - cpu0) / 1e6
    out["esimd_cpu_us_per_call"] = round(out["esimd_cpu_ms"] * 1000 / out["calls"], 1)
    out["apdus_during"] = sum(bench.sim.counters(reset=True)["apdus"].values())
    return out
