/* bus-source.h — attaches an sd-bus connection to the GLib main loop as one GSource. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_track, sd_bus_track_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_creds, sd_bus_creds_unref)

/* Called once when the connection fails for good (the daemon then exits: a bus-activated
 * service without its bus has nothing left to do). */
typedef void (*EsimdBusLostFunc) (int error, gpointer user_data);

/* Returns a new source holding a reference to @bus; attach it with g_source_attach(). Destroy
 * the source before the bus is closed. */
GSource *esimd_bus_source_new (sd_bus *bus, EsimdBusLostFunc lost, gpointer user_data);

G_END_DECLS
