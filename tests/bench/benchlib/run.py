"""The whole benchmark in order, as one JSON-able dict (what run-bench prints and writes)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time

from esimtest import world as worldmod

from . import bench as B
from . import many, procfs, transports

FULL = {
    "sizes": [12288, 100000], "latencies": [0, 5, 20], "callgrind": True,
    "idle_settle": 5.0, "idle_window": 60.0, "strace_window": 10.0,
    "lp_clients": [1, 10, 50], "lp_calls": 300, "lp_interval_us": 20000,
    "adaptive_limits": [120, 63], "repeat": 3, "op_latencies": [0, 20],
    "transports": None,  # every one the test World knows
    "transport_idle": (5.0, 10.0),  # after each transport's download: settle, window (s)
    "many": {"euiccs": 8, "latency_ms": 20, "settle": 5.0, "window": 10.0}, "cold_latency_ms": 20,
}
QUICK = {
    "sizes": [12288], "latencies": [0], "callgrind": False,
    "idle_settle": 1.0, "idle_window": 3.0, "strace_window": 0.0,
    "lp_clients": [1, 10], "lp_calls": 30, "lp_interval_us": 5000,
    "adaptive_limits": [120, 63], "repeat": 1, "op_latencies": [0],
    "transports": ["at"],
    "transport_idle": (2.0, 2.0),  # JobLinger is 1 s: settled after 2
    "many": {"euiccs": 2, "latency_ms": 0, "settle": 1.0, "window": 2.0}, "cold_latency_ms": 0,
}

# Target 2 alone: the counted run for the floor, then timed downloads at 20 ms per APDU, five of
# each (the machine is shared: several runs, the median).
DOWNLOADS = {
    "sizes": [12288, 100000], "latencies": [20], "callgrind": False, "repeat": 5, "downloads_only": True,
    "first_latency_ms": 20, "first_repeat": 3,
}

# Target 4 alone: a download over every transport, then esimd idle on it.
TRANSPORTS = {"sizes": [12288], "transports": None, "transport_idle": FULL["transport_idle"]}

# Target 5 alone: the full run's many-eUICC scenario, three times (each in a world of its own).
MANY = {"many": dict(FULL["many"]), "sizes": [12288], "repeat": 3, "many_only": True}


def meta(profile: dict, quick: bool) -> dict:
    def out(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return ""

    build_type = ""
    info = os.path.join(worldmod.BUILD_ROOT, "meson-info", "intro-buildoptions.json")
    if os.path.exists(info):
        import json
        with open(info) as f:
            build_type = next((o["value"] for o in json.load(f) if o["name"] == "buildtype"), "")
    cpu = ""
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "quick": quick, "profile": profile,
            "load_average_at_start": os.getloadavg(),
            "commit": out("git", "-C", worldmod.SOURCE_ROOT, "describe", "--always", "--dirty"),
            "build_root": worldmod.BUILD_ROOT, "build_type": build_type, "cpu": cpu,
            "cpus": os.cpu_count(), "kernel": platform.release()}


def run(quick: bool = False, log=print, downloads_only: bool = False) -> dict:
    profile = DOWNLOADS if downloads_only else QUICK if quick else FULL
    t_start = time.monotonic()
    res: dict = {"meta": meta(profile, quick), "counted": [], "callgrind": [], "timed": []}
    bench = B.Bench(log)
    try:
        log("counting run: esimd behind the QMI tap and the HTTPS recorder, heap tracer preloaded")
        bench.start_esimd(B.TRACED)
        for size in profile["sizes"]:
            res["counted"].append(bench.download(size, 0))
        if not profile.get("downloads_only"):
            log("profile operations, counted")
            res["ops_counted"] = counted_ops(bench)
        if profile["callgrind"]:
            log("callgrind run: instructions per download")
            bench.start_esimd(B.CALLGRIND)
            for size in profile["sizes"]:
                res["callgrind"].append(bench.download(size, 0))
        log("timed runs: esimd as shipped, latency injected per APDU")
        bench.start_esimd(B.PLAIN)
        # The first download of a process (its TLS handshake included); with first_repeat, in as
        # many fresh processes, the median.
        first = []
        for i in range(profile.get("first_repeat", 1)):
            if i:
                bench.start_esimd(B.PLAIN)
            first.append(bench.download(profile["sizes"][0], profile.get("first_latency_ms", 0)))
        res["cold"] = median_run(first) if len(first) > 1 else first[0]
        for size in profile["sizes"]:
            for latency in profile["latencies"]:
                log(f"  {size} bytes at {latency} ms per APDU, {profile['repeat']} time(s)")
                runs = [bench.download(size, latency) for _ in range(profile["repeat"])]
                res["timed"].append(median_run(runs))
        floors = {r["profile_size"]: r["floor"] for r in res["counted"]}
        for r in [res["cold"]] + res["timed"]:
            add_limit(r, floors[r["profile_size"]])
        res["memory_after_downloads"] = procfs.memory(bench.pid)
        if profile.get("downloads_only"):
            return finish(res, t_start)
        log("profile operations, timed")
        res["ops_timed"] = timed_ops(bench, profile["op_latencies"], profile["repeat"])
        log("idle daemon")
        res["idle"] = B.idle(bench, profile["idle_settle"], profile["idle_window"], profile["strace_window"])
        res["baseline"] = B.baseline(bench.w.bus.address, profile["idle_settle"])
        res["baseline_qmi"] = B.baseline(bench.w.bus.address, profile["idle_settle"], bench.w.sim.qmi_proxy_socket)
        log("ListProfiles with concurrent clients")
        res["listprofiles"] = [B.list_profiles_load(bench, n, profile["lp_calls"], profile["lp_interval_us"], m)
                               for n in profile["lp_clients"] for m in ("list", "ping")]
        if profile["callgrind"]:
            log("callgrind: instructions per ListProfiles call")
            bench.start_esimd(B.CALLGRIND)
            res["listprofiles_instructions"] = B.callgrind_bus_calls(bench)
    finally:
        bench.close()
    log("adaptive segment size (own world)")
    res["adaptive"] = adaptive(profile["adaptive_limits"], log)
    log("a download over each transport (own worlds)")
    res["transports"] = transports.all_transports(profile["sizes"][0], profile["transports"], log,
                                                  profile["transport_idle"])
    m = profile["many"]
    log(f"{m['euiccs']} eUICCs on one esimd (own world)")
    res["many"] = many.many_euiccs(m["euiccs"], profile["sizes"][0], m["latency_ms"], m["settle"], m["window"], log)
    log("cold start (own world)")
    res["cold_start"] = many.cold_start(profile["cold_latency_ms"], log=log)
    return finish(res, t_start)


def run_many(log=print, repeat: int = 0) -> dict:
    """run-bench --many: target 5 alone, `repeat` times (default MANY's)."""
    profile = dict(MANY, repeat=repeat or MANY["repeat"])
    t_start = time.monotonic()
    res: dict = {"meta": meta(profile, False)}
    m = profile["many"]
    log(f"{m['euiccs']} eUICCs on one esimd, {profile['repeat']} run(s), each in a world of its own")
    res["many"] = many.many_runs(m["euiccs"], profile["sizes"][0], m["latency_ms"], m["settle"], m["window"],
                                 profile["repeat"], log)
    return finish(res, t_start)


def run_transports(log=print) -> dict:
    """run-bench --transports: target 4 alone, with esimd's idle wakeups on each transport."""
    profile = TRANSPORTS
    t_start = time.monotonic()
    res: dict = {"meta": meta(profile, False)}
    log("a download over each transport, then esimd idle on it (own worlds)")
    res["transports"] = transports.all_transports(profile["sizes"][0], profile["transports"], log,
                                                  profile["transport_idle"])
    return finish(res, t_start)


def finish(res: dict, t_start: float) -> dict:
    res["meta"]["duration_s"] = round(time.monotonic() - t_start, 1)
    res["meta"]["load_average_at_end"] = os.getloadavg()
    return res


def counted_ops(bench: B.Bench) -> list[dict]:
    """Each profile operation once behind the tap (notifications sent on request): APDUs before
    the answer against the floor, and what follows it."""
    a, b, c = bench.install(), bench.install(), bench.install()
    return [bench.profile_op(op, iccid) for op, iccid in
            (("enable", a), ("enable", b), ("disable", b), ("nickname", a), ("delete", c), ("notify", ""))]


def timed_ops(bench: B.Bench, latencies: list[int], repeat: int) -> list[dict]:
    """Wall time from the call to its answer, esimd as shipped (notifications sent by itself, after
    the answer), per injected latency: the median of `repeat` of each."""
    a = bench.install()
    out = []
    for latency in latencies:
        runs: dict = {"enable": [], "disable": [], "nickname": [], "delete": []}
        for _ in range(repeat):
            runs["enable"].append(bench.profile_op("enable", a, latency))
            runs["disable"].append(bench.profile_op("disable", a, latency))
            runs["nickname"].append(bench.profile_op("nickname", a, latency))
            runs["delete"].append(bench.profile_op("delete", bench.install(), latency))
        for op, rs in runs.items():
            row = dict(rs[-1])
            row["wall_ms"] = statistics.median(r["wall_ms"] for r in rs)
            row["walls_ms"] = [r["wall_ms"] for r in rs]
            row["repeat"] = len(rs)
            out.append(row)
    return out


def median_run(runs: list[dict]) -> dict:
    """One row for repeated downloads: the median of each stage time and CPU time, the largest
    memory peak; the runs themselves stay under "runs"."""
    out = dict(runs[-1])
    out["stages_ms"] = {k: statistics.median(r["stages_ms"][k] for r in runs) for k in runs[0]["stages_ms"]}
    out["cpu_ms"] = {k: statistics.median(r["cpu_ms"][k] or 0.0 for r in runs) for k in runs[0]["cpu_ms"]}
    out["memory"] = {k: max(r["memory"][k] for r in runs) for k in runs[0]["memory"]}
    out["totals_ms"] = [r["stages_ms"]["total"] for r in runs]
    out["repeat"] = len(runs)
    out["runs"] = [{k: r[k] for k in ("stages_ms", "cpu_ms", "apdus_total", "tls_handshakes", "server", "card",
                                                  "client_http")} for r in runs]
    return out


def limit_of(run: dict, latency_ms: int, floor: dict) -> dict:
    """Issue 18's target 2: the least a download can take at this latency is its APDU floor times
    the latency plus the SM-DP+'s own time per request; a TLS handshake adds what of it cannot run
    while the card answers the commands before the first request (GetEUICCChallenge, and
    GetEUICCInfo1 when it is read)."""
    server = run["server"]
    before_first = sum(floor["other_commands"].get(tag, {}).get("floor", 0) for tag in ("BF2E", "BF20"))
    handshake = sum(server["handshakes_ms"])
    hidden = min(handshake, before_first * latency_ms)
    apdus_ms = floor["floor"] * latency_ms
    limit = apdus_ms + server["download_ms"] + handshake - hidden
    total = run["stages_ms"]["total"]
    client = run.get("client_http") or {}
    out = {"apdus_ms": apdus_ms, "server_ms": server["download_ms"], "handshake_ms": round(handshake, 3),
           "client_setup_ms": client.get("setup_ms"), "client_http_ms": client.get("total_ms"),
           "handshake_hidden_ms": round(hidden, 3), "limit_ms": round(limit, 3), "total_ms": total,
           "ratio": round(total / limit, 4) if limit > 0 else None, "card_ms_per_apdu": None,
           "card_limit_ms": None, "card_ratio": None}
    # The same limit with the card's measured time per APDU for the latency: the simulator's own
    # work and the machine's lateness in waking it are the card's, not esimd's.
    card = run.get("card") or {}
    executed = card.get("executed_ms") or []
    if len(executed) >= floor["apdus"]:
        # The first APDU executed (the call, the job's start, the channel, one APDU's time) and
        # the answer after the card executed the last segment (its answer back, the outcome).
        out["first_apdu_ms"] = executed[0]
        out["after_last_segment_ms"] = round(card["finished_ms"] - executed[floor["apdus"] - 1], 3)
    outside = card.get("outside_ms")
    if outside:
        out.update({"outside_" + k: outside[k] for k in ("total", "before_first", "around_requests",
                                                         "between_apdus", "after_last")})
        out["outside_per_gap"] = round(outside["between_apdus"] / outside["gaps"], 3) if outside["gaps"] else None
        if outside.get("apdus"):
            # The card's window per APDU: its wait (the latency injected, and how late the
            # simulator's timer woke beyond it) and its own work (the Python card's).
            out["card_wait_per_apdu"] = round(outside["card_wait"] / outside["apdus"], 3)
            out["card_work_per_apdu"] = round(outside["card_work"] / outside["apdus"], 3)
    if card.get("apdus"):
        per_apdu = card["ms"] / card["apdus"]
        card_limit = floor["floor"] * per_apdu + server["download_ms"] + handshake - min(handshake, before_first * per_apdu)
        out.update(card_ms_per_apdu=round(per_apdu, 3), card_limit_ms=round(card_limit, 3),
                   card_ratio=round(total / card_limit, 4) if card_limit > 0 else None)
    return out


def add_limit(row: dict, floor: dict):
    """The limit and the ratio for each download of a row; the row's are the medians."""
    runs = row.get("runs") or [row]
    for r in runs:
        r["limit"] = limit_of(r, row["latency_ms"], floor)
    lim = {k: statistics.median(r["limit"][k] for r in runs) for k in ("apdus_ms", "server_ms", "handshake_ms",
                                                                        "limit_ms", "total_ms")}
    for key, name in (("ratio", "ratios"), ("card_ratio", "card_ratios"), ("card_ms_per_apdu", None),
                      ("card_limit_ms", None), ("client_setup_ms", None), ("client_http_ms", None),
                      ("first_apdu_ms", None), ("after_last_segment_ms", None), ("outside_total", None),
                      ("outside_before_first", None), ("outside_around_requests", None),
                      ("outside_between_apdus", None), ("outside_per_gap", None), ("outside_after_last", None),
                      ("card_wait_per_apdu", None), ("card_work_per_apdu", None)):
        values = [r["limit"][key] for r in runs if r["limit"].get(key) is not None]
        lim[key] = statistics.median(values) if values else None
        if name:
            lim[name] = values
    row["limit"] = lim


def adaptive(limits: list[int], log=print) -> dict:
    """The simulator refuses STORE DATA blocks longer than each limit in turn (6700); esimd must
    step down, retry, keep the size, and still know it after a restart."""
    bench = B.Bench(log)
    try:
        bench.start_esimd(B.COUNTING)
        out = {"initial_segment_size": bench.w.manager_prop("SegmentSize"), "runs": []}
        for limit in limits:
            bench.set_faults({"kind": "lc_limit", "max": limit})
            before = bench.w.manager_prop("SegmentSize")
            r = bench.download(12288, 0)
            out["runs"].append(adaptive_row(bench, r, limit, before, "step-down"))
        bench.start_esimd(B.COUNTING)  # a restart: the learnt size must come back from the state file
        out["after_restart_segment_size"] = bench.w.manager_prop("SegmentSize")
        before = out["after_restart_segment_size"]
        r = bench.download(12288, 0)
        out["runs"].append(adaptive_row(bench, r, limits[-1], before, "after restart"))
        return out
    finally:
        bench.close()


def adaptive_row(bench: B.Bench, r: dict, limit: int, before: int, what: str) -> dict:
    path = bench.segment_size_file()
    stored = None
    if os.path.exists(path):
        with open(path) as f:
            stored = f.read().strip()
    f = r["floor"]
    return {"run": what, "lc_limit": limit, "size_before": before, "size_after": r["segment_size_after"],
            "state_file": stored, "apdus": f["apdus"], "refused_apdus": f["apdus_refused"],
            "refused": f["refused_commands"], "floor": f["floor"], "ratio": f["ratio"],
            "floor_at_255": r.get("floor_at_255", f["floor"]), "segments_match_bpp": f["segments_match_bpp"],
            "install_ms": r["stages_ms"]["installation"], "total_ms": r["stages_ms"]["total"]}
