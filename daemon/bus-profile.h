/* bus-profile.h — org.esim.Profile objects at /org/esim/euicc/N/profile/ICCID. */
#pragma once

#include <systemd/sd-bus.h>

#include "euicc.h"

G_BEGIN_DECLS

/* Registers the Profile objects and subscribes them to the model's profile-list announcements. */
int esimd_bus_profile_init (sd_bus *bus);

G_END_DECLS
