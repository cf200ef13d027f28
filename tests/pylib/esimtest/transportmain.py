"""The entry point of a test file that runs once per transport (tests/integration/meson.build
passes --transport NAME): the transport chosen, and a skip where its real parts are missing."""

import os
import sys
import unittest

from esimtest import pcscd

SKIP = 77


def main():
    # --transport NAME: the same as ESIMD_TEST_TRANSPORT=NAME.
    if len(sys.argv) > 2 and sys.argv[1] == "--transport":
        os.environ["ESIMD_TEST_TRANSPORT"] = sys.argv[2]
        del sys.argv[1:3]
    transport = os.environ.get("ESIMD_TEST_TRANSPORT", "qmi")
    if (transport in ("mbim", "qmi-over-mbim") and os.environ.get("ESIMD_TEST_NETNS") == "1"
            and not os.access("/usr/libexec/mbim-proxy", os.X_OK)):
        print("no /usr/libexec/mbim-proxy (package libmbim-proxy): skipping")
        sys.exit(SKIP)
    if transport == "pcsc" and pcscd.available():
        print("no private pcscd here (%s): skipping" % pcscd.available())
        sys.exit(SKIP)
    unittest.main(module="__main__", verbosity=2)
