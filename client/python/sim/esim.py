"""sim.esim — QuecPython's eSIM module API (`from sim import esim`) over esimd's org.esim bus API.

Names, argument order and return values are those of the module API, so applications written
for Quectel's cellular modules run here unchanged. client/python/README.md maps every call to
its org.esim counterpart and lists each difference and the choices made where the original
behaviour is not publicly documented.
"""

import atexit
import functools
import os
import sys
import threading
import traceback

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

__all__ = [
    "getEid",
    "getEID",
    "setCallback",
    "getProfileInfo",
    "profileOTA",
    "profileHandle",
    "getProfileDelNotification",
    "reportProfileDelNotification",
    "setEuicc",
    "getLastError",
]

BUS_NAME = "org.esim"
ROOT_PATH = "/org/esim"
MANAGER_IFACE = "org.esim.Manager"
EUICC_PREFIX = "/org/esim/euicc/"
# Picks the eUICC when setEuicc() was not called: a number N, an object path, a modem name or an EID.
EUICC_ENV = "ESIM_EUICC"

# Every method but Download replies once its job has run, which may be behind a whole download
# in the eUICC's queue (esimd allows a BPP up to 10 minutes).
CALL_TIMEOUT_MS = 15 * 60 * 1000
# esimd postpones a download whose caller left the bus before the profile started loading; the
# module API finishes it regardless, so the interpreter's exit waits this long for ours.
EXIT_WAIT_S = 15 * 60

INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
NO_EUICC = "org.esim.Error.NoEuicc"
UNAVAILABLE = "org.esim.Error.Unavailable"
ESIMD_LEFT = "org.freedesktop.DBus.Error.ServiceUnknown"
NOTHING_MATCHED = "org.esim.Error.NotificationNotFound"

_HANDLE_METHODS = ("EnableProfile", "DisableProfile", "DeleteProfile")


class _Failure(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


_error_lock = threading.Lock()
_last_error = ("", "")
_callback = None
_euicc_selector = None
_session_lock = threading.Lock()
_session = None


def _set_error(name, message):
    global _last_error
    with _error_lock:
        _last_error = (name, message)


def _describe(error):
    """(D-Bus error name, message without GDBus's "GDBus.Error:NAME: " prefix)."""
    name = Gio.DBusError.get_remote_error(error)
    if not name:
        return f"{error.domain}:{error.code}", error.message
    prefix = f"GDBus.Error:{name}: "
    message = error.message
    return name, message[len(prefix):] if message.startswith(prefix) else message


def _api(func):
    """The module API's convention: -1 on any failure, with the reason kept for getLastError()."""

    @functools.wraps(func)
    def call(*args, **kwargs):
        _set_error("", "")
        try:
            return func(*args, **kwargs)
        except GLib.Error as e:
            _set_error(*_describe(e))
        except _Failure as e:
            _set_error(e.name, e.message)
        return -1

    return call


class _Session:
    """A private system-bus connection plus a GLib main loop in a daemon thread, where the
    DownloadResult signals of this process's downloads reach the registered callback."""

    def __init__(self):
        self._ctx = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._ctx, False)
        self._cond = threading.Condition()
        self._pending = set()  # job paths of our downloads whose result has not been delivered
        self._early = {}  # job path -> result, for signals that outran the Download reply
        self._startup_error = None
        self.conn = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="sim.esim", daemon=True)
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error

    def _run(self, ready):
        # Signal subscriptions and the connection's "closed" are dispatched in the context that is
        # thread-default where they are made: this thread's.
        self._ctx.push_thread_default()
        try:
            address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
            self.conn = Gio.DBusConnection.new_for_address_sync(
                address,
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
                None,
                None,
            )
            self.conn.set_exit_on_close(False)
            # Anyone may emit a signal; only esimd's DownloadResult counts.
            self.conn.signal_subscribe(BUS_NAME, MANAGER_IFACE, "DownloadResult", None, None,
                                       Gio.DBusSignalFlags.NONE, self._on_download_result)
            self.conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus",
                                       "NameOwnerChanged", "/org/freedesktop/DBus", BUS_NAME,
                                       Gio.DBusSignalFlags.NONE, self._on_owner_changed)
            self.conn.connect("closed", self._on_closed)
        except GLib.Error as e:
            self._startup_error = e
            self._ctx.pop_thread_default()
            ready.set()
            return
        ready.set()
        self._loop.run()
        self._ctx.pop_thread_default()

    def alive(self):
        return not self.conn.is_closed()

    def stop(self):
        self._loop.quit()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    def call(self, path, iface, method, args=None, reply_type=None):
        reply = self.conn.call_sync(BUS_NAME, path, iface, method, args,
                                    GLib.VariantType.new(reply_type) if reply_type else None,
                                    Gio.DBusCallFlags.NONE, CALL_TIMEOUT_MS, None)
        return reply.unpack() if reply is not None else None

    # -- downloads ------------------------------------------------------------------------

    def track_download(self, job):
        with self._cond:
            early = self._early.pop(job, None)
            self._pending.add(job)
        if early is not None:
            # The callback always runs in this session's thread, never inside profileOTA().
            def deliver(*_):
                self._finish(job, *early)
                return GLib.SOURCE_REMOVE

            source = GLib.idle_source_new()
            source.set_callback(deliver)
            source.attach(self._ctx)

    def _on_download_result(self, conn, sender, path, iface, member, params):
        job, result, _iccid, error_name, error_message = params.unpack()
        with self._cond:
            if job not in self._pending:
                # Another client's download, or ours before Download() has replied.
                self._early[job] = (result, error_name, error_message)
                while len(self._early) > 64:
                    del self._early[next(iter(self._early))]
                return
        self._finish(job, result, error_name, error_message)

    def _finish(self, job, result, error_name, error_message):
        _set_error(error_name, error_message)
        callback = _callback
        if callback is not None:
            try:
                callback(0 if result == 0 else 1)
            except Exception:  # the application's bug must not stop later results
                traceback.print_exc()
        with self._cond:
            self._pending.discard(job)
            self._cond.notify_all()

    def _fail_pending(self, why):
        with self._cond:
            jobs = list(self._pending)
        for job in jobs:
            self._finish(job, 1, ESIMD_LEFT, why)

    def _on_owner_changed(self, conn, sender, path, iface, member, params):
        _name, old_owner, new_owner = params.unpack()
        if old_owner and old_owner != new_owner:
            # A new esimd numbers its jobs from 1 again: results kept from the old one would
            # answer for the new one's jobs.
            with self._cond:
                self._early.clear()
            self._fail_pending("esimd left the bus before the download finished")

    def _on_closed(self, conn, remote_peer_vanished, error):
        self._fail_pending("the connection to the system bus was lost")
        self._loop.quit()

    def wait_downloads(self, timeout):
        with self._cond:
            if self._pending and threading.current_thread() is not self._thread:
                print(f"sim.esim: waiting for {len(self._pending)} profile download(s) to finish",
                      file=sys.stderr)
                self._cond.wait_for(lambda: not self._pending, timeout)


