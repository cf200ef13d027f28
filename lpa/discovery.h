/* discovery.h — SM-DS event discovery (ES11, digest §8) as a state machine over LpaEs10 and
 * LpaHttpOps. */
#pragma once

#include <glib.h>

#include "apdu.h"
#include "es10b.h"
#include "es11.h"
#include "transport.h"

G_BEGIN_DECLS

/* Which path family to call first. SGP.22 specifies /gsma/rsp2/es11/…; lpac and (reportedly) the
 * GSMA root SM-DS use the /gsma/rsp2/es9plus/… paths. With a *_FIRST choice an HTTP 404 on a
 * function retries it on the other family. */
typedef enum
{
  LPA_DISCOVERY_PATHS_ES11_FIRST,
  LPA_DISCOVERY_PATHS_ES9PLUS_FIRST,
  LPA_DISCOVERY_PATHS_ES11_ONLY,
  LPA_DISCOVERY_PATHS_ES9PLUS_ONLY,
} LpaDiscoveryPaths;

typedef struct
{
  const char *smds_address; /* e.g. rootDsAddress from GetEuiccConfiguredAddresses */
  const char *imei;         /* NULL or 15 digits */
  const LpaDeviceCapabilities *device_capabilities; /* NULL = default set */
  GBytes *euicc_info1;                              /* cached BF20, NULL = read it */
  LpaDiscoveryPaths paths;
} LpaDiscoveryParams;

/* @events: LpaEventEntry (borrowed; possibly empty) on success. For each, run a download with
 * smdp_address = rsp_server_address and matching_id = event_id. Errors as for the download's
 * authentication steps; an AuthenticateServer refusal is still forwarded to the SM-DS and then
 * reported ("AuthenticateServer: …"). Exactly once, never from inside an lpa_discovery_* call. */
/* @events: the usable events (NULL on error); @skipped: the SM-DS's entries left out as unusable
 * (es11.h). */
typedef void (*LpaDiscoveryCallback) (gpointer user_data, GPtrArray *events, guint skipped,
                                      const GError *error);

typedef struct _LpaDiscovery LpaDiscovery;

LpaDiscovery *lpa_discovery_new (const LpaDiscoveryParams *params, LpaEs10 *es10,
                                 const LpaHttpOps *http, gpointer http_self,
                                 LpaDiscoveryCallback callback, gpointer user_data, GError **error);
void lpa_discovery_start (LpaDiscovery *self);
/* Stops at the next step with LPA_ERROR_CANCELLED. An SM-DS session needs no Cancel Session:
 * the next GetEUICCChallenge replaces the eUICC's. */
void lpa_discovery_cancel (LpaDiscovery *self);
void lpa_discovery_free (LpaDiscovery *self);

G_END_DECLS
