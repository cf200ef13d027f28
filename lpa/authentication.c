/* authentication.c — Common Mutual Authentication up to ES10b.AuthenticateServer, shared by the
 * download (ES9+) and discovery (ES11) procedures. */
#include "authentication.h"

#include <string.h>

#include "cert.h"
#include "es11.h"
#include "es9p.h"
#include "lpa-error.h"
#include "secret.h"
#include "text.h"

struct _LpaAuthentication
{
  gboolean abandoned;
  gboolean cancelled;

  LpaEs10 *es10;
  const LpaHttpOps *http;
  gpointer http_self;
  LpaAuthenticationCallback callback;
  gpointer user_data;

  char *server_address;
  char *matching_id;
  char *imei;
  guint8 tac[4];
  gboolean has_tac;
  LpaDeviceCapabilities caps;
  gboolean has_caps;
  char *expected_oid;
  GBytes *cached_info1;
  LpaInitiatePath *paths;
  guint n_paths;

  guint path_index;
  GBytes *challenge;
  LpaEuiccInfo1 *info1;
  LpaInitiateAuthenticationResponse *init;
};

void
lpa_authentication_result_free (LpaAuthenticationResult *result)
{
  if (result == NULL)
    return;
  g_free (result->transaction_id);
  g_clear_pointer (&result->transaction_id_bin, g_bytes_unref);
  lpa_signed_response_free (result->authenticate_server);
  g_clear_pointer (&result->server_certificate, g_bytes_unref);
  g_free (result);
}

static LpaAuthentication *
auth_ref (LpaAuthentication *self)
{
  return g_rc_box_acquire (self);
}

static void
auth_clear (LpaAuthentication *self)
{
  lpa_es10_unref (self->es10);
  g_free (self->server_address);
  lpa_secret_free (self->matching_id);
  g_free (self->imei);
  g_free (self->expected_oid);
  g_clear_pointer (&self->cached_info1, g_bytes_unref);
  for (guint i = 0; i < self->n_paths; i++)
    g_free ((char *) self->paths[i].path);
  g_free (self->paths);
  g_clear_pointer (&self->challenge, g_bytes_unref);
  lpa_euicc_info1_free (self->info1);
  lpa_initiate_authentication_response_free (self->init);
}

