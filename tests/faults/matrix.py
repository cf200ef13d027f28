"""The fault matrix: the cases of each class (modem, ES9+, SIGKILL, eUICC result codes), how one
case runs, and the table of cases run, invariants held and failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

import invariants as inv
from gi.repository import GLib
from rig import DEAD_HOST, SERVER_TIMEOUT, Outcome, Rig, RigError, Snapshot

CLASSES = ("modem", "es9", "euicc", "kill", "text", "framing", "notify", "state")
# Options of the reference download of the modem and kill classes: every ES10 step of a
# download (nickname, enable with its refresh) and the notification delivery after it.
FULL_OPTIONS = {"nickname": "fault matrix", "enable": True}
HOLD_MS = 1500  # how long a held APDU waits before the simulator executes it
# esimd's own budget for a step; the matrix waits this long for a Finished signal.
FINISH_TIMEOUT = 60
SETTLE_SECONDS = 5  # how long esimd may take to show the card's truth once idle

# "Failed" statuses a real SM-DP+ answers per function (SGP22-DIGEST.md §5.4).
STATUSES = {
    "initiateAuthentication": ["8.8.1/3.8", "8.8.2/3.1", "8.8.3/3.1", "8.8.4/3.7", "8.8.5/4.1", "1.2/2.1", "1.3/2.2"],
    "authenticateClient": ["8.1.2/6.1", "8.1.2/6.3", "8.1.3/6.1", "8.1.3/6.3", "8.1/6.1", "8.1.1/3.8", "8.2.6/3.8",
                           "8.2.5/4.3", "8.2/1.2", "8.8.5/4.1", "8.8.5/6.4", "8.10.1/3.9", "8.11.1/3.9", "8.1/4.8",
                           "8.1/4.2", "1.2/2.1"],
    "getBoundProfilePackage": ["8.1/6.1", "8.2.7/2.2", "8.2.7/3.8", "8.2.7/6.4", "8.2/3.7", "8.10.1/3.9",
                               "8.8.5/4.1", "8.1/4.2", "1.2/2.1"],
    "handleNotification": ["8.10.1/3.9", "8.1/6.1", "1.2/2.1"],
    "cancelSession": ["8.1/6.1", "8.8/3.1", "8.10.1/3.9", "1.2/2.1"],
}
# Transport-level failures of any ES9+ call. Executed variants: the server did the work, the
# answer was lost.
ES9_ACTIONS = {
    "reset": {"action": "reset", "times": 2},  # libcurl retries once on a fresh connection
    "timeout": {"action": "delay", "ms": (SERVER_TIMEOUT + 2) * 1000, "times": 1},
    "http500": {"action": "http", "status": 500, "times": 1},
    "http500-executed": {"action": "http", "status": 500, "execute": True, "times": 1},
    "http503": {"action": "http", "status": 503, "times": 1},
    "malformed-json": {"action": "malformed-json", "times": 1},
    "malformed-json-executed": {"action": "malformed-json", "execute": True, "times": 1},
    "cut": {"action": "cut", "times": 1},
    "cut-executed": {"action": "cut", "execute": True, "times": 1},
    "expired": {"action": "expired", "times": 1, "endSession": True},
}
# eUICC result codes per ES10 function (SGP22-DIGEST.md §3) and ProfileInstallationResult
# errorReasons per bppCommandId (§4.3).
RESULT_CODES = {
    "BF38": [1, 2, 3, 4, 5, 6, 7, 127],  # AuthenticateServer
    "BF21": [1, 2, 3, 4, 5, 127],  # PrepareDownload
    "BF41": [5, 127],  # CancelSession
    "BF29": [1, 127],  # SetNickname
    "BF31": [1, 2, 3, 4, 5, 127],  # EnableProfile
    "BF2D": [1, 127],  # GetProfilesInfo (reading back)
    "BF28": [127],  # ListNotification
    "BF2B": [1, 127],  # RetrieveNotificationsList
    "BF30": [1, 127],  # RemoveNotificationFromList
}
PIR_COMMANDS = {0: "initialiseSecureChannel", 1: "configureISDP", 2: "storeMetadata", 4: "replaceSessionKeys",
                5: "loadProfileElements"}
PIR_REASONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 127]


@dataclass
class Case:
    cls: str
    name: str
    slice: bool = False
    sim_faults: list = field(default_factory=list)
    smdp_faults: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    # Runs once the faults are in place, before the case's download (e.g. an earlier download).
    before: Optional[Callable[[Rig], None]] = None
    # Runs while the job does (confirm, cancel, kill); gets the ids of the simulator faults.
    during: Optional[Callable[[Rig, Outcome, list], None]] = None
    allow_open: Optional[str] = None  # why the server session may stay open
    allow_euicc_open: Optional[str] = None  # why the eUICC session may stay open
    allow_burnt: Optional[str] = None  # why the order may stay used up until the server's timeout
    deferred: bool = False  # the fault makes a notification delivery fail: it waits for the back-off
    probe: bool = False  # after the checks: a new download must succeed
    known: Optional[str] = None  # a limitation, not a bug: why this case is expected to fail
    # The server's faults must have fired (a fault bound to a fresh or a reused connection
    # does not fire when esimd's connection is not the one the case needs).
    fired: bool = False
    # ES9+ functions the server may have processed only once in the case (a request resent
    # behind esimd's back, after the server processed it, is processed twice).
    once: tuple = ()
    # What this class of fault must also get right, checked with the invariants.
    check: Optional[Callable[[Rig, Outcome, Snapshot, str], "inv.Check"]] = None


@dataclass
class CaseResult:
    case: Case
    outcome: Optional[Outcome]
    checks: list
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def verdict(self) -> str:
        """held, failed, known (a documented limitation failed as expected) or known-held."""
        if self.case.known:
            return "known-held" if self.ok else "known"
        return "held" if self.ok else "failed"

    def to_json(self) -> dict:
        o = self.outcome
        return {"class": self.case.cls, "name": self.case.name, "ok": self.ok, "verdict": self.verdict,
                "known": self.case.known, "seconds": round(self.seconds, 2),
                "outcome": {"state": o.state, "error": o.error, "message": o.message,
                            "stage_at_kill": o.stage_at_kill} if o else None,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


# -- what runs during a job ---------------------------------------------------------------

def confirm_then(action: str):
    def during(rig: Rig, out: Outcome, ids: list):
        rig.wait_for(lambda: rig.job_state(out.job) == "awaiting-confirmation" or rig.finished(out), 30,
                     "awaiting-confirmation")
        if rig.finished(out):
            return
        rig.client.call(out.job, "org.esim.Job", "Confirm" if action == "confirm" else "Cancel", timeout=10)
    return during


def kill_when(what: str, predicate: Callable[[Rig, Outcome, list], bool]):
    """SIGKILL esimd once @predicate holds, then start it again once the modem has released the
    dead connection's channel."""
    def during(rig: Rig, out: Outcome, ids: list):
        rig.wait_for(lambda: predicate(rig, out, ids) or rig.finished(out), 30, what)
        if rig.finished(out):
            return  # the job ended before the kill point: still a valid (if weaker) case
        out.stage_at_kill = rig.job_prop(out.job, "Stage")
        rig.kill_esimd()
        out.killed = True
        out.finished = True
        # A held APDU still executes after its hold; then the dead client's channel closes.
        rig.wait_for(lambda: not rig.sim.counters()["channels_open"], HOLD_MS / 1000 + 10, "the channel to close")
        rig.start_esimd()
    return during


