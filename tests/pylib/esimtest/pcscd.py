"""A private pcscd for tests: the real daemon, with vsmartcard's vpcd driver as its reader, in
namespaces of its own so that it never meets the machine's pcscd, nor another test's.

pcsc-lite 1.9.9's pcscd always puts its socket and pid file in /run/pcscd (only the client
library takes PCSCLITE_CSOCK_NAME), and vpcd listens on a TCP port on every address. So a holder
process starts the namespaces (`unshare -rmn`: user, mount, network): /run is a fresh tmpfs with
this rig's own directory bound on /run/pcscd, and the network has only its loopback. pcscd runs
inside them (nsenter), the simulator joins the network namespace to reach vpcd's port, and
clients outside (esimd, pcsc_scan, pyscard) reach pcscd through the socket's real path in the
rig's directory, with PCSCLITE_CSOCK_NAME.

vpcd makes two readers per configuration entry, "<name> 00 00" on the port and "<name> 00 01" on
the port + 1; the simulator is the card of the first, the second stays empty.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from typing import Optional

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
DEFAULT_PORT = 0x8C7B  # vpcd's usual port; private to the namespace, so never in use
READER = "esim-sim"

# The holder: namespaces set up, then it waits for its stdin to close (the test went away) so
# that nothing outlives the test, however it ends.
HOLDER = r"""
set -e
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/pcscd
mount --bind "$1" /run/pcscd
echo READY
read -r _ || true
"""


def available() -> Optional[str]:
    """None when a private pcscd can run here, else why not (for skipping)."""
    for tool in ("pcscd", "unshare", "nsenter", "ip"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            return "%s is not installed" % tool
    if not os.path.exists(VPCD_DRIVER):
        return "the vpcd driver (Debian: vsmartcard-vpcd) is not installed"
    r = subprocess.run(["unshare", "-rmn", "true"], capture_output=True)
    if r.returncode != 0:
        return "cannot create namespaces: " + r.stderr.decode(errors="replace").strip()
    return None


def _pcscd() -> str:
    return shutil.which("pcscd") or "/usr/sbin/pcscd"


class Pcscd:
    """The namespaces, pcscd inside them, and what a client needs to reach it."""

    def __init__(self, tmpdir: str, reader: str = READER, port: int = DEFAULT_PORT):
        self.dir = os.path.join(tmpdir, "pcscd")
        self.run_dir = os.path.join(self.dir, "run")
        self.conf_dir = os.path.join(self.dir, "reader.conf.d")
        self.log_path = os.path.join(self.dir, "pcscd.log")
        self.socket = os.path.join(self.run_dir, "pcscd.comm")
        self.reader = reader
        self.port = port
        self.holder: Optional[subprocess.Popen] = None
        self.proc: Optional[subprocess.Popen] = None
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.conf_dir, exist_ok=True)

    # ------------------------------------------------------------------ names
    @property
    def reader_names(self) -> list:
        return ["%s 00 00" % self.reader, "%s 00 01" % self.reader]

    def env(self) -> dict:
        """What a PC/SC client (esimd, pcsc_scan, pyscard) needs in its environment."""
        return {"PCSCLITE_CSOCK_NAME": self.socket}

    def enter(self, mount: bool = False) -> list:
        """The command prefix that runs a program in the rig's network namespace."""
        argv = ["nsenter", "-t", str(self.holder.pid), "-U", "-n", "--preserve-credentials"]
        if mount:
            argv.append("-m")
        return argv

    # ------------------------------------------------------------------ life
    def start(self, timeout: float = 20.0, readers: bool = True, daemon: bool = True) -> None:
        """The namespaces, the reader's entry (readers) and pcscd (daemon; else start_pcscd())."""
        self.holder = subprocess.Popen(["unshare", "-rmn", "sh", "-c", HOLDER, "holder", self.run_dir],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([self.holder.stdout], [], [], timeout)
        line = self.holder.stdout.readline() if r else b""
        if line.strip() != b"READY":
            err = self.holder.stderr.read1(4096) if self.holder.poll() is not None else b""
            self.stop()
            raise RuntimeError("pcscd rig: namespaces not set up: %s" % err.decode(errors="replace"))
        if readers:
            self.add_reader()
        if daemon:
            self.start_pcscd(timeout)

    def add_reader(self, name: Optional[str] = None) -> None:
        """The vpcd entry in pcscd's configuration. pcscd 1.9.9 reads it only when it starts
        (SIGUSR1 does not add nor remove serial readers: tried), so a reader plugged in or
        unplugged is pcscd started again with or without the entry."""
        with open(os.path.join(self.conf_dir, "vpcd"), "w") as f:
            f.write('FRIENDLYNAME "%s"\nDEVICENAME /dev/null:%d\nLIBPATH %s\nCHANNELID %d\n'
                    % (name or self.reader, self.port, VPCD_DRIVER, self.port))

    def remove_reader(self) -> None:
        path = os.path.join(self.conf_dir, "vpcd")
        if os.path.exists(path):
            os.unlink(path)

    def start_pcscd(self, timeout: float = 20.0) -> None:
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        log = open(self.log_path, "ab")
        # nsenter execs pcscd itself (no pid namespace, so no fork): self.proc.pid is pcscd's.
        self.proc = subprocess.Popen(self.enter(mount=True) + [_pcscd(), "--foreground", "--debug",
                                                               "--config", self.conf_dir],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pcscd did not start; log:\n" + self.log()[-4000:])
            time.sleep(0.05)

    def stop_pcscd(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill_pcscd(self) -> None:
        """pcscd crashing: no clean-up of its socket."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self.stop_pcscd()
        if self.holder is not None:
            if self.holder.poll() is None:
                try:
                    self.holder.stdin.close()
                    self.holder.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    self.holder.kill()
                    self.holder.wait()
            for f in (self.holder.stdout, self.holder.stderr):
                f.close()
            self.holder = None

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
