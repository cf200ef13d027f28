#!/usr/bin/python3
"""The runner for QuecPython applications (python3 -m sim.run) and its stand-ins for the
firmware's modules (client/python/sim/qpy): the process lives while the application's threads
run and exits with the documented status; utime's arithmetic and time conversions; atcmd
importable but refusing to send; _thread's additions; checkNet.waitNetworkReady's (stage,
state) from a fake ModemManager and NetworkManager on a private bus, its timeout, and its
answer as soon as the system changes."""

import contextlib
import io
import os
import tempfile
import textwrap
import threading
import time
import unittest
from unittest import mock

import compattest as ct
from esimtest import fakebus, fakemm, fakenm
from esimtest.world import BUS_POLICY, PrivateBus

NO_BUS = "unix:path=/nonexistent/esim-test-bus"


def run_app(code, bus_address=NO_BUS, args=(), runner_args=None, timeout=60):
    """Runs CODE (dedented) as APP.py through the runner; CompletedProcess."""
    with tempfile.TemporaryDirectory() as tmp:
        app = os.path.join(tmp, "app.py")
        with open(app, "w") as f:
            f.write(textwrap.dedent(code))
        argv = ["-m", "sim.run"] + (runner_args if runner_args is not None else [app] + list(args))
        return ct.run(argv, bus_address, timeout=timeout)


