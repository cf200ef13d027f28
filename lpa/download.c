/* download.c — the SGP.22 profile download (digest §6) as a state machine over LpaEs10 and
 * LpaHttpOps, with Common Cancel Session on every failure path. */
#include "download.h"

#include <string.h>

#include "activation-code.h"
#include "authentication.h"
#include "bpp.h"
#include "es9p.h"
#include "iccid.h"
#include "lpa-error.h"
#include "secret.h"
#include "text.h"

/* Overall progress reported with each stage; installing covers the rest by bytes. */
#define PROGRESS_AUTHENTICATED 0.10
#define PROGRESS_DOWNLOADING   0.15
#define PROGRESS_INSTALLING    0.25

typedef enum
{
  STATE_NEW,
  STATE_RUNNING,
  STATE_AWAITING_CONFIRMATION,
  STATE_AWAITING_CODE,
  STATE_LOADING,
  STATE_CANCELLING,
  STATE_DONE,
} State;

struct _LpaDownload
{
  gboolean abandoned;
  State state;

  LpaEs10 *es10;
  const LpaHttpOps *http;
  gpointer http_self;
  const LpaDownloadCallbacks *callbacks;
  gpointer user_data;

  char *smdp_address;
  char *matching_id;
  char *confirmation_code;
  char *imei;
  char *expected_oid;
  gboolean confirm;
  GBytes *euicc_info1;
  LpaDeviceCapabilities caps;
  gboolean has_caps;

  gboolean cancel_requested;
  LpaCancelSessionReason cancel_reason;
  gboolean session;                /* the eUICC holds a session: AuthenticateServer succeeded */
  gboolean session_ended_on_euicc; /* its ProfileInstallationResult, or a CancelSession refused */
  gboolean euicc_cancelled;        /* the eUICC answered CancelSession with its signed ok */
  gboolean server_ended;           /* the SM-DP+ answered Failed/Expired: its side is closed */
  gboolean loading_started;
  gboolean last_answer_lost; /* the whole last segment went, its answer did not come back */
  gboolean consent_required;

  LpaAuthentication *auth;
  char *transaction_id;
  GBytes *transaction_id_bin;
  GError *euicc_error; /* an error alternative being forwarded to the server */
  LpaAuthenticateClientResponse *client;
  LpaSmdpSigned2 *signed2;
  LpaProfileInfo *metadata;
  GBytes *stored_metadata; /* the BPP's BF25, once checked against the announced metadata */
  GBytes *prepare_request;
  GPtrArray *segments;
  guint segment;
  gsize bytes_total;
  gsize bytes_sent;

  GError *original_error; /* what the caller hears once a cancel completes */
  gboolean es9_cancel;
  double progress;
};

const char *
lpa_confirmation_code_problem (const char *cc)
{
  if (cc == NULL || *cc == '\0')
    return "the confirmation code is empty";
  if (!lpa_text_is_clean (cc, -1, LPA_TEXT_ONE_LINE))
    return "the confirmation code is not one line of text (invalid UTF-8 or a control character)";
  if (strlen (cc) > LPA_CONFIRMATION_CODE_MAX)
    return "the confirmation code is longer than 32 bytes";
  return NULL;
}

const char *
lpa_download_stage_name (LpaDownloadStage stage)
{
  switch (stage)
    {
    case LPA_DOWNLOAD_STAGE_AUTHENTICATING:
      return "authenticating";
    case LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION:
      return "awaiting-confirmation";
    case LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION_CODE:
      return "awaiting-confirmation-code";
    case LPA_DOWNLOAD_STAGE_DOWNLOADING:
      return "downloading";
    case LPA_DOWNLOAD_STAGE_INSTALLING:
      return "installing";
    case LPA_DOWNLOAD_STAGE_CANCELLING:
      return "cancelling";
    case LPA_DOWNLOAD_STAGE_DONE:
      return "done";
    }
  return "unknown";
}

