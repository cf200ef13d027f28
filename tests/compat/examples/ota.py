#!/usr/bin/python3
# Example of the module API: register the result callback, download a profile by activation
# code, and wait for the callback before going on.
import sys
from queue import Queue

from sim import esim

OTAResult_q = None


def cb(args):
    global OTAResult_q
    print('OTA result:{}'.format(args))
    OTAResult_q.put(args)


def esim_lpa():
    global OTAResult_q
    esim.setCallback(cb)
    print('please input the activationCode:')
    activationCode = input()
    print('please input the confirmationCode:')
    confirmationCode = input()
    ret = esim.profileOTA(activationCode, confirmationCode)
    if ret != 0:
        print('failed to start the profile download!')
        return -1
    result = OTAResult_q.get()
    if result != 0:
        print('failed to download and install the profile!')
        return -1
    print('success to download and install the profile!')
    return 0


if __name__ == '__main__':
    OTAResult_q = Queue(maxsize=100)
    sys.exit(0 if esim_lpa() == 0 else 1)
