#!/usr/bin/python3
# Example of the module API: list the operational (class 2) profiles, then all profiles.
import sys

from sim import esim


def show_profiles():
    class2 = esim.getProfileInfo(0)
    print('class-2 profiles:{}'.format(class2))
    profile_list = esim.getProfileInfo(1)
    print('all profiles:{}'.format(profile_list))
    if class2 == -1 or profile_list == -1:
        print('get profile info failed!')
        return -1
    if profile_list[0] == 0:
        print('there is no profileinfo in this esim!')
        return 0
    if class2[0] > 0:
        # the first operational profile's state, read the way existing applications read it
        print('first profile state:{}'.format(list(esim.getProfileInfo(0))[1][0][1]))
    return 0


if __name__ == '__main__':
    sys.exit(0 if show_profiles() == 0 else 1)
