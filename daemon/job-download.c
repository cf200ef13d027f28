/* job-download.c — Download(): argument checks, the liblpa download, then nickname and enable. */
#include "job-download.h"

#include "daemon.h"
#include "esimd-error.h"
#include "job-profile.h"
#include "log.h"
#include "observer.h"
#include "profile-dict.h"
#include "text.h"

#include <string.h>

typedef enum
{
  AFTER_NICKNAME,
  AFTER_ENABLE,
  AFTER_REFRESH,
  AFTER_DONE,
} AfterStep;

typedef struct
{
  char *smdp_address;
  char *matching_id;
  char *smdp_oid;
  char *confirmation_code; /* secret: never logged */
  char *imei;
  char *nickname;
  gboolean enable;
  gboolean confirm;
  gboolean ask_code; /* "ask_confirmation_code": the Job asks for a missing or refused code */
  guint restart_id;  /* a refused code: a new session is about to start */

  LpaDownload *download;
  gboolean cancelled_early; /* cancelled while the channel was still being opened */
  gboolean cancelling;      /* a cancel was asked for: there is nothing left to confirm */
  char *iccid;
  AfterStep after;
  GError *after_error;      /* a nickname/enable failure after a successful install */
  char *transaction_id;     /* once the eUICC may hold a session (hex) */
  guint confirm_timeout_id; /* while awaiting confirmation: the queue is held, not forever */

  /* The answer to the BPP's last segment was lost: the eUICC may have installed the profile, so
   * the outcome waits for a read of its profile list (after the modem's return, if it went). */
  GError *lost_error;      /* the transport's failure: the outcome if the profile is not there */
  char *eid;               /* the eUICC the job started on: the one read back must be it */
  guint losses;            /* euicc->losses the job's channel belongs to */
  guint return_timeout_id; /* waiting for the modem to come back (ModemReturnTimeout) */
  guint check_id;          /* the next step of the check, from an idle */
  guint reads_tried;       /* read-backs that failed for the transport: a flapping modem ends */

  /* The state directory's probe (can the crash record be written?) runs while the card answers
   * the session's first command; the first request to the server waits for it. */
  guint probe_id;            /* the probe, or the held request's failure, from an idle */
  gboolean probed;           /* the probe ran for this session */
  GError *probe_error;       /* it failed: no server hears of the download */
  struct _WatchedPost *held; /* the first request, until the probe has run */

  /* The record that the BPP is asked for is written while the card runs PrepareDownload. */
  guint bpp_record_id;   /* writing it, from an idle */
  gboolean bpp_recorded; /* written for this session */

  guint cancel_wait_id; /* the server's cancelSession in flight: abandoned when this fires */
  GPtrArray *secrets;   /* the matching ID and the codes given, hidden from the log meanwhile */
} DownloadJob;

/* How long a download that ends in a cancel waits for its server's cancelSession answer. The
 * outcome is known (the eUICC has cancelled; the server's answer changes nothing the caller
 * hears) and the eUICC's answer is in the record, sent again by the clean-up of open sessions,
 * which gives way to callers' jobs: a server that accepted the connection and never answers
 * would otherwise hold the caller, and every job queued after it, for RequestTimeout. A server
 * that answers is done well within it. */
#define CANCEL_SESSION_WAIT 10 /* seconds */

static void
download_job_free (gpointer data)
{
  DownloadJob *d = data;

  g_clear_handle_id (&d->confirm_timeout_id, g_source_remove);
  g_clear_handle_id (&d->restart_id, g_source_remove);
  g_clear_handle_id (&d->return_timeout_id, g_source_remove);
  g_clear_handle_id (&d->check_id, g_source_remove);
  g_clear_handle_id (&d->probe_id, g_source_remove);
  g_clear_handle_id (&d->bpp_record_id, g_source_remove);
  g_clear_handle_id (&d->cancel_wait_id, g_source_remove);
  g_clear_error (&d->probe_error); /* a held request holds the job: none is left here */
  g_clear_error (&d->lost_error);
  g_free (d->eid);
  g_clear_pointer (&d->download, lpa_download_free);
  g_free (d->smdp_address);
  lpa_secret_free (d->matching_id);
  g_free (d->smdp_oid);
  lpa_secret_free (d->confirmation_code);
  g_free (d->imei);
  g_free (d->nickname);
  g_free (d->iccid);
  g_clear_error (&d->after_error);
  g_free (d->transaction_id);
  for (guint i = 0; d->secrets && i < d->secrets->len; i++)
    esimd_log_remove_secret (d->secrets->pdata[i]);
  g_clear_pointer (&d->secrets, g_ptr_array_unref);
  g_free (d);
}

/* @value (the matching ID, a confirmation code) is hidden from the log while the job lives, and
 * from the error messages it publishes: a server's refusal may echo what it was sent. */
static void
remember_secret (DownloadJob *d, const char *value)
{
  if (!value || !*value)
    return;
  if (!d->secrets)
    d->secrets = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_secret_free);
  esimd_log_add_secret (value);
  g_ptr_array_add (d->secrets, g_strdup (value));
}

/* @error as the Job's Error, ErrorMessage and DownloadResult publish it to every local user:
 * without the secrets given to a download (esimd_log_hide_secrets()). */
static GError *
error_shown (const GError *error)
{
  GError *shown = g_error_copy (error);

  g_free (shown->message);
  shown->message = esimd_log_hide_secrets (error->message);
  return shown;
}

/* The Job's Stage is liblpa's stage name, except that a finished job has none. */
static const char *
stage_name (LpaDownloadStage stage)
{
  return stage == LPA_DOWNLOAD_STAGE_DONE ? "" : lpa_download_stage_name (stage);
}