def held(rig: Rig, out: Outcome, ids: list) -> bool:
    return rig.sim_fault_fired(ids[0])


def in_flight(function: str):
    return lambda rig, out, ids: rig.server_calls(function) >= 1


def awaiting(rig: Rig, out: Outcome, ids: list) -> bool:
    return rig.job_state(out.job) == "awaiting-confirmation"


# -- the classes --------------------------------------------------------------------------

def apdu_labels(trace: list) -> list[str]:
    """A name per APDU of a download: the ES10 function (or BPP part) and the block number."""
    labels, tag, count = [], "?", {}
    for r in trace:
        header = r["header"]
        if header[2:4] == "E2":
            block = int(header[6:8], 16)
            if block == 0:
                tag = r["tag"] or "?"
                count[tag] = count.get(tag, 0) + 1
            n = count.get(tag, 1)
            labels.append("%s%s%s" % (tag, "#%d" % n if n > 1 else "", ".%d" % block if block else ""))
        else:
            labels.append(header)
    return labels


# A smart-card reader's card that leaves (pulled, or powered down with pcscd) is reset: the eUICC
# loses its RSP session (RAM), so it answers CancelSession with invalidTransactionId and there is
# no signed cancel for the server (SGP.22's cancelSession carries it): esimd rightly tells the
# server nothing, and the server's session, with its order, stays until the server's timeout.
CARD_RESET_SESSION = ("the card was reset while the server held the session: the eUICC lost it and signs no "
                      "CancelSession, so the server keeps its session and order until its own timeout")


def _server_session_window(labels: list[str]) -> range:
    """The APDUs during which the server holds an authenticated session and no profile is
    installed yet: from PrepareDownload to the last BPP segment."""
    first21 = next((i for i, lab in enumerate(labels, 1) if lab.startswith("BF21")), None)
    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    return range(first21, last86 + 1) if first21 and last86 else range(0)


