#!/usr/bin/python3
# Example of the module API: list the deleted profiles whose deletion the SM-DP+ has not yet
# been told of, and report them.
import sys

from sim import esim


def report_deletions():
    notifications = esim.getProfileDelNotification()
    print('profile delete notifications:{}'.format(notifications))
    if notifications == -1:
        print('get profile delete notification failed!')
        return -1
    print('Please select the action you want<0:exit 1:report>')
    if int(input()) == 0:
        return 0
    failed = 0
    for iccid in notifications[1]:
        ret = esim.reportProfileDelNotification(iccid)
        print('report {}:{}'.format(iccid, ret))
        if ret != 0:
            failed += 1
    return -1 if failed else 0


if __name__ == '__main__':
    sys.exit(0 if report_deletions() == 0 else 1)