void
lpa_download_result_free (LpaDownloadResult *result)
{
  if (result == NULL)
    return;
  g_free (result->iccid);
  g_clear_pointer (&result->isdp_aid, g_bytes_unref);
  lpa_profile_info_free (result->metadata);
  g_clear_pointer (&result->stored_metadata, g_bytes_unref);
  g_free (result->notification_address);
  g_free (result->smdp_oid);
  g_clear_pointer (&result->profile_installation_result, g_bytes_unref);
  g_free (result);
}

static LpaDownload *
dl_ref (LpaDownload *self)
{
  return g_rc_box_acquire (self);
}

static void
dl_clear (LpaDownload *self)
{
  lpa_authentication_free (self->auth);
  lpa_es10_unref (self->es10);
  g_free (self->smdp_address);
  lpa_secret_free (self->matching_id);
  lpa_secret_free (self->confirmation_code);
  g_free (self->imei);
  g_free (self->expected_oid);
  g_clear_pointer (&self->euicc_info1, g_bytes_unref);
  g_free (self->transaction_id);
  g_clear_pointer (&self->transaction_id_bin, g_bytes_unref);
  g_clear_error (&self->euicc_error);
  lpa_authenticate_client_response_free (self->client);
  lpa_smdp_signed2_free (self->signed2);
  lpa_profile_info_free (self->metadata);
  g_clear_pointer (&self->stored_metadata, g_bytes_unref);
  g_clear_pointer (&self->prepare_request, g_bytes_unref);
  g_clear_pointer (&self->segments, g_ptr_array_unref);
  g_clear_error (&self->original_error);
}

static void
dl_unref (LpaDownload *self)
{
  g_rc_box_release_full (self, (GDestroyNotify) dl_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaDownload, dl_unref)

LpaDownload *
lpa_download_new (const LpaDownloadParams *params, LpaEs10 *es10, const LpaHttpOps *http,
                  gpointer http_self, const LpaDownloadCallbacks *callbacks, gpointer user_data,
                  GError **error)
{
  LpaDownload *self;

  g_return_val_if_fail (params && es10 && http && callbacks && callbacks->finished, NULL);
  if (params->smdp_address == NULL || !lpa_host_name_is_valid (params->smdp_address))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "SM-DP+ address is not a host name");
      return NULL;
    }
  if (params->imei)
    {
      guint8 bcd[8];
      if (!lpa_imei_to_bcd (params->imei, bcd, error))
        return NULL;
    }
  if (params->matching_id && *params->matching_id && lpa_matching_id_problem (params->matching_id))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           lpa_matching_id_problem (params->matching_id));
      return NULL;
    }
  if (params->confirmation_code && lpa_confirmation_code_problem (params->confirmation_code))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           lpa_confirmation_code_problem (params->confirmation_code));
      return NULL;
    }

  self = g_rc_box_new0 (LpaDownload);
  self->es10 = lpa_es10_ref (es10);
  self->http = http;
  self->http_self = http_self;
  self->callbacks = callbacks;
  self->user_data = user_data;
  self->smdp_address = g_strdup (params->smdp_address);
  /* lpac omits an empty matching ID and servers read absent and empty alike. */
  if (params->matching_id && params->matching_id[0])
    self->matching_id = g_strdup (params->matching_id);
  self->confirmation_code = g_strdup (params->confirmation_code);
  self->imei = g_strdup (params->imei);
  self->expected_oid = g_strdup (params->expected_smdp_oid);
  self->confirm = params->confirm;
  if (params->euicc_info1)
    self->euicc_info1 = g_bytes_ref (params->euicc_info1);
  if (params->device_capabilities)
    {
      self->caps = *params->device_capabilities;
      self->has_caps = TRUE;
    }
  return self;
}

gboolean
lpa_download_loading_started (LpaDownload *self)
{
  return self->loading_started;
}

gboolean
lpa_download_install_unknown (LpaDownload *self)
{
  /* A session the eUICC cancelled afterwards was still open: the install had not completed. */
  return self->last_answer_lost && !self->euicc_cancelled;
}

