/* bus-paths.h — the object paths of the model's eUICCs, profiles and jobs on the bus. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* /org/esim/euicc/N, N the eUICC's index. */
char *esimd_bus_euicc_path (EsimdEuicc *euicc);
/* The eUICC at exactly @path, or NULL (also for an eUICC that is not present). */
EsimdEuicc *esimd_bus_euicc_from_path (const char *path);
/* /org/esim/euicc/N/profile/ICCID */
char *esimd_bus_profile_path (EsimdEuicc *euicc, const char *iccid);
/* /org/esim/job/ID */
char *esimd_bus_job_path (EsimdJob *job);

G_END_DECLS
