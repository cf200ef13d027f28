#!/usr/bin/python3
"""The main job: esimd manages an eUICC while esimctl shows the EID, downloads a profile by
activation code, lists it, enables it, shows its notifications delivered, disables and deletes
it. Each step runs the real esimctl against the real esimd and is checked; the last lines say
plainly what happened.

Without options everything is simulated on this machine (a private system bus, the simulated
eUICC behind a fake QMI modem, the test SM-DP+). With --discover, esimd gets no configuration
at all: the simulated modem is registered with a fake ModemManager, and esimd finds its eUICC
as it would beside the real one (through the real qmi-proxy, in a private network namespace).
With --config and --activation-code the same steps run against a real modem: esimd reads the
given esimd.conf (or finds the modem itself, beside ModemManager), and the activation code
names a real SM-DP+.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "pylib"))

from esimtest import world as worldmod  # noqa: E402


class DemoFailed(Exception):
    """A step that cannot go on: its message is for the person running the demo."""




class Demo:
    def __init__(self, args):
        self.args = args
        self.world = None
        self.rig = None
        self.smdp = None
        self.bus = None
        self.esimd = None
        self.bus_address = None
        self.workdir = None
        self.log_path = None
        self.done = []

    # -- output -------------------------------------------------------------------------------

    def step(self, title):
        print(f"\n== {title}", flush=True)

    def esimctl(self, *argv, expect=0, show=True):
        shown = " ".join(a if not a.startswith("LPA:") else f"'{a}'" for a in argv)
        if show:
            print(f"$ esimctl {shown}", flush=True)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus_address)
        r = subprocess.run([worldmod.ESIMCTL, *argv], capture_output=True, text=True, env=env, timeout=300)
        if show:
            for line in (r.stdout + r.stderr).rstrip().splitlines():
                print(f"  {line}")
        if r.returncode != expect:
            raise SystemExit(f"demo: esimctl {shown} exited with {r.returncode}, expected {expect}")
        return r.stdout

    # -- setting up ---------------------------------------------------------------------------

    def start(self):
        if self.args.config:
            self.start_with_config()
            return
        if self.args.discover:
            self.start_discover()
            return
        self.step("Starting the simulated world")
        self.world = worldmod.World(transport=self.args.transport)
        self.smdp = self.world.smdp
        self.bus_address = self.world.bus.address
        print("  a private system bus with esimd's bus policy")
        print("  a simulated eUICC (real SGP.22 cryptography) behind a fake %s"
              % TRANSPORTS[self.world.transport])
        print(f"  a test SM-DP+ at {worldmod.SMDP_HOST} (HTTPS, certificates from a test eSIM CI)")
        print("  esimd, configured to reach both as it would a real modem and server")

    def start_with_config(self):
        """esimd with the given configuration on a private bus. Whatever keeps it from serving the
        eUICC (a file it refuses, a modem whose device is missing, esimd exiting) stops the demo
        at once with esimd's own words and where its log is."""
        config = os.path.abspath(self.args.config)
        self.step("Checking your configuration (esimd --check-config)")
        check = subprocess.run([worldmod.ESIMD, "--check-config", "--config", config], capture_output=True,
                               text=True, timeout=60)
        summary, _, effective = check.stdout.partition("\n# effective settings")
        # What it found, and the trust it will give servers.
        trust = [line for line in effective.splitlines()
                 if line.startswith(("CiCertificateDirs=", "# /", "TrustSystemCAs="))]
        for line in (summary.rstrip().splitlines() + trust + check.stderr.rstrip().splitlines()):
            print(f"  {line}")
        if check.returncode != 0:
            raise DemoFailed("esimd refuses this configuration (above)")
        if "no modem is configured" in check.stdout:
            raise DemoFailed(f"{config} has no [Modem NAME] section: esimd would have no eUICC to manage")

        self.step("Starting esimd with your configuration on a private bus")
        tmp = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
        self.workdir = tempfile.mkdtemp(prefix="esimd-demo-", dir=tmp)
        # The log outlives the temporary directory: it is what to read when something failed.
        self.log_path = os.path.join(tmp, f"esimd-demo-{os.getpid()}.log")
        self.bus = worldmod.PrivateBus(self.workdir)
        self.bus_address = self.bus.address
        self.esimd = worldmod.Esimd(config, self.bus_address, self.log_path)
        self.esimd.start()
        client = worldmod.BusClient(self.bus_address)
        try:
            self.wait_ready(client)
        finally:
            client.close()
        print(f"  esimd is running (log: {self.log_path})")

    def wait_ready(self, client, timeout=120.0):
        deadline = time.monotonic() + timeout
        reason = ""
        while time.monotonic() < deadline:
            if not self.esimd.running():
                raise DemoFailed("esimd exited:\n" + self.esimd_errors())
            if client.name_has_owner():
                state = client.get(worldmod.MANAGER, worldmod.MANAGER_IFACE, "State")
                if state == "ready":
                    return
                reason = client.get(worldmod.MANAGER, worldmod.MANAGER_IFACE, "UnavailableReason")
                device = client.get(worldmod.MANAGER, worldmod.MANAGER_IFACE, "Device")
                # A device node that is not there will not appear by waiting: say so now.
                if device.startswith("/") and not os.path.exists(device) and reason != "not connected yet":
                    raise DemoFailed(f"esimd cannot reach the modem: {reason}")
            time.sleep(0.2)
        raise DemoFailed(f"the eUICC was not ready after {timeout:.0f} s: {reason or 'esimd is not on the bus'}")

    def esimd_errors(self) -> str:
        """What esimd said on its way out: its log without the debug lines."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = [line for line in f.read().splitlines() if "DEBUG" not in line and line.strip()]
        except OSError:
            return "  (no log)"
        return "\n".join(f"  {line}" for line in lines[-15:])

    def start_discover(self):
        from esimtest.discoveryrig import DiscoveryRig

        self.step("Starting the simulated world, and esimd with no configuration")
        self.rig = DiscoveryRig(modemmanager=True, udev=False)
        self.smdp = self.rig.smdp
        self.bus_address = self.rig.bus.address
        self.rig.start_mm()
        front = self.args.transport
        modem = self.rig.add_modem(front)
        mm_modem = self.rig.mm_add(modem)
        kind = {"qmi": "QMI", "mbim": "MBIM", "at": "AT"}[front]
        print("  a private system bus with esimd's bus policy")
        print(f"  a fake ModemManager whose modem {mm_modem.path} has the {kind} port {modem.port}")
        print(f"  behind it, a simulated eUICC (real SGP.22 cryptography) on a fake {kind} modem")
        print(f"  a test SM-DP+ at {worldmod.SMDP_HOST} (HTTPS, certificates from a test eSIM CI)")
        print("  esimd, told only where the test CI and SM-DP+ are: no [Modem] section")
        self.rig.start_esimd()
        path = self.rig.wait_manager(modem.eid, timeout=120)
        how = {"qmi": "qmi-proxy", "mbim": "mbim-proxy",
               "at": "the AT port, taken from ModemManager with InhibitDevice and given back"}[front]
        print(f"  esimd found the eUICC through ModemManager and {how}: {path}")

    def stop(self):
        if self.rig:
            self.rig.stop()
        if self.world:
            self.world.stop()
        if self.esimd:
            self.esimd.stop()
        if self.bus:
            self.bus.stop()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the job ------------------------------------------------------------------------------

    def server_notifications(self):
        if not self.smdp:
            return None
        return [(n["operation"], n["iccid"]) for n in self.smdp.control.notifications() if n.get("verified")]

    def wait_delivered(self, operation, iccid, timeout=60):
        """Notifications go out by themselves; wait until the card has none left pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "No notification is pending" in self.esimctl("notifications", show=False):
                break
            time.sleep(0.2)
        else:
            raise SystemExit("demo: notifications were still pending after a minute")
        received = self.server_notifications()
        if received is not None and (operation, iccid) not in received:
            raise SystemExit(f"demo: the SM-DP+ did not receive the {operation} notification")

    def run(self):
        a = self.args
        code = a.activation_code or f"LPA:1${worldmod.SMDP_HOST}$DEMO-ONE"

        self.step("The eUICC")
        status = self.esimctl("status")
        eid = self.esimctl("eid").strip()
        if self.rig:
            mm = re.search(r"ModemManager:\s+(\S+)", status)
            if not mm:
                raise SystemExit("demo: esimctl status does not name ModemManager's modem")
            # With AT, each InhibitDevice makes ModemManager export the modem anew (a new path),
            # as the real one does: the path shown must be one ModemManager has now.
            if mm.group(1) not in [m.path for m in self.rig.mm.modems()]:
                raise SystemExit(f"demo: esimctl status names {mm.group(1)}, not a modem ModemManager has")
            self.done.append(f"found the eUICC with no configuration, beside ModemManager's modem {mm.group(1)}")
        self.done.append(f"read the eUICC's EID, {eid}")

        self.step("Downloading a profile by activation code")
        argv = ["download", code]
        if a.confirmation_code:
            argv += ["--confirmation-code", a.confirmation_code]
        out = self.esimctl(*argv)
        m = re.search(r"Installed profile (\d+)", out)
        if not m:
            raise SystemExit("demo: esimctl did not report an installed profile")
        iccid = m.group(1)
        self.done.append(f"downloaded profile {iccid} from {code.split('$')[1]} over verified TLS")

        self.step("Listing the profiles")
        listing = self.esimctl("list", "--all")
        if iccid not in listing:
            raise SystemExit("demo: the new profile is not listed")
        self.done.append("listed it")

        self.step("Enabling it (esimd then makes the modem re-read the card)")
        self.esimctl("enable", iccid)
        if f"{iccid}  enabled" not in self.esimctl("list", "--all"):
            raise SystemExit("demo: the profile is not enabled")
        self.done.append("enabled it")

        self.step("Its notifications: esimd delivers them to the SM-DP+ by itself")
        self.wait_delivered("enable", iccid)
        self.esimctl("notifications")
        received = self.server_notifications()
        if received is not None:
            for op, ic in received:
                if ic == iccid:
                    print(f"  the SM-DP+ received and verified the {op} notification of {ic}")
        self.done.append("delivered its install and enable notifications to the SM-DP+ (and removed them "
                         "from the card only after the server accepted them)")

        self.step("Disabling and deleting it")
        self.esimctl("disable", iccid)
        if a.keep:
            self.done.append("disabled it (kept, as asked)")
        else:
            self.esimctl("delete", "--yes", iccid)
            self.wait_delivered("delete", iccid)
            self.esimctl("list", "--all")
            self.done.append("disabled and deleted it, and delivered the delete notification")

        self.step("What happened")
        for line in self.done:
            print(f"  - {line}")
        print("\nDemo finished: every step succeeded.")