const LpaProfileInfo *
lpa_download_metadata (LpaDownload *self)
{
  return self->metadata;
}

gboolean
lpa_download_awaiting_confirmation (LpaDownload *self)
{
  return self->state == STATE_AWAITING_CONFIRMATION;
}

LpaDownloadEuiccSession
lpa_download_euicc_session (LpaDownload *self)
{
  if (!self->session || self->session_ended_on_euicc)
    return LPA_DOWNLOAD_EUICC_SESSION_CLOSED;
  return self->euicc_cancelled ? LPA_DOWNLOAD_EUICC_SESSION_CANCELLED
                               : LPA_DOWNLOAD_EUICC_SESSION_OPEN;
}

gboolean
lpa_download_server_ended_session (LpaDownload *self)
{
  return self->server_ended;
}

gboolean
lpa_download_consent_required (LpaDownload *self)
{
  return self->consent_required;
}

static void
stage (LpaDownload *self, LpaDownloadStage stage, double progress)
{
  self->progress = progress;
  if (!self->abandoned && self->callbacks->stage)
    self->callbacks->stage (self->user_data, stage, progress);
}

static void
finish (LpaDownload *self, const LpaDownloadResult *result, const GError *error)
{
  /* The caller may free the download from its callback. */
  dl_ref (self);
  self->state = STATE_DONE;
  stage (self, LPA_DOWNLOAD_STAGE_DONE, 1.0);
  if (!self->abandoned)
    self->callbacks->finished (self->user_data, result, error);
  dl_unref (self);
}

static GError *
cancel_error (LpaCancelSessionReason reason)
{
  if (reason == LPA_CANCEL_END_USER_REJECTION)
    return g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED,
                                "download rejected by the user (endUserRejection)");
  return g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "download cancelled (%s)",
                      lpa_cancel_session_reason_name (reason));
}

/* Errors that mean the SM-DP+ answered Failed/Expired and so already closed its session. */
static gboolean
server_ended_session (const GError *error)
{
  return g_error_matches (error, LPA_ERROR, LPA_ERROR_SERVER_REJECTED) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_MATCHING_ID_REFUSED) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_CONFIRMATION_CODE_REFUSED) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_CONFIRMATION_CODE_REQUIRED);
}

static void on_cancel_es10 (GBytes *response, const GError *error, gpointer user_data);
static void on_cancel_es9 (guint status, GBytes *body, const GError *error, gpointer user_data);

/* Common Cancel Session (digest §6.4): ES10b CancelSession with @reason, then, when @es9,
 * ES9+ cancelSession with whatever the eUICC answered. The caller then hears @error. */
static void
cancel_session (LpaDownload *self, LpaCancelSessionReason reason, gboolean es9, const GError *error)
{
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) local = NULL;

  g_clear_error (&self->original_error);
  self->original_error = g_error_copy (error);
  self->es9_cancel = es9;
  if (!es9)
    self->server_ended = TRUE;
  self->state = STATE_CANCELLING;
  stage (self, LPA_DOWNLOAD_STAGE_CANCELLING, self->progress);
  request = lpa_es10b_cancel_session_request (self->transaction_id_bin, reason, &local);
  if (request == NULL ||
      !lpa_es10_call (self->es10, request, on_cancel_es10, dl_ref (self), &local))
    {
      /* A transaction ID of 1..16 bytes always fits; this only guards the invariant. */
      if (request)
        dl_unref (self);
      finish (self, NULL, self->original_error);
    }
}