class Runner(unittest.TestCase):
    def test_threads_outlive_the_main_script(self):
        proc = run_app("""\
            import _thread, sys, utime
            def work(name, delay):
                utime.sleep_ms(delay)
                if name == "outer":
                    _thread.start_new_thread(work, ("inner", 300))
                print("%s done" % name)
            _thread.start_new_thread(work, ("outer", 300))
            print("main done argv=%s" % sys.argv[1:])
        """, args=["a", "b"])
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertEqual(proc.stdout.splitlines(), ["main done argv=['a', 'b']", "outer done", "inner done"])

    def test_firmware_modules_are_the_stand_ins(self):
        proc = run_app("""\
            import _thread, atcmd, checkNet, utime
            from sim import esim
            for m in (_thread, atcmd, checkNet, utime, esim):
                print(m.__name__)
            print(_thread.allocate_lock().acquire())
        """)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertEqual(proc.stdout.split(), ["sim.qpy.thread", "sim.qpy.atcmd", "sim.qpy.checkNet",
                                               "sim.qpy.utime", "sim.esim", "True"])

    def check_status(self, code, status, stdout=None, stderr=()):
        proc = run_app(code)
        self.assertEqual(proc.returncode, status, ct.describe(proc))
        if stdout is not None:
            self.assertEqual(proc.stdout.splitlines(), stdout, ct.describe(proc))
        for text in stderr:
            self.assertIn(text, proc.stderr)
        return proc

    # each: a thread that ends after the main script, so the status is known only at the end
    THREAD = """\
        import _thread, sys, utime
        def work():
            utime.sleep_ms(200)
            print("thread done")
            {end}
        _thread.start_new_thread(work, ())
        {main}
    """

    def status_of(self, main="pass", end="pass", **kw):
        return self.check_status(self.THREAD.format(main=main, end=end), **kw)

    def test_exit_status(self):
        self.status_of(status=0, stdout=["thread done"])
        self.status_of(main="sys.exit(0)", status=0, stdout=["thread done"])
        # the main script's own status wins, after its threads have ended
        self.status_of(main="sys.exit(3)", end="sys.exit(4)", status=3, stdout=["thread done"])
        self.status_of(main="raise RuntimeError('main failed')", status=1, stdout=["thread done"],
                       stderr=["RuntimeError: main failed", 'File "'])
        self.status_of(main="sys.exit('main says no')", status=1, stdout=["thread done"], stderr=["main says no"])
        # else the first failing thread's
        self.status_of(end="sys.exit(4)", status=4, stdout=["thread done"])
        self.status_of(end="raise ValueError('thread failed')", status=1, stdout=["thread done"],
                       stderr=["Unhandled exception in thread started by", "ValueError: thread failed"])
        self.status_of(end="sys.exit('thread says no')", status=1, stdout=["thread done"],
                       stderr=["thread says no"])
        self.status_of(end="_thread.exit()", status=0, stdout=["thread done"])

    def test_a_failing_thread_does_not_stop_the_others(self):
        self.check_status("""\
            import _thread, utime
            def fail():
                raise KeyError("x")
            def work():
                utime.sleep_ms(300)
                print("still working")
            _thread.start_new_thread(fail, ())
            _thread.start_new_thread(work, ())
        """, status=1, stdout=["still working"], stderr=["KeyError"])

    def test_usage(self):
        proc = run_app("", runner_args=[])
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage: python3 -m sim.run", proc.stderr)
        proc = run_app("", runner_args=["/nonexistent/app.py"])
        self.assertEqual(proc.returncode, 2)
        self.assertIn("cannot open /nonexistent/app.py: No such file or directory", proc.stderr)
        proc = run_app("", runner_args=["--frobnicate", "app.py"])
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown option --frobnicate", proc.stderr)
        proc = run_app("", runner_args=["--help"])
        self.assertEqual(proc.returncode, 0)
        for text in ("Exit status:", "checkNet", "start_new_thread"):
            self.assertIn(text, proc.stdout)

    def test_atcmd_refuses_to_send(self):
        proc = run_app("""\
            import atcmd
            from sim.qpy import NotAvailable
            try:
                atcmd.sendSync('AT+CFUN=1,1\\r\\n', bytearray(64), '', 5)
            except NotAvailable as e:
                print("refused:%s" % e)
            try:
                atcmd.sendAsync
            except AttributeError as e:
                print("missing:%s" % e)
        """)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        refused = ct.printed(proc.stdout, "refused", literal=False)
        self.assertIn("atcmd.sendSync('AT+CFUN=1,1\\r\\n')", refused)
        self.assertIn("ModemManager and esimd", refused)
        self.assertIn("has no attribute 'sendAsync'", ct.printed(proc.stdout, "missing", literal=False))

    def test_thread_additions(self):
        proc = run_app("""\
            import _thread, utime
            from sim.qpy import NotAvailable
            lock = _thread.allocate_lock()
            lock.acquire()
            def waiter():
                lock.acquire()
            def quitter():
                _thread.stop_thread(0)
                print("not reached")
            waiting = _thread.start_new_thread(waiter, ())
            quitting = _thread.start_new_thread(quitter, ())
            print("running:%s" % _thread.threadIsRunning(waiting))
            try:
                _thread.stop_thread(waiting)
            except NotAvailable as e:
                print("stop refused")
            lock.release()
            while _thread.threadIsRunning(waiting) or _thread.threadIsRunning(quitting):
                utime.sleep_ms(10)
            print("ended:%s" % _thread.threadIsRunning(waiting))
            sem = _thread.allocate_semphore(2)
            sem.acquire()
            print("semaphore:%s" % (sem.getCnt(),))
            sem.release()
            print("semaphore:%s" % (sem.getCnt(),))
            _thread.delete_semphore(sem)
            _thread.delete_lock(lock)
            _thread.stack_size(8448)  # QuecPython's default: a larger stack here
            print("stack:%d" % _thread.stack_size())
            print("heap:%s" % (_thread.get_heap_size() > 0))
        """)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        out = proc.stdout
        self.assertEqual(ct.printed(out, "running"), True)
        self.assertIn("stop refused", out)
        self.assertNotIn("not reached", out)
        self.assertEqual(ct.printed(out, "ended"), False)
        self.assertEqual([line for line in out.splitlines() if line.startswith("semaphore:")],
                         ["semaphore:(2, 1)", "semaphore:(2, 2)"])
        self.assertEqual(ct.printed(out, "stack"), 32768)
        self.assertEqual(ct.printed(out, "heap"), True)