def _get_session():
    global _session
    with _session_lock:
        if _session is not None and not _session.alive():
            _session.stop()
            _session = None
        if _session is None:
            _session = _Session()
        return _session


@atexit.register
def _at_exit():
    session = _session
    if session is None:
        return
    try:
        session.wait_downloads(EXIT_WAIT_S)
    except KeyboardInterrupt:
        pass
    session.stop()


def _euicc_number(path):
    tail = path[len(EUICC_PREFIX):]
    return (0, int(tail)) if tail.isdigit() else (1, path)


def _manager(session):
    """(object path, properties) of the chosen eUICC's org.esim.Manager."""
    selector = _euicc_selector if _euicc_selector is not None else os.environ.get(EUICC_ENV, "")
    objects = session.call(ROOT_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                           reply_type="(a{oa{sa{sv}}})")[0]
    managers = sorted(((path, ifaces[MANAGER_IFACE]) for path, ifaces in objects.items()
                       if MANAGER_IFACE in ifaces), key=lambda m: _euicc_number(m[0]))
    if not managers:
        raise _Failure(NO_EUICC, "esimd manages no eUICC")
    if not selector:
        return managers[0]
    for path, props in managers:
        if path in (selector, EUICC_PREFIX + selector) or selector in (props.get("Name"),
                                                                      props.get("Eid")):
            return path, props
    choices = ", ".join(f"{p} ({props.get('Name', '')})" for p, props in managers)
    raise _Failure(NO_EUICC, f"no eUICC {selector!r}; esimd manages: {choices}")


def _manager_path():
    session = _get_session()
    return session, _manager(session)[0]


def _euicc_device():
    """The device (Manager.Device) of the eUICC the calls use, "" when esimd cannot say; for
    sim.qpy.checkNet, which looks for the modem that has it. getLastError() is left alone."""
    try:
        return _manager(_get_session())[1].get("Device", "")
    except (GLib.Error, _Failure):
        return ""


def _delete_filter(iccid=None, seq=None):
    filt = {"operation": GLib.Variant("s", "delete")}
    if iccid is not None:
        filt["iccid"] = GLib.Variant("s", iccid)
    if seq is not None:
        filt["seq"] = GLib.Variant("u", seq)
    return GLib.Variant("(a{sv})", (filt,))


def _require(condition, message):
    if not condition:
        raise _Failure(INVALID_ARGS, message)


# -- the module API ------------------------------------------------------------------------


@_api
def getEid():
    """The eUICC's EID (32 digits), or -1."""
    _path, props = _manager(_get_session())
    eid = props.get("Eid", "")
    if not eid:
        raise _Failure(UNAVAILABLE, "esimd has not read this eUICC's EID yet")
    return eid


# The name in Quectel's API stubs; their own examples call getEid().
getEID = getEid