static void
on_cancel_es10 (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;
  g_autoptr (LpaCancelSessionResponse) parsed = NULL;
  g_autoptr (GBytes) body = NULL;

  if (self->abandoned)
    return;
  /* Without a BF41 there is nothing to tell the server: the eUICC's session state is unknown. */
  if (!error && (parsed = lpa_es10b_parse_cancel_session (response, NULL)))
    {
      /* invalidTransactionId (or undefinedError): the eUICC cancelled nothing, and a
       * cancelSession must only carry a cancel the eUICC made; the server's session ends on its
       * own timeout. */
      self->euicc_cancelled = parsed->ok;
      self->session_ended_on_euicc = !parsed->ok;
    }
  if (!parsed || !parsed->ok || !self->es9_cancel)
    {
      finish (self, NULL, self->original_error);
      return;
    }
  body = lpa_es9p_cancel_session_request (self->transaction_id, parsed->raw);
  self->http->post (self->http_self, self->smdp_address, LPA_ES9P_CANCEL_SESSION, body,
                    on_cancel_es9, dl_ref (self));
}

static void
on_cancel_es9 (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;

  if (self->abandoned)
    return;
  /* The cancel's own outcome does not change what the caller hears. */
  finish (self, NULL, self->original_error);
}

/* A failure: with an eUICC session and before the load, cancel it (undefinedReason; ES9+ too
 * unless the server already ended its side). */
static void
fail (LpaDownload *self, const GError *error)
{
  if (server_ended_session (error))
    self->server_ended = TRUE;
  if (self->session && !self->loading_started)
    cancel_session (self, LPA_CANCEL_UNDEFINED_REASON, !server_ended_session (error), error);
  else
    finish (self, NULL, error);
}