def modem_cases(labels: list[str], card_resets: bool = False) -> list[Case]:
    """A transport drop, 6F00 and a corrupted response at every APDU of the reference download.
    card_resets: a drop resets the card (a smart-card reader's card pulled out)."""
    out = []
    window = _server_session_window(labels) if card_resets else range(0)
    picks = _representative(labels)
    for i, label in enumerate(labels, 1):
        for kind, spec in (("drop", {"kind": "drop", "after": i - 1}),
                           ("6F00", {"kind": "sw", "sw": "6F00", "nth": i}),
                           ("corrupt", {"kind": "corrupt", "apdu": i})):
            # A drop makes the modem vanish; its return is a reason to deliver at once.
            deferred = kind != "drop" and label.startswith(("BF2B", "BF30"))
            known = None
            if kind == "corrupt" and label == "BF2B":
                known = ("a flipped byte inside the signed ProfileInstallationResult still decodes: esimd "
                         "cannot check the eUICC's signature (no eUICC certificate at hand), the server "
                         "receives a PIR it cannot verify and keeps its session delivered")
            reset = CARD_RESET_SESSION if kind == "drop" and i in window else None
            out.append(Case("modem", "%s@%d(%s)" % (kind, i, label), slice=i in picks.get(kind, ()),
                            sim_faults=[spec], options=FULL_OPTIONS, probe=kind == "drop", deferred=deferred,
                            known=known, allow_open=reset, allow_burnt=reset))
    # The modem vanishes right after the eUICC executed an APDU: its answer is lost, on every
    # transport. At the last BPP segment the profile is installed and only a read-back can say so.
    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    for i in sorted({last86, last86 - 1} - {None} if last86 else set()):
        # (before the last segment, a reader's card reset loses the eUICC's session, as above)
        reset = CARD_RESET_SESSION if i in window and i != last86 else None
        out.append(Case("modem", "drop-executed@%d(%s)" % (i, labels[i - 1]), slice=i == last86,
                        sim_faults=[{"kind": "drop", "after": i - 1, "executed": True}], options=FULL_OPTIONS,
                        probe=True, allow_open=reset, allow_burnt=reset))
    return out


def pcsc_cases(labels: list[str]) -> list[Case]:
    """The reader's own failures, in the modem class when esimd runs on Transport=pcsc: while the
    APDU at each step of the reference download is held in the card, pcscd stops (SIGTERM) or
    dies (SIGKILL) and is started again, or the reader is unplugged (pcscd 1.9.9 loads the vpcd
    driver only at start, so an unplug is pcscd starting again without the reader's entry, then
    again with it). The simulator's vpcd card reconnects by itself, as a card in a reader that
    comes back does. Every case's next download must succeed."""
    def first(prefix):
        return next((i for i, lab in enumerate(labels, 1) if lab.startswith(prefix)), None)

    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    # The CI slice: one of each, where it bites most (the profile installed but not enabled yet; the
    # first segment of the profile; the start of the BPP).
    picks = {"pcscd-stopped": {first("BF31")}, "pcscd-killed": {first("86")}, "reader-unplugged": {first("BF36")}}
    window = _server_session_window(labels)
    out = []
    for i, label in enumerate(labels, 1):
        # (the held last segment still executes: the profile is installed, nothing to allow)
        reset = CARD_RESET_SESSION if i in window and i != last86 else None
        for kind in ("pcscd-stopped", "pcscd-killed", "reader-unplugged"):
            # Like a drop, the reader's return is a reason to deliver at once: nothing deferred.
            out.append(Case("modem", "%s@%d(%s)" % (kind, i, label), slice=i in picks[kind],
                            sim_faults=[{"kind": "delay", "ms": HOLD_MS, "nth": i}], options=FULL_OPTIONS,
                            # at the last segment the held APDU still executes in the card and
                            # only its answer is lost: the job reads the card once pcscd is back
                            during=_pcscd_when_held(kind), probe=True, allow_open=reset, allow_burnt=reset))
    return out


def _pcscd_when_held(kind: str):
    def during(rig: Rig, out: Outcome, ids: list):
        rig.wait_for(lambda: held(rig, out, ids) or rig.finished(out), 30, "the APDU held in the card")
        if rig.finished(out):
            return  # the job ended before: still a valid (if weaker) case
        p = rig.w.pcscd
        if kind == "pcscd-killed":
            p.kill_pcscd()
        else:
            p.stop_pcscd()
        if kind == "reader-unplugged":
            p.remove_reader()
            p.start_pcscd()
            rig.wait_for(lambda: "no smart-card reader" in (rig.prop("UnavailableReason") or ""), 30,
                         "esimd to say there is no reader")
            p.stop_pcscd()
            p.add_reader()
        p.start_pcscd()
    return during