# What the simulated world puts between esimd and the card, per --transport.
TRANSPORTS = {
    "qmi": "QMI modem",
    "at": "modem's AT command port (a pseudo-terminal speaking 27.007 AT commands)",
    "mbim": "modem in MBIM mode (UICC low level access, on a pseudo-terminal like /dev/cdc-wdm0)",
    "qmi-over-mbim": "modem in MBIM mode carrying QMI inside MBIM (Transport=qmi, QmiMode=mbim)",
    "pcsc": "smart-card reader: vsmartcard's vpcd reader in a private, real pcscd (Transport=pcsc)",
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="esimd.conf for a real modem (default: the simulated world)")
    p.add_argument("--activation-code", help="activation code to download (required with --config)")
    p.add_argument("--confirmation-code", help="the operator's confirmation code, if the profile needs one")
    p.add_argument("--keep", action="store_true", help="disable the profile but do not delete it")
    p.add_argument("--transport", choices=sorted(TRANSPORTS), default="qmi",
                   help="how esimd reaches the simulated card (default qmi; ignored with --config, whose "
                        "[Modem] section says it)")
    p.add_argument("--installed", action="store_true",
                   help="use the installed esimd, esimctl and bus policy (a package or meson install) "
                        "instead of the build's (tools/run-demo finds them)")

    p.add_argument("--discover", action="store_true",
                   help="no configuration: esimd finds the simulated modem through a fake ModemManager")
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.config and not args.activation_code:
        p.error("--config needs --activation-code")
    if args.discover and args.config:
        p.error("--discover runs the simulated world; --config a real modem")
    if args.discover and args.transport not in ("qmi", "mbim", "at"):
        p.error("--discover finds a modem's own port: --transport qmi, mbim or at")
    if args.discover and not args.inside:
        # qmi-proxy's socket is per network namespace: the demo's must not meet the machine's.
        cmd = ["unshare", "-rn", "--pid", "--fork", "--kill-child", "--mount-proc", sys.executable,
               os.path.abspath(__file__), "--inside", *sys.argv[1:]]
        sys.exit(subprocess.run(cmd).returncode)
    if args.inside:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for binary in (worldmod.ESIMD, worldmod.ESIMCTL):
        if not os.access(binary, os.X_OK):
            p.error(f"{binary} is not built" if not args.installed else f"{binary} is not installed")
    if args.installed:
        print(f"Using the installed esimd ({worldmod.ESIMD}), esimctl ({worldmod.ESIMCTL}) and bus "
              f"policy ({worldmod.BUS_POLICY}).")
    if args.config and not os.path.exists(args.config):
        # esimd says it in its own words, before anything is set up.
        check = subprocess.run([worldmod.ESIMD, "--check-config", "--config", args.config],
                               capture_output=True, text=True, timeout=60)
        sys.stderr.write(check.stderr)
        sys.exit(1)
    demo = Demo(args)
    status = 0
    try:
        try:
            demo.start()
            demo.run()
        except DemoFailed as e:
            print(f"\ndemo: {e}", file=sys.stderr)
            status = 1
        except KeyboardInterrupt:
            print("\ndemo: interrupted", file=sys.stderr)
            status = 130
        except SystemExit as e:
            if isinstance(e.code, str):
                print(f"\n{e.code}", file=sys.stderr)
                status = 1
            else:
                status = e.code or 0
        except Exception as e:  # a demo says what went wrong; a traceback helps nobody here
            print(f"\ndemo: {type(e).__name__}: {e}", file=sys.stderr)
            status = 1
        simulated = (demo.world and demo.world.esimd) or (demo.rig and demo.rig.esimd)
        if status and simulated:
            # The simulated world's directory goes; its esimd log is kept for reading.
            demo.log_path = os.path.join(os.path.realpath(os.environ.get("TMPDIR", "/tmp")),
                                         f"esimd-demo-{os.getpid()}.log")
            try:
                shutil.copy(simulated.log_path, demo.log_path)
            except OSError:
                demo.log_path = None
    finally:
        demo.stop()
    if status and demo.log_path:
        print(f"demo: esimd's log: {demo.log_path}", file=sys.stderr)
    elif demo.log_path:
        os.unlink(demo.log_path)  # all went well: nothing to read, nothing left behind
    sys.exit(status)


if __name__ == "__main__":
    main()
