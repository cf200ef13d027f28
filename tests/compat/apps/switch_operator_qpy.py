# A "switch operator" application in the style of the vendor's QuecPython applications: the
# work runs in a thread started with _thread.start_new_thread() and the main script ends at
# once, as on the module's firmware; it imports the firmware's utime, checkNet and atcmd (the
# last unused, as in the vendor's code). The activation code is the test world's. It runs on
# Linux through the runner: python3 -m sim.run switch_operator_qpy.py
import _thread
import utime
import checkNet
import atcmd  # noqa: F401 (the vendor's applications import it; this one sends no AT command)
from sim import esim

PROJECT_NAME = 'QuecPython_eSIM_SwitchOperator'
PROJECT_VERSION = '1.0.0'
ACTIVATION_CODE = 'LPA:1$testsmdpplus1.example.com$NEW-OPERATOR'
CONFIRMATION_CODE = ''

ota_result = None


def on_ota_result(result):
    global ota_result
    ota_result = result


def log(msg):
    t = utime.localtime()
    print('[{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}] {}'.format(t[0], t[1], t[2], t[3], t[4], t[5], msg))


def switch_operator():
    stage, state = checkNet.waitNetworkReady(30)
    if stage == 3 and state == 1:
        log('network ready')
    else:
        log('network not ready, stage:{} state:{}'.format(stage, state))
        return -1

    info = esim.getProfileInfo(1)
    if info == -1:
        log('get profile info failed!')
        return -1
    known = [p[0] for p in info[1]]
    old = [p[0] for p in info[1] if p[1] == 1]
    print('current profile:{}'.format(old))

    esim.setCallback(on_ota_result)
    start = utime.ticks_ms()
    if esim.profileOTA(ACTIVATION_CODE, CONFIRMATION_CODE) != 0:
        log('profileOTA failed to start!')
        return -1
    while ota_result is None:
        utime.sleep_ms(100)
    log('OTA result:{} after {} ms'.format(ota_result, utime.ticks_diff(utime.ticks_ms(), start)))
    if ota_result != 0:
        log('download failed; keeping the current profile')
        return -1

    new = [p[0] for p in esim.getProfileInfo(1)[1] if p[0] not in known]
    print('new profile:{}'.format(new[0]))
    if esim.profileHandle(0, new[0]) != 0:
        log('enable new profile failed!')
        return -1
    for iccid in old:
        if esim.profileHandle(2, iccid) != 0:
            log('delete old profile failed!')
            return -1
        print('deleted old profile:{}'.format(iccid))
    print('profile_list:{}'.format(esim.getProfileInfo(1)))
    return 0


def run():
    ret = switch_operator()
    print('switch operator {}'.format('succeed' if ret == 0 else 'failed'))


print('{} {} starting'.format(PROJECT_NAME, PROJECT_VERSION))
_thread.start_new_thread(run, ())
