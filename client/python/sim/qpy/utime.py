"""utime: QuecPython's time module for applications run by sim.run.

Semantics are those of QuecPython's utime (MicroPython's, with Quectel's additions):
- ticks_ms(), ticks_us(), ticks_cpu() count up from an arbitrary point and wrap at 2**30 (after
  0x3FFFFFFF, as on the modules); compare them only with ticks_diff(), offset them only with
  ticks_add(). Here they come from the monotonic clock; ticks_cpu() counts nanoseconds.
- ticks_diff(ticks1, ticks2) is ticks1 - ticks2 in the wrapping arithmetic, from -2**29 to
  2**29 - 1; ticks_add(ticks, delta) raises OverflowError for a delta outside that range.
- sleep(seconds) takes an int or a float; sleep_ms(ms) and sleep_us(us) take ints and do
  nothing for 0 or less.
- time() is whole seconds since 1970-01-01 UTC, the epoch localtime() and mktime() use too.
- localtime([secs]) is the 8-tuple (year, month, mday, hour, minute, second, weekday 0-6 from
  Monday, yearday 1-366) in local time; mktime(tuple) is its inverse (8- or 9-tuples; weekday
  and yearday are ignored).
- Local time is the system's time zone, daylight saving included, until setTimeZone(hours)
  sets a fixed offset from -12 to +12 for this process (the system's clock and zone are not
  changed). getTimeZone() is the offset in whole hours (a +5:30 zone reads 5).
"""

import calendar as _calendar
import operator as _operator
import time as _time

TICKS_PERIOD = 1 << 30
_TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2

# Seconds east of UTC set by setTimeZone(); None: the system's time zone.
_zone_offset = None


def sleep(seconds):
    _time.sleep(seconds)


def sleep_ms(ms):
    ms = _operator.index(ms)
    if ms > 0:
        _time.sleep(ms / 1000)


def sleep_us(us):
    us = _operator.index(us)
    if us > 0:
        _time.sleep(us / 1000000)


def ticks_ms():
    return (_time.monotonic_ns() // 1000000) & _TICKS_MAX


def ticks_us():
    return (_time.monotonic_ns() // 1000) & _TICKS_MAX


def ticks_cpu():
    return _time.perf_counter_ns() & _TICKS_MAX


def ticks_add(ticks, delta):
    ticks, delta = _operator.index(ticks), _operator.index(delta)
    if not -_TICKS_HALF <= delta < _TICKS_HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _TICKS_MAX


def ticks_diff(ticks1, ticks2):
    ticks1, ticks2 = _operator.index(ticks1), _operator.index(ticks2)
    return ((ticks1 - ticks2 + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def time():
    return int(_time.time())


def localtime(secs=None):
    secs = int(_time.time()) if secs is None else int(secs)
    if _zone_offset is None:
        t = _time.localtime(secs)
    else:
        t = _time.gmtime(secs + _zone_offset)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_wday, t.tm_yday)


def mktime(date):
    if len(date) not in (8, 9):
        raise TypeError(f"mktime needs a tuple of length 8 or 9 ({len(date)} given)")
    year, month, mday, hour, minute, second = (_operator.index(v) for v in date[:6])
    if _zone_offset is None:
        return int(_time.mktime((year, month, mday, hour, minute, second, 0, 0, -1)))
    return _calendar.timegm((year, month, mday, hour, minute, second, 0, 0, 0)) - _zone_offset


def getTimeZone():
    offset = _zone_offset if _zone_offset is not None else _time.localtime().tm_gmtoff
    return int(offset / 3600)


def setTimeZone(offset):
    global _zone_offset
    offset = _operator.index(offset)
    if not -12 <= offset <= 12:
        raise ValueError("invalid value, timezone should be in [-12, +12].")
    _zone_offset = offset * 3600
    return 0