/* Overall progress: authentication is quick, the BPP load is most of the time. */
static double
overall_progress (LpaDownloadStage stage, double progress)
{
  switch (stage)
    {
    case LPA_DOWNLOAD_STAGE_AUTHENTICATING:
      return 0.05;
    case LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION:
    case LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION_CODE:
      return 0.15;
    case LPA_DOWNLOAD_STAGE_DOWNLOADING:
      return 0.2;
    case LPA_DOWNLOAD_STAGE_INSTALLING:
      return 0.3 + 0.65 * CLAMP (progress, 0.0, 1.0);
    default:
      return progress;
    }
}

static void
finish (EsimdJob *job, const GError *error)
{
  DownloadJob *d = job->data;
  GVariantBuilder b;

  if (error)
    {
      g_autoptr (GError) shown = error_shown (error);

      g_info ("eUICC %s: download from %s failed: %s", job->euicc->config->name, d->smdp_address,
              shown->message);
      /* A transaction it left open stays listed: the queue cancels it once this job ends. */
      esimd_job_complete (job, shown, NULL);
      return;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "iccid", g_variant_new_string (d->iccid));
  g_info ("eUICC %s: profile %s installed from %s", job->euicc->config->name,
          esimd_log_pd (d->iccid), d->smdp_address);
  esimd_job_complete (job, NULL, g_variant_builder_end (&b));
}

static void after_install (EsimdJob *job);

/* The card installed the profile. The outcome the caller hears needs the profile in the cache's
 * list, not the free memory or the notification list: those are read once it is published. With
 * the BPP's StoreMetadata (what the card keeps) the cache lists the profile without reading, and
 * the card's own list is read after the outcome too; without it (the lost-answer check, which has
 * just read the list), the list is read before the outcome, as after any job. */
static void
profile_installed (EsimdJob *job, const LpaDownloadResult *result)
{
  DownloadJob *d = job->data;

  if (!result ||
      !esimd_euicc_cache_profile_installed (job->euicc, result->stored_metadata, result->isdp_aid))
    esimd_euicc_read_after_outcome (job->euicc, ESIMD_READ_NOTIFICATIONS | ESIMD_READ_INFO2);
  d->after = AFTER_NICKNAME;
  after_install (job);
}

/* The download failed: its record of the transaction stays only for what is still open, so that
 * the clean-up later cancels nothing twice (a session the server ended, one the eUICC already
 * cancelled or never held) and tells the server only of a cancel the eUICC made. */
static void
keep_what_is_open (EsimdJob *job)
{
  DownloadJob *d = job->data;
  gboolean server_ended;

  if (!d->transaction_id || !d->download)
    return;
  server_ended = lpa_download_server_ended_session (d->download);
  switch (lpa_download_euicc_session (d->download))
    {
    case LPA_DOWNLOAD_EUICC_SESSION_CLOSED:
      /* Nothing on the eUICC; a server still open hears of nothing the eUICC did not cancel. */
      esimd_euicc_session_closed (job->euicc, d->transaction_id);
      break;
    case LPA_DOWNLOAD_EUICC_SESSION_CANCELLED:
      /* Closed once the server heard it (watched_done); until then the eUICC's answer is
       * kept for it, unless the server had ended the session itself. */
      if (server_ended)
        esimd_euicc_session_closed (job->euicc, d->transaction_id);
      break;
    case LPA_DOWNLOAD_EUICC_SESSION_OPEN:
      if (server_ended)
        esimd_euicc_session_server_ended (job->euicc, d->transaction_id);
      break;
    }
}

static void
after_modem_refreshed (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) error = NULL;

  if (!esimd_euicc_refresh_modem_finish (job->euicc, res, &error))
    g_warning ("eUICC %s: the modem did not re-read the card: %s", job->euicc->config->name,
               error->message);
  after_install (job);
}

static void
after_command_done (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;
  g_autoptr (GError) local = NULL;
  gboolean ok = FALSE;

  if (!error)
    ok = d->after == AFTER_ENABLE ? lpa_es10c_parse_enable_profile (response, NULL, &local)
                                  : lpa_es10c_parse_set_nickname (response, NULL, &local);
  if (!ok && !d->after_error)
    {
      /* The profile is installed: the job still fails, so the caller learns the rest did not
       * happen, and the message says the profile is there. */
      d->after_error = g_error_copy (error ? error : local);
      g_prefix_error (&d->after_error, "the profile is installed, but %s failed: ",
                      d->after == AFTER_ENABLE ? "enabling it" : "setting its nickname");
    }
  /* The card's answer says what changed: the cache takes it, as after EnableProfile or
   * SetNickname on their own (the list is read after the outcome, or before it when the profile
   * is not in the cache). */
  if (ok && d->after == AFTER_NICKNAME)
    esimd_euicc_cache_nickname_set (job->euicc, d->iccid, d->nickname);
  else if (ok)
    esimd_euicc_cache_profile_switched (job->euicc, d->iccid, TRUE);
  if (ok && d->after == AFTER_ENABLE)
    {
      d->after = AFTER_REFRESH;
      esimd_job_set_stage (job, "refreshing-modem", 0.98);
      esimd_euicc_refresh_modem (job->euicc, after_modem_refreshed, job);
      return;
    }
  d->after++;
  after_install (job);
}