static void
auth_unref (LpaAuthentication *self)
{
  g_rc_box_release_full (self, (GDestroyNotify) auth_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaAuthentication, auth_unref)

LpaAuthentication *
lpa_authentication_new (const LpaAuthenticationParams *params, LpaEs10 *es10,
                        const LpaHttpOps *http, gpointer http_self,
                        LpaAuthenticationCallback callback, gpointer user_data)
{
  LpaAuthentication *self;

  g_return_val_if_fail (params->n_paths > 0, NULL);
  self = g_rc_box_new0 (LpaAuthentication);
  self->es10 = lpa_es10_ref (es10);
  self->http = http;
  self->http_self = http_self;
  self->callback = callback;
  self->user_data = user_data;
  self->server_address = g_strdup (params->server_address);
  self->matching_id = g_strdup (params->matching_id);
  self->imei = g_strdup (params->imei);
  self->expected_oid = g_strdup (params->expected_oid);
  if (params->tac)
    {
      memcpy (self->tac, params->tac, 4);
      self->has_tac = TRUE;
    }
  if (params->caps)
    {
      self->caps = *params->caps;
      self->has_caps = TRUE;
    }
  if (params->euicc_info1)
    self->cached_info1 = g_bytes_ref (params->euicc_info1);
  self->paths = g_new0 (LpaInitiatePath, params->n_paths);
  self->n_paths = params->n_paths;
  for (guint i = 0; i < params->n_paths; i++)
    {
      self->paths[i].path = g_strdup (params->paths[i].path);
      self->paths[i].smds_member = params->paths[i].smds_member;
    }
  return self;
}

void
lpa_authentication_cancel (LpaAuthentication *self)
{
  self->cancelled = TRUE;
}

void
lpa_authentication_free (LpaAuthentication *self)
{
  if (self == NULL)
    return;
  self->abandoned = TRUE;
  self->callback = NULL;
  auth_unref (self);
}

static void
deliver (LpaAuthentication *self, LpaAuthenticationResult *result, const GError *error)
{
  if (!self->abandoned && self->callback)
    self->callback (self->user_data, result, error);
  else
    lpa_authentication_result_free (result);
}

static void fail (LpaAuthentication *self, LpaError code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
fail (LpaAuthentication *self, LpaError code, const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (LPA_ERROR, code, format, args);
  va_end (args);
  deliver (self, NULL, error);
}

/* TRUE if the procedure should go on: not abandoned, and not cancelled (then it reports that). */
static gboolean
proceed (LpaAuthentication *self)
{
  if (self->abandoned)
    return FALSE;
  if (self->cancelled)
    {
      fail (self, LPA_ERROR_CANCELLED, "mutual authentication cancelled");
      return FALSE;
    }
  return TRUE;
}

/* The start of each completion: FALSE when abandoned or the step failed (then reported). */
static gboolean
step_done (LpaAuthentication *self, const GError *error)
{
  if (self->abandoned)
    return FALSE;
  if (error)
    {
      deliver (self, NULL, error);
      return FALSE;
    }
  return TRUE;
}

/* Sends an ES10 request; a request the channel cannot carry fails the procedure. */
static void
es10_call (LpaAuthentication *self, GBytes *request, LpaEs10Callback callback)
{
  g_autoptr (GError) error = NULL;

  if (!lpa_es10_call (self->es10, request, callback, auth_ref (self), &error))
    {
      auth_unref (self);
      deliver (self, NULL, error);
    }
}

static void on_challenge (GBytes *response, const GError *error, gpointer user_data);
static void on_info1 (GBytes *response, const GError *error, gpointer user_data);
static void on_initiate (guint status, GBytes *body, const GError *error, gpointer user_data);
static void on_authenticate_server (GBytes *response, const GError *error, gpointer user_data);

void
lpa_authentication_start (LpaAuthentication *self)
{
  g_autoptr (GBytes) request = lpa_es10b_get_euicc_challenge_request ();

  es10_call (self, request, on_challenge);
}

static void
initiate (LpaAuthentication *self)
{
  const LpaInitiatePath *path = &self->paths[self->path_index];
  g_autoptr (GBytes) body = NULL;

  if (!proceed (self))
    return;
  body = lpa_es11_initiate_authentication_request (self->challenge, self->info1->raw,
                                                   self->server_address, path->smds_member);
  self->http->post (self->http_self, self->server_address, path->path, body, on_initiate,
                    auth_ref (self));
}

static void
on_challenge (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaAuthentication) self = user_data;
  g_autoptr (GError) local = NULL;

  g_autoptr (GError) named = lpa_es10_name_status_word (error, "GetEUICCChallenge");

  if (!step_done (self, named))
    return;
  if (!(self->challenge = lpa_es10b_parse_euicc_challenge (response, &local)))
    {
      deliver (self, NULL, local);
      return;
    }
  if (!proceed (self))
    return;
  if (self->cached_info1)
    {
      if (!(self->info1 = lpa_euicc_info1_parse (self->cached_info1, &local)))
        deliver (self, NULL, local);
      else
        initiate (self);
    }
  else
    {
      g_autoptr (GBytes) request = lpa_es10b_get_euicc_info1_request ();
      es10_call (self, request, on_info1);
    }
}

static void
on_info1 (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaAuthentication) self = user_data;
  g_autoptr (GError) local = NULL;

  g_autoptr (GError) named = lpa_es10_name_status_word (error, "GetEUICCInfo1");

  if (!step_done (self, named))
    return;
  if (!(self->info1 = lpa_euicc_info1_parse (response, &local)))
    {
      deliver (self, NULL, local);
      return;
    }
  initiate (self);
}

