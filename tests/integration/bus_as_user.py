#!/usr/bin/python3
"""Makes D-Bus calls to esimd and prints the outcome as JSON, for tests that run it as another
(unprivileged) user.

Usage: bus_as_user.py ADDRESS PATH INTERFACE METHOD SIGNATURE ARGS-JSON [COUNT EXPECT]

With COUNT, the call is sent COUNT times at once on one connection; once EXPECT replies have
come (or after 90 s), the outcomes are printed as {"results": [...]} in the order sent, each
{"result": ...}, {"error": NAME, "message": ...} or {"pending": true} (no reply yet)."""

import json
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402


def outcome(call):
    try:
        reply = call()
        return {"result": reply.unpack() if reply else None}
    except GLib.Error as e:
        return {"error": Gio.DBusError.get_remote_error(e) or str(e), "message": e.message}


def main():
    address, path, iface, method, signature, args = sys.argv[1:7]
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    params = GLib.Variant(signature, tuple(json.loads(args))) if signature else None
    dest = "org.freedesktop.DBus" if path == "/org/freedesktop/DBus" else "org.esim"
    if len(sys.argv) < 8:
        print(json.dumps(outcome(lambda: conn.call_sync(dest, path, iface, method, params, None,
                                                         Gio.DBusCallFlags.NONE, 60000, None)), default=str))
        return
    count, expect = int(sys.argv[7]), int(sys.argv[8])
    results = [{"pending": True} for _ in range(count)]

    def done(c, res, i):
        results[i] = outcome(lambda: c.call_finish(res))

    for i in range(count):
        conn.call(dest, path, iface, method, params, None, Gio.DBusCallFlags.NONE, 300000, None, done, i)
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and sum("pending" not in r for r in results) < expect:
        ctx.iteration(False) or time.sleep(0.01)
    print(json.dumps({"results": results}, default=str))


if __name__ == "__main__":
    main()