/* The optional steps after a successful install, each one ES10 command. */
static void
after_install (EsimdJob *job)
{
  DownloadJob *d = job->data;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;

  if (d->after == AFTER_REFRESH)
    d->after = AFTER_DONE;
  if (d->after == AFTER_NICKNAME && !d->nickname)
    d->after = AFTER_ENABLE;
  if (d->after == AFTER_ENABLE && (!d->enable || d->after_error))
    d->after = AFTER_DONE;
  switch (d->after)
    {
    case AFTER_NICKNAME:
      esimd_job_set_stage (job, "naming", 0.96);
      request = lpa_es10c_set_nickname_request (d->iccid, d->nickname, &error);
      break;
    case AFTER_ENABLE:
      {
        LpaProfileId id = { .iccid = d->iccid };

        esimd_job_set_stage (job, "enabling", 0.97);
        request = lpa_es10c_enable_profile_request (
            &id, job->euicc->config->refresh == ESIMD_REFRESH_FLAG, &error);
        break;
      }
    default:
      finish (job, d->after_error);
      return;
    }
  if (!request)
    {
      after_command_done (NULL, error, job);
      return;
    }
  esimd_euicc_es10 (job->euicc, request, after_command_done, job);
}

/* The record says the BPP is asked for before getBoundProfilePackage goes out (a crash after it
 * cancels with loadBppExecutionError, which lets the server offer the profile again, and looks
 * for the installation's result on the card first). Once the user has confirmed, PrepareDownload
 * is the only step before that request and exists only for it: the record is written (and synced)
 * while the card runs it, from an idle of low priority once its first APDU is on its way, instead
 * of between the card's answer and the request. */
static gboolean
record_bpp_stage (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->bpp_record_id = 0;
  if (d->bpp_recorded || !d->transaction_id || d->cancelling)
    return G_SOURCE_REMOVE;
  d->bpp_recorded = TRUE;
  esimd_euicc_session_bpp_requested (job->euicc, d->transaction_id);
  return G_SOURCE_REMOVE;
}

static void
on_stage (gpointer user_data, LpaDownloadStage stage, double progress)
{
  EsimdJob *job = user_data;
  DownloadJob *d = job->data;

  esimd_job_set_stage (job, stage_name (stage), overall_progress (stage, progress));
  /* "downloading" comes right before PrepareDownload is sent. */
  if (stage == LPA_DOWNLOAD_STAGE_DOWNLOADING && d->transaction_id && !d->bpp_recorded &&
      !d->bpp_record_id)
    d->bpp_record_id = g_idle_add_full (G_PRIORITY_LOW, record_bpp_stage, job, NULL);
}

/* Nobody answered (the preview, or the request for the code): every other job of the eUICC waits
 * behind this one, so the download is cancelled with reason timeout and the order stays for
 * another try. */
static gboolean
user_timed_out (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->confirm_timeout_id = 0;
  g_info ("eUICC %s: job %u: no %s within %u s: cancelling the download", job->euicc->config->name,
          job->id,
          job->state == ESIMD_JOB_AWAITING_CONFIRMATION_CODE ? "confirmation code" : "confirmation",
          esimd->config->confirmation_timeout);
  d->cancelling = TRUE;
  lpa_download_cancel (d->download, LPA_CANCEL_TIMEOUT);
  esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  return G_SOURCE_REMOVE;
}

/* The download waits for its user (state says for what) with the profile's metadata shown. */
static void
await_user (EsimdJob *job, const LpaProfileInfo *metadata, EsimdJobState state)
{
  DownloadJob *d = job->data;

  g_free (d->iccid);
  d->iccid = g_strdup (metadata->iccid);
  esimd_log_add_personal (d->iccid);
  esimd_job_set_metadata (job, esimd_profile_to_vardict (metadata));
  esimd_job_set_state (job, state);
  d->confirm_timeout_id =
      g_timeout_add_seconds (esimd->config->confirmation_timeout, user_timed_out, job);
}

static void
on_awaiting_confirmation (gpointer user_data, const LpaProfileInfo *metadata)
{
  await_user (user_data, metadata, ESIMD_JOB_AWAITING_CONFIRMATION);
}

static void
on_confirmation_code_needed (gpointer user_data, const LpaProfileInfo *metadata)
{
  await_user (user_data, metadata, ESIMD_JOB_AWAITING_CONFIRMATION_CODE);
}

static void download_start (EsimdJob *job);

/* A new session after a refused code (SGP.22: a retry starts from InitiateAuthentication). */
static gboolean
restart_download (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->restart_id = 0;
  g_clear_pointer (&d->download, lpa_download_free);
  download_start (job);
  return G_SOURCE_REMOVE;
}

/* The SM-DP+ refused the code with 8.2.7 / 3.8: the order is kept and another code may be
 * tried, in a new session, once the eUICC has let go of this one (after 6.4, retries exceeded,
 * or without "ask_confirmation_code", the download fails as before). */
static gboolean
code_may_be_retried (EsimdJob *job, const GError *error)
{
  DownloadJob *d = job->data;
  g_autofree char *subject = NULL;
  g_autofree char *reason = NULL;

  return d->ask_code && !d->cancelling &&
         g_error_matches (error, LPA_ERROR, LPA_ERROR_CONFIRMATION_CODE_REFUSED) &&
         lpa_download_euicc_session (d->download) != LPA_DOWNLOAD_EUICC_SESSION_OPEN &&
         lpa_server_error_codes (error, &subject, &reason) && g_str_equal (subject, "8.2.7") &&
         g_str_equal (reason, "3.8");
}

/* ---- a lost answer to the last segment: was the profile installed? ----------------------- */

#define MAX_READ_BACKS 3

static void check_install (EsimdJob *job);

/* The failure when the eUICC could not be read: neither "installed" nor "not installed". */
static GError *
outcome_unknown (EsimdJob *job, LpaError code, const char *why)
{
  DownloadJob *d = job->data;

  return g_error_new (LPA_ERROR, code,
                      "the answer to the profile's last part was lost (%s) and %s: whether the "
                      "profile was installed is unknown; esimd reads the eUICC again when the "
                      "modem is back, and ListProfiles then shows the profile if it is there",
                      d->lost_error->message, why);
}

