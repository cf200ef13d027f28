"""Processes of this test's own namespaces, never the machine's."""

import os


def pids_named(comm: str) -> list:
    """The processes called `comm` in this process's network namespace. Proxies such as
    mbim-proxy and qmi-proxy listen on abstract sockets, which belong to a network namespace:
    one started by another test (or anyone else) elsewhere on the machine is not this test's,
    and counting it would make a check pass or fail for the wrong reason."""
    ours = os.readlink("/proc/self/ns/net")
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if f.read().strip() != comm:
                    continue
            if os.readlink(f"/proc/{d}/ns/net") == ours:
                pids.append(int(d))
        except OSError:
            pass  # gone, or in a namespace this test may not look into: not its own either
    return pids
