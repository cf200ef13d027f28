"""What /proc says about a process: CPU time, memory, context switches, where its threads wait."""

from __future__ import annotations

import glob
import os
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
SYSCALL_NAMES = {7: "poll", 271: "ppoll", 232: "epoll_wait", 281: "epoll_pwait", 202: "futex",
                 0: "read", 23: "select", 270: "pselect6", 35: "nanosleep", 230: "clock_nanosleep",
                 219: "restart_syscall"}


def _tasks(pid: int) -> list[str]:
    return glob.glob(f"/proc/{pid}/task/*")


def cpu_ns(pid: int) -> int:
    """CPU time of all live threads, in ns (schedstat: exact, unlike the 10 ms ticks of stat)."""
    total = 0
    for t in _tasks(pid):
        try:
            with open(t + "/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def process_cpu_ns(pid: int) -> int:
    """CPU time of the whole process, threads that have exited included (a threaded server's
    per-connection threads), in ns; /proc/PID/stat counts in clock ticks (10 ms)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return (int(fields[11]) + int(fields[12])) * TICK_NS  # utime, stime


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat: the machine's own load,
    other users' included."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    total = sum(v[:8])  # guest time is already counted in user
    return total - idle, total


def status(pid: int) -> dict:
    """/proc/PID/status memory lines in bytes (VmRSS, VmHWM, RssAnon, RssFile, RssShmem, …)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            parts = v.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[k] = int(parts[0]) * 1024
            elif k == "Threads":
                out[k] = int(parts[0])
    return out


def smaps_rollup(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def memory(pid: int) -> dict:
    s, r = status(pid), smaps_rollup(pid)
    return {"rss": s["VmRSS"], "rss_anon": s["RssAnon"], "rss_file": s["RssFile"],
            "rss_shmem": s["RssShmem"], "hwm": s["VmHWM"], "pss": r.get("Pss", 0),
            "private": r.get("Private_Clean", 0) + r.get("Private_Dirty", 0),
            "private_dirty": r.get("Private_Dirty", 0), "threads": s.get("Threads", 0)}


def rss_by_mapping(pid: int) -> dict:
    """Resident bytes per mapped file (basename) and "[anon]" for everything anonymous (heap,
    stacks, anonymous mmaps)."""
    out: dict = {}
    name = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                path = parts[5] if len(parts) >= 6 else ""
                name = os.path.basename(path) if path.startswith("/") else "[anon]"
            elif parts[0] == "Rss:":
                out[name] = out.get(name, 0) + int(parts[1]) * 1024
    return out


def reset_peak(pid: int):
    """Resets VmHWM to the current RSS (clear_refs 5), so the next VmHWM is this window's peak."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def context_switches(pid: int) -> dict:
    """{tid: (voluntary, involuntary)} of every live thread."""
    out = {}
    for t in _tasks(pid):
        v = n = 0
        try:
            with open(t + "/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        v = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        n = int(line.split()[1])
        except OSError:
            continue
        out[int(os.path.basename(t))] = (v, n)
    return out


def syscalls(pid: int) -> int:
    """System calls that read or wrote (/proc/PID/io syscr + syscw): a main loop that wakes up
    makes at least one per iteration even when it never sleeps long enough to be switched out."""
    n = 0
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("syscr", "syscw"):
                n += int(v)
    return n


def thread_waits(pid: int) -> list[dict]:
    """Where each thread is blocked: its name, the system call and, for poll(), the timeout in ms
    (-1 = none: the thread sleeps until a file descriptor wakes it)."""
    out = []
    for t in sorted(_tasks(pid)):
        try:
            with open(t + "/comm") as f:
                name = f.read().strip()
            with open(t + "/syscall") as f:
                fields = f.read().split()
        except OSError:
            continue
        entry = {"thread": name}
        if fields and fields[0].lstrip("-").isdigit():
            nr = int(fields[0])
            entry["syscall"] = SYSCALL_NAMES.get(nr, str(nr))
            if nr == 7 and len(fields) > 3:
                timeout = int(fields[3], 16) & 0xFFFFFFFF  # an int: the upper register half is noise
                entry["timeout_ms"] = timeout - (1 << 32) if timeout >= 1 << 31 else timeout
        else:
            entry["syscall"] = fields[0] if fields else "?"
        out.append(entry)
    return out


class PeakSampler:
    """Samples RssAnon and VmRSS every `interval` s in a thread: the kernel keeps a peak of the
    total (VmHWM) but not of the anonymous part."""

    def __init__(self, pid: int, interval: float = 0.005):
        self.pid, self.interval = pid, interval
        self.peak_anon = self.peak_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                s = status(self.pid)
                anon, rss = s["RssAnon"], s["VmRSS"]
            except (OSError, KeyError):  # gone (a zombie has no memory lines)
                return
            self.peak_anon = max(self.peak_anon, anon)
            self.peak_rss = max(self.peak_rss, rss)
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"peak_anon_sampled": self.peak_anon, "peak_rss_sampled": self.peak_rss,
                "samples": self.samples}