/* The profile list was read: it alone says what happened. */
static void
install_checked (EsimdJob *job, gboolean installed)
{
  DownloadJob *d = job->data;
  g_autoptr (GError) lost = g_steal_pointer (&d->lost_error);

  if (!installed)
    {
      g_info ("eUICC %s: job %u: the profile is not on the eUICC: the download failed",
              job->euicc->config->name, job->id);
      keep_what_is_open (job);
      finish (job, lost);
      return;
    }
  g_info ("eUICC %s: job %u: the eUICC installed profile %s before its answer was lost",
          job->euicc->config->name, job->id, esimd_log_pd (d->iccid));
  /* Its ProfileInstallationResult ended the session on the eUICC; the server hears it from the
   * notification list, read when the job ends, as after any install. */
  if (d->transaction_id)
    esimd_euicc_session_closed (job->euicc, d->transaction_id);
  profile_installed (job, NULL);
}

static gboolean
check_later (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->check_id = 0;
  check_install (job);
  return G_SOURCE_REMOVE;
}

static void
read_back_done (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;

  if (!esimd_euicc_read_finish (euicc, res, &error))
    {
      g_autoptr (GError) unknown = NULL;

      g_info ("eUICC %s: job %u: reading the eUICC back failed: %s", euicc->config->name, job->id,
              error->message);
      if (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT) &&
          ++d->reads_tried < MAX_READ_BACKS)
        {
          /* The link may be on its way out (a transport takes it as lost from an idle, after
           * this answer): look again once that is known. */
          d->check_id = g_idle_add (check_later, job);
          return;
        }
      unknown =
          outcome_unknown (job, error->domain == LPA_ERROR ? error->code : LPA_ERROR_TRANSPORT,
                           "reading the eUICC back failed");
      g_prefix_error (&unknown, "%s; ", error->message);
      keep_what_is_open (job);
      finish (job, unknown);
      return;
    }
  if (g_strcmp0 (euicc->eid, d->eid) != 0)
    {
      g_autoptr (GError) other =
          outcome_unknown (job, LPA_ERROR_TRANSPORT, "the modem came back with another eUICC");
      finish (job, other);
      return;
    }
  install_checked (job, esimd_euicc_find_profile (euicc, d->iccid) != NULL);
}

static void
read_back (EsimdJob *job)
{
  EsimdEuicc *euicc = job->euicc;

  esimd_job_set_stage (job, "checking-install", 0.95);
  /* After the modem's return the whole cache is unknown: reading what makes the eUICC usable
   * again lets a client that hears of the job's end read the state right away. */
  esimd_euicc_read (
      euicc, euicc->cache_valid ? ESIMD_READ_EID | ESIMD_READ_PROFILES : ESIMD_READ_ESSENTIAL,
      read_back_done, job);
}

static void
channel_reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;
  g_autoptr (GError) error = NULL;

  if (!esimd_euicc_reopen_channel_finish (job->euicc, res, &error))
    {
      g_info ("eUICC %s: job %u: no channel to the eUICC after the modem's return: %s",
              job->euicc->config->name, job->id, error->message);
      if (++d->reads_tried < MAX_READ_BACKS)
        {
          d->check_id = g_idle_add (check_later, job);
          return;
        }
      g_prefix_error (&error, "opening a channel after the modem's return: ");
      {
        g_autoptr (GError) unknown = outcome_unknown (job, LPA_ERROR_TRANSPORT, error->message);

        keep_what_is_open (job);
        finish (job, unknown);
      }
      return;
    }
  read_back (job);
}

static gboolean
modem_return_timed_out (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;
  g_autofree char *why = g_strdup_printf ("the modem did not come back within %u s",
                                          esimd->config->modem_return_timeout);
  g_autoptr (GError) unknown = outcome_unknown (job, LPA_ERROR_TRANSPORT, why);

  d->return_timeout_id = 0;
  g_warning ("eUICC %s: job %u: the modem did not come back within %u s: the download's outcome "
             "is unknown until the eUICC is read again",
             job->euicc->config->name, job->id, esimd->config->modem_return_timeout);
  keep_what_is_open (job);
  finish (job, unknown);
  return G_SOURCE_REMOVE;
}

/* Where the check stands: wait for the modem, open a channel on the modem that came back, or
 * read with the channel the job still holds. */
static void
check_install (EsimdJob *job)
{
  DownloadJob *d = job->data;
  EsimdEuicc *euicc = job->euicc;

  if (!euicc->available)
    {
      if (!d->return_timeout_id)
        {
          g_info ("eUICC %s: job %u: waiting up to %u s for the modem to come back",
                  euicc->config->name, job->id, esimd->config->modem_return_timeout);
          esimd_job_set_stage (job, "awaiting-modem", 0.95);
          d->return_timeout_id = g_timeout_add_seconds (esimd->config->modem_return_timeout,
                                                        modem_return_timed_out, job);
        }
      return;
    }
  g_clear_handle_id (&d->return_timeout_id, g_source_remove);
  if (euicc->losses != d->losses)
    {
      d->losses = euicc->losses;
      esimd_job_set_stage (job, "checking-install", 0.95);
      esimd_euicc_reopen_channel (euicc, channel_reopened, job);
      return;
    }
  read_back (job);
}

static void
download_modem_returned (EsimdJob *job)
{
  DownloadJob *d = job->data;

  /* Not from inside the availability change: the transport is in the middle of it. */
  if (d->return_timeout_id && !d->check_id)
    d->check_id = g_idle_add (check_later, job);
}

