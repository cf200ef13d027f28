/* euicc-private.h — what the euicc*.c files share among themselves (not for jobs or front-ends). */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* euicc-queue.c: the job queue's begin/end hooks. */
extern const EsimdJobQueueHooks esimd_euicc_queue_hooks;

/* euicc-notify.c: between jobs (the queue ended one): stop if stopping, else announce
 * notifications, deliver them and cancel sessions left open. */
void esimd_euicc_after_job (EsimdEuicc *euicc, const EsimdJobOps *ended);

/* euicc.c: what every eUICC has from its creation, configured or discovered (all but its modem
 * and presence). */
void esimd_euicc_init (EsimdEuicc *euicc, guint index, EsimdModemConfig *config);

/* euicc.c: the last step of stopping: the modem keeps no channel or client of ours. */
void esimd_euicc_stop_transport (EsimdEuicc *euicc);

/* euicc.c: the availability callback every eUICC's modem reports to. */
void esimd_euicc_on_availability (EsimdModem *modem, gboolean available, const GError *reason,
                                  gpointer user_data);

/* euicc-modem.c: the running job ended while discovery lets the modem go (the queue's end). */
void esimd_euicc_replacement_continue (EsimdEuicc *euicc);
/* euicc-modem.c: frees what discovered eUICCs have; after the modem (euicc.c's free). */
void esimd_euicc_discovered_free (EsimdEuicc *euicc);

/* euicc-cache.c: the STORE DATA size learnt for this EID (state directory): load it once the EID
 * is known; an LpaEs10SegmentSizeFunc that remembers a smaller one. */
void esimd_euicc_load_segment_size (EsimdEuicc *euicc);
void esimd_euicc_segment_size_learnt (guint size, gpointer user_data);

G_END_DECLS
