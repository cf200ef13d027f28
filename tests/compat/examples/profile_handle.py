#!/usr/bin/python3
# Example of the module API: enable the profile with the given ICCID if it is disabled, disable
# it if it is enabled.
import sys

from sim import esim


def profile_state(iccid):
    profile_list = esim.getProfileInfo(1)
    if profile_list == -1:
        return -1
    for profile in profile_list[1]:
        if profile[0] == iccid:
            return profile[1]
    return -1


def toggle_profile():
    print('please input the iccid:')
    iccid = input()
    state = profile_state(iccid)
    if state == 1:
        ret = esim.profileHandle(1, iccid)
        action = 'disable'
    else:
        ret = esim.profileHandle(0, iccid)
        action = 'enable'
    if ret != 0:
        print('{} profile failed!'.format(action))
        return -1
    print('{} profile succeed!'.format(action))
    print('profile_list:{}'.format(esim.getProfileInfo(1)))
    return 0


if __name__ == '__main__':
    sys.exit(0 if toggle_profile() == 0 else 1)