/* liblpa ended with the last segment's answer lost: the outcome waits for the card. */
static void
verify_install (EsimdJob *job, const GError *error)
{
  DownloadJob *d = job->data;
  const LpaProfileInfo *metadata = lpa_download_metadata (d->download);

  d->lost_error = g_error_copy (error);
  g_free (d->iccid);
  d->iccid = g_strdup (metadata->iccid);
  esimd_log_add_personal (d->iccid);
  if (!job->metadata)
    esimd_job_set_metadata (job, esimd_profile_to_vardict (metadata));
  g_info ("eUICC %s: job %u: the answer to the profile's last part was lost (%s): reading the "
          "eUICC again before the download's outcome",
          job->euicc->config->name, job->id, error->message);
  /* A transport may take the link as lost only after this answer (from an idle): look then. */
  d->check_id = g_idle_add (check_later, job);
}

static void
on_finished (gpointer user_data, const LpaDownloadResult *result, const GError *error)
{
  EsimdJob *job = user_data;
  DownloadJob *d = job->data;

  g_clear_handle_id (&d->confirm_timeout_id, g_source_remove);
  if (job->state == ESIMD_JOB_AWAITING_CONFIRMATION ||
      job->state == ESIMD_JOB_AWAITING_CONFIRMATION_CODE)
    esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  if (error && code_may_be_retried (job, error))
    {
      g_info ("eUICC %s: job %u: the SM-DP+ refused the confirmation code; asking again",
              job->euicc->config->name, job->id);
      /* The server ended its session, the eUICC cancelled its own: nothing to clean up. */
      keep_what_is_open (job);
      g_clear_pointer (&d->transaction_id, g_free);
      g_clear_pointer (&d->confirmation_code, lpa_secret_free);
      d->confirm = FALSE; /* the user consented already */
      g_autoptr (GError) shown = error_shown (error);

      esimd_job_set_confirmation_code_refused (job, shown->message);
      d->restart_id = g_idle_add (restart_download, job);
      return;
    }
  if (error && lpa_download_install_unknown (d->download) && lpa_download_metadata (d->download))
    {
      verify_install (job, error);
      return;
    }
  if (error)
    {
      keep_what_is_open (job);
      finish (job, error);
      return;
    }
  g_free (d->iccid);
  d->iccid = g_strdup (result->iccid);
  esimd_log_add_personal (d->iccid);
  if (d->transaction_id)
    esimd_euicc_session_closed (job->euicc, d->transaction_id);
  if (!job->metadata && result->metadata)
    esimd_job_set_metadata (job, esimd_profile_to_vardict (result->metadata));
  profile_installed (job, result);
}

/* ---- the transaction the download opens ------------------------------------------------- */

/* The ES9+ requests show which transaction the eUICC and the server share and how far it went;
 * it is written down (esimd_euicc_session_*) before each step, so that a failure the download
 * cannot clean up itself (modem gone, esimd killed) is cancelled later. */
typedef struct _WatchedPost
{
  EsimdJob *job;
  char *host;
  char *path;
  GBytes *body; /* while held for the probe */
  LpaHttpCallback callback;
  gpointer user_data;
} WatchedPost;

static void
watched_post_free (WatchedPost *w)
{
  esimd_job_unref (w->job);
  g_free (w->host);
  g_free (w->path);
  g_clear_pointer (&w->body, g_bytes_unref);
  g_free (w);
}

/* A base64 TLV member of a request this download sends (NULL if absent or not that TLV). */
static GBytes *
request_tlv (GBytes *body, const char *member, guint32 tag)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                   (gssize) g_bytes_get_size (body), NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return lpa_es9p_get_tlv (json_node_get_object (root), "request", member, tag, NULL);
}

/* The eUICC's answer that authenticateClient forwards: only its ok alternative keeps a session. */
static gboolean
euicc_authenticated (GBytes *body)
{
  g_autoptr (GBytes) bf38 = request_tlv (body, "authenticateServerResponse", 0xBF38);
  g_autoptr (LpaSignedResponse) parsed =
      bf38 ? lpa_es10b_parse_authenticate_server (bf38, NULL) : NULL;

  return parsed && parsed->ok;
}

static void
watched_done (guint status, GBytes *body, const GError *error, gpointer data)
{
  WatchedPost *w = data;
  DownloadJob *d = w->job->data;

  g_autoptr (GError) unrecorded = NULL;

  if (!error && g_str_equal (w->path, LPA_ES9P_INITIATE_AUTHENTICATION))
    {
      g_autoptr (LpaInitiateAuthenticationResponse) init =
          lpa_es9p_parse_initiate_authentication ("initiateAuthentication", status, body, NULL);

      /* AuthenticateServer comes next: should esimd die while the card runs it, the eUICC
       * holds a session that only this transaction ID can cancel. Without that record the
       * download stops here, before the eUICC or the server holds anything of it. */
      if (init &&
          !esimd_euicc_session_opened (w->job->euicc, init->transaction_id, w->host, &unrecorded))
        g_info ("eUICC %s: download stopped: %s", w->job->euicc->config->name, unrecorded->message);
      else if (init)
        {
          g_free (d->transaction_id);
          d->transaction_id = g_strdup (init->transaction_id);
        }
    }
  /* The server has heard the cancel, after the eUICC's; unheard, the queue sends it again once
   * this job ends (then after the server's back-off), this attempt counted among the few it
   * gets. */
  if (g_str_equal (w->path, LPA_ES9P_CANCEL_SESSION))
    g_clear_handle_id (&d->cancel_wait_id, g_source_remove);
  if (d->transaction_id && g_str_equal (w->path, LPA_ES9P_CANCEL_SESSION))
    {
      g_autoptr (GError) why = NULL;

      if (esimd_cancel_session_heard (status, body, error, &why))
        esimd_euicc_session_closed (w->job->euicc, d->transaction_id);
      else
        esimd_euicc_session_attempt_failed (w->job->euicc, d->transaction_id, why);
    }
  w->callback (status, unrecorded ? NULL : body, unrecorded ? unrecorded : error, w->user_data);
  watched_post_free (w);
}

