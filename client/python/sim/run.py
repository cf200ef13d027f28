"""python3 -m sim.run [--] APP.py [ARGUMENT...]

Runs an application written for Quectel's QuecPython modules, unchanged, on a Linux machine
where esimd manages the eUICC: `from sim import esim` is the sim.esim module (esimd over
D-Bus), and the firmware modules such applications import are stand-ins from sim.qpy, under
their firmware names:

  utime      the firmware's time functions (sleep_ms, ticks_ms, ticks_diff, localtime, ...)
  checkNet   waitNetworkReady(timeout), computed from ModemManager and NetworkManager
  atcmd      importable; sending an AT command raises sim.qpy.NotAvailable
  _thread    CPython's, with start_new_thread() counted and QuecPython's additions

On the modules an application's threads keep running after its main script ends; so here: the
runner runs APP.py as the main script (sys.argv is APP.py and the ARGUMENTs, its directory
first on sys.path), then waits until every thread it started with _thread.start_new_thread()
has ended (threads those threads start included).

Exit status:
  0    the main script and every thread ended normally (or with sys.exit(0));
  N    the main script ended with sys.exit(N); otherwise the status of the first thread that
       ended with sys.exit(N), N not 0;
  1    the main script or, failing that, a thread ended with an uncaught exception (its
       traceback is on stderr) or with sys.exit("message");
  2    the runner was used wrongly: no APP.py, or one that cannot be read;
  130  interrupted (Ctrl-C) while the main script or the threads ran.
The main script's own status wins over its threads'. A failing thread does not stop the others.
"""

import os
import runpy
import sys
import traceback

from .qpy import atcmd, checkNet, thread, utime

STANDINS = {"utime": utime, "checkNet": checkNet, "atcmd": atcmd, "_thread": thread}


def _usage(out):
    print("usage: python3 -m sim.run [--] APP.py [ARGUMENT...]\n"
          "Runs a QuecPython application unchanged; `python3 -m sim.run --help` says how.", file=out)


def _print_app_traceback(error, path):
    """The traceback from the application's own frames on (not the runner's and runpy's)."""
    tb = error.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if args and args[0] == "--":
        args.pop(0)
    elif args and args[0].startswith("-") and args[0] != "-":
        print(f"sim.run: unknown option {args[0]}", file=sys.stderr)
        _usage(sys.stderr)
        return 2
    if not args:
        _usage(sys.stderr)
        return 2
    path = os.path.abspath(args[0])
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        print(f"sim.run: cannot open {args[0]}: {e.strerror}", file=sys.stderr)
        return 2
    sys.modules.update(STANDINS)
    sys.argv = [args[0]] + args[1:]
    sys.path[0] = os.path.dirname(path)
    status = 0
    try:
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as e:
            status = thread._status(e.code)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            _print_app_traceback(e, path)
            status = 1
        # as on the firmware, the application's threads outlive its main script
        thread.wait_all()
    except KeyboardInterrupt:
        print("sim.run: interrupted", file=sys.stderr)
        return 130
    return status or thread.failure_status()


if __name__ == "__main__":
    sys.exit(main())