def framing_cases(labels: list[str]) -> list[Case]:
    """A framing error at the first APDU of each step of the reference download: the QMI answer's
    header claims 65 535 bytes, so libqmi waits for that frame's end and every later command
    times out until esimd takes the link as lost, opens the device again and reads the card
    again. Two timeouts (CommandTimeout, 8 s in the rig) per case: the steps, not every APDU."""
    picks = sorted(_representative(labels)["drop"])
    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    window = _server_session_window(labels)
    out = []
    for i in picks:
        # At the last segment the eUICC installs the profile and the answer is what is lost: the
        # job must read the card again once the link is back before it says how it ended.
        # Before it, inside the server's session, the link's recovery resets the card as a
        # reader's card pulled out does: the eUICC loses its session and signs no cancel.
        reset = CARD_RESET_SESSION if i in window and i != last86 else None
        out.append(Case("framing", "bad-frame@%d(%s)" % (i, labels[i - 1]),
                        slice=i in picks[:1] + picks[-2:-1] or i == last86,
                        sim_faults=[{"kind": "bad_frame", "nth": i}], options=FULL_OPTIONS, probe=True,
                        allow_open=reset, allow_burnt=reset))
    return out


def _representative(labels: list[str]) -> dict:
    """Indices for the CI slice: the first APDU of each step that matters."""
    def first(prefix):
        return next((i for i, lab in enumerate(labels, 1) if lab.startswith(prefix)), None)

    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    drop = {first("BF38"), first("BF21"), first("BF36"), first("86"), last86, first("BF31"), first("BF2B")}
    sw = {first("BF2E"), first("BF38"), first("A1"), last86, first("BF29"), first("BF31"), first("BF30")}
    corrupt = {first("BF38"), first("BF21"), last86, first("BF31"), first("BF2B")}
    return {"drop": drop - {None}, "6F00": sw - {None}, "corrupt": corrupt - {None}}


def es9_cases() -> list[Case]:
    functions = ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage", "handleNotification",
                 "cancelSession")
    slice_ = {("initiateAuthentication", "reset"), ("authenticateClient", "http500-executed"),
              ("getBoundProfilePackage", "timeout"), ("getBoundProfilePackage", "cut-executed"),
              ("handleNotification", "http500"), ("cancelSession", "malformed-json"),
              ("initiateAuthentication", "malformed-json"), ("authenticateClient", "status:8.2.6/3.8"),
              ("getBoundProfilePackage", "status:8.2.7/3.8"), ("handleNotification", "status:1.2/2.1"),
              ("cancelSession", "status:8.10.1/3.9")}
    out = []
    for fn in functions:
        variants = dict(ES9_ACTIONS)
        for st in STATUSES[fn]:
            subject, reason = st.split("/")
            variants["status:" + st] = {"action": "status", "subjectCode": subject, "reasonCode": reason,
                                        "message": "fault matrix", "times": 1, "endSession": True}
        for name, spec in variants.items():
            c = Case("es9", "%s:%s" % (fn, name), slice=(fn, name) in slice_,
                     smdp_faults=[dict(spec, function=fn)], deferred=fn == "handleNotification")
            if fn == "cancelSession":
                # a user who says no: the one cancel every download can be made to send
                c.options = {"confirm": True}
                c.during = confirm_then("cancel")
                if name.startswith("status:") or name == "expired":
                    c.allow_open = "the server refused the cancelSession that would close it"
            out.append(c)
    out += drop_cases()
    # An earlier download's notification failed and waits for the back-off: this download's
    # must still go out at once (a back-off says nothing about the network now).
    out.append(Case("es9", "handleNotification:http500-then-next-download", slice=True,
                    smdp_faults=[{"function": "handleNotification", "action": "http", "status": 500, "times": 1}],
                    before=earlier_download(expect_pending=True)))
    return out


# The call before each one in a download, whose answer a "close" fault makes its connection's last.
PREVIOUS_CALL = {"authenticateClient": "initiateAuthentication", "getBoundProfilePackage": "authenticateClient",
                 "handleNotification": "getBoundProfilePackage"}