static void fail_new (LpaDownload *self, LpaError code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
fail_new (LpaDownload *self, LpaError code, const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (LPA_ERROR, code, format, args);
  va_end (args);
  fail (self, error);
}

/* At each step boundary: a requested cancel takes over here. */
static gboolean
cancelled (LpaDownload *self)
{
  g_autoptr (GError) error = NULL;

  if (!self->cancel_requested)
    return FALSE;
  error = cancel_error (self->cancel_reason);
  if (self->session)
    cancel_session (self, self->cancel_reason, TRUE, error);
  else
    finish (self, NULL, error);
  return TRUE;
}

/* The start of each completion: FALSE when the download was freed or the step failed (the
 * failure is then handled). */
static gboolean
step_done (LpaDownload *self, const GError *error)
{
  if (self->abandoned)
    return FALSE;
  if (error)
    {
      /* A requested cancel wins: the failure may be its own doing (the daemon aborts the HTTP
       * request in flight), and the caller asked for this cancel's reason. */
      if (!cancelled (self))
        fail (self, error);
      return FALSE;
    }
  return TRUE;
}

static void
es10_call (LpaDownload *self, GBytes *request, LpaEs10Callback callback)
{
  g_autoptr (GError) error = NULL;

  if (!lpa_es10_call (self->es10, request, callback, dl_ref (self), &error))
    {
      dl_unref (self);
      fail (self, error);
    }
}

static void
post (LpaDownload *self, const char *path, GBytes *body, LpaHttpCallback callback)
{
  self->http->post (self->http_self, self->smdp_address, path, body, callback, dl_ref (self));
}

static void on_authenticated (gpointer user_data, LpaAuthenticationResult *result,
                              const GError *error);
static void on_authenticate_client (guint status, GBytes *body, const GError *error,
                                    gpointer user_data);
static void on_rat (GBytes *response, const GError *error, gpointer user_data);
static void on_prepare_download (GBytes *response, const GError *error, gpointer user_data);
static void on_bound_profile_package (guint status, GBytes *body, const GError *error,
                                      gpointer user_data);
static void on_segment (GBytes *response, const GError *error, gpointer user_data);
static void prepare_download (LpaDownload *self);

void
lpa_download_start (LpaDownload *self)
{
  static const LpaInitiatePath es9p_path = { LPA_ES9P_INITIATE_AUTHENTICATION, FALSE };
  LpaAuthenticationParams params = { 0 };

  g_return_if_fail (self->state == STATE_NEW);
  self->state = STATE_RUNNING;
  params.server_address = self->smdp_address;
  params.matching_id = self->matching_id;
  params.imei = self->imei;
  params.caps = self->has_caps ? &self->caps : NULL;
  params.expected_oid = self->expected_oid;
  params.euicc_info1 = self->euicc_info1;
  params.paths = &es9p_path;
  params.n_paths = 1;
  self->auth = lpa_authentication_new (&params, self->es10, self->http, self->http_self,
                                       on_authenticated, self);
  if (self->cancel_requested)
    lpa_authentication_cancel (self->auth);
  lpa_authentication_start (self->auth);
}

static void
on_authenticated (gpointer user_data, LpaAuthenticationResult *owned, const GError *error)
{
  g_autoptr (LpaDownload) self = dl_ref (user_data);
  g_autoptr (LpaAuthenticationResult) result = owned;
  g_autoptr (GBytes) body = NULL;

  g_clear_pointer (&self->auth, lpa_authentication_free);
  if (error)
    {
      if (server_ended_session (error))
        self->server_ended = TRUE;
      if (!cancelled (self))
        finish (self, NULL, error);
      return;
    }
  self->transaction_id = g_strdup (result->transaction_id);
  self->transaction_id_bin = g_bytes_ref (result->transaction_id_bin);
  if (result->authenticate_server->ok)
    self->session = TRUE;
  else
    {
      /* The server still hears the eUICC's refusal; the caller hears it afterwards. */
      lpa_signed_response_check (result->authenticate_server, LPA_ES10_AUTHENTICATE_SERVER,
                                 &self->euicc_error);
    }
  if (self->session && cancelled (self))
    return;
  stage (self, LPA_DOWNLOAD_STAGE_AUTHENTICATING, PROGRESS_AUTHENTICATED);
  body =
      lpa_es9p_authenticate_client_request (self->transaction_id, result->authenticate_server->raw);
  post (self, LPA_ES9P_AUTHENTICATE_CLIENT, body, on_authenticate_client);
}

static gboolean
same_transaction (LpaDownload *self, GBytes *tid, const char *where)
{
  if (g_bytes_equal (tid, self->transaction_id_bin))
    return TRUE;
  fail_new (self, LPA_ERROR_UNEXPECTED, "%s: transaction ID differs from the session's", where);
  return FALSE;
}

/* The code is missing and the caller can be asked for it (confirmation_code_needed). */
static gboolean
code_to_ask (LpaDownload *self)
{
  return self->signed2->cc_required && self->confirmation_code == NULL &&
         self->callbacks->confirmation_code_needed != NULL;
}

/* PrepareDownload's request, with hashCc when the SM-DP+ wants a code and there is one. */
static gboolean
build_prepare_request (LpaDownload *self, GError **error)
{
  guint8 hash_cc[32];
  gboolean with_cc = self->signed2->cc_required && self->confirmation_code;

  if (with_cc)
    lpa_hash_cc (self->confirmation_code, self->signed2->transaction_id, hash_cc);
  g_clear_pointer (&self->prepare_request, g_bytes_unref);
  self->prepare_request = lpa_es10b_prepare_download_request (
      self->client->smdp_signed2, self->client->smdp_signature2, self->client->smdp_certificate,
      with_cc ? hash_cc : NULL, error);
  lpa_secret_wipe (hash_cc, sizeof hash_cc);
  if (self->prepare_request == NULL)
    return FALSE;
  if (g_bytes_get_size (self->prepare_request) > lpa_es10_max_request_size (self->es10))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "PrepareDownload request too long for the STORE DATA segment size");
      return FALSE;
    }
  return TRUE;
}

/* After the user's confirmation (SGP.22's order: consent, then the code): ask for the code, or
 * go on with PrepareDownload. */
static void
after_consent (LpaDownload *self)
{
  if (cancelled (self))
    return;
  if (code_to_ask (self))
    {
      self->state = STATE_AWAITING_CODE;
      stage (self, LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION_CODE, PROGRESS_AUTHENTICATED);
      if (!self->abandoned)
        self->callbacks->confirmation_code_needed (self->user_data, self->metadata);
      return;
    }
  prepare_download (self);
}

