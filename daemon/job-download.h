/* job-download.h — a profile download (and optional nickname + enable) as a queued job. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* Validates the Download() arguments before anything is queued: the activation code (or the
 * smdp_address/matching_id options), the confirmation code (required when the activation
 * code says so), the IMEI and the nickname. NULL with LPA_ERROR_INVALID_ACTIVATION_CODE,
 * LPA_ERROR_CONFIRMATION_CODE_REQUIRED or LPA_ERROR_INVALID_ARGUMENT otherwise. */
EsimdJob *esimd_job_download_new (EsimdEuicc *euicc, const char *activation_code,
                                  const char *confirmation_code, GVariant *options, GError **error);

G_END_DECLS