def drop_cases() -> list[Case]:
    """The server reads an ES9+ request, processes it, and closes the connection without a byte
    of answer: on a kept-alive connection (libcurl 7.88 then sends the request again on a new
    one, "Connection died, retrying a fresh connect", to a server that already processed it)
    and on a new one (libcurl gives up)."""
    out = []
    for fn in ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage", "handleNotification"):
        for conn in ("reused", "fresh"):
            faults = [{"function": fn, "action": "drop", "execute": True, "reused": conn == "reused", "times": 1}]
            if conn == "fresh" and fn in PREVIOUS_CALL:
                faults.insert(0, {"function": PREVIOUS_CALL[fn], "action": "close", "times": 1})
            out.append(Case("es9", "%s:drop-executed-%s" % (fn, conn), fired=True,
                            once=("authenticateClient", "getBoundProfilePackage"),
                            slice=(fn, conn) in (("authenticateClient", "reused"), ("getBoundProfilePackage", "reused")),
                            deferred=fn == "handleNotification", before=connection_then(conn, faults)))
    # A cancelSession processed, its answer lost on a kept-alive connection: sent again, the
    # server answers that the session is unknown, which says it is over (nothing is left open).
    out.append(Case("es9", "cancelSession:drop-executed-reused", fired=True, options={"confirm": True},
                    during=confirm_then("cancel"),
                    smdp_faults=[{"function": "cancelSession", "action": "drop", "execute": True, "reused": True,
                                  "times": 1}]))
    return out


def connection_then(conn: str, faults: list):
    """A download's first call goes out on whatever connection the last case left: an earlier
    download first leaves one kept alive ("reused") or closed by its last answer ("fresh");
    then the case's faults."""
    def before(rig: Rig):
        if faults[0]["function"] == "initiateAuthentication":
            if conn == "fresh":
                rig.smdp.add_fault(function="handleNotification", action="close", times=1)
            earlier_download(expect_pending=False)(rig)
            rig.smdp.clear_faults()
        for f in faults:
            rig.smdp.add_fault(**f)
    return before


# Server text that D-Bus would refuse and a log should never show: a lone surrogate as a JSON
# escape (json-glib decodes it to bytes that are not UTF-8), a forged log line, a terminal escape.
HOSTILE_TEXT = "refused \udc80 by\n** INFO: forged line \x1b[2J"


def text_cases() -> list[Case]:
    """Each ES9+ call answered Failed with hostile text in its message, and with a subjectCode
    that ends in \udc80 (json-glib then refuses the body, quoting the bytes in its error)."""
    out = []
    for fn in ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage", "handleNotification",
               "cancelSession"):
        subject, reason = STATUSES[fn][0].split("/")
        for name, fault in (("message", {"subjectCode": subject, "reasonCode": reason, "message": HOSTILE_TEXT}),
                            ("code", {"subjectCode": subject + "\udc80", "reasonCode": reason, "message": "x"})):
            c = Case("text", "%s:%s" % (fn, name), slice=name == "message" and fn in ("authenticateClient",
                                                                                        "handleNotification"),
                     smdp_faults=[dict(fault, function=fn, action="status", times=1, endSession=True)],
                     deferred=fn == "handleNotification")
            if fn == "cancelSession":
                c.options = {"confirm": True}
                c.during = confirm_then("cancel")
                c.allow_open = "the server refused the cancelSession that would close it"
            out.append(c)
    return out


def earlier_download(expect_pending: bool):
    def before(rig: Rig):
        code, _ = rig.new_order()
        out = rig.wait_finished(rig.start_download(code), FINISH_TIMEOUT)
        if out.state != "succeeded":
            raise RigError("the earlier download failed: %s" % out.message)
        rig.wait_ready_idle()
        if expect_pending and not rig.sim.state()["notifications"]:
            raise RigError("the earlier download's notification was delivered despite the fault")
    return before


def euicc_cases() -> list[Case]:
    slice_ = {("BF38", 7), ("BF38", 4), ("BF21", 2), ("BF21", 127), ("BF41", 5), ("BF31", 3), ("BF29", 1),
              ("BF30", 127), ("BF2B", 127), ("BF2D", 127), ("BF28", 127)}
    pir_slice = {(0, 2), (2, 9), (2, 15), (5, 8), (5, 10), (5, 127), (1, 7), (4, 1)}
    out = []
    for tag, codes in RESULT_CODES.items():
        for code in codes:
            c = Case("euicc", "%s=%d" % (tag, code), slice=(tag, code) in slice_,
                     sim_faults=[{"kind": "es10_result", "tag": tag, "code": code}], options=FULL_OPTIONS,
                     deferred=tag in ("BF2B", "BF30"))
            if tag == "BF41":
                c.options = {"confirm": True}
                c.during = confirm_then("cancel")
                c.allow_euicc_open = "the eUICC refused CancelSession and keeps its session until the next challenge"
                # An eUICC that answers with its error alternative cancelled nothing: no
                # cancelSession may claim it did (issue 11, item 9); the server's timeout ends it.
                c.allow_open = "the eUICC refused CancelSession: there is no cancel to tell the server of"
            out.append(c)
    for command, cname in PIR_COMMANDS.items():
        for reason in PIR_REASONS:
            out.append(Case("euicc", "BF37:%s=%d" % (cname, reason), slice=(command, reason) in pir_slice,
                            sim_faults=[{"kind": "es10_result", "tag": "BF37", "command": command, "code": reason}]))
    return out