class Utime(unittest.TestCase):
    """Run in an application process with TZ=UTC-2 (two hours east of UTC, no daylight saving)."""

    def run_utime(self, code):
        proc = ct.run(["-c", "import sim.qpy.utime as utime\n" + textwrap.dedent(code)], NO_BUS,
                      env={"TZ": "UTC-2"})
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        return proc.stdout

    def test_ticks_wrap_like_the_firmware(self):
        out = self.run_utime("""\
            P = utime.TICKS_PERIOD
            print("period:%d" % P)
            print("diff:%s" % ([utime.ticks_diff(5, P - 5), utime.ticks_diff(P - 5, 5), utime.ticks_diff(7, 7),
                                utime.ticks_diff(P // 2 - 1, 0), utime.ticks_diff(P // 2, 0)],))
            print("add:%s" % ([utime.ticks_add(P - 1, 1), utime.ticks_add(0, -1), utime.ticks_add(10, -20)],))
            for bad in (P // 2, -P // 2 - 1):
                try:
                    utime.ticks_add(0, bad)
                except OverflowError:
                    print("overflow")
            t = [utime.ticks_ms(), utime.ticks_us(), utime.ticks_cpu()]
            print("in range:%s" % all(0 <= v < P for v in t))
            a = utime.ticks_ms(); utime.sleep_ms(20); b = utime.ticks_ms()
            print("elapsed:%s" % (utime.ticks_diff(b, a) >= 20))
            a = utime.ticks_us(); utime.sleep_us(2000); b = utime.ticks_us()
            print("elapsed us:%s" % (utime.ticks_diff(b, a) >= 2000))
            utime.sleep_ms(-5); utime.sleep_us(0); utime.sleep(0.01)
            try:
                utime.sleep_ms(1.5)
            except TypeError:
                print("sleep_ms takes ints")
        """)
        self.assertEqual(ct.printed(out, "period"), 1 << 30)
        self.assertEqual(ct.printed(out, "diff"), [10, -10, 0, (1 << 29) - 1, -(1 << 29)])
        self.assertEqual(ct.printed(out, "add"), [0, (1 << 30) - 1, (1 << 30) - 10])
        self.assertEqual(out.count("overflow"), 2)
        for label in ("in range", "elapsed", "elapsed us"):
            self.assertEqual(ct.printed(out, label), True, label)
        self.assertIn("sleep_ms takes ints", out)

    def test_calendar(self):
        out = self.run_utime("""\
            import time
            before = int(time.time()); now = utime.time(); after = int(time.time())
            print("time:%s" % (before <= now <= after))
            print("now:%s" % (utime.localtime() in (utime.localtime(now), utime.localtime(now + 1)),))
            print("epoch:%s" % (utime.localtime(0),))
            print("back:%d" % utime.mktime(utime.localtime(0)))
            print("nine:%d" % utime.mktime((2024, 2, 29, 12, 0, 0, 3, 60, 0)))
            print("zone:%d" % utime.getTimeZone())
            print("set:%d" % utime.setTimeZone(-5))
            print("zone:%d" % utime.getTimeZone())
            print("epoch:%s" % (utime.localtime(0),))
            print("back:%d" % utime.mktime(utime.localtime(0)))
            for bad in (13, -13):
                try:
                    utime.setTimeZone(bad)
                except ValueError:
                    print("bad zone")
            try:
                utime.mktime((2024, 1, 1))
            except TypeError as e:
                print("short:%s" % e)
        """)
        self.assertEqual(ct.printed(out, "time"), True)
        self.assertEqual(ct.printed(out, "now"), True)
        epochs = [line for line in out.splitlines() if line.startswith("epoch:")]
        # (year, month, mday, hour, minute, second, weekday from Monday, yearday)
        self.assertEqual(epochs, ["epoch:(1970, 1, 1, 2, 0, 0, 3, 1)", "epoch:(1969, 12, 31, 19, 0, 0, 2, 365)"])
        self.assertEqual([line for line in out.splitlines() if line.startswith("back:")], ["back:0", "back:0"])
        self.assertEqual(ct.printed(out, "nine"), 1709200800)  # 2024-02-29 10:00 UTC
        self.assertEqual([line for line in out.splitlines() if line.startswith("zone:")], ["zone:2", "zone:-5"])
        self.assertEqual(ct.printed(out, "set"), 0)
        self.assertEqual(out.count("bad zone"), 2)
        self.assertIn("tuple of length 8 or 9 (3 given)", out)


