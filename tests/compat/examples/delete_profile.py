#!/usr/bin/python3
# Example of the module API: delete the (disabled) profile with the given ICCID.
import sys

from sim import esim


def delete_profile():
    print('please input the iccid:')
    iccid = input()
    ret = esim.profileHandle(2, iccid)
    if ret != 0:
        print('delete profile failed!')
        return -1
    print('delete profile succeed!')
    print('profile_list:{}'.format(esim.getProfileInfo(1)))
    return 0


if __name__ == '__main__':
    sys.exit(0 if delete_profile() == 0 else 1)
