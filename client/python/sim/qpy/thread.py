"""_thread: QuecPython's thread module for applications run by sim.run.

Everything of CPython's _thread (allocate_lock, get_ident, …) with QuecPython's additions, and
start_new_thread() counted, so the runner keeps the process alive while the application's
threads run (on the firmware they outlive the main script), and learns how each ended.

- start_new_thread(function, args) starts function(*args) and returns the thread's id. A thread
  that ends with an uncaught exception prints "Unhandled exception in thread started by …" and
  the traceback on stderr; one that ends with sys.exit(code) or _thread.exit() just ends.
- threadIsRunning(id): whether a thread started here (or the main thread) is still running.
- stop_thread(0) or stop_thread(own id) ends the calling thread (SystemExit); CPython cannot
  stop another thread from outside, so for any other id stop_thread raises NotAvailable.
- stack_size([size]): CPython's, but a size below its 32 KiB minimum (QuecPython's default is
  8448 bytes) gets 32 KiB, a larger stack than asked for, instead of an error.
- get_heap_size(): the memory the system has available (MemAvailable of /proc/meminfo), bytes.
- allocate_semphore(count) (QuecPython's spelling): acquire(), release(), getCnt() ->
  (maximum, current); delete_lock() and delete_semphore() leave the freeing to Python.
"""

import _thread as _real
import sys as _sys
import threading as _threading
import traceback as _traceback

from . import NotAvailable

for _name in dir(_real):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_real, _name)

_MIN_STACK = 32768
_cond = _threading.Condition()
_running = set()
_failures = []  # exit statuses of the threads that failed, in the order they ended


def _status(code):
    """The exit status sys.exit(code) means, printing a message code as Python does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=_sys.stderr)
    return 1


def start_new_thread(function, args, kwargs=None):
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")

    def run():
        status = 0
        try:
            function(*args, **(kwargs or {}))
        except SystemExit as e:
            status = _status(e.code)
        except BaseException:
            print(f"Unhandled exception in thread started by {function!r}", file=_sys.stderr)
            _traceback.print_exc()
            status = 1
        finally:
            with _cond:
                _running.discard(_real.get_ident())
                if status:
                    _failures.append(status)
                _cond.notify_all()

    # held until the thread is counted: it cannot end (and be uncounted) before
    with _cond:
        ident = _real.start_new_thread(run, ())
        _running.add(ident)
    return ident


def threadIsRunning(thread_id):
    with _cond:
        return thread_id in _running or thread_id == _threading.main_thread().ident


def stop_thread(thread_id):
    if thread_id in (0, _real.get_ident()):
        raise SystemExit
    if thread_id == _threading.main_thread().ident:
        raise ValueError("the main thread cannot be stopped")
    raise NotAvailable(f"_thread.stop_thread({thread_id}): CPython cannot stop another thread; "
                       "let it return (for example by setting a flag it checks)")


def stack_size(size=None):
    if size is None:
        return _real.stack_size()
    size = int(size)
    return _real.stack_size(max(size, _MIN_STACK) if size else 0)


def get_heap_size():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise NotAvailable("_thread.get_heap_size(): /proc/meminfo does not say MemAvailable")


def delete_lock(lock):
    return None


class _Semaphore:
    def __init__(self, count):
        self._max = count
        self._count = count
        self._cond = _threading.Condition()

    def acquire(self):
        with self._cond:
            self._cond.wait_for(lambda: self._count > 0)
            self._count -= 1
        return True

    def release(self):
        with self._cond:
            if self._count >= self._max:
                raise ValueError("semphore released too many times")
            self._count += 1
            self._cond.notify()

    def getCnt(self):
        with self._cond:
            return (self._max, self._count)


def allocate_semphore(initcount):
    initcount = int(initcount)
    if initcount < 1:
        raise ValueError("initcount must be at least 1")
    return _Semaphore(initcount)


def delete_semphore(semphore):
    return None


# -- for the runner ------------------------------------------------------------------------


def wait_all():
    """Returns once every thread started by start_new_thread has ended (including those they
    started); interrupted by Ctrl-C (KeyboardInterrupt)."""
    with _cond:
        while _running:
            _cond.wait()


def failure_status():
    """The exit status of the first thread that failed, 0 when none did."""
    with _cond:
        return _failures[0] if _failures else 0
