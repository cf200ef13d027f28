"""Issue 18, target 4: a download's APDUs against the floor over every transport, counted from the
simulator's own APDU trace (the one card behind every front), so no transport needs a tap of its
own; for AT, the line's bytes against the time a UART at a given baud rate needs for them."""

from __future__ import annotations

import os
import time
from typing import Optional

from gi.repository import GLib

from esimtest import pcscd
from esimtest.simctl import start_sim
from esimtest.world import SMDP_HOST, SMDS_HOST, World, activation_code

from . import floor
from .bench import SIM_MEMORY, iccid_for, ms
from .many import idle_memory
from .recorder import HttpsRecorder
from .timeline import Timeline, job_finished

BAUD = 115200  # a UART's usual rate for a module's AT port
BITS_PER_BYTE = 10  # 8N1: start and stop bit


def trace_commands(trace: list[dict]) -> list[dict]:
    """The ES10 commands of the simulator's APDU trace, in the form the QMI tap gives them: first
    tag, length, APDUs (GET RESPONSE counted with its command), status, response length."""
    commands: list[dict] = []
    asm: dict = {}
    for r in trace:
        cla, ins, p1, p2 = bytes.fromhex(r["header"])
        if ins == 0xC0:
            # A T=0 card's GET RESPONSE (PC/SC): part of the protocol under the ES10 command,
            # counted apart from its STORE DATA blocks (a modem does it inside, unseen).
            if commands:
                commands[-1]["get_responses"] += 1
                commands[-1]["response_len"] += r.get("len") or 0
            continue
        if not (cla & 0x80 and ins == 0xE2):
            continue
        if p2 == 0:
            asm = {"tag": r["tag"], "length": 0, "apdus": 0, "bytes": 0, "max": 0}
        asm["length"] += r["lc"]
        asm["apdus"] += 1
        asm["bytes"] += 5 + r["lc"]
        asm["max"] = max(asm["max"], r["lc"])
        sw = r.get("sw") or "DROP"
        ok = sw == "9000" or sw.startswith("61")
        if ok and p1 == 0x11:
            continue
        commands.append({"tag": int(asm["tag"], 16) if asm.get("tag") else None, "length": asm["length"],
                         "apdus": asm["apdus"], "apdu_bytes": asm["bytes"], "max_block": asm["max"], "sw": sw,
                         "ok": ok, "response_len": (r.get("len") or 0) + 2, "get_responses": 0})
        asm = {"tag": None, "length": 0, "apdus": 0, "bytes": 0, "max": 0}
    return commands


