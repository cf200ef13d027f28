/* bus-gvariant.h — moves values between GVariant (how esimd keeps data) and sd-bus messages. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Appends @value (any type D-Bus can carry) at the message's current position. */
int esimd_bus_append_gvariant (sd_bus_message *m, GVariant *value);

/* Reads the next complete value of the message (of signature @type, a single complete type)
 * into a new floating-free GVariant. */
int esimd_bus_read_gvariant (sd_bus_message *m, const char *type, GVariant **out);

G_END_DECLS
