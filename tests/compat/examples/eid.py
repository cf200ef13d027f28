#!/usr/bin/python3
# Example of the module API: read the eUICC's EID before any other eSIM call.
import sys

from sim import esim


def check_esim():
    eid = esim.getEid()
    print('eUICC id:{}'.format(eid))
    if eid == '' or eid is None or eid == -1:
        print('get euicc id failed!')
        return -1
    return 0


if __name__ == '__main__':
    sys.exit(0 if check_esim() == 0 else 1)