void
lpa_download_supply_confirmation_code (LpaDownload *self, const char *code)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (self->state == STATE_AWAITING_CODE);
  g_return_if_fail (code && !lpa_confirmation_code_problem (code));
  self->state = STATE_RUNNING;
  self->confirmation_code = g_strdup (code);
  if (!build_prepare_request (self, &error))
    {
      fail (self, error);
      return;
    }
  prepare_download (self);
}

gboolean
lpa_download_awaiting_confirmation_code (LpaDownload *self)
{
  return self->state == STATE_AWAITING_CODE;
}

static void
after_policy (LpaDownload *self)
{
  if (cancelled (self))
    return;
  if (self->signed2->cc_required && self->confirmation_code == NULL && !code_to_ask (self))
    {
      g_autoptr (GError) error =
          g_error_new_literal (LPA_ERROR, LPA_ERROR_CONFIRMATION_CODE_REQUIRED,
                               "the SM-DP+ requires a confirmation code for this profile");
      cancel_session (self, LPA_CANCEL_POSTPONED, TRUE, error);
      return;
    }
  if (self->confirm || self->consent_required)
    {
      self->state = STATE_AWAITING_CONFIRMATION;
      stage (self, LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION, PROGRESS_AUTHENTICATED);
      if (!self->abandoned && self->callbacks->awaiting_confirmation)
        self->callbacks->awaiting_confirmation (self->user_data, self->metadata);
      return;
    }
  after_consent (self);
}

static void
on_authenticate_client (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;
  g_autoptr (GError) local = NULL;

  if (self->abandoned)
    return;
  if (self->euicc_error)
    {
      finish (self, NULL, self->euicc_error);
      return;
    }
  if (!step_done (self, error))
    return;
  if (cancelled (self))
    return;
  if (!(self->client = lpa_es9p_parse_authenticate_client (status, body, &local)))
    {
      fail (self, local);
      return;
    }
  if (!same_transaction (self, self->client->transaction_id_bin, "authenticateClient"))
    return;
  if (!(self->signed2 = lpa_smdp_signed2_parse (self->client->smdp_signed2, &local)) ||
      !(self->metadata = lpa_profile_metadata_parse (self->client->profile_metadata, &local)))
    {
      fail (self, local);
      return;
    }
  if (!same_transaction (self, self->signed2->transaction_id, "smdpSigned2"))
    return;
  if (!build_prepare_request (self, &local))
    {
      fail (self, local);
      return;
    }
  if (self->metadata->ppr & (LPA_PPR1 | LPA_PPR2))
    {
      g_autoptr (GBytes) request = lpa_es10b_get_rat_request ();
      es10_call (self, request, on_rat);
      return;
    }
  after_policy (self);
}

static void
on_rat (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) rat = NULL;

  g_autoptr (GError) named = lpa_es10_name_status_word (error, "GetRAT");

  if (!step_done (self, named))
    return;
  if (!(rat = lpa_es10b_parse_rat (response, &local)))
    {
      fail (self, local);
      return;
    }
  if (!lpa_rat_allows (rat, self->metadata->ppr, self->metadata->owner, &self->consent_required))
    {
      g_autoptr (GError) denied = g_error_new (
          LPA_ERROR, LPA_ERROR_DISALLOWED_BY_POLICY,
          "pprNotAllowed: the eUICC's rules do not allow this operator's profile policy rules");
      cancel_session (self, LPA_CANCEL_PPR_NOT_ALLOWED, TRUE, denied);
      return;
    }
  after_policy (self);
}

static void
prepare_download (LpaDownload *self)
{
  if (cancelled (self))
    return;
  stage (self, LPA_DOWNLOAD_STAGE_DOWNLOADING, PROGRESS_DOWNLOADING);
  es10_call (self, self->prepare_request, on_prepare_download);
}

