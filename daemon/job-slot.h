/* job-slot.h — switching a modem's active SIM slot, as a job. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* Makes physical slot @slot of @target's modem the active one. Runs on @queue_of's queue (the
 * eUICC whose card the switch takes away; see esimd_discovery_switch_queue()). */
EsimdJob *esimd_job_switch_slot_new (EsimdEuicc *queue_of, EsimdEuicc *target, guint slot);

G_END_DECLS
