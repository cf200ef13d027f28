/* job-discover.h — SM-DS discovery (ES11) as a queued job. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* @smds_address: NULL or "" for the eUICC's root SM-DS. */
EsimdJob *esimd_job_discover_new (EsimdEuicc *euicc, const char *smds_address);

G_END_DECLS
