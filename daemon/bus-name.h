/* bus-name.h — owning org.esim, and saying plainly why it failed. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* Requests org.esim on @bus; @on_demand (an esimd that leaves when idle): another esimd started
 * without it may take the name over; else this one takes it from such an esimd. On failure returns
 * a negative errno and sets @error to the cause: another process owns the name (with its pid),
 * esimd does not run as root, or the bus has no policy letting root own it (whether the policy file
 * is installed where the system bus reads it, or the bus is a private one given by
 * DBUS_SYSTEM_BUS_ADDRESS). */
int esimd_bus_request_name (sd_bus *bus, gboolean on_demand, GError **error);
/* The pid of org.esim's owner on @bus; 0 when none owns it or the bus does not say. */
pid_t esimd_bus_name_owner_pid (sd_bus *bus);
/* Calls @lost when esimd no longer owns org.esim (another esimd took it over). */
int esimd_bus_watch_name_lost (sd_bus *bus, void (*lost) (void));

G_END_DECLS
