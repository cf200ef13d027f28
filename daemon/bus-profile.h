/* bus-profile.h — org.esim.Profile objects at /org/esim/euicc/N/profile/ICCID. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

int esimd_bus_profile_init (sd_bus *bus);

/* The eUICC's profile list changed from @old to euicc->profiles: emits InterfacesAdded/Removed
 * for profiles that came or went, PropertiesChanged for those that changed, and the Manager's
 * Profiles/ActiveProfile. */
void esimd_bus_profiles_update (EsimdEuicc *euicc, GPtrArray *old);

G_END_DECLS
