"""A D-Bus observer that timestamps esimd's signals as they arrive (a GDBus message filter runs in
the connection's worker thread, so the time does not depend on when the test's main loop runs),
and samples esimd's CPU time at the moments that end a stage."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402


class Event:
    __slots__ = ("t", "path", "member", "args", "cpu_ns")

    def __init__(self, t, path, member, args, cpu_ns):
        self.t, self.path, self.member, self.args, self.cpu_ns = t, path, member, args, cpu_ns


class Timeline:
    def __init__(self, address: str, cpu: Callable[[], Optional[int]]):
        self.cpu = cpu
        self.lock = threading.Lock()
        self.events: list[Event] = []
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.conn.add_filter(self._filter)
        self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch",
                            GLib.Variant("(s)", ("type='signal',sender='org.esim'",)), None,
                            Gio.DBusCallFlags.NONE, -1, None)

    def _filter(self, conn, msg, incoming, *user_data):
        if incoming and msg.get_message_type() == Gio.DBusMessageType.SIGNAL and msg.get_sender() != \
                "org.freedesktop.DBus":
            t = time.monotonic()
            body = msg.get_body()
            args = body.unpack() if body is not None else ()
            member = msg.get_member()
            # CPU is read only where a stage ends: one read per progress signal would be noise.
            marks = member in ("Finished",) or (member == "PropertiesChanged" and any(
                k in args[1] for k in ("Stage", "PendingNotifications")))
            with self.lock:
                self.events.append(Event(t, msg.get_path(), member, args, self.cpu() if marks else None))
        return msg

    def clear(self):
        with self.lock:
            self.events = []

    def snapshot(self) -> list[Event]:
        with self.lock:
            return list(self.events)

    def wait(self, predicate: Callable[[list[Event]], Optional[Event]], timeout: float, what: str) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.snapshot())
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.002)

    def close(self):
        self.conn.close_sync(None)


def job_finished(job: str):
    def pred(events):
        return next((e for e in events if e.path == job and e.member == "Finished"), None)
    return pred


def job_outcome(events: list[Event], job: str) -> dict:
    """A finished job's State, Error and ErrorMessage as its signals told them: the job object
    leaves the bus after JobLinger, so reading its properties afterwards can fail. esimd sends the
    final properties (PropertiesChanged) before Finished, and a download's DownloadResult names its
    error too."""
    out: dict = {}
    for e in events:
        if e.path == job and e.member == "PropertiesChanged":
            out.update({k: v for k, v in e.args[1].items() if k in ("State", "Error", "ErrorMessage")})
        elif e.path == job and e.member == "Finished":
            out["State"] = e.args[0]
        elif e.member == "DownloadResult" and e.args[0] == job:
            out.setdefault("Error", e.args[3])
            out.setdefault("ErrorMessage", e.args[4])
    return out


def failure(events: list[Event], job: str) -> str:
    """'state: Error: ErrorMessage' of a finished job, from its signals."""
    o = job_outcome(events, job)
    return ": ".join(x for x in (o.get("State", "not finished"), o.get("Error"), o.get("ErrorMessage")) if x)


def stage_changes(events: list[Event], job: str) -> list[tuple[str, Event]]:
    """(stage, event) each time the job's Stage property changed, in order."""
    out = []
    for e in events:
        if e.path == job and e.member == "PropertiesChanged" and "Stage" in e.args[1]:
            stage = e.args[1]["Stage"]
            if not out or out[-1][0] != stage:
                out.append((stage, e))
    return out


def notifications_drained(after: float):
    """The first PendingNotifications = 0 after time `after`."""
    def pred(events):
        return next((e for e in events if e.t >= after and e.member == "PropertiesChanged"
                     and e.args[1].get("PendingNotifications") == 0), None)
    return pred
