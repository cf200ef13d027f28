/* authentication.h — Common Mutual Authentication up to ES10b.AuthenticateServer, shared by the
 * download (ES9+) and discovery (ES11) procedures. */
#pragma once

#include <glib.h>

#include "apdu.h"
#include "es10b.h"
#include "euicc-info.h"
#include "transport.h"

G_BEGIN_DECLS

/* One way to call initiateAuthentication: the path, and whether the address member is
 * "smdsAddress" (ES11) rather than "smdpAddress". */
typedef struct
{
  const char *path;
  gboolean smds_member;
} LpaInitiatePath;

typedef struct
{
  const char *server_address; /* FQDN the server must name in serverSigned1 */
  const char *matching_id;    /* NULL: none */
  const char *imei;           /* NULL or 15 digits */
  const guint8 *tac;          /* see LpaCtxParams1 */
  const LpaDeviceCapabilities *caps;
  const char *expected_oid;     /* NULL: not checked */
  GBytes *euicc_info1;          /* cached BF20, NULL: read it */
  const LpaInitiatePath *paths; /* tried in order, the next one after an HTTP 404 */
  guint n_paths;
} LpaAuthenticationParams;

typedef struct
{
  char *transaction_id; /* hex, as the server sent it */
  GBytes *transaction_id_bin;
  LpaSignedResponse *authenticate_server; /* ok or error alternative */
  guint path_index;                       /* which LpaInitiatePath answered */
  GBytes *server_certificate;
} LpaAuthenticationResult;

void lpa_authentication_result_free (LpaAuthenticationResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaAuthenticationResult, lpa_authentication_result_free)

/* @result (transfer full) when AuthenticateServer answered, whichever alternative; otherwise
 * @error: the failed step's error, LPA_ERROR_UNEXPECTED for a failed LPA check (transaction ID,
 * challenge, server address, CI key, SM-DP+ OID), or LPA_ERROR_CANCELLED. Never called from
 * inside lpa_authentication_start() or _cancel(). */
typedef void (*LpaAuthenticationCallback) (gpointer user_data, LpaAuthenticationResult *result,
                                           const GError *error);

typedef struct _LpaAuthentication LpaAuthentication;

/* @params is copied. */
LpaAuthentication *lpa_authentication_new (const LpaAuthenticationParams *params, LpaEs10 *es10,
                                           const LpaHttpOps *http, gpointer http_self,
                                           LpaAuthenticationCallback callback, gpointer user_data);
void lpa_authentication_start (LpaAuthentication *self);
/* Stops before the next step (an AuthenticateServer already sent still completes). */
void lpa_authentication_cancel (LpaAuthentication *self);
/* Drops the caller's reference; no callback runs after this. */
void lpa_authentication_free (LpaAuthentication *self);

G_END_DECLS