class WaitNetworkReady(unittest.TestCase):
    """checkNet.waitNetworkReady in this process, against fakes on a private system bus; no
    esimd, so the modem with the lowest number is the one checked."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bus = PrivateBus(cls.tmp.name, (BUS_POLICY, fakebus.BUS_POLICY))
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = cls.bus.address
        from sim.qpy import checkNet
        cls.check = staticmethod(checkNet.waitNetworkReady)

    @classmethod
    def tearDownClass(cls):
        cls.bus.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.mm = self.nm = None

    def tearDown(self):
        for fake in (self.mm, self.nm):
            if fake:
                fake.stop()

    def start(self, modem=None, nm=None):
        """ModemManager with one modem of these properties (None: no modem), NetworkManager in
        this state and connectivity (None: not running)."""
        self.mm = fakemm.FakeModemManager(self.bus.address)
        self.modem = self.mm.add_modem(ports=[("cdc-wdm0", fakemm.PORT_QMI)], **modem) if modem is not None else None
        if nm is not None:
            self.nm = fakenm.FakeNetworkManager(self.bus.address, state=nm[0], connectivity=nm[1])

    def timed(self, timeout):
        start = time.monotonic()
        result = self.check(timeout)
        return result, time.monotonic() - start

    def waits(self, expected, timeout=1):
        """Not ready: the stage and state after the whole timeout."""
        result, elapsed = self.timed(timeout)
        self.assertEqual(result, expected)
        self.assertGreaterEqual(elapsed, timeout)

    def at_once(self, expected):
        """Settled: the answer before the timeout."""
        result, elapsed = self.timed(60)
        self.assertEqual(result, expected)
        self.assertLess(elapsed, 60)

    def test_timeout_argument(self):
        for bad in (0, 3601, -1, 1.5, True, "10", None):
            with self.assertRaises(OSError, msg=repr(bad)):
                self.check(bad)

    def test_nothing_to_ask(self):
        self.waits((1, 21))  # no ModemManager
        self.start()
        self.waits((1, 21))  # no modem

    def test_sim(self):
        self.start(dict(state=fakemm.STATE_FAILED, StateFailedReason=fakemm.FAILED_SIM_MISSING))
        self.at_once((1, 0))
        self.modem.set(StateFailedReason=fakemm.FAILED_ESIM_WITHOUT_PROFILES)
        self.waits((1, 20))
        self.modem.set(StateFailedReason=fakemm.FAILED_SIM_ERROR)
        self.waits((1, 20))
        self.modem.set(StateFailedReason=fakemm.FAILED_UNKNOWN)
        self.waits((1, 21))
        self.modem.set(State=fakemm.STATE_INITIALIZING)
        self.waits((1, 18))
        for lock, status in ((fakemm.LOCK_SIM_PIN, 2), (fakemm.LOCK_SIM_PUK, 3), (fakemm.LOCK_SIM_PIN2, 8),
                             (8, 10), (12, 17)):  # PH_NET_PIN, PH_CORP_PUK
            self.modem.set(State=fakemm.STATE_LOCKED, UnlockRequired=lock)
            self.at_once((1, status))
        self.modem.set(UnlockRequired=fakemm.LOCK_UNKNOWN)
        self.waits((1, 21))

    def test_registration(self):
        self.start(dict(state=fakemm.STATE_DISABLED, registration=fakemm.REG_IDLE))
        self.waits((2, 0))
        for state, registration in ((fakemm.STATE_SEARCHING, fakemm.REG_SEARCHING),
                                    (fakemm.STATE_ENABLED, fakemm.REG_DENIED),
                                    (fakemm.STATE_ENABLED, fakemm.REG_UNKNOWN),
                                    (fakemm.STATE_ENABLED, 6)):  # registered for SMS only: no data
            self.modem.set(State=state, RegistrationState=registration)
            self.waits((2, registration))
        for registration in (fakemm.REG_HOME, fakemm.REG_ROAMING, 9, 10):
            self.modem.set(State=fakemm.STATE_REGISTERED, RegistrationState=registration)
            self.waits((3, 0))

    def test_registration_without_3gpp(self):
        self.start()
        modem = self.mm.add_modem(three_gpp=False, state=fakemm.STATE_SEARCHING)
        self.waits((2, 2))
        modem.set(State=fakemm.STATE_ENABLED)
        self.waits((2, 0))
        modem.set(State=fakemm.STATE_REGISTERED)
        self.waits((3, 0))
        modem.set(State=fakemm.STATE_CONNECTED)
        self.at_once((3, 1))

    def test_data(self):
        connected = dict(state=fakemm.STATE_CONNECTED, registration=fakemm.REG_HOME)
        self.start(connected)  # no NetworkManager: the modem's connection decides
        self.at_once((3, 1))
        self.nm = fakenm.FakeNetworkManager(self.bus.address, state=fakenm.STATE_CONNECTED_SITE,
                                            connectivity=fakenm.CONNECTIVITY_LIMITED)
        self.waits((3, 0))
        for state, connectivity, ready in (
                (fakenm.STATE_CONNECTED_GLOBAL, fakenm.CONNECTIVITY_FULL, True),
                (fakenm.STATE_CONNECTED_GLOBAL, fakenm.CONNECTIVITY_UNKNOWN, True),  # checks disabled
                (fakenm.STATE_CONNECTED_SITE, fakenm.CONNECTIVITY_UNKNOWN, False),
                (fakenm.STATE_CONNECTED_SITE, fakenm.CONNECTIVITY_PORTAL, False),
                (fakenm.STATE_DISCONNECTED, fakenm.CONNECTIVITY_NONE, False)):
            self.nm.manager.set(State=state, Connectivity=connectivity)
            if ready:
                self.at_once((3, 1))
            else:
                self.waits((3, 0))
        # online, but not through the modem: its data connection is down
        self.nm.manager.set(State=fakenm.STATE_CONNECTED_GLOBAL, Connectivity=fakenm.CONNECTIVITY_FULL)
        self.modem.set(State=fakemm.STATE_REGISTERED)
        self.waits((3, 0))

    def ready_while_waiting(self, change):
        """Starts waiting (timeout 60 s), makes CHANGE; the answer, and that it came before the
        timeout (it came from the change)."""
        from sim.qpy import checkNet
        out = {}
        waiting = threading.Event()
        look = checkNet._Watch.wait

        def wait(watch, seconds):
            waiting.set()
            return look(watch, seconds)

        with mock.patch.object(checkNet._Watch, "wait", wait):
            waiter = threading.Thread(target=lambda: out.update(result=self.timed(60)))
            waiter.start()
            # the change comes after its first look found the system not ready
            self.assertTrue(waiting.wait(60))
            change()
            waiter.join(90)
        result, elapsed = out["result"]
        self.assertEqual(result, (3, 1))
        self.assertLess(elapsed, 60)

    def test_answers_as_soon_as_ready(self):
        self.start(dict(state=fakemm.STATE_SEARCHING, registration=fakemm.REG_SEARCHING),
                   nm=(fakenm.STATE_CONNECTED_GLOBAL, fakenm.CONNECTIVITY_FULL))
        self.ready_while_waiting(lambda: self.modem.set(State=fakemm.STATE_CONNECTED,
                                                        RegistrationState=fakemm.REG_HOME))

    def test_answers_when_modemmanager_comes(self):
        self.ready_while_waiting(lambda: self.start(dict(state=fakemm.STATE_CONNECTED,
                                                         registration=fakemm.REG_HOME)))

    def test_the_firmware_s_other_names(self):
        from sim.qpy import checkNet
        self.start(dict(state=fakemm.STATE_CONNECTED, registration=fakemm.REG_HOME, Revision="EC25EFAR06A06M4G"))
        check = checkNet.CheckNetwork("SwitchOperator", "1.0.2")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            check.poweron_print_once()
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[1:-1], ["PROJECT_NAME     : SwitchOperator", "PROJECT_VERSION  : 1.0.2",
                                       "FIRMWARE_VERSION : EC25EFAR06A06M4G", "POWERON_REASON   : unknown",
                                       "SIM_CARD_STATUS  : 1"])
        self.assertEqual(check.wait_network_connected(30), (3, 1))
        self.assertEqual(checkNet.wait_network_connected(30), (3, 1))
        self.modem.set(State=fakemm.STATE_LOCKED, UnlockRequired=fakemm.LOCK_SIM_PIN)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            check.poweron_print_once()
        self.assertIn("SIM_CARD_STATUS  : 2", out.getvalue())

    def test_no_system_bus(self):
        proc = ct.run(["-c", "from sim.qpy import checkNet; print('result:%s' % (checkNet.waitNetworkReady(60),))"],
                      NO_BUS)
        self.assertEqual(proc.returncode, 0, ct.describe(proc))
        self.assertEqual(ct.printed(proc.stdout, "result"), (1, 21))
        self.assertIn("cannot reach the system bus", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
