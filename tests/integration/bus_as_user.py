#!/usr/bin/python3
"""Makes one D-Bus call to esimd and prints the outcome as JSON, for tests that run it as
another (unprivileged) user. Usage: bus_as_user.py ADDRESS PATH INTERFACE METHOD SIGNATURE ARGS-JSON"""

import json
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402


def main():
    address, path, iface, method, signature, args = sys.argv[1:7]
    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    params = GLib.Variant(signature, tuple(json.loads(args))) if signature else None
    try:
        dest = "org.freedesktop.DBus" if path == "/org/freedesktop/DBus" else "org.esim"
        reply = conn.call_sync(dest, path, iface, method, params, None, Gio.DBusCallFlags.NONE, 60000, None)
        print(json.dumps({"result": reply.unpack() if reply else None}, default=str))
    except GLib.Error as e:
        print(json.dumps({"error": Gio.DBusError.get_remote_error(e) or str(e), "message": e.message}))


if __name__ == "__main__":
    main()
