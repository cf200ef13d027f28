#!/usr/bin/python3
# Example of the module API, as the vendor's guide writes it: the ICCID to report comes from
# getProfileDelNotification(), indexed [1][0][0] like getProfileInfo()'s list of tuples.
import sys

from sim import esim


def report_first():
    notifications = esim.getProfileDelNotification()
    print('profile delete notifications:{}'.format(notifications))
    if notifications == -1:
        print('get profile delete notification failed!')
        return -1
    if notifications[0] == 0:
        print('no profile delete notification!')
        return 0
    iccid = notifications[1][0][0]
    ret = esim.reportProfileDelNotification(iccid)
    print('report {}:{}'.format(iccid, ret))
    if ret != 0:
        print('report profile delete notification failed!', esim.getLastError())
        return -1
    print('report profile delete notification succeed!')
    return 0


if __name__ == '__main__':
    sys.exit(0 if report_first() == 0 else 1)