def kill_cases(labels: list[str]) -> list[Case]:
    """SIGKILL at every stage: while each ES9+ call is in flight, while awaiting confirmation,
    and while each APDU of the reference download is in the modem."""
    out = []
    for fn in ("initiateAuthentication", "authenticateClient", "getBoundProfilePackage", "handleNotification"):
        out.append(Case("kill", "during-%s" % fn, slice=fn != "authenticateClient",
                        smdp_faults=[{"function": fn, "action": "delay", "ms": 3000, "times": 1}],
                        during=kill_when(fn + " in flight", in_flight(fn)), probe=True))
    out.append(Case("kill", "during-cancelSession", slice=False, options={"confirm": True},
                    smdp_faults=[{"function": "cancelSession", "action": "delay", "ms": 3000, "times": 1}],
                    during=_chain(confirm_then("cancel"), kill_when("cancelSession in flight",
                                                                    in_flight("cancelSession"))),
                    probe=True))
    out.append(Case("kill", "awaiting-confirmation", slice=True, options={"confirm": True},
                    during=kill_when("awaiting-confirmation", awaiting), probe=True))
    picks = _kill_picks(labels)
    for i, label in enumerate(labels, 1):
        out.append(Case("kill", "apdu@%d(%s)" % (i, label), slice=i in picks,
                        sim_faults=[{"kind": "delay", "ms": HOLD_MS, "nth": i}], options=FULL_OPTIONS,
                        during=kill_when("APDU %d held" % i, held), probe=True))
    return out


def _kill_picks(labels: list[str]) -> set:
    first86 = next((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), None)
    last86 = max((i for i, lab in enumerate(labels, 1) if lab.startswith("86")), default=None)
    picks = {first86, last86}
    picks.add(max((i for i, lab in enumerate(labels, 1) if lab.startswith("BF38")), default=None))
    for prefix in ("BF21", "BF29", "BF31", "BF30"):
        picks.add(next((i for i, lab in enumerate(labels, 1) if lab.startswith(prefix)), None))
    return picks - {None}


# -- notification servers: one that is down, one that never answers -------------------------

def dead_server_notification(rig: Rig):
    """An earlier profile whose delete notification goes to a server that is down: installed,
    deleted; its delete notification stays on the card, failed."""
    code, iccid = rig.new_order(metadata={
        "serviceProviderName": "Fault Matrix", "profileName": "Dead notification server",
        "notificationConfigurationInfo": [{"events": [e], "address": DEAD_HOST if e == "delete" else
                                           rig.w.smdp.hostname} for e in ("install", "enable", "disable",
                                                                         "delete")]})
    out = rig.wait_finished(rig.start_download(code), FINISH_TIMEOUT)
    if out.state != "succeeded":
        raise RigError("the earlier download failed: %s" % out.message)
    rig.wait_ready_idle()
    rig.w.manager("DeleteProfile", GLib.Variant("(sa{sv})", (iccid, {})), timeout=30)
    rig.wait_ready_idle()
    pending = [n["address"] for n in rig.sim.state()["notifications"]]
    if pending != [DEAD_HOST]:
        raise RigError("expected the dead server's delete notification pending, found %s" % pending)


def others_delivered(rig: Rig, out: Outcome, after: Snapshot, iccid: str) -> "inv.Check":
    """The dead server's notification waits for its own back-off; the case's install result went
    to its live server anyway."""
    pending = [n["address"] for n in after.card["notifications"]]
    delivered = [n["iccid"] for n in after.server_notifications if n.get("operation") == "install"]
    ok = pending == [DEAD_HOST] and iccid in delivered
    return inv.Check("others-delivered", ok, "pending for %s; install results delivered for %s" %
                     (pending, delivered))


