"""atcmd: QuecPython's AT command module, for applications run by sim.run that import it.

Importing works; sending does not. On Linux the modem's ports belong to ModemManager and to
esimd, and a second writer on an AT port corrupts both sides' exchanges, so this stand-in sends
nothing and answers nothing: sendSync() raises NotAvailable saying so. What eSIM applications
sent AT commands for, esimd does itself: after enabling or disabling a profile it makes the
modem read the card again (Refresh= in esimd.conf), and the port settings of QEsimTool are the
[Modem NAME] section of esimd.conf.
"""

from . import NotAvailable

_WHY = ("AT commands are not available under sim.run: on Linux the modem's ports belong to "
        "ModemManager and esimd, and this stand-in for QuecPython's atcmd sends nothing. esimd "
        "refreshes the modem after enabling or disabling a profile itself (Refresh= in esimd.conf); "
        "for other modem settings use ModemManager (mmcli)")


def sendSync(atcmd, resp, include_str, timeout):
    raise NotAvailable(f"atcmd.sendSync({atcmd!r}): {_WHY}")


def __getattr__(name):
    raise AttributeError(f"module 'atcmd' has no attribute {name!r} ({_WHY})")
