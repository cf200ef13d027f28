/* es11.h — ES11 (LPA ↔ SM-DS) over HTTPS/JSON: event discovery requests and responses. */
#pragma once

#include <glib.h>

#include "es9p.h"

G_BEGIN_DECLS

/* The SGP.22 ES11 paths, and the ES9+ paths lpac (and the GSMA root SM-DS in practice) use for
 * the same two functions; discovery.h falls back from one family to the other on HTTP 404. */
#define LPA_ES11_INITIATE_AUTHENTICATION "/gsma/rsp2/es11/initiateAuthentication"
#define LPA_ES11_AUTHENTICATE_CLIENT     "/gsma/rsp2/es11/authenticateClient"

/* initiateAuthentication: like ES9+, the address member is "smdsAddress" on the ES11 path and
 * "smdpAddress" on the ES9+ one (@es11_member selects). */
GBytes *lpa_es11_initiate_authentication_request (GBytes *euicc_challenge, GBytes *euicc_info1,
                                                  const char *smds_address, gboolean es11_member);
/* authenticateClient: {"transactionId", "authenticateServerResponse"} as in ES9+. */
GBytes *lpa_es11_authenticate_client_request (const char *transaction_id,
                                              GBytes *authenticate_server_response);

typedef struct
{
  char *event_id;
  char *rsp_server_address;
} LpaEventEntry;

typedef struct
{
  char *transaction_id;
  GBytes *transaction_id_bin;
  GPtrArray *events; /* LpaEventEntry, possibly empty */
  guint skipped;     /* entries left out: not an object, a member missing, no host name, an
                      * event ID no download takes, beyond LPA_ES11_MAX_EVENTS */
} LpaEs11AuthenticateClientResponse;

void lpa_event_entry_free (LpaEventEntry *entry);
void lpa_es11_authenticate_client_response_free (LpaEs11AuthenticateClientResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaEs11AuthenticateClientResponse,
                               lpa_es11_authenticate_client_response_free)

/* At most this many events are kept from one answer, in its order; the others are skipped. */
#define LPA_ES11_MAX_EVENTS 64

/* {"transactionId", "eventEntries": [{"eventId", "rspServerAddress"}…]}; a missing eventEntries
 * means no events. An entry that cannot be used (its eventId not a matching ID that
 * lpa_matching_id_problem() accepts, or empty; its rspServerAddress no host name) is left out
 * and counted in skipped, so one bad event does not hide the others; when every entry is bad
 * the answer is LPA_ERROR_MALFORMED.
 * Errors as in es9p.h (subject 8.9.5 maps to LPA_ERROR_MATCHING_ID_REFUSED). */
LpaEs11AuthenticateClientResponse *lpa_es11_parse_authenticate_client (guint status, GBytes *body,
                                                                       GError **error);

G_END_DECLS