static gboolean release_held (gpointer data);

/* The server has not answered the download's cancelSession in CANCEL_SESSION_WAIT: the request
 * is abandoned (watched_done counts it as an attempt that failed), and the server waits for its
 * back-off before the clean-up sends the eUICC's answer again. */
static gboolean
cancel_wait_over (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->cancel_wait_id = 0;
  g_info ("eUICC %s: job %u: no answer to cancelSession in %u s: sent again later",
          job->euicc->config->name, job->id, CANCEL_SESSION_WAIT);
  if (d->smdp_address)
    esimd_euicc_notify_server_failed (job->euicc, d->smdp_address);
  if (job->euicc->http)
    esimd_http_client_cancel_all (job->euicc->http);
  return G_SOURCE_REMOVE;
}
static gboolean probe_state_dir (gpointer data);

static void
watched_post (gpointer self, const char *host, const char *path, GBytes *body,
              LpaHttpCallback callback, gpointer user_data)
{
  EsimdJob *job = self;
  DownloadJob *d = job->data;
  WatchedPost *w = g_new0 (WatchedPost, 1);

  if (d->transaction_id && g_str_equal (path, LPA_ES9P_AUTHENTICATE_CLIENT) &&
      !euicc_authenticated (body))
    {
      /* The eUICC refused AuthenticateServer: it holds no session, the server ends its own. */
      esimd_euicc_session_closed (job->euicc, d->transaction_id);
      g_clear_pointer (&d->transaction_id, g_free);
    }
  else if (d->transaction_id && g_str_equal (path, LPA_ES9P_GET_BOUND_PROFILE_PACKAGE))
    {
      /* Written during PrepareDownload, unless the card answered before the loop was idle. */
      g_clear_handle_id (&d->bpp_record_id, g_source_remove);
      if (!d->bpp_recorded)
        esimd_euicc_session_bpp_requested (job->euicc, d->transaction_id);
      d->bpp_recorded = TRUE;
    }
  else if (d->transaction_id && g_str_equal (path, LPA_ES9P_CANCEL_SESSION))
    {
      /* The eUICC has cancelled; should the server not hear it, its answer is sent again. */
      g_autoptr (GBytes) bf41 = request_tlv (body, "cancelSessionResponse", 0xBF41);

      if (bf41)
        {
          esimd_euicc_session_cancelled_on_euicc (job->euicc, d->transaction_id, bf41);
          g_clear_handle_id (&d->cancel_wait_id, g_source_remove);
          d->cancel_wait_id = g_timeout_add_seconds (CANCEL_SESSION_WAIT, cancel_wait_over, job);
        }
    }
  w->job = esimd_job_ref (job);
  w->host = g_strdup (host);
  w->path = g_strdup (path);
  w->callback = callback;
  w->user_data = user_data;
  if (!d->probed || d->probe_error)
    {
      /* Nothing reaches a server before the probe says the crash record can be written. */
      g_return_if_fail (!d->held);
      w->body = g_bytes_ref (body);
      d->held = w;
      if (d->probed && !d->probe_id)
        d->probe_id = g_idle_add (release_held, job); /* never from inside the call */
      else if (!d->probe_id)
        d->probe_id = g_idle_add_full (G_PRIORITY_LOW, probe_state_dir, job, NULL);
      return;
    }
  esimd_http_client_ops.post (job->euicc->http, host, path, body, watched_done, w);
}

/* The request held for the probe goes out, or fails with the probe's error (or the cancel's). */
static gboolean
release_held (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;
  WatchedPost *w = g_steal_pointer (&d->held);
  g_autoptr (GBytes) body = NULL;

  d->probe_id = 0;
  if (!w)
    return G_SOURCE_REMOVE;
  body = g_steal_pointer (&w->body);
  if (d->probe_error)
    watched_done (0, NULL, d->probe_error, w);
  else if (d->cancelling)
    {
      g_autoptr (GError) cancelled =
          g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "request cancelled");

      watched_done (0, NULL, cancelled, w);
    }
  else
    esimd_http_client_ops.post (job->euicc->http, w->host, w->path, body, watched_done, w);
  return G_SOURCE_REMOVE;
}

/* A crash mid-download is cleaned up from the record written at each step: without room for it,
 * a crash would leave the server's session bound and the order used up (issue 11), so the first
 * request waits for this probe. It runs from an idle of low priority, once the session's first
 * command (GetEUICCChallenge, which leaves nothing on the eUICC to clean up) is on its way: its
 * fsync overlaps the card's work instead of coming before it. */
static gboolean
probe_state_dir (gpointer data)
{
  EsimdJob *job = data;
  DownloadJob *d = job->data;

  d->probe_id = 0;
  if (!d->held && esimd_job_is_finished (job))
    return G_SOURCE_REMOVE; /* the download ended at the card */
  d->probed = TRUE;
  g_clear_error (&d->probe_error);
  if (!esimd_euicc_sessions_writable (job->euicc, &d->probe_error))
    g_info ("eUICC %s: download stopped: %s", job->euicc->config->name, d->probe_error->message);
  return release_held (job);
}

static const LpaHttpOps watched_http_ops = {
  .post = watched_post,
};

static const LpaDownloadCallbacks download_callbacks = {
  .stage = on_stage,
  .awaiting_confirmation = on_awaiting_confirmation,
  .finished = on_finished,
};

/* For a caller that gives a missing or refused confirmation code through the Job. */
static const LpaDownloadCallbacks download_callbacks_asking = {
  .stage = on_stage,
  .awaiting_confirmation = on_awaiting_confirmation,
  .confirmation_code_needed = on_confirmation_code_needed,
  .finished = on_finished,
};

