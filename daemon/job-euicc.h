/* job-euicc.h — jobs about the eUICC as a whole: refresh, memory reset, default SM-DP+,
 * discarding a notification, cancelling sessions left open. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* Reads everything. @internal: started by esimd (modem appeared), not by a caller. */
EsimdJob *esimd_job_refresh_new (EsimdEuicc *euicc, gboolean internal);
EsimdJob *esimd_job_reset_memory_new (EsimdEuicc *euicc, guint options);
EsimdJob *esimd_job_set_default_smdp_new (EsimdEuicc *euicc, const char *address);
EsimdJob *esimd_job_remove_notification_new (EsimdEuicc *euicc, guint32 seq);
/* Common Cancel Session for every transaction esimd_euicc_open_sessions() lists (internal). */
EsimdJob *esimd_job_cancel_sessions_new (EsimdEuicc *euicc);

G_END_DECLS
