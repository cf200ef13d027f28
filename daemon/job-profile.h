/* job-profile.h — jobs that change one profile: enable, disable, delete, set its nickname. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

typedef enum
{
  ESIMD_PROFILE_ENABLE,
  ESIMD_PROFILE_DISABLE,
  ESIMD_PROFILE_DELETE,
  ESIMD_PROFILE_SET_NICKNAME,
} EsimdProfileOp;

/* @iccid must be valid (checked by the caller); @nickname only for SET_NICKNAME. */
EsimdJob *esimd_job_profile_new (EsimdEuicc *euicc, EsimdProfileOp op, const char *iccid,
                                 const char *nickname);

G_END_DECLS