def transport_download(transport: str, size: int, log=print, idle: Optional[tuple] = None) -> dict:
    """One download of `size` bytes over `transport` in a world of its own (notifications on
    request), its APDUs from the simulator's trace against the floor at the segment size esimd
    used, the BPP from the HTTPS recorder. PC/SC: the simulator as the card of vpcd's reader in
    a private pcscd (esimtest/pcscd.py, as test_pcsc.py), a T=0 card (61xx, GET RESPONSE).
    With `idle` (settle, window in seconds): then esimd left alone with that transport open, its
    context switches over the window (a transport that polls its device would show here)."""
    rig = pcsc_sim = None
    if transport == "pcsc":
        why = pcscd.available()
        if why:
            return {"transport": transport, "error": "skipped: " + why}
    w = World(orders=[], start_esimd=False, sim_options={"total_memory": SIM_MEMORY},
              transport="qmi" if transport == "pcsc" else transport)
    rec = timeline = None
    try:
        sim = w.sim.ctl()
        cfg: dict = {}
        if transport == "pcsc":
            rig = pcscd.Pcscd(w.tmpdir)
            rig.start()
            d = os.path.join(w.tmpdir, "pcsc-sim")
            os.makedirs(d)
            pcsc_sim = start_sim(d, w.pki["dir"], apdu_socket=False, prefix=rig.enter(), vpcd_port=rig.port,
                                 get_response=True, wrong_le=True, total_memory=SIM_MEMORY)
            sim = pcsc_sim.ctl()
            cfg["Modem sim"] = {"Transport": "pcsc", "Slot": None, "Device": None, "UseProxy": None,
                                "NoFileCheck": None, "ProxySocket": None, "Refresh": "power-cycle"}
            w.esimd.env = rig.env()
        rec = HttpsRecorder(w.pki, SMDP_HOST, w.smdp.port)
        # Finished jobs leave the bus after JobLinger (a timer): short, so the idle window is at rest.
        w.write_config(dict(cfg, Notifications={"AutoSend": "false"}, Daemon={"JobLinger": "1"},
                            HTTP={"ConnectTo": f"{SMDP_HOST}:443:127.0.0.1:{rec.port};"
                                               f"{SMDS_HOST}:443:127.0.0.1:{w.smdp.smds_port}"}))
        w.start_esimd()
        w.wait_idle()
        timeline = Timeline(w.bus.address, lambda: None)
        mid, iccid = "BENCH-T-" + transport, iccid_for(900 + len(transport))
        w.smdp.control.add_order({"matchingId": mid, "iccid": iccid, "profile": {"generate": {"size": size}},
                                  "metadata": {"serviceProviderName": "Bench Operator", "profileName": "Bench"}})
        at0 = sim.counters()["at"] if transport == "at" else None
        sim.call("trace", reset=True)
        t0 = time.monotonic()
        job = w.manager("Download", GLib.Variant("(ssa{sv})", (activation_code(mid), "", {})))[0]
        fin = timeline.wait(job_finished(job), 300, f"{job} to finish")
        if fin.args[0] != "succeeded":
            raise RuntimeError(f"download over {transport} {fin.args[0]}")
        wall = fin.t - t0
        w.wait_idle()
        trace = sim.call("trace", reset=True)["apdus"]
        at1 = sim.counters()["at"] if transport == "at" else None
        bpps = rec.snapshot()["bpps"]
        if not bpps:
            raise RuntimeError("the recorder saw no Bound Profile Package")
        size_used = w.manager_prop("SegmentSize")
        download, read_back = floor.split_download(trace_commands(trace))
        f = floor.analyse(download, bpps[-1], size_used)
        # The trace has no payloads: the segments are checked by their lengths (the QMI tap checks
        # their bytes).
        segs = [len(s) for s in floor.bpp_segments(bpps[-1])]
        sent = [c["length"] for c in download if c["ok"] and c["tag"] in floor.BPP_TAGS]
        f["segments_match_bpp"] = None
        f["segment_lengths_match_bpp"] = segs == sent
        f["get_responses"] = sum(c["get_responses"] for c in download)
        out = {"transport": transport, "profile_size": size, "segment_size": size_used, "floor": f,
               "read_back_apdus": sum(c["apdus"] for c in read_back), "wall_ms": ms(wall),
               "trace_apdus": len(trace)}
        if at0 is not None:
            line_in = at1["line_bytes_in"] - at0["line_bytes_in"]
            line_out = at1["line_bytes_out"] - at0["line_bytes_out"]
            out["at"] = {"line_bytes_to_modem": line_in, "line_bytes_from_modem": line_out,
                         "longest_line": at1["longest_line"], "baud": BAUD,
                         # One direction at a time: a command, then its answer.
                         "line_ms_at_baud": ms((line_in + line_out) * BITS_PER_BYTE / BAUD),
                         "quirks": at1["quirks"]}
        if idle:
            out["idle"] = idle_memory(w.esimd.proc.pid, *idle)
        return out
    finally:
        for closer in (getattr(timeline, "close", None), w.esimd.stop if w.esimd else None,
                       getattr(rec, "close", None), getattr(pcsc_sim, "stop", None), getattr(rig, "stop", None),
                       w.stop):
            if closer:
                try:
                    closer()
                except Exception:
                    pass


def all_transports(size: int, which=None, log=print, idle: Optional[tuple] = None) -> list[dict]:
    out = []
    for transport in which or World.TRANSPORTS + (() if "pcsc" in World.TRANSPORTS else ("pcsc",)):
        log(f"  download over {transport}")
        try:
            out.append(transport_download(transport, size, log, idle))
        except Exception as e:  # one transport's failure is reported, not the end of the bench
            out.append({"transport": transport, "error": str(e)})
    return out
