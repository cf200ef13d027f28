#!/usr/bin/python3
# Command-line front end of esimtest.pki: writes the test PKI into a directory.
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from esimtest import pki  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Generate the esimd test PKI (see tests/pki/README.md).")
    ap.add_argument("--out", required=True, help="output directory (created; reused when parameters match)")
    ap.add_argument("--eid", default=pki.DEFAULT_EID)
    ap.add_argument("--eum-prefix", default=None, help="EID prefix the EUM may issue (default: first 8 digits)")
    ap.add_argument("--smdp-host", action="append", help="dNSName of the SM-DP+ TLS cert (repeatable)")
    ap.add_argument("--smdp-oid", default=pki.DEFAULT_SMDP_OID)
    ap.add_argument("--smds-host", action="append", help="dNSName of the SM-DS TLS cert (repeatable)")
    ap.add_argument("--smds-oid", default=pki.DEFAULT_SMDS_OID)
    a = ap.parse_args()
    try:
        pki.generate(
            a.out,
            eid=a.eid,
            smdp_hosts=a.smdp_host or [pki.DEFAULT_SMDP_HOST],
            smdp_oid=a.smdp_oid,
            smds_hosts=a.smds_host or [pki.DEFAULT_SMDS_HOST],
            smds_oid=a.smds_oid,
            eum_prefix=a.eum_prefix,
        )
    except ValueError as e:
        print("gen-pki: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
