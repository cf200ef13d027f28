#!/usr/bin/python3
# A "switch operator" application written for the module API (QuecPython's sim.esim): download
# the new operator's profile, wait for the result, switch to it, delete the old operator's
# profile and list what is left. It runs on esimd as it is: its imports are the same there.
import sys
from queue import Queue

from sim import esim

result_q = Queue(maxsize=10)


def on_ota_result(result):
    result_q.put(result)


def installed_profiles():
    info = esim.getProfileInfo(1)
    if info == -1:
        return None
    return info[1]


def switch_operator(activationCode, confirmationCode):
    before = installed_profiles()
    if before is None:
        print('cannot read the profiles!')
        return -1
    known = [p[0] for p in before]
    old = [p[0] for p in before if p[1] == 1]
    print('current profile:{}'.format(old))

    esim.setCallback(on_ota_result)
    if esim.profileOTA(activationCode, confirmationCode) != 0:
        print('the download could not start!')
        return -1
    if result_q.get() != 0:
        print('the new profile could not be installed; keeping the current one')
        return -1

    new = [p[0] for p in installed_profiles() if p[0] not in known]
    if len(new) != 1:
        print('cannot tell which profile is new: {}'.format(new))
        return -1
    print('new profile:{}'.format(new[0]))
    # enabling the new profile disables the old one, which can then be deleted
    if esim.profileHandle(0, new[0]) != 0:
        print('enable new profile failed!')
        return -1
    for iccid in old:
        if esim.profileHandle(2, iccid) != 0:
            print('delete old profile {} failed!'.format(iccid))
            return -1
        print('deleted old profile:{}'.format(iccid))
    print('profile_list:{}'.format(esim.getProfileInfo(1)))
    return 0


if __name__ == '__main__':
    print('please input the activationCode of the new operator:')
    activationCode = input()
    print('please input the confirmationCode:')
    confirmationCode = input()
    ret = switch_operator(activationCode, confirmationCode)
    print('switch operator {}'.format('succeed' if ret == 0 else 'failed'))
    sys.exit(0 if ret == 0 else 1)
