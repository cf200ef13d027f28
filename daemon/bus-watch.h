/* bus-watch.h — notices callers leaving the bus, every caller through one match rule. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* dbus-daemon allows a connection a bounded number of match rules (max_match_rules_per_connection,
 * 512 on the system bus), and sd-bus fails the whole connection when an AddMatch is refused: one
 * rule per caller, per job or per eUICC (sd_bus_track's way) would let the number of callers or
 * eUICCs take esimd off the bus. So one rule ("NameOwnerChanged to no owner") serves every watch,
 * and a table finds the watches of the name that left. */
typedef struct EsimdBusWatch EsimdBusWatch;
typedef void (*EsimdBusWatchFunc) (EsimdBusWatch *watch, gpointer user_data);

/* Adds the one match rule; before the name is requested, so no caller can come before it. */
int esimd_bus_watch_init (sd_bus *bus);

/* Watches the unique name @owner (a method call's sender). A watch made while the call is
 * handled cannot miss its sender leaving: the bus sends the NameOwnerChanged after the call. With
 * @func NULL the watch only remembers (esimd_bus_watch_gone()). @func may free the watch. */
EsimdBusWatch *esimd_bus_watch_new (const char *owner, EsimdBusWatchFunc func, gpointer user_data);

/* From now on, @func is called (at once, from the main loop, if the owner already left). */
void esimd_bus_watch_set_func (EsimdBusWatch *watch, EsimdBusWatchFunc func, gpointer user_data);

gboolean esimd_bus_watch_gone (const EsimdBusWatch *watch);
const char *esimd_bus_watch_owner (const EsimdBusWatch *watch);
void esimd_bus_watch_free (EsimdBusWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdBusWatch, esimd_bus_watch_free)

G_END_DECLS
