/* bus.h — the D-Bus front-end as a whole: its connection, and its objects put on it. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The system bus connection the org.esim objects live on (set by main once connected). */
extern sd_bus *esimd_bus;

/* Registers every org.esim object (Manager, Profile, Job, the ObjectManager) on @bus and
 * subscribes them to the model's announcements. Once, before any eUICC starts. */
int esimd_bus_init (sd_bus *bus);

G_END_DECLS
