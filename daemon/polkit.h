/* polkit.h — asks polkit whether the sender of a D-Bus call may perform an action. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define ESIMD_ACTION_DOWNLOAD      "org.esim.download"
#define ESIMD_ACTION_MANAGE        "org.esim.manage-profiles"
#define ESIMD_ACTION_NOTIFICATIONS "org.esim.notifications"
/* Removing a notification undelivered: its operator never learns of the operation. */
#define ESIMD_ACTION_DISCARD_NOTIFICATIONS "org.esim.discard-notifications"
#define ESIMD_ACTION_RESET                 "org.esim.reset"
#define ESIMD_ACTION_REFRESH               "org.esim.refresh"
#define ESIMD_ACTION_SWITCH_SLOT           "org.esim.switch-slot"

/* @error is set when the answer is no, with the reason: ESIMD_ERROR_NOT_AUTHORIZED, or
 * ESIMD_ERROR_BUSY when too many of the caller's calls already wait for polkit's answer. */
typedef void (*EsimdPolkitFunc) (const GError *error, gpointer user_data);

typedef struct EsimdPolkitCheck EsimdPolkitCheck;

/* Root is always allowed, without asking. Anyone else is asked about through polkit; if polkit
 * is not running, the answer is no. The callback runs from the main loop (never from inside
 * this call). Each question has its own cancellation_id: when the caller leaves the bus before
 * the answer, polkit is told to forget it (CancelCheckAuthorization: an authentication agent's
 * dialog closes) and the answer is no. The check returned is valid until its callback runs. */
EsimdPolkitCheck *esimd_polkit_check (sd_bus_message *request, const char *action,
                                      EsimdPolkitFunc func, gpointer user_data);

/* The question no longer matters (what it was about is gone): polkit forgets it, and the
 * callback runs now with @error (taken). */
void esimd_polkit_cancel (EsimdPolkitCheck *check, GError *error);

/* esimd stops: every check not answered yet ends now, with ESIMD_ERROR_UNAVAILABLE. Called
 * while the bus is still there, so that their callers hear it. */
void esimd_polkit_stop (void);

G_END_DECLS