static void
download_start (EsimdJob *job)
{
  DownloadJob *d = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;
  LpaDownloadParams params = {
    .smdp_address = d->smdp_address,
    .matching_id = d->matching_id,
    .confirmation_code = d->confirmation_code,
    .imei = d->imei ? d->imei : esimd_euicc_get_imei (euicc),
    .expected_smdp_oid = d->smdp_oid,
    .confirm = d->confirm,
    .euicc_info1 = euicc->info1 ? euicc->info1->raw : NULL,
  };

  d->download = lpa_download_new (&params, euicc->es10, &watched_http_ops, job,
                                  d->ask_code ? &download_callbacks_asking : &download_callbacks,
                                  job, &error);
  if (!d->download)
    {
      finish (job, error);
      return;
    }
  g_info ("eUICC %s: downloading from %s", euicc->config->name, d->smdp_address);
  d->probed = FALSE;
  d->bpp_recorded = FALSE;
  g_clear_handle_id (&d->probe_id, g_source_remove);
  g_clear_handle_id (&d->bpp_record_id, g_source_remove);
  /* The first command goes to the card before anything else is announced or checked. */
  lpa_download_start (d->download);
  if (esimd_job_is_finished (job))
    return;
  esimd_job_set_stage (job, "authenticating", 0.01);
  d->probe_id = g_idle_add_full (G_PRIORITY_LOW, probe_state_dir, job, NULL);
}

static void
download_run (EsimdJob *job)
{
  DownloadJob *d = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;

  if (d->cancelled_early)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_CANCELLED, "cancelled before it started");
      finish (job, error);
      return;
    }
  /* From here on, not before: a caller polkit has not answered yet must not choose words the
   * log hides (a job is made before polkit is asked). */
  remember_secret (d, d->matching_id);
  remember_secret (d, d->confirmation_code);
  d->eid = g_strdup (euicc->eid);
  d->losses = euicc->losses;
  if (!euicc->http)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "no server can be trusted: none of the CI certificates this eUICC trusts is "
                   "installed (CiCertificateDirs) and the system CA store is not used");
      finish (job, error);
      return;
    }
  download_start (job);
}

static gboolean
download_cancel (EsimdJob *job, GError **error)
{
  DownloadJob *d = job->data;

  if (d->restart_id)
    {
      /* Between a refused code and the next session: nothing is open anywhere. */
      g_autoptr (GError) cancelled = g_error_new_literal (
          LPA_ERROR, LPA_ERROR_CANCELLED, "download cancelled after a refused confirmation code");

      g_clear_handle_id (&d->restart_id, g_source_remove);
      finish (job, cancelled);
      return TRUE;
    }
  if (d->return_timeout_id)
    {
      /* Waiting for the modem after the last answer was lost: stop waiting; the eUICC is read
       * when the modem is back, as always. */
      g_autoptr (GError) cancelled = outcome_unknown (
          job, LPA_ERROR_CANCELLED, "the download was cancelled while waiting for the modem");

      g_clear_handle_id (&d->return_timeout_id, g_source_remove);
      g_clear_handle_id (&d->check_id, g_source_remove);
      keep_what_is_open (job);
      finish (job, cancelled);
      return TRUE;
    }
  if (d->lost_error)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the eUICC is being read to learn whether the profile was installed; the "
                   "download will complete");
      return FALSE;
    }
  if (!d->download && d->after == AFTER_NICKNAME)
    {
      /* The job holds the queue but has not started talking to anyone: stop it at run(). */
      d->cancelled_early = TRUE;
      return TRUE;
    }
  if (!d->download || d->after != AFTER_NICKNAME || lpa_download_loading_started (d->download))
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the profile is already being installed; the download will complete");
      return FALSE;
    }
  g_clear_handle_id (&d->confirm_timeout_id, g_source_remove);
  d->cancelling = TRUE;
  /* The user saying no is a rejection; a caller that vanished, one that has no code (yet), or
   * one whose download esimd ends (stopping, or letting its modem go) may come back:
   * postponed. A server ends the order for good on a rejection. */
  lpa_download_cancel (d->download, job->state == ESIMD_JOB_AWAITING_CONFIRMATION &&
                                            !job->caller_gone && !job->euicc->stop_task &&
                                            !job->euicc->replacing
                                        ? LPA_CANCEL_END_USER_REJECTION
                                        : LPA_CANCEL_POSTPONED);
  /* Nothing waits for a confirmation any more: the job runs its cancel (Confirm now is an
   * error, not an "ok" for a download that ends cancelled). */
  if (job->state == ESIMD_JOB_AWAITING_CONFIRMATION ||
      job->state == ESIMD_JOB_AWAITING_CONFIRMATION_CODE)
    esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  /* Don't wait for a slow server to answer the request in flight (one held for the probe ends
   * with the cancel as soon as the probe has run, from its idle). */
  if (job->euicc->http)
    esimd_http_client_cancel_all (job->euicc->http);
  return TRUE;
}

static gboolean
download_confirm (EsimdJob *job, GError **error)
{
  DownloadJob *d = job->data;

  /* esimd_euicc_confirm_job() checked the job's state; this guards liblpa's own, which a cancel
   * or the confirmation timeout may have moved on in the same turn of the loop. */
  if (d->cancelling || !d->download || !lpa_download_awaiting_confirmation (d->download))
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the download is being cancelled; there is nothing to confirm");
      return FALSE;
    }
  g_clear_handle_id (&d->confirm_timeout_id, g_source_remove);
  esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  lpa_download_confirm (d->download, TRUE);
  return TRUE;
}