void
lpa_download_confirm (LpaDownload *self, gboolean accept)
{
  g_return_if_fail (self->state == STATE_AWAITING_CONFIRMATION);
  self->state = STATE_RUNNING;
  if (!accept)
    {
      g_autoptr (GError) error = cancel_error (LPA_CANCEL_END_USER_REJECTION);
      cancel_session (self, LPA_CANCEL_END_USER_REJECTION, TRUE, error);
      return;
    }
  after_consent (self);
}

static void
on_prepare_download (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (LpaSignedResponse) parsed = NULL;
  g_autoptr (GBytes) body = NULL;

  g_autoptr (GError) named = lpa_es10_name_status_word (error, "PrepareDownload");

  if (!step_done (self, named))
    return;
  if (!(parsed = lpa_es10b_parse_prepare_download (response, &local)))
    {
      fail (self, local);
      return;
    }
  if (!parsed->ok)
    lpa_signed_response_check (parsed, LPA_ES10_PREPARE_DOWNLOAD, &self->euicc_error);
  else
    {
      if (!same_transaction (self, parsed->transaction_id, "PrepareDownload"))
        return;
      if (cancelled (self))
        return;
    }
  body = lpa_es9p_get_bound_profile_package_request (self->transaction_id, parsed->raw);
  post (self, LPA_ES9P_GET_BOUND_PROFILE_PACKAGE, body, on_bound_profile_package);
}

/* The BPP's own StoreMetadata must describe the profile the server announced. */
static gboolean
metadata_matches (LpaDownload *self, GBytes *bpp, GError **error)
{
  g_autoptr (GBytes) bf25 = NULL;
  g_autoptr (LpaProfileInfo) bpp_metadata = NULL;
  g_autoptr (GError) inner = NULL;

  if (!(bf25 = lpa_bpp_metadata (bpp, &inner)) ||
      !(bpp_metadata = lpa_profile_metadata_parse (bf25, &inner)))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_UNEXPECTED, "metadataMismatch: %s", inner->message);
      return FALSE;
    }
  if (g_strcmp0 (bpp_metadata->iccid, self->metadata->iccid) != 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                           "metadataMismatch: the BPP installs another ICCID than announced");
      return FALSE;
    }
  g_clear_pointer (&self->stored_metadata, g_bytes_unref);
  self->stored_metadata = g_steal_pointer (&bf25);
  return TRUE;
}

static void
load_next_segment (LpaDownload *self)
{
  es10_call (self, g_ptr_array_index (self->segments, self->segment), on_segment);
}

static void
on_bound_profile_package (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (LpaBoundProfilePackageResponse) bpp = NULL;

  if (self->abandoned)
    return;
  if (self->euicc_error)
    {
      /* PrepareDownload refused: the server has closed its side; clear the eUICC's. */
      cancel_session (self, LPA_CANCEL_UNDEFINED_REASON, FALSE, self->euicc_error);
      return;
    }
  if (!step_done (self, error))
    return;
  if (cancelled (self))
    return;
  if (!(bpp = lpa_es9p_parse_get_bound_profile_package (status, body, &local)))
    {
      fail (self, local);
      return;
    }
  if (!same_transaction (self, bpp->transaction_id_bin, "getBoundProfilePackage"))
    return;
  if (!(self->segments = lpa_bpp_segments (bpp->bound_profile_package, &local)))
    {
      fail (self, local);
      return;
    }
  if (!metadata_matches (self, bpp->bound_profile_package, &local))
    {
      cancel_session (self, LPA_CANCEL_METADATA_MISMATCH, TRUE, local);
      return;
    }
  for (guint i = 0; i < self->segments->len; i++)
    {
      gsize len = g_bytes_get_size (g_ptr_array_index (self->segments, i));
      if (len > lpa_es10_max_request_size (self->es10))
        {
          fail_new (self, LPA_ERROR_MALFORMED,
                    "BPP segment too long for the STORE DATA segment size");
          return;
        }
      self->bytes_total += len;
    }
  if (cancelled (self))
    return;
  self->loading_started = TRUE;
  self->state = STATE_LOADING;
  stage (self, LPA_DOWNLOAD_STAGE_INSTALLING, PROGRESS_INSTALLING);
  load_next_segment (self);
}