def delivery_in_flight(cancel: bool):
    """An earlier download whose install result the server holds (it accepted the connection and
    says nothing): the case's download is queued while esimd's delivery waits for it; with
    @cancel, a caller cancels that delivery first."""
    def before(rig: Rig):
        rig.smdp.add_fault(function="handleNotification", action="delay", ms=(SERVER_TIMEOUT + 8) * 1000,
                           times=1)
        code, _ = rig.new_order()
        out = rig.wait_finished(rig.start_download(code), FINISH_TIMEOUT)
        if out.state != "succeeded":
            raise RigError("the earlier download failed: %s" % out.message)
        rig.wait_for(lambda: rig.server_calls("handleNotification") >= 1, 30, "the delivery in flight")
        job = rig.prop("CurrentJob")
        if rig.job_prop(job, "Kind") != "send-notifications" or rig.job_prop(job, "Caller") != "":
            raise RigError("esimd's delivery is not the current job: %s" % job)
        if cancel:
            rig.client.call(job, "org.esim.Job", "Cancel", timeout=10)
            rig.wait_for(lambda: any(s[0] == job and s[2] == "Finished" for s in rig.client.signals), 30,
                         "the cancelled delivery to end")
    return before


def notify_cases() -> list[Case]:
    return [
        Case("notify", "dead-server", slice=True, before=dead_server_notification, deferred=True,
             check=others_delivered),
        Case("notify", "hung-server", slice=True, before=delivery_in_flight(cancel=False)),
        Case("notify", "hung-server-cancelled", before=delivery_in_flight(cancel=True)),
    ]


# -- the state directory: a download without a crash record does not start --------------------

READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1"'
FULL = ('mount -t tmpfs -o size=16k,mode=0700 tmpfs "$1" && '
        '(dd if=/dev/zero of="$1/filler" bs=4k count=64 2>/dev/null; true)')
WRITABLE = 'mount --bind "$1" "$1"'  # its own mount, to be made read-only during the case


def in_namespace(script: str):
    """esimd in a private mount namespace where @script ($1: the state directory) ran first."""
    def before(rig: Rig):
        rig.restart_esimd(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           script + ' && shift && exec "$@"', "sh", rig.state_dir])
    return before


def read_only_when(function: str):
    """While @function is in flight (held by the server), the state directory becomes read-only in
    esimd's namespace: the record written after it cannot be."""
    def during(rig: Rig, out: Outcome, ids: list):
        rig.wait_for(lambda: rig.server_calls(function) >= 1 or rig.finished(out), 30, function + " in flight")
        subprocess.run(["nsenter", "-t", str(rig.pid), "-m", "mount", "-o", "remount,bind,ro", rig.state_dir],
                       check=True, capture_output=True)
    return during


def not_started(rig: Rig, out: Outcome, after: Snapshot, iccid: str) -> "inv.Check":
    """Refused with the named error before the eUICC or the server held anything of it."""
    held = [s["state"] for s in after.server_sessions if s["state"] != "initiated"]
    ok = out.error == "org.esim.Error.StateNotWritable" and not held and "open-sessions" in out.message
    return inv.Check("not-started", ok, "%s: %s; server sessions past initiated: %s" % (out.error, out.message,
                                                                                      held))


def state_cases() -> list[Case]:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return []  # a read-only mount even for esimd needs root (as esimd runs in production)
    return [
        Case("state", "read-only", slice=True, before=in_namespace(READ_ONLY), check=not_started),
        Case("state", "full", slice=True, before=in_namespace(FULL), check=not_started),
        Case("state", "read-only-after-initiateAuthentication", before=in_namespace(WRITABLE),
             smdp_faults=[{"function": "initiateAuthentication", "action": "delay", "ms": 1500, "times": 1}],
             during=read_only_when("initiateAuthentication"), check=not_started),
    ]


def _chain(*steps):
    def during(rig, out, ids):
        for s in steps:
            s(rig, out, ids)
    return during


# -- running ------------------------------------------------------------------------------

def reference_trace(rig: Rig) -> list:
    """The APDUs of one clean download with FULL_OPTIONS, from the call until esimd is idle."""
    rig.case_no += 1
    rig.clean()
    code, _ = rig.new_order()
    out = rig.wait_finished(rig.start_download(code, options=FULL_OPTIONS), FINISH_TIMEOUT)
    if out.state != "succeeded":
        raise RigError("the reference download failed: %s %s" % (out.error, out.message))
    rig.wait_ready_idle()
    return rig.trace()


