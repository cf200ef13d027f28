/* service.h — what esimd tells its service manager: watchdog pings, status and stopping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* When the service manager asked for a watchdog (WatchdogSec=), pings it from the main loop at
 * half the period, so a loop that no longer runs gets esimd restarted. Nothing otherwise: an
 * idle esimd wakes up for nothing. */
void esimd_service_watchdog_start (void);

/* A one-line STATUS= for `systemctl status`. */
void esimd_service_status (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* READY=1: org.esim is owned and served (for Type=notify units; ignored by Type=dbus ones). */
void esimd_service_ready (void);
/* STOPPING=1: esimd is releasing its modems. */
void esimd_service_stopping (void);

G_END_DECLS