static void
installed (LpaDownload *self, GBytes *response)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (LpaProfileInstallationResult) pir = NULL;
  g_autoptr (LpaDownloadResult) result = NULL;

  if (!(pir = lpa_es10b_parse_profile_installation_result (response, &local)))
    {
      /* Whatever this is, no result was received: the load failed. */
      cancel_session (self, LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR, TRUE, local);
      return;
    }
  /* The result ends the session on the eUICC; delivered as a notification, on the server. */
  self->session_ended_on_euicc = TRUE;
  if (!lpa_profile_installation_result_check (pir, &local))
    {
      finish (self, NULL, local);
      return;
    }
  result = g_new0 (LpaDownloadResult, 1);
  result->iccid = g_strdup (self->metadata->iccid);
  result->isdp_aid = g_bytes_ref (pir->isdp_aid);
  result->metadata = g_steal_pointer (&self->metadata);
  result->stored_metadata = g_steal_pointer (&self->stored_metadata);
  result->notification_seq = pir->metadata->seq;
  result->notification_address = g_strdup (pir->metadata->address);
  result->smdp_oid = g_strdup (pir->smdp_oid);
  result->profile_installation_result = g_bytes_ref (pir->raw);
  finish (self, result, NULL);
}

static void
on_segment (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDownload) self = user_data;

  if (self->abandoned)
    return;
  if (error)
    {
      g_autoptr (GError) named = lpa_es10_name_status_word (error, "LoadBoundProfilePackage");

      /* Only the last segment can complete an install: after an earlier one's lost answer the
       * rest never went. Nothing usable came back (the transport lost it, or garbled it). */
      self->last_answer_lost = self->segment + 1 == self->segments->len &&
                               (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT) ||
                                g_error_matches (error, LPA_ERROR, LPA_ERROR_MALFORMED));
      cancel_session (self, LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR, TRUE, named);
      return;
    }
  self->bytes_sent += g_bytes_get_size (g_ptr_array_index (self->segments, self->segment));
  self->segment++;
  /* The eUICC answers the last segment, or any earlier one that failed, with the result; sending
   * more after it only provokes 6A88. */
  if (g_bytes_get_size (response) > 0)
    {
      installed (self, response);
      return;
    }
  if (self->segment == self->segments->len)
    {
      g_autoptr (GError) missing = g_error_new_literal (
          LPA_ERROR, LPA_ERROR_UNEXPECTED, "no ProfileInstallationResult after the last segment");
      cancel_session (self, LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR, TRUE, missing);
      return;
    }
  stage (self, LPA_DOWNLOAD_STAGE_INSTALLING,
         PROGRESS_INSTALLING +
             (1.0 - PROGRESS_INSTALLING) * (double) self->bytes_sent / (double) self->bytes_total);
  load_next_segment (self);
}

void
lpa_download_cancel (LpaDownload *self, LpaCancelSessionReason reason)
{
  if (self->state == STATE_DONE || self->state == STATE_CANCELLING || self->loading_started ||
      self->cancel_requested)
    return;
  self->cancel_requested = TRUE;
  self->cancel_reason = reason;
  if (self->auth)
    lpa_authentication_cancel (self->auth);
  if (self->state == STATE_AWAITING_CONFIRMATION || self->state == STATE_AWAITING_CODE)
    {
      self->state = STATE_RUNNING;
      cancelled (self);
    }
}

void
lpa_download_free (LpaDownload *self)
{
  if (self == NULL)
    return;
  self->abandoned = TRUE;
  g_clear_pointer (&self->auth, lpa_authentication_free);
  dl_unref (self);
}
