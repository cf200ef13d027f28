/* bus-errors.h — THE table from esimd's failures to org.esim.Error.* names. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "esimd-error.h"

G_BEGIN_DECLS

#define ESIMD_ERROR_PREFIX "org.esim.Error."

#define ESIMD_BUS_ERROR_NOT_AUTHORIZED         ESIMD_ERROR_PREFIX "NotAuthorized"
#define ESIMD_BUS_ERROR_UNAVAILABLE            ESIMD_ERROR_PREFIX "Unavailable"
#define ESIMD_BUS_ERROR_BUSY                   ESIMD_ERROR_PREFIX "Busy"
#define ESIMD_BUS_ERROR_WRONG_JOB_STATE        ESIMD_ERROR_PREFIX "WrongJobState"
#define ESIMD_BUS_ERROR_NOTIFICATION_NOT_FOUND ESIMD_ERROR_PREFIX "NotificationNotFound"
#define ESIMD_BUS_ERROR_PROFILE_NOT_FOUND      ESIMD_ERROR_PREFIX "ProfileNotFound"
#define ESIMD_BUS_ERROR_CANCELLED              ESIMD_ERROR_PREFIX "Cancelled"

/* The org.esim.Error.* name (or org.freedesktop.DBus.Error.InvalidArgs) for a GError from
 * liblpa or esimd. Errors of other domains map to org.esim.Error.Failed. */
const char *esimd_bus_error_name (const GError *error);

/* Fills @ret_error from @error; returns the negative errno sd-bus handlers return. */
int esimd_bus_error_set (sd_bus_error *ret_error, const GError *error);

/* Every name this table can produce, NULL-terminated (the D-Bus docs list them all). */
const char *const *esimd_bus_error_all_names (void);

G_END_DECLS
