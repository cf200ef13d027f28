#!/usr/bin/python3
"""Command line of the simulated eUICC behind a fake QMI or AT modem (see README.md in this directory)."""

import argparse
import asyncio
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "pylib")]

from esimsim.at import AtFront, AtModem, AtQuirks, parse_quirk_args  # noqa: E402
from esimsim.card import DEFAULT_ISDR_AID, Card, Counters  # noqa: E402
from esimsim.euicc import Euicc, Options  # noqa: E402
from esimsim.faults import Faults, FaultSpecError  # noqa: E402
from esimsim.identity import Identity, IdentityError  # noqa: E402
from esimsim.mbim import MbimFunction  # noqa: E402
from esimsim.qmi import DEFAULT_IMEI, QmiModem  # noqa: E402
from esimsim.server import Simulator  # noqa: E402
from esimsim.slots import PLAIN, SlotError, Slots, parse_slots  # noqa: E402
from esimsim.store import Store, initial_state  # noqa: E402
from esimsim.vpcd import DEFAULT_ATR  # noqa: E402


def version(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise argparse.ArgumentTypeError("version must be MAJOR.MINOR.REVISION")
    return bytes(parts)


def sw_and(text: str) -> tuple[str, str]:
    sw, _, arg = text.partition(":")
    if len(sw) != 4 or not arg:
        raise argparse.ArgumentTypeError("expected SW:ARG, e.g. 6F00:3")
    return sw, arg


def parse_args(argv):
    p = argparse.ArgumentParser(description="Simulated SGP.22 eUICC behind a fake QMI or MBIM modem.")
    g = p.add_argument_group("identity")
    g.add_argument("--eid", help="EID (default: the eUICC certificate's serialNumber; must match it)")
    g.add_argument("--euicc-cert", required=True, help="CERT.EUICC.ECDSA (DER or PEM)")
    g.add_argument("--euicc-key", required=True, help="SK.EUICC.ECDSA (PEM)")
    g.add_argument("--eum-cert", required=True, help="CERT.EUM.ECDSA (DER or PEM)")
    g.add_argument("--ci-cert", action="append", required=True, help="trusted CI certificate (repeatable)")
    g = p.add_argument_group("eUICC")
    g.add_argument("--state", help="JSON state file (created if absent, written atomically)")
    g.add_argument("--default-smdp", help="initial default SM-DP+ address")
    g.add_argument("--root-smds", default="testrootsmds.example.com", help="root SM-DS address")
    g.add_argument("--svn", type=version, default=version("2.2.2"), help="SGP.22 version (default 2.2.2)")
    g.add_argument("--total-memory", type=int, default=1 << 20, help="bytes for profiles (default 1 MiB)")
    g.add_argument("--no-refresh-reset", action="store_true", help="refreshFlag does not reset the card")
    g.add_argument("--allow-provisioning-class", action="store_true", help="accept provisioning-class profiles")
    g.add_argument("--isdr-aid", type=bytes.fromhex, default=DEFAULT_ISDR_AID, help="ISD-R AID (hex)")
    g.add_argument("--get-response", action="store_true", help="answer data with 61xx + GET RESPONSE like a card")
    g = p.add_argument_group("front-ends")
    g.add_argument("--qmi-proxy-socket", metavar="NAME", help="abstract socket name speaking the qmi-proxy protocol")
    g.add_argument("--pty", metavar="LINK", help="create a pty speaking QMUX and symlink its path to LINK")
    g.add_argument("--at-pty", metavar="LINK", help="create a pty speaking AT commands (27.007) and symlink its path to LINK")
    g.add_argument("--at-quirk", action="append", default=[], metavar="NAME[=VALUE]",
                   help="an AT front quirk (repeatable; see README.md), e.g. echo, split=7, session=hex, no-cgla")
    g.add_argument("--apdu-socket", metavar="PATH", help="unix socket: one hex APDU per line")
    g.add_argument("--control", metavar="PATH", help="unix socket for JSON-lines control commands")
    g.add_argument("--slot", type=int, default=1, help="UIM slot number answered on QMI; over MBIM the slot the card sits in (default 1)")
    g.add_argument("--slots", type=parse_slots, default=None, metavar="KIND,...",
                   help="the modem's physical SIM slots, slot 1 first: euicc, plain (a SIM without ISD-R) or empty "
                        "(default: euicc; QMI Get Slot Status / Switch Slot report and switch them)")
    g.add_argument("--active-slot", type=int, default=1, metavar="N", help="the physical slot the modem uses (default 1)")
    g.add_argument("--plain-sim", action="store_true",
                   help="the modem holds a plain SIM: no ISD-R answers (the same as --slots plain)")
    g.add_argument("--imei", default=DEFAULT_IMEI,
                   help="IMEI the modem reports (QMI DMS Get IDs, MBIM device caps; default %s; \"\" for none)" % DEFAULT_IMEI)
    g.add_argument("--mbim-pty", metavar="LINK", help="create a pty speaking MBIM (QMI over MBIM too) and symlink its path to LINK")
    g.add_argument("--mbim-slots", type=int, default=1, metavar="N",
                   help="SIM slots the MBIM function reports (default 1; 0: no MS Basic Connect Extensions slot commands)")
    g.add_argument("--mbim-mapped-slot", type=int, default=None, metavar="N",
                   help="the slot the MBIM function maps at start (default: --slot, the card's); another one leaves "
                        "the eUICC in a slot the modem does not use")
    g.add_argument("--vpcd-port", type=int, metavar="PORT",
                   help="be the card in a vsmartcard vpcd reader: connect to pcscd's vpcd driver on PORT (its CHANNELID)")
    g.add_argument("--vpcd-host", default="127.0.0.1", metavar="HOST", help="where vpcd listens (default 127.0.0.1)")
    g.add_argument("--atr", type=bytes.fromhex, default=DEFAULT_ATR, metavar="HEX",
                   help="the ATR answered over vpcd (default: a real eUICC's, T=0)")
    g.add_argument("--wrong-le", action="store_true", help="answer SELECT with Le 00, or GET RESPONSE asking for more than there is, by 6Cxx like a strict T=0 card")
    g.add_argument("--mbim-no-uicc-reset", action="store_true", help="the MBIM function refuses MS UICC reset (radio off/on still re-reads the card)")
    g.add_argument("--qmi-slow-card-start", type=int, default=0, metavar="N",
                   help="after UIM Power On SIM the card is unreachable (UIM commands answer UimUninitialized, Get "
                        "Card Status says no ATR yet) until N Get Card Status queries have been answered: a card "
                        "that takes its time to start again")
    g.add_argument("--qmi-card-starting", action="store_true",
                   help="with --qmi-slow-card-start: the card is still starting when the modem starts too (a modem "
                        "that has just booted)")
    g.add_argument("--mbim-slow-card-read", default=None, metavar="HOW:N",
                   help="after an MS UICC reset the card is unreachable until N subscriber ready status queries "
                        "have been answered, each HOW: 'not-initialized' (MBIM status NotInitialized) or "
                        "'sim-not-inserted' (ready state SimNotInserted), as ModemManager says real modems answer")
    g.add_argument("--mbim-non-telecom-open", action="store_true",
                   help="open channels as Qualcomm's MBIM firmware does for a card without a telecom application (an "
                        "eUICC with no profile enabled): success with the Status read one byte past the card's SELECT "
                        "answer, so 90 00 arrives as 00 00")
    g = p.add_argument_group("faults (also installable at run time over --control)")
    g.add_argument("--fault", action="append", default=[], metavar="JSON", help="a fault object as the control socket takes it")
    g.add_argument("--sw-on-apdu", type=sw_and, action="append", default=[], metavar="SW:N", help="answer SW to the Nth APDU")
    g.add_argument("--sw-on-tag", type=sw_and, action="append", default=[], metavar="SW:TAG", help="answer SW to the first block of an ES10 tag")
    g.add_argument("--sw-on-segment", type=sw_and, action="append", default=[], metavar="SW:N", help="answer SW to the Nth BPP segment")
    g.add_argument("--delay-ms", type=int, help="delay every APDU by this many milliseconds")
    g.add_argument("--delay-spin-us", type=int, default=150, metavar="US",
                   help="spin the last US microseconds of an injected delay instead of sleeping them "
                        "(default 150: the card gets the APDU within microseconds of its delay, for "
                        "~0.2 ms of CPU per APDU; 0: a blocking sleep, ~0.1 ms late, for many simulators "
                        "on few cores)")
    g.add_argument("--drop-after", type=int, metavar="N", help="drop the connection instead of answering APDU N+1")
    g.add_argument("--refuse-channel", nargs="?", const="6A81", metavar="SW",
                   help="refuse to open logical channels: MANAGE CHANNEL answers SW (default 6A81; a card "
                        "without logical channels answers 6881)")
    g.add_argument("--lc-limit", type=int, metavar="N", help="answer 6700 to STORE DATA blocks longer than N")
    g.add_argument("--corrupt-response", type=int, metavar="N", help="flip a byte in the Nth response with data")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def fault_specs(args) -> list:
    specs = [json.loads(f) for f in args.fault]
    specs += [{"kind": "sw", "sw": sw, "nth": int(n)} for sw, n in args.sw_on_apdu]
    specs += [{"kind": "sw", "sw": sw, "tag": tag} for sw, tag in args.sw_on_tag]
    specs += [{"kind": "sw", "sw": sw, "segment": int(n)} for sw, n in args.sw_on_segment]
    if args.delay_ms:
        specs.append({"kind": "delay", "ms": args.delay_ms})
    if args.drop_after is not None:
        specs.append({"kind": "drop", "after": args.drop_after})
    if args.refuse_channel:
        specs.append({"kind": "refuse_channel", "sw": args.refuse_channel})
    if args.lc_limit is not None:
        specs.append({"kind": "lc_limit", "max": args.lc_limit})
    if args.corrupt_response is not None:
        specs.append({"kind": "corrupt", "nth": args.corrupt_response})
    return specs


def main(argv) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="esim-sim %(levelname)s %(name)s: %(message)s")
    if not (args.qmi_proxy_socket or args.pty or args.apdu_socket or args.mbim_pty or args.at_pty
            or args.vpcd_port):
        print("esim-sim: give at least one of --qmi-proxy-socket, --pty, --mbim-pty, --at-pty, --vpcd-port, --apdu-socket",
              file=sys.stderr)
        return 2
    if args.mbim_pty and (not 0 <= args.mbim_slots <= 4 or (args.mbim_slots and not 1 <= args.slot <= args.mbim_slots)):
        print("esim-sim: --mbim-slots must be 0 to 4, and --slot one of them", file=sys.stderr)
        return 2
    if args.mbim_mapped_slot is not None and not 1 <= args.mbim_mapped_slot <= args.mbim_slots:
        print("esim-sim: --mbim-mapped-slot must be one of the --mbim-slots", file=sys.stderr)
        return 2
    if args.plain_sim and args.slots:
        print("esim-sim: --plain-sim and --slots exclude each other", file=sys.stderr)
        return 2
    at_quirks = AtQuirks(imei=args.imei)  # both fronts are one modem
    try:
        at_quirks.update(parse_quirk_args(args.at_quirk))
    except ValueError as e:
        print("esim-sim: --at-quirk: %s" % e, file=sys.stderr)
        return 2
    try:
        identity = Identity(args.euicc_cert, args.euicc_key, args.eum_cert, args.ci_cert, args.eid)
        store = Store(args.state, initial_state(identity.eid, args.total_memory, args.default_smdp, args.root_smds))
        faults = Faults()
        if args.delay_spin_us < 0:
            raise ValueError("--delay-spin-us: must be 0 or more")
        faults.spin = args.delay_spin_us / 1e6
        for spec in fault_specs(args):
            faults.add(spec)
    except (OSError, ValueError, IdentityError, FaultSpecError) as e:
        print("esim-sim: %s" % e, file=sys.stderr)
        return 1
    options = Options(svn=args.svn, refresh_resets=not args.no_refresh_reset,
                      allow_provisioning_class=args.allow_provisioning_class)
    euicc = Euicc(identity, store, options)
    counters = Counters()
    card = Card(euicc, faults, counters, args.isdr_aid, args.get_response)
    card.wrong_le = args.wrong_le
    try:
        slots = Slots(card, [PLAIN] if args.plain_sim else (args.slots or ["euicc"]), args.active_slot)
    except SlotError as e:
        print("esim-sim: %s" % e, file=sys.stderr)
        return 2

    def enabled_iccid():
        p = euicc.enabled_profile()
        return p["iccid"] if p else None

    modem = QmiModem(card, faults, counters, args.slot, identity.eid_bytes, enabled_iccid, args.imei, slots,
                     args.qmi_slow_card_start)
    if args.qmi_card_starting:
        modem.card_starting()
    mbim = MbimFunction(card, faults, counters, QmiModem(card, faults, counters, args.slot, identity.eid_bytes,
                                                         enabled_iccid, args.imei, slots),
                        args.imei, args.mbim_slots, args.slot - 1, enabled_iccid, not args.mbim_no_uicc_reset,
                        None if args.mbim_mapped_slot is None else args.mbim_mapped_slot - 1,
                        args.mbim_non_telecom_open, args.mbim_slow_card_read)
    sim = Simulator(euicc, card, modem, faults, counters, args, mbim)
    if args.at_pty:
        sim.at_front = AtFront(AtModem(card, faults, counters, at_quirks), args.at_pty, counters, faults)
    asyncio.run(sim.run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