/* The LPA's own checks of digest §6.1 step 4; the eUICC enforces the security-relevant ones. */
static gboolean
check_server (LpaAuthentication *self, const char *function, GError **error)
{
  g_autoptr (LpaServerSigned1) signed1 = NULL;

  if (!(signed1 = lpa_server_signed1_parse (self->init->server_signed1, error)))
    return FALSE;
  if (!g_bytes_equal (signed1->transaction_id, self->init->transaction_id_bin))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                   "%s: transaction ID in serverSigned1 differs from transactionId", function);
      return FALSE;
    }
  if (!g_bytes_equal (signed1->euicc_challenge, self->challenge))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                   "%s: serverSigned1 carries another eUICC challenge", function);
      return FALSE;
    }
  if (g_ascii_strcasecmp (signed1->server_address, self->server_address) != 0)
    {
      /* The server's own text, unchecked (the eUICC has not seen it yet), headed for D-Bus and
       * the log: one line (a newline would forge a log line), no longer than a host name. */
      g_autofree char *claimed =
          lpa_text_sanitize (signed1->server_address, -1, 255, LPA_TEXT_ONE_LINE);

      g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED, "%s: server calls itself %s, not %s",
                   function, claimed, self->server_address);
      return FALSE;
    }
  {
    g_autoptr (GBytes) pkid = NULL;
    gsize len;
    const guint8 *data = g_bytes_get_data (self->init->euicc_ci_pkid, &len);
    LpaTlv tlv;

    /* Validated as one 04 TLV by the ES9+ parser. */
    lpa_der_parse (data, len, &tlv, NULL);
    pkid = lpa_der_value_bytes (self->init->euicc_ci_pkid, &tlv);
    if (!lpa_pkid_list_contains (self->info1->ci_pkids_signing, pkid))
      {
        g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                     "%s: euiccCiPKIdToBeUsed is not a key the eUICC signs with", function);
        return FALSE;
      }
  }
  if (self->expected_oid)
    {
      g_autofree char *oid = lpa_certificate_registered_id (self->init->server_certificate, error);

      if (oid == NULL)
        return FALSE;
      if (strcmp (oid, self->expected_oid) != 0)
        {
          g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                       "%s: SM-DP+ OID is %s, the activation code says %s", function, oid,
                       self->expected_oid);
          return FALSE;
        }
    }
  return TRUE;
}

static void
on_initiate (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaAuthentication) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) ctx = NULL;
  g_autoptr (GBytes) request = NULL;
  const char *function;
  LpaCtxParams1 ctx_params = { 0 };

  if (!step_done (self, error))
    return;
  if (status == 404 && self->path_index + 1 < self->n_paths)
    {
      self->path_index++;
      initiate (self);
      return;
    }
  function = self->paths[self->path_index].smds_member ? "ES11 initiateAuthentication"
                                                       : "initiateAuthentication";
  if (!(self->init = lpa_es9p_parse_initiate_authentication (function, status, body, &local)) ||
      !check_server (self, function, &local))
    {
      deliver (self, NULL, local);
      return;
    }
  if (!proceed (self))
    return;

  ctx_params.matching_id = self->matching_id;
  ctx_params.imei = self->imei;
  ctx_params.tac = self->has_tac ? self->tac : NULL;
  ctx_params.caps = self->has_caps ? &self->caps : NULL;
  if (!(ctx = lpa_es10b_ctx_params1 (&ctx_params, &local)) ||
      !(request = lpa_es10b_authenticate_server_request (
            self->init->server_signed1, self->init->server_signature1, self->init->euicc_ci_pkid,
            self->init->server_certificate, ctx, &local)))
    {
      deliver (self, NULL, local);
      return;
    }
  es10_call (self, request, on_authenticate_server);
}

static void
on_authenticate_server (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaAuthentication) self = user_data;
  g_autoptr (GError) local = NULL;
  LpaAuthenticationResult *result;
  LpaSignedResponse *parsed;

  g_autoptr (GError) named = lpa_es10_name_status_word (error, "AuthenticateServer");

  if (!step_done (self, named))
    return;
  if (!(parsed = lpa_es10b_parse_authenticate_server (response, &local)))
    {
      deliver (self, NULL, local);
      return;
    }
  result = g_new0 (LpaAuthenticationResult, 1);
  result->transaction_id = g_strdup (self->init->transaction_id);
  result->transaction_id_bin = g_bytes_ref (self->init->transaction_id_bin);
  result->authenticate_server = parsed;
  result->path_index = self->path_index;
  result->server_certificate = g_bytes_ref (self->init->server_certificate);
  deliver (self, result, NULL);
}
