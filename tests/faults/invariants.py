"""What must hold after every fault: each check compares what the caller heard with what the
eUICC, the SM-DP+ and esimd hold once the fault is gone and esimd is idle again."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Optional

from gi.repository import GLib

from rig import Outcome, Rig, Snapshot

# Server session states in which the SM-DP+ still holds something for the eUICC: an order
# reserved (authenticated), a BPP bound or delivered. The LPA must end these with cancelSession
# (or the PIR); "initiated" holds nothing (no eUICC session was ever proven to it).
OPEN_SERVER_STATES = ("authenticated", "bound", "delivered")
# Error names the caller can act on; org.esim.Error.Failed is the table's "unclassified".
GENERIC_ERRORS = ("org.esim.Error.Failed", "")

NAMES = ("answered", "truthful", "no-half-install", "euicc-session-closed", "server-session-closed",
         "order-not-burnt", "notifications-kept", "notifications-delivered", "cache-consistent", "bus-alive",
         "next-download", "others-delivered", "not-started", "fault-fired", "processed-once")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def answered(out: Outcome) -> Check:
    """The caller heard a completed job or a named error: never silence. The message is text a
    program can show: no control character (whatever the server's answer held)."""
    if out.message and re.search(r"[\x00-\x1f\x7f-\x9f]", out.message):
        return Check("answered", False, "a control character in the message: %r" % out.message)
    if out.killed:
        return Check("answered", True, "esimd killed on purpose: the caller sees the name vanish")
    if not out.finished:
        return Check("answered", False, "no Finished signal and no error")
    if out.call_error:
        ok = out.error.startswith(("org.esim.Error.", "org.freedesktop.DBus.Error.InvalidArgs")) and \
            out.error not in GENERIC_ERRORS and bool(out.message)
        return Check("answered", ok, "Download() refused: %s: %s" % (out.error, out.message))
    state = out.state
    if state == "succeeded":
        ok = not out.error and len(out.results) == 1 and out.results[0][1] == 0
        return Check("answered", ok, "succeeded; DownloadResult %s" % [r[1:4] for r in out.results])
    ok = (state in ("failed", "cancelled") and out.error.startswith("org.esim.Error.") and
          out.error not in GENERIC_ERRORS and bool(out.message) and len(out.results) == 1 and
          out.results[0][1] == 1 and out.results[0][3] == out.error)
    return Check("answered", ok, "%s: %s: %s; DownloadResult %s" % (state, out.error, out.message,
                                                                    [r[1:4] for r in out.results]))


def truthful(out: Outcome, iccid: str, after: Snapshot) -> Check:
    """Success is reported exactly when the profile is on the card (a failure after the install,
    e.g. of the enable step, has to say the profile is installed)."""
    on_card = iccid in [p["iccid"] for p in after.card["profiles"]]
    if out.killed:
        return Check("truthful", True, "profile on the card: %s" % on_card)
    succeeded = out.state == "succeeded"
    # "whether the profile was installed is unknown" is honest only while the eUICC cannot be
    # read; every case here gives the modem back, so the job must have read it and known.
    unknown = "installed is unknown" in out.message
    says_installed = "installed" in out.message and not succeeded and not unknown
    ok = not unknown and on_card == (succeeded or says_installed)
    return Check("truthful", ok, "job %s, profile on the card: %s%s" % (out.state, on_card,
                                                                        ", outcome left unknown" if unknown else ""))


def no_half_install(before: Snapshot, after: Snapshot, iccid: str) -> Check:
    """Only whole profiles: nothing loading, no profile but the case's, each with its content."""
    card = after.card
    session = card.get("session") or {}
    loading = session.get("load")
    extra = [p["iccid"] for p in card["profiles"]
             if p["iccid"] != iccid and p["iccid"] not in [q["iccid"] for q in before.card["profiles"]]]
    broken = [p["iccid"] for p in card["profiles"] if not p.get("upp_sha256") or not p.get("metadata")]
    ok = not loading and not extra and not broken
    return Check("no-half-install", ok, "load %s, unexpected %s, incomplete %s" % (loading, extra, broken))


def euicc_session_closed(after: Snapshot, allow_open: Optional[str] = None) -> Check:
    """The eUICC holds no transaction: a download ended, was cancelled, or a reset dropped it (a
    bare challenge is no transaction: the next GetEUICCChallenge replaces it)."""
    session = after.card.get("session")
    ok = session is None or session.get("transaction_id") is None
    if not ok and allow_open:
        return Check("euicc-session-closed", True, "open session allowed: %s" % allow_open)
    return Check("euicc-session-closed", ok, "eUICC session %s" % session)


def server_session_closed(after: Snapshot, iccid: str, allow_open: Optional[str] = None) -> Check:
    """Every SM-DP+ session of the case ended: installed, failed, cancelled or never got past
    initiateAuthentication; a delivered one may wait for its ProfileInstallationResult while that
    is still pending on the card. `allow_open` names the reason a case may leave one open (its
    fault hit the very call that would have closed it)."""
    # (a PIR of a load that failed before StoreMetadata carries no ICCID)
    pir_pending = any(n["pmo"] == "install" and n["iccid"] in (iccid, None) for n in after.card["notifications"])
    open_ = [s["state"] for s in after.server_sessions
             if s["state"] in OPEN_SERVER_STATES and not (s["state"] == "delivered" and pir_pending)]
    states = [s["state"] for s in after.server_sessions]
    if open_ and allow_open:
        return Check("server-session-closed", True, "open %s allowed: %s" % (open_, allow_open))
    return Check("server-session-closed", not open_,
                 "server sessions %s%s" % (states, "; PIR pending on the card" if pir_pending else ""))


def order_not_burnt(after: Snapshot, iccid: str, allow: Optional[str] = None) -> Check:
    """A profile that did not reach the card is still downloadable: the order is not used up by
    a BPP that was delivered to the LPA and then lost. `allow` names the reason a case may leave
    it used up until the server's own timeout (nothing the LPA may send would release it)."""
    on_card = iccid in [p["iccid"] for p in after.card["profiles"]]
    order = next((o for o in after.orders if o["iccid"] == iccid), None)
    if order is None:
        return Check("order-not-burnt", True, "no order")
    ok = on_card or order["state"] != "downloaded"
    detail = "order %s, profile on the card: %s" % (order["state"], on_card)
    if not ok and allow:
        return Check("order-not-burnt", True, "%s; allowed: %s" % (detail, allow))
    return Check("order-not-burnt", ok, detail)


def notifications_kept(before: Snapshot, after: Snapshot) -> Check:
    """Every notification that existed before or was created during the case is still on the
    card or was delivered to its server, and esimd lists exactly what the card holds."""
    created = range(before.card["next_seq"], after.card["next_seq"])
    wanted = {n["seq"] for n in before.card["notifications"]} | set(created)
    on_card = {n["seq"] for n in after.card["notifications"]}
    delivered = {n["seq"] for n in after.server_notifications if n.get("seq") is not None}
    lost = sorted(wanted - on_card - delivered)
    listed = sorted(after.esimd_notifications)
    ok = not lost and listed == sorted(on_card)
    return Check("notifications-kept", ok,
                 "lost %s; card %s, esimd lists %s, delivered %s" % (lost, sorted(on_card), listed, sorted(delivered)))


def notifications_delivered(after: Snapshot, deferred: bool) -> Check:
    """With the server reachable, nothing stays pending unless the case's own fault made a
    delivery attempt fail (then the back-off retries it later)."""
    pending = [(n["seq"], n["pmo"]) for n in after.card["notifications"]]
    if pending and deferred:
        return Check("notifications-delivered", True, "pending %s after the faulted delivery" % pending)
    return Check("notifications-delivered", not pending, "pending %s" % pending)


def cache_consistent(after: Snapshot) -> Check:
    card = sorted((p["iccid"], p["state"]) for p in after.card["profiles"])
    return Check("cache-consistent", card == after.esimd_profiles, "card %s, esimd %s" % (card, after.esimd_profiles))


def settled(after: Snapshot, deferred: bool, euicc_may_stay_open: bool = False,
            server_may_stay_open: bool = False) -> bool:
    """esimd has caught up with the card (and delivered what it can): checks may run."""
    card = sorted((p["iccid"], p["state"]) for p in after.card["profiles"])
    seqs = sorted(n["seq"] for n in after.card["notifications"])
    session = after.card.get("session") or {}
    server_open = any(s["state"] in OPEN_SERVER_STATES for s in after.server_sessions)
    return (card == after.esimd_profiles and seqs == after.esimd_notifications and (deferred or not seqs)
            and (euicc_may_stay_open or not session.get("transaction_id"))
            and (server_may_stay_open or not server_open))


def bus_alive(rig: Rig, pid_before: Optional[int], restarted: bool) -> Check:
    """esimd kept running (unless the case killed it) and answers a read within a second."""
    if not rig.esimd_alive():
        return Check("bus-alive", False, "esimd exited: see its log")
    if not restarted and pid_before is not None and rig.pid != pid_before:
        return Check("bus-alive", False, "esimd was restarted by someone")
    t = time.monotonic()
    try:
        state = rig.prop("State", timeout=1.0)
        rig.w.profiles()
    except GLib.Error as e:
        return Check("bus-alive", False, "read failed: %s" % e.message)
    dt = time.monotonic() - t
    return Check("bus-alive", state in ("ready", "busy") and dt < 1.0, "State %s, answered in %.3f s" % (state, dt))


def next_download(rig: Rig) -> Check:
    """Nothing the case left behind blocks the next download."""
    code, iccid = rig.new_order()
    out = rig.wait_finished(rig.start_download(code), 60)
    ok = out.state == "succeeded"
    return Check("next-download", ok, "%s %s" % (out.state, out.message))