static gboolean
download_supply_confirmation_code (EsimdJob *job, const char *code, GError **error)
{
  DownloadJob *d = job->data;

  if (d->cancelling || !d->download || !lpa_download_awaiting_confirmation_code (d->download))
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the download is being cancelled; it needs no code");
      return FALSE;
    }
  if (lpa_confirmation_code_problem (code))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           lpa_confirmation_code_problem (code));
      return FALSE;
    }
  g_clear_handle_id (&d->confirm_timeout_id, g_source_remove);
  remember_secret (d, code);
  esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  lpa_download_supply_confirmation_code (d->download, code);
  return TRUE;
}

/* DownloadResult, the vendor API's result callback, comes before the job's end. */
static void
download_announce_outcome (EsimdJob *job)
{
  DownloadJob *d = job->data;

  esimd_announce_download_result (job, d ? d->iccid : NULL, job->error);
}

static const EsimdJobOps download_ops = {
  .kind = "download",
  .action = "org.esim.download",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_PROFILES | ESIMD_READ_NOTIFICATIONS | ESIMD_READ_INFO2,
  .run = download_run,
  .cancel = download_cancel,
  .confirm = download_confirm,
  .supply_confirmation_code = download_supply_confirmation_code,
  .announce_outcome = download_announce_outcome,
  .modem_returned = download_modem_returned,
  .free_data = download_job_free,
};

static gboolean
is_imei (const char *s)
{
  if (strlen (s) != 15)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

EsimdJob *
esimd_job_download_new (EsimdEuicc *euicc, const char *activation_code,
                        const char *confirmation_code, GVariant *options, GError **error)
{
  g_autoptr (LpaActivationCode) ac = NULL;
  DownloadJob *d;
  const char *smdp = NULL, *matching_id = NULL, *imei = NULL, *nickname = NULL;
  gboolean enable = FALSE, confirm = FALSE, detach = FALSE, ask_code = FALSE;
  EsimdJob *job;

  g_variant_lookup (options, "smdp_address", "&s", &smdp);
  g_variant_lookup (options, "matching_id", "&s", &matching_id);
  g_variant_lookup (options, "imei", "&s", &imei);
  g_variant_lookup (options, "nickname", "&s", &nickname);
  g_variant_lookup (options, "enable", "b", &enable);
  g_variant_lookup (options, "confirm", "b", &confirm);
  g_variant_lookup (options, "detach", "b", &detach);
  g_variant_lookup (options, "ask_confirmation_code", "b", &ask_code);
  /* What a person typed or pasted is read without the white space around it, as esimctl and
   * the activation code's parser read it (lpa_text_strip()): a confirmation code sent with it
   * hashes to a wrong answer and costs one of the server's few attempts (SGP.22 hashes the code
   * as given); a matching ID or an address with it is refused. */
  g_autoptr (LpaSecret) cc = lpa_text_strip (confirmation_code);
  g_autofree char *smdp_stripped = lpa_text_strip (smdp);
  g_autoptr (LpaSecret) matching_id_stripped = lpa_text_strip (matching_id);

  confirmation_code = cc;
  smdp = smdp_stripped;
  matching_id = matching_id_stripped;

  if (imei && !is_imei (imei))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT, "the IMEI must be 15 digits");
      return NULL;
    }
  /* Every argument is checked before the job exists: nothing of a bad request reaches a server
   * or the card (the same rules as esimctl's, from liblpa). */
  if (nickname && lpa_nickname_problem (nickname))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           lpa_nickname_problem (nickname));
      return NULL;
    }
  if (*confirmation_code && lpa_confirmation_code_problem (confirmation_code))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           lpa_confirmation_code_problem (confirmation_code));
      return NULL;
    }

  if (*activation_code)
    {
      if (smdp || matching_id)
        {
          g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                       "give either an activation code or the smdp_address and matching_id "
                       "options, not both");
          return NULL;
        }
      ac = lpa_activation_code_parse (activation_code, error);
      if (!ac)
        return NULL;
    }
  else
    {
      if (!smdp && euicc->default_smdp && *euicc->default_smdp)
        smdp = euicc->default_smdp;
      if (!smdp || !lpa_host_name_is_valid (smdp))
        {
          /* A caller's text is echoed on one line and cut: never its megabyte or escapes. */
          g_autofree char *shown = lpa_text_sanitize (smdp, -1, 64, LPA_TEXT_ONE_LINE);

          g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ACTIVATION_CODE,
                       smdp ? "\"%s\" is not an SM-DP+ address"
                            : "no activation code, no smdp_address option and no default "
                              "SM-DP+ address on the eUICC%s",
                       smdp ? shown : "");
          return NULL;
        }
      if (matching_id && lpa_matching_id_problem (matching_id))
        {
          g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                               lpa_matching_id_problem (matching_id));
          return NULL;
        }
    }
  if (ac && ac->cc_required && !*confirmation_code && !ask_code)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_CONFIRMATION_CODE_REQUIRED,
                   "this activation code needs a confirmation code from the operator");
      return NULL;
    }
  d = g_new0 (DownloadJob, 1);
  d->smdp_address = g_strdup (ac ? ac->smdp_address : smdp);
  d->matching_id = g_strdup (ac ? ac->matching_id : matching_id);
  d->smdp_oid = g_strdup (ac ? ac->smdp_oid : NULL);
  d->confirmation_code = *confirmation_code ? g_strdup (confirmation_code) : NULL;
  d->imei = g_strdup (imei); /* NULL: the eUICC's, when the job runs */
  d->nickname = nickname && *nickname ? g_strdup (nickname) : NULL;
  d->enable = enable;
  d->confirm = confirm;
  d->ask_code = ask_code;
  job = esimd_job_new (euicc, &download_ops, d);
  job->detached = detach;
  return job;
}