def run_case(rig: Rig, case: Case) -> CaseResult:
    t0 = time.monotonic()
    out: Optional[Outcome] = None
    checks: list = []
    rig.case_no += 1
    try:
        rig.clean()
        code, iccid = rig.new_order()
        ids = [rig.sim.add_fault(**f) for f in case.sim_faults]
        for f in case.smdp_faults:
            rig.smdp.add_fault(**f)
        if case.before:
            case.before(rig)
        before = rig.snapshot()
        calls = rig.smdp.calls() if case.once else {}
        pid = rig.pid
        out = rig.start_download(code, options=case.options)
        if case.during and out.job:
            case.during(rig, out, ids)
        if not out.killed:
            rig.wait_finished(out, FINISH_TIMEOUT)
        out.seconds = time.monotonic() - t0
        checks.append(inv.answered(out))
        if case.fired:
            idle = [f for f in rig.smdp.faults() if not f["hits"]]
            checks.append(inv.Check("fault-fired", not idle, "never fired: %s" % idle if idle else ""))
        if case.once:
            after_calls = rig.smdp.calls()
            twice = {fn: after_calls.get("smdp:" + fn, 0) - calls.get("smdp:" + fn, 0) for fn in case.once}
            twice = {fn: n for fn, n in twice.items() if n > 1}
            checks.append(inv.Check("processed-once", not twice, "processed %s" % twice if twice else ""))
        rig.sim.clear_faults()
        rig.smdp.clear_faults()
        if not out.finished and rig.esimd_alive():
            # silence: give up on the job, but keep checking everything else
            pass
        try:
            rig.wait_ready_idle(FINISH_TIMEOUT, stable=True)
            # esimd may still be catching up (reading again what failed, delivering): give it a
            # few seconds, as a client would, before judging what it shows.
            deadline = time.monotonic() + SETTLE_SECONDS
            after = rig.snapshot()
            while (not inv.settled(after, case.deferred, bool(case.allow_euicc_open), bool(case.allow_open))
                   and time.monotonic() < deadline):
                time.sleep(0.1)
                rig.wait_ready_idle(FINISH_TIMEOUT, stable=True)
                after = rig.snapshot()
        except RigError as e:
            checks.append(inv.Check("bus-alive", False, str(e)))
            return CaseResult(case, out, checks, time.monotonic() - t0)
        if case.check:
            checks.append(case.check(rig, out, after, iccid))
        checks += [
            inv.truthful(out, iccid, after),
            inv.no_half_install(before, after, iccid),
            inv.euicc_session_closed(after, case.allow_euicc_open),
            inv.server_session_closed(after, iccid, case.allow_open),
            inv.order_not_burnt(after, iccid, case.allow_burnt),
            inv.notifications_kept(before, after),
            inv.notifications_delivered(after, case.deferred),
            inv.cache_consistent(after),
            inv.bus_alive(rig, pid, out.killed),
        ]
        if case.probe:
            checks.append(inv.next_download(rig))
    except Exception as e:  # noqa: BLE001 - a broken case is a failed case, the matrix goes on
        checks.append(inv.Check("rig", False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=4))))
    return CaseResult(case, out, checks, time.monotonic() - t0)


def summary(results: list[CaseResult], resources: dict) -> dict:
    classes = {}
    for cls in CLASSES:
        rs = [r for r in results if r.case.cls == cls]
        if rs:
            classes[cls] = {"cases": len(rs), "held": sum(r.ok for r in rs),
                            "failed": sum(r.verdict == "failed" for r in rs),
                            "known": sum(r.verdict == "known" for r in rs),
                            "seconds": round(sum(r.seconds for r in rs), 1)}
    names = list(inv.NAMES) + ["rig"]
    invariants = {}
    for n in names:
        checked = [c for r in results for c in r.checks if c.name == n]
        if checked:
            invariants[n] = {"checked": len(checked), "failed": sum(not c.ok for c in checked)}
    return {"classes": classes, "invariants": invariants, "resources": resources,
            "cases": len(results), "known": sum(r.verdict == "known" for r in results),
            "failed": sum(r.verdict == "failed" for r in results) + (0 if resources.get("ok", True) else 1),
            "results": [r.to_json() for r in results]}


def table(s: dict) -> str:
    """cases run, cases whose invariants all held, failures, known limitations (documented)."""
    lines = ["%-8s %7s %7s %7s %7s %8s" % ("class", "cases", "held", "failed", "known", "seconds")]
    rows = list(s["classes"].items())
    tot = s["classes"].values()
    rows.append(("total", {k: sum(v[k] for v in tot) for k in ("cases", "held", "failed", "known", "seconds")}))
    for cls, v in rows:
        lines.append("%-8s %7d %7d %7d %7d %8.1f" % (cls, v["cases"], v["held"], v["failed"], v["known"],
                                                    v["seconds"]))
    lines.append("")
    lines.append("%-22s %8s %7s" % ("invariant", "checked", "failed"))
    for n, v in s["invariants"].items():
        lines.append("%-22s %8d %7d" % (n, v["checked"], v["failed"]))
    r = s["resources"]
    if r:
        lines.append("")
        lines.append("resources: %s" % r.get("text", json.dumps(r)))
    return "\n".join(lines)