def setCallback(usrFun):
    """Registers usrFun(result), called with 0 (success) or 1 (failure) when a download that
    profileOTA() started ends. None unregisters. Returns 0, or -1 if usrFun is not callable."""
    global _callback
    _set_error("", "")
    if usrFun is not None and not callable(usrFun):
        _set_error(INVALID_ARGS, "setCallback needs a function of one argument")
        return -1
    _callback = usrFun
    return 0


@_api
def getProfileInfo(mode):
    """(count, [(iccid, state), ...]) with state 1 enabled, 0 disabled; mode 0: operational
    (class 2) profiles, 1: every class. -1 on failure."""
    _require(mode in (0, 1), "mode is 0 (operational profiles) or 1 (all profiles)")
    session, path = _manager_path()
    profiles = session.call(path, MANAGER_IFACE, "ListProfiles", GLib.Variant("(b)", (mode == 1,)),
                            "(aa{sv})")[0]
    entries = [(p["iccid"], 1 if p["state"] == "enabled" else 0) for p in profiles]
    return (len(entries), entries)


@_api
def profileOTA(activationCode, confirmationCode=""):
    """Starts downloading and installing a profile; returns 0 once esimd has queued it (the
    callback gets the result), -1 if it was refused at once."""
    confirmationCode = confirmationCode or ""
    _require(isinstance(activationCode, str) and isinstance(confirmationCode, str),
             "the activation code and the confirmation code are strings")
    session, path = _manager_path()
    job = session.call(path, MANAGER_IFACE, "Download",
                       GLib.Variant("(ssa{sv})", (activationCode, confirmationCode, {})), "(o)")[0]
    session.track_download(job)
    return 0


@_api
def profileHandle(tag, iccid):
    """tag 0 enables, 1 disables, 2 deletes the profile iccid; returns 0 when done, else -1."""
    _require(tag in (0, 1, 2), "tag is 0 (enable), 1 (disable) or 2 (delete)")
    _require(isinstance(iccid, str), "the ICCID is a string of digits")
    session, path = _manager_path()
    session.call(path, MANAGER_IFACE, _HANDLE_METHODS[int(tag)], GLib.Variant("(sa{sv})", (iccid, {})))
    return 0


@_api
def getProfileDelNotification():
    """(count, [(iccid, seq), ...]): one entry per delete notification that has not yet reached
    its SM-DP+, shaped like getProfileInfo()'s entries (the ICCID first; seq is the eUICC's
    sequence number of the notification). -1 on failure."""
    session, path = _manager_path()
    pending = session.call(path, MANAGER_IFACE, "ListNotifications", _delete_filter(), "(aa{sv})")[0]
    entries = [(n["iccid"], n["seq"]) for n in pending]
    return (len(entries), entries)


def _report_target(entry):
    """(iccid, seq or None) from an ICCID or from an entry of getProfileDelNotification()."""
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, (tuple, list)) and entry and isinstance(entry[0], str):
        seq = entry[1] if len(entry) > 1 else None
        if seq is None or (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**32):
            return entry[0], seq
    raise _Failure(INVALID_ARGS, "give an ICCID (a string of digits) or an entry of "
                                 "getProfileDelNotification(), such as notifications[1][0]")


@_api
def reportProfileDelNotification(iccid):
    """Delivers the pending delete notification(s) of iccid (an ICCID, or an entry of
    getProfileDelNotification(): then only that notification) now. 0 once at least one was
    delivered; -1 when none was, with getLastError() saying why: esimd's error when delivery
    failed, org.esim.Error.NotificationNotFound when nothing matched (esimd may have delivered
    it already by itself)."""
    iccid, seq = _report_target(iccid)
    session, path = _manager_path()
    delivered = session.call(path, MANAGER_IFACE, "SendNotifications", _delete_filter(iccid, seq),
                             "(u)")[0]
    if delivered == 0:
        which = f"{iccid}" if seq is None else f"{iccid} with sequence number {seq}"
        raise _Failure(NOTHING_MATCHED,
                       f"no delete notification of {which} is pending: nothing was delivered "
                       "(esimd delivers them itself unless [Notifications] AutoSend=false)")
    return 0


# -- extensions (not in the module API) ----------------------------------------------------


def setEuicc(selector=None):
    """Chooses the eUICC the other calls use: a number N (/org/esim/euicc/N), an object path, a
    modem name or an EID; None returns to the default ($ESIM_EUICC, else the first eUICC).
    Checked at the next call. Returns 0, or -1 for a selector of the wrong type."""
    global _euicc_selector
    _set_error("", "")
    if selector is not None and not isinstance(selector, (str, int)):
        _set_error(INVALID_ARGS, "the eUICC selector is a number, object path, name or EID")
        return -1
    _euicc_selector = None if selector is None else str(selector)
    return 0


def getLastError():
    """(D-Bus error name, message) of the last call that returned -1 or of the last download
    that failed; ("", "") after a success."""
    with _error_lock:
        return _last_error
