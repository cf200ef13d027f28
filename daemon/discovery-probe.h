/* discovery-probe.h — is there an eUICC behind a port? Asked before anything is exported.
 *
 * A probe connects to the port with the transport the port speaks, lists the modem's SIM slots,
 * opens a logical channel to the ISD-R in the active slot and reads the EID (ES10c GetEID), then
 * releases the port. An eUICC in a slot the modem does not use is found from what the modem says
 * of that slot (QMI reports the EID of every slot). Nothing on the card is changed. */
#pragma once

#include <gio/gio.h>

#include "config.h"

G_BEGIN_DECLS

typedef struct
{
  guint slot;      /* the physical slot, 1-based; 0 when the modem has no slot list */
  gboolean active; /* the modem uses that slot: its ISD-R answered */
  char *eid;       /* 32 digits */
} EsimdProbedEuicc;

typedef struct
{
  GPtrArray *euiccs; /* EsimdProbedEuicc*, by slot; empty: no eUICC behind the port */
  guint slots;       /* how many slots the modem has (1 when it cannot say) */
  guint active_slot; /* the slot the modem uses (0: it cannot say) */
  char *no_isdr;     /* why the active slot has no eUICC (for the log), or NULL */
  /* Bit n-1: inactive slot n holds a card the modem cannot name (MBIM says a card is there, not
   * whose): an eUICC known to be there is there still. */
  guint32 unnamed_slots;
} EsimdProbeResult;

void esimd_probe_result_free (EsimdProbeResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdProbeResult, esimd_probe_result_free)

/* Probes the port @config describes (borrowed until the callback ran), giving up after @timeout
 * seconds or when @cancellable is cancelled. Fails only when the port could not be asked (not
 * reachable, timed out, the modem calls its active slot an eUICC but its ISD-R does not answer): a
 * port that answered and has no eUICC is a result with no euiccs. */
void esimd_probe_run (const EsimdModemConfig *config, guint timeout, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data);
EsimdProbeResult *esimd_probe_finish (GAsyncResult *result, GError **error);

G_END_DECLS
