"""The benchmark's results as plain-text tables, and the issue's targets checked against them."""

from __future__ import annotations

MiB = 1024 * 1024


def kib(n) -> str:
    return "-" if n is None else f"{n / 1024:.0f} KiB"


def mib(n) -> str:
    return "-" if n is None else f"{n / MiB:.2f} MiB"


def num(v, digits=1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def size_label(n: int) -> str:
    return f"{n / 1000:.0f} KB" if n >= 1000 else f"{n} B"


def table(title: str, headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    out = [title, line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


# lpac's wall times as issue 18 reports them (20 ms per APDU, same simulator and SM-DP+).
LPAC_MS = {("enable", 20): 63, ("disable", 20): 60}


def targets(res: dict) -> list[dict]:
    """Each target of the issue: what it asks, what was measured, met or not."""
    out = []
    for r in res.get("counted", []):
        f = r["floor"]
        out.append({"target": f"APDUs/floor = 1.00 at 255 ({size_label(r['profile_size'])} profile)",
                    "measured": f"{f['apdus']}/{f['floor']} = {f['ratio']:.2f}", "met": f["apdus"] == f["floor"]})
    for r in res.get("timed", []):
        lim = r.get("limit")
        if not lim or not r["latency_ms"] or lim["ratio"] is None:
            continue
        out.append({"target": f"download wall time <= 1.05x the limit at {r['latency_ms']} ms/APDU "
                              f"({size_label(r['profile_size'])})",
                    "measured": f"{lim['total_ms']:.0f} ms vs {lim['limit_ms']:.0f} ms (floor×ms {lim['apdus_ms']:.0f} "
                                f"+ server {lim['server_ms']:.0f} + TLS {lim['handshake_ms']:.0f}) = "
                                f"{lim['ratio']:.3f}x, median of {len(lim['ratios'])}"
                                + ("" if lim.get("card_ratio") is None else
                                   f"; {lim['card_ratio']:.3f}x with the card's measured "
                                   f"{lim['card_ms_per_apdu']:.2f} ms/APDU"),
                    "met": lim["ratio"] <= 1.05})
    for r in res.get("ops_counted", []):
        f = r["floor"]
        out.append({"target": f"{r['op']}: APDUs before the answer = the floor",
                    "measured": f"{f['apdus']}/{f['floor']} = {f['ratio']:.2f} (+{r['after_answer']['apdus']} after)",
                    "met": f["apdus"] == f["floor"]})
    for t in res.get("transports", []):
        if "error" in t:
            out.append({"target": f"download APDUs/floor = 1.00 over {t['transport']}", "measured": t["error"],
                        "met": False})
            continue
        f = t["floor"]
        out.append({"target": f"download APDUs/floor = 1.00 over {t['transport']}",
                    "measured": f"{f['apdus']}/{f['floor']} = {f['ratio']:.2f} at {t['segment_size']}",
                    "met": f["apdus"] == f["floor"] and f["segment_lengths_match_bpp"]})
        if "idle" in t:
            out.append({"target": f"idle wakeups with the eUICC over {t['transport']} = 0",
                        "measured": f"{t['idle']['context_switches']} context switches in {t['idle']['window_s']:.0f} s",
                        "met": t["idle"]["context_switches"] == 0})
    m = res.get("many")
    if m:
        out.append({"target": f"{m['euiccs']} eUICCs downloading at once <= 1.1x one download",
                    "measured": f"{m['many']['total_ms']:.0f} ms vs {m['one']['total_ms']:.0f} ms = {m['ratio']:.2f}x "
                                f"(load {m['many']['load_average']:.1f})"
                                + (f"; FAILED: {'; '.join(m['many']['failed'])}" if m["many"]["failed"] else ""),
                    "met": m["ratio"] <= 1.1 and not m["many"]["failed"] and not m["one"]["failed"]})
        out.append({"target": "anonymous RSS per extra eUICC <= 256 KiB",
                    "measured": kib(m["anon_per_extra_euicc"]), "met": m["anon_per_extra_euicc"] <= 256 * 1024})
        out.append({"target": f"idle wakeups with {m['euiccs']} eUICCs = 0",
                    "measured": f"{m['idle_many']['context_switches']} context switches in "
                                f"{m['idle_many']['window_s']:.0f} s ({m['idle_many_after']['context_switches']} after the downloads)",
                    "met": m["idle_many"]["context_switches"] == 0 and m["idle_many_after"]["context_switches"] == 0})
    cs = res.get("cold_start")
    if cs:
        out.append({"target": "cold start: start-up APDUs at the floor (one read each)",
                    "measured": f"{cs['apdus']}/{cs['floor']}; first ListProfiles after {cs['ready_ms']:.0f} ms "
                                f"at {cs['latency_ms']} ms/APDU", "met": cs["apdus"] == cs["floor"]})
    idle = res.get("idle")
    if idle:
        out.append({"target": "zero wakeups per minute when idle",
                    "measured": f"{idle['wakeups_per_minute']:.0f} context switches/min, "
                                f"{idle['rw_syscalls_per_minute']:.0f} read/write syscalls/min, "
                                f"{idle['cpu_percent']:.1f}% CPU",
                    "met": idle["wakeups_per_minute"] == 0 and idle["rw_syscalls_per_minute"] == 0})
        anon = idle["memory"]["rss_anon"]
        out.append({"target": "idle anonymous RSS <= 3 MiB", "measured": mib(anon), "met": anon <= 3 * MiB})
        base = res.get("baseline")
        if base:
            diff = idle["memory"]["rss"] - base["rss"]
            qmi = res.get("baseline_qmi")
            extra = f"; {(idle['memory']['rss'] - qmi['rss']) / MiB:+.2f} MiB over the baseline with a QMI device open" \
                if qmi else ""
            out.append({"target": "idle total RSS within 2 MiB of the library baseline",
                        "measured": f"{mib(idle['memory']['rss'])} vs {mib(base['rss'])} ({diff / MiB:+.2f} MiB{extra})",
                        "met": diff <= 2 * MiB})
    for lp in res.get("listprofiles", []):
        if lp["method"] != "list":
            continue
        out.append({"target": f"ListProfiles p99 < 1 ms from cache ({lp['clients']} clients)",
                    "measured": f"p99 {lp['p99_us'] / 1000:.2f} ms, {lp['apdus_during']} APDUs",
                    "met": lp["p99_us"] < 1000 and lp["apdus_during"] == 0 and lp["errors"] == 0})
    for r in res.get("counted", []):
        h = r.get("heap")
        if h:
            out.append({"target": f"no full copy of the BPP beyond the one received ({size_label(r['profile_size'])})",
                        "measured": f"{h['bpp_copies_beyond_received']} more ({kib(h['bpp_copy_bytes'])} in "
                                    f"{h['bpp_copies']} BPP-sized buffers for a {kib(h['bpp_bytes'])} BPP)",
                        "met": h["bpp_copies_beyond_received"] == 0})
    ad = res.get("adaptive")
    if ad:
        runs = ad["runs"]
        sizes = [r["size_after"] for r in runs]
        limits = [r["lc_limit"] for r in runs]
        stepped = all(s <= lim for s, lim in zip(sizes, limits))
        last = runs[-1]
        out.append({"target": "segment size steps down and is remembered across a restart",
                    "measured": f"255 -> {' -> '.join(str(s) for s in sizes[:-1])}; after restart "
                                f"{ad['after_restart_segment_size']} (file: {last['state_file']}), "
                                f"{last['refused_apdus']} refused APDUs, ratio {last['ratio']:.2f}",
                    "met": stepped and ad["after_restart_segment_size"] == limits[-1]
                    and last["refused_apdus"] == 0 and last["apdus"] == last["floor"]})
    return out


def render(res: dict) -> str:
    parts = []
    m = res["meta"]
    parts.append(f"esimd benchmark — {m['date']}, commit {m['commit']}, build {m['build_type']} "
                 f"({m['build_root']}), {m['cpus']} × {m['cpu']}{', QUICK' if m['quick'] else ''}; "
                 f"load average {m['load_average_at_start'][0]:.1f} at the start, "
                 f"{m.get('load_average_at_end', [0])[0]:.1f} at the end")

    rows = []
    for r in res["counted"]:
        f = r["floor"]
        rows.append([size_label(r["profile_size"]), f["bpp_bytes"], f["bpp_segments"], f["apdus"], f["floor"],
                     f"{f['ratio']:.2f}", f["floor_issue_formula"], f["bytes_to_euicc"],
                     "yes" if f["segments_match_bpp"] else "NO",
                     f"{r['read_back']['apdus']}+{r.get('read_back_after_answer', {}).get('apdus', 0)}",
                     r["notification_delivery"]["apdus"],
                     f"{r['http']['handshakes']}/{len(r['http']['requests'])}"])
    parts.append(table("APDUs per download vs the floor (STORE DATA size 255; counted at the QMI tap)",
                       ["profile", "BPP bytes", "segments", "APDUs", "floor", "ratio", "issue floor", "bytes→eUICC",
                        "segs=BPP", "read-back", "notif.", "TLS hs/req"], rows))

    rows = []
    floors = {r["profile_size"]: r["floor"]["floor"] for r in res["counted"]}
    for r in ([dict(res["cold"], cold=True)] if res.get("cold") else []) + res["timed"]:
        s, c, mem = r["stages_ms"], r["cpu_ms"], r["memory"]
        apdus_ms = floors.get(r["profile_size"], 0) * r["latency_ms"]
        lim = r.get("limit") or {}
        rows.append([size_label(r["profile_size"]) + (" (first)" if r.get("cold") else ""), r["latency_ms"],
                     s["authentication"], s["download"],
                     s["installation"], s["read_back"], s["total"], apdus_ms, num(lim.get("server_ms")),
                     num(lim.get("handshake_ms")), num(lim.get("client_http_ms")), num(lim.get("client_setup_ms")),
                     num(lim.get("first_apdu_ms")), num(lim.get("after_last_segment_ms")),
                     num(lim.get("limit_ms"), 0),
                     "-" if lim.get("ratio") is None else f"{lim['ratio']:.3f}", num(lim.get("card_ms_per_apdu"), 2),
                     "-" if lim.get("card_ratio") is None else f"{lim['card_ratio']:.3f}", s["notifications"],
                     num(c["download"]), r["apdus_total"], num(r["tls_handshakes"]), mib(mem["hwm"]),
                     mib(mem["peak_anon_sampled"])])
    repeat = max((r.get("repeat", 1) for r in res["timed"]), default=1)
    parts.append(table("Wall time per stage (ms) with latency injected per APDU; esimd as shipped"
                       + (f"; median of {repeat} downloads" if repeat > 1 else ""),
                       ["profile", "ms/APDU", "auth", "download", "install", "read-back", "total", "floor×ms",
                        "server", "TLS", "HTTP", "HTTP setup", "1st APDU", "last seg→answer", "limit",
                        "total/limit", "card ms/APDU", "total/card limit", "notif.",
                        "CPU ms", "APDUs all", "TLS hs", "peak RSS", "peak anon"], rows))

    rows = []
    for r in ([dict(res["cold"], cold=True)] if res.get("cold") else []) + res["timed"]:
        lim = r.get("limit") or {}
        if lim.get("outside_total") is None:
            continue
        rows.append([size_label(r["profile_size"]) + (" (first)" if r.get("cold") else ""), r["latency_ms"],
                     num(lim["outside_total"]), num(lim["outside_before_first"]), num(lim["outside_around_requests"]),
                     num(lim.get("server_ms")), num(lim.get("client_http_ms")), num(lim["outside_between_apdus"]),
                     num(lim.get("outside_per_gap"), 3), num(lim["outside_after_last"]),
                     num(lim.get("card_wait_per_apdu"), 3), num(lim.get("card_work_per_apdu"), 3)])
    if rows:
        parts.append(table("Time outside the card's APDU windows (ms, medians; the simulator's Send APDU read "
                           "to answer ready is the card's: its wait, the latency injected and the timer's "
                           "lateness, then its work)",
                           ["profile", "ms/APDU", "outside", "before 1st", "around requests", "server", "HTTP",
                            "between APDUs", "per gap", "after last", "card wait/APDU", "card work/APDU"], rows))

    rows = []
    for r in res.get("ops_counted", []):
        f, a, after = r["floor"], r["answer"], r["after_answer"]
        tags = lambda d: " ".join(f"{k}×{v}" if v > 1 else k for k, v in d["by_tag"].items()) or "-"  # noqa: E731
        rows.append([r["op"], f["apdus"], f["floor"], f"{f['ratio']:.2f}", tags(a), after["apdus"], tags(after),
                     r["channels_opened"], r["card_resets"], r.get("delivered", "")])
    if rows:
        parts.append(table("Profile operations: APDUs until the caller is answered vs the floor (QMI tap; "
                           "Refresh=refresh-flag; notifications sent on request)",
                           ["operation", "APDUs", "floor", "ratio", "commands", "after", "commands after",
                            "channels", "resets", "delivered"], rows))
    rows = []
    for r in res.get("ops_timed", []):
        rows.append([r["op"], r["latency_ms"], num(r["wall_ms"]), r["latency_ms"] * 1,
                     LPAC_MS.get((r["op"], r["latency_ms"]), "-"), r["apdus_total"],
                     " ".join(str(w) for w in r.get("walls_ms", []))])
    if rows:
        parts.append(table("Profile operations: wall time from the call to its answer (ms), esimd as shipped; "
                           "median. floor×ms = 1 APDU × latency; lpac = issue 18's figure (lpac is not "
                           "packaged in Debian 12, not re-measured here)",
                           ["operation", "ms/APDU", "answer ms", "floor×ms", "lpac ms", "APDUs all", "runs"], rows))

    parts += transport_parts(res)
    m = res.get("many")
    if m:
        parts += many_parts(m)
    cs = res.get("cold_start")
    if cs:
        parts.append(f"Cold start, one eUICC at {cs['latency_ms']} ms per APDU: first ListProfiles answered "
                     f"{cs['ready_ms']:.0f} ms after esimd started; {cs['apdus']} APDUs "
                     f"({' '.join(cs['es10_by_tag'])}; floor {cs['floor']}), {cs['channels_opened']} channel opened")

    rows = []
    cg = {r["profile_size"]: r.get("instructions", {}) for r in res["callgrind"]}
    for r in res["counted"]:
        h, g = r.get("heap", {}), r.get("esimd_gap_ms", {})
        ins = cg.get(r["profile_size"], {})
        rows.append([size_label(r["profile_size"]),
                     num(ins.get("download", None) and ins["download"] / 1e6),
                     num(ins.get("notifications", None) and ins["notifications"] / 1e6),
                     kib(h.get("peak_over_before")), f"{h.get('bpp_copies', '-')} ({kib(h.get('bpp_copy_bytes'))})",
                     h.get("bpp_copies_beyond_received", "-"), num(g.get("p50"), 3), num(g.get("p90"), 3),
                     num(g.get("card_p50"), 3)])
    parts.append(table("Cost per download in esimd",
                       ["profile", "Minstr dl", "Minstr notif", "heap peak", "BPP-sized bufs", "copies",
                        "esimd/APDU p50 ms", "p90 ms", "card/APDU p50 ms"], rows))
    buffers = [f"  {size_label(r['profile_size']):>6}: {kib(b['size']):>8} {b['kind']:<11} {b['role']}"
               for r in res["counted"] for b in r.get("heap", {}).get("bpp_buffers", [])]
    if buffers:
        parts.append("Heap blocks that held the BPP during a download (any encoding):\n" + "\n".join(buffers))

    ad = res.get("adaptive")
    if ad:
        rows = [[a["run"], a["lc_limit"], a["size_before"], a["size_after"], a["state_file"], a["apdus"],
                 a["refused_apdus"], a["floor"], f"{a['ratio']:.2f}", a["floor_at_255"], a["install_ms"]]
                for a in ad["runs"]]
        parts.append(table(f"Adaptive STORE DATA size (12 KB profile; initial {ad['initial_segment_size']}, "
                           f"after restart {ad['after_restart_segment_size']})",
                           ["run", "lc_limit", "size before", "after", "state file", "APDUs", "refused", "floor",
                            "ratio", "floor@255", "install ms"], rows))

    idle, base = res.get("idle"), res.get("baseline")
    if idle:
        mem = idle["memory"]
        rows = [["esimd idle", mib(mem["rss"]), mib(mem["rss_anon"]), mib(mem["rss_file"]), mib(mem["pss"]),
                 mib(mem["private_dirty"]), mem["threads"]]]
        for label, b in (("library baseline", base), ("baseline + QMI device open", res.get("baseline_qmi"))):
            if b:
                rows.append([label, mib(b["rss"]), mib(b["rss_anon"]), mib(b["rss_file"]), mib(b["pss"]),
                             mib(b["private_dirty"]), b["threads"]])
        after = res.get("memory_after_downloads")
        if after:
            rows.append(["esimd after the downloads", mib(after["rss"]), mib(after["rss_anon"]),
                         mib(after["rss_file"]), mib(after["pss"]), mib(after["private_dirty"]), after["threads"]])
        parts.append(table(f"Memory ({idle['profiles']} profiles installed)",
                           ["process", "RSS", "anon", "file", "PSS", "private dirty", "threads"], rows))
        for label, b in (("baseline", base), ("baseline + QMI", res.get("baseline_qmi"))):
            if b and "by_mapping" in mem and "by_mapping" in b:
                diff = {k: mem["by_mapping"].get(k, 0) - b["by_mapping"].get(k, 0)
                        for k in set(mem["by_mapping"]) | set(b["by_mapping"])}
                top = sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:8]
                parts.append(f"RSS esimd minus {label}, by mapping: "
                             + ", ".join(f"{k} {v / 1024:+.0f} KiB" for k, v in top if v))
        waits = ", ".join(f"{w['thread']}: {w['syscall']}" + (f" timeout {w['timeout_ms']} ms" if "timeout_ms" in w else "")
                          for w in idle["thread_waits"])
        parts.append(f"Idle over {idle['window_s']:.0f} s: {idle['wakeups_per_minute']:.0f} context switches/min, "
                     f"{idle['rw_syscalls_per_minute']:.0f} read/write syscalls/min, {idle['cpu_percent']:.1f}% CPU; "
                     f"threads wait in: {waits}")
        if "strace" in idle:
            st = idle["strace"]
            parts.append(f"  strace -c over {st['window_s']:.0f} s: {st['syscalls']} syscalls {st['by_name']}")

    rows = [[lp["method"], lp["clients"], lp["calls"], lp["interval_us"] / 1000, lp["profiles"], f"{lp['p50_us'] / 1000:.3f}",
             f"{lp['p90_us'] / 1000:.3f}", f"{lp['p99_us'] / 1000:.3f}", f"{lp['max_us'] / 1000:.3f}",
             lp["calls_per_s"], lp["esimd_cpu_us_per_call"], lp["apdus_during"], lp["errors"]]
            for lp in res.get("listprofiles", [])]
    parts.append(table("ListProfiles(true) latency, client side (ms); ping = Peer.Ping to esimd, the same bus "
                       "path without the handler",
                       ["call", "clients", "calls", "every ms", "profiles", "p50", "p90", "p99", "max", "calls/s",
                        "esimd CPU µs/call", "APDUs", "errors"], rows))

    ins = res.get("listprofiles_instructions")
    if ins:
        parts.append(f"callgrind, one client: ListProfiles {ins['list_instructions_per_call']:,} instructions per call "
                     f"with {ins['profiles']} profiles; Peer.Ping {ins['ping_instructions_per_call']:,}")

    rows = [["met" if t["met"] else "MISSED", t["target"], t["measured"]] for t in res["targets"]]
    parts.append(table("Targets", ["", "target", "measured"], rows))
    parts.append(f"({res['meta']['duration_s']} s)")
    return "\n\n".join(parts)


def many_parts(m: dict) -> list[str]:
    """Target 5's tables: each run's one download and n at once, with whose CPU they took."""
    rows = []
    for k, run in enumerate(m.get("runs") or [m]):
        for r in (run["one"], run["many"]):
            rows.append([k + 1, r["euiccs"], num(r["total_ms"]), " ".join(f"{x:.0f}" for x in r["each_ms"]),
                         num(r["esimd_cpu_ms"]), num(r.get("sims_cpu_ms")), num(r.get("smdp_cpu_ms")),
                         num(r.get("machine_busy"), 2), num(r.get("others_cores"), 2),
                         f"{r.get('load_average_before', r['load_average']):.1f}/{r['load_average']:.1f}",
                         f"{run['ratio']:.2f}" if r is run["many"] else "",
                         "; ".join(r["failed"]) or "-"])
    parts = [table(f"{m['euiccs']} eUICCs on one esimd, each behind its own fake QMI modem "
                   f"({size_label(m['profile_size'])}, {m['latency_ms']} ms per APDU); CPU ms of esimd, of the "
                   "simulators and of the SM-DP+ over the downloads; machine busy share; cores used by "
                   "others; load average before/after",
                   ["run", "at once", "total ms", "each ms", "esimd CPU", "sims CPU", "SM-DP+ CPU", "busy",
                    "others", "load", "ratio", "failed"], rows)]
    for k, run in enumerate(m.get("runs") or [m]):
        parts.append(f"Run {k + 1} idle esimd: 1 eUICC RSS {mib(run['idle_one']['rss'])} "
                     f"(anon {mib(run['idle_one']['rss_anon'])}); {run['euiccs']} eUICCs RSS "
                     f"{mib(run['idle_many']['rss'])} (anon {mib(run['idle_many']['rss_anon'])}): "
                     f"{kib(run['anon_per_extra_euicc'])} anonymous, {kib(run['rss_per_extra_euicc'])} total per extra "
                     f"eUICC; after the downloads anon {mib(run['idle_many_after']['rss_anon'])}; context switches "
                     f"idle {run['idle_many']['context_switches']}, after {run['idle_many_after']['context_switches']}")
    return parts


def transport_parts(res: dict) -> list[str]:
    """Target 4's table: a download over each transport, and esimd idle on it."""
    rows = []
    for t in res.get("transports", []):
        if "error" in t:
            rows.append([t["transport"], "-", "-", "-", "-", "-", "-", "-", "-", "-", t["error"]])
            continue
        f, at = t["floor"], t.get("at")
        rows.append([t["transport"], t["segment_size"], f["apdus"], f["floor"], f"{f['ratio']:.2f}",
                     f.get("get_responses", 0), "yes" if f["segment_lengths_match_bpp"] else "NO",
                     t["read_back_apdus"], num(t["wall_ms"]),
                     f"{t['idle']['context_switches']} in {t['idle']['window_s']:.0f} s" if "idle" in t else "-",
                     f"{at['line_bytes_to_modem'] + at['line_bytes_from_modem']} B on the line = "
                     f"{at['line_ms_at_baud']:.0f} ms at {at['baud']} baud; longest line {at['longest_line']} B"
                     if at else ""])
    if not rows:
        return []
    return [table("A download over each transport (12 KB; APDUs from the simulator's trace, BPP from the "
                  "HTTPS recorder; no added latency), then esimd left idle on it (context switches)",
                  ["transport", "segment", "APDUs", "floor", "ratio", "GET RESPONSE", "seg lengths=BPP",
                   "read-back", "wall ms", "idle wakeups", "AT line"], rows)]


def render_transports(res: dict) -> str:
    """run-bench --transports: the header, target 4's table and its targets."""
    m = res["meta"]
    parts = [f"esimd benchmark, target 4 — {m['date']}, commit {m['commit']}, build {m['build_type']} "
             f"({m['build_root']}), {m['cpus']} × {m['cpu']}; load average {m['load_average_at_start'][0]:.1f} "
             f"at the start, {m.get('load_average_at_end', [0])[0]:.1f} at the end"]
    parts += transport_parts(res)
    rows = [["met" if t["met"] else "MISSED", t["target"], t["measured"]] for t in res["targets"]]
    parts.append(table("Targets", ["", "target", "measured"], rows))
    parts.append(f"({m['duration_s']} s)")
    return "\n\n".join(parts)


def render_many(res: dict) -> str:
    """run-bench --many: the header, target 5's tables and its targets (the median run)."""
    m = res["meta"]
    parts = [f"esimd benchmark, target 5 — {m['date']}, commit {m['commit']}, build {m['build_type']} "
             f"({m['build_root']}), {m['cpus']} × {m['cpu']}; load average {m['load_average_at_start'][0]:.1f} "
             f"at the start, {m.get('load_average_at_end', [0])[0]:.1f} at the end"]
    parts += many_parts(res["many"])
    rows = [["met" if t["met"] else "MISSED", t["target"], t["measured"]] for t in res["targets"]]
    parts.append(table("Targets (the median run by ratio)", ["", "target", "measured"], rows))
    parts.append(f"({m['duration_s']} s)")
    return "\n\n".join(parts)
