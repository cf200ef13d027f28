/* job-euicc.c — Refresh, ResetMemory, SetDefaultSmdpAddress, RemoveNotification, and the
 * cancelling of sessions left open, as jobs. */
#include "job-euicc.h"

#include "daemon.h"
#include "observer.h"
#include "polkit.h"

typedef struct
{
  guint options;
  char *address;
  guint32 seq;
  GError *unanswered; /* the 6F00 a memory reset was answered with, while the card is read */
} EuiccJob;

static void
euicc_job_free (gpointer data)
{
  EuiccJob *e = data;

  g_free (e->address);
  g_clear_error (&e->unanswered);
  g_free (e);
}

/* ---- refresh ----------------------------------------------------------------------------- */

static void
refresh_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) error = NULL;

  /* The reads themselves decide when the eUICC can be used (esimd_euicc_read). */
  esimd_euicc_read_finish (job->euicc, res, &error);
  esimd_job_complete (job, error, NULL);
}

static void
refresh_imei_done (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;

  esimd_euicc_update_imei_finish (job->euicc, res);
  esimd_euicc_read (job->euicc, ESIMD_READ_ALL, refresh_read, job);
}

/* Everything is read, the modem's IMEI first when it is needed: before the eUICC is ready, so a
 * download queued once it is can send it. */
static void
refresh_run (EsimdJob *job)
{
  /* What the card was found to refuse is asked again: it may be another card, or updated. */
  esimd_euicc_notify_card_retry (job->euicc);
  esimd_job_set_stage (job, "running", 0);
  esimd_euicc_update_imei (job->euicc, refresh_imei_done, job);
}

static const EsimdJobOps refresh_ops = {
  .kind = "refresh",
  .action = "org.esim.refresh",
  .needs_channel = TRUE,
  .run = refresh_run,
  .free_data = euicc_job_free,
};

EsimdJob *
esimd_job_refresh_new (EsimdEuicc *euicc, gboolean internal)
{
  EsimdJob *job = esimd_job_new (euicc, &refresh_ops, g_new0 (EuiccJob, 1));

  job->internal = internal;
  return job;
}

/* ---- the single-command jobs ------------------------------------------------------------- */

/* What a memory reset answered with 6F00 did, as the card now reads: every effect asked for that
 * the lists can show is there (no operational profile left, no test profile left, no default
 * SM-DP+ address). A pre-loaded test profile, which no reset deletes, reads as not done. */
static void
reset_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  EuiccJob *e = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) unanswered = g_steal_pointer (&e->unanswered);
  gboolean read = esimd_euicc_read_after_reset_finish (euicc, res, &error);
  gboolean done;

  done = read && euicc->profiles && !esimd_euicc_read_error (euicc, ESIMD_READ_PROFILES);

  for (guint i = 0; done && i < euicc->profiles->len; i++)
    {
      const LpaProfileInfo *p = euicc->profiles->pdata[i];

      if (((e->options & LPA_RESET_DELETE_OPERATIONAL_PROFILES) &&
           p->profile_class == LPA_PROFILE_CLASS_OPERATIONAL) ||
          ((e->options & LPA_RESET_DELETE_FIELD_LOADED_TEST_PROFILES) &&
           p->profile_class == LPA_PROFILE_CLASS_TEST))
        done = FALSE;
    }
  if ((e->options & LPA_RESET_DEFAULT_SMDP_ADDRESS) &&
      (esimd_euicc_read_error (euicc, ESIMD_READ_ADDRESSES) ||
       (euicc->default_smdp && *euicc->default_smdp)))
    done = FALSE;
  if (done)
    g_info ("eUICC %s: memory reset done (answered %s; what the card now holds says it is done)",
            euicc->config->name, unanswered->message);
  else if (error)
    g_info ("eUICC %s: memory reset answered %s; the card could not be read after it: %s",
            euicc->config->name, unanswered->message, error->message);
  esimd_job_complete (job, done ? NULL : unanswered, NULL);
}

static void
command_done (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  EuiccJob *e = job->data;
  g_autoptr (GError) local = NULL;
  gboolean ok;

  if (g_str_equal (job->ops->kind, "reset-memory") &&
      (error ? lpa_status_word_from_error (error) == 0x6F00 : g_bytes_get_size (response) == 0))
    {
      /* A card may be reset by the memory reset before it answers, and answer 6F00: AOSP takes
       * that for success (EuiccPort's sendApduWithSimResetErrorWorkaround); or its answer may
       * come without the result. Not taken on trust, nor sent again: what the card holds now
       * says whether it happened. */
      e->unanswered = error ? g_error_copy (error)
                            : g_error_new_literal (LPA_ERROR, LPA_ERROR_MALFORMED,
                                                   "eUICCMemoryReset: the eUICC's answer carried "
                                                   "no result");
      esimd_euicc_read_after_reset (job->euicc, ESIMD_READ_PROFILES | ESIMD_READ_ADDRESSES,
                                    reset_read, job);
      return;
    }
  if (error)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (g_str_equal (job->ops->kind, "reset-memory"))
    {
      gint code = 0;

      ok = lpa_es10c_parse_memory_reset (response, &code, &local);
      /* Nothing to delete leaves the card as asked: not a failure for the caller. */
      if (!ok && code == LPA_MEMORY_RESET_NOTHING_TO_DELETE)
        {
          ok = TRUE;
          g_clear_error (&local);
        }
    }
  else if (g_str_equal (job->ops->kind, "set-default-smdp"))
    ok = lpa_es10a_parse_set_default_dp_address (response, NULL, &local);
  else
    ok = lpa_es10b_parse_remove_notification (response, NULL, &local);
  esimd_job_complete (job, ok ? NULL : local, NULL);
}

static void
command_run (EsimdJob *job)
{
  EuiccJob *e = job->data;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;

  esimd_job_set_stage (job, "running", 0);
  if (g_str_equal (job->ops->kind, "reset-memory"))
    request = lpa_es10c_memory_reset_request (e->options, &error);
  else if (g_str_equal (job->ops->kind, "set-default-smdp"))
    request = lpa_es10a_set_default_dp_address_request (e->address, &error);
  else
    request = lpa_es10b_remove_notification_request (e->seq);
  if (!request)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  esimd_euicc_es10 (job->euicc, request, command_done, job);
}

static const EsimdJobOps reset_ops = {
  .kind = "reset-memory",
  .action = "org.esim.reset",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_ALL & ~(ESIMD_READ_EID | ESIMD_READ_INFO1),
  .run = command_run,
  .free_data = euicc_job_free,
};

static const EsimdJobOps default_smdp_ops = {
  .kind = "set-default-smdp",
  .action = "org.esim.reset",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_ADDRESSES,
  .run = command_run,
  .free_data = euicc_job_free,
};

/* Discarding, not sending: the stricter action (the notification's operator never hears). */
static const EsimdJobOps remove_notification_ops = {
  .kind = "remove-notification",
  .action = ESIMD_ACTION_DISCARD_NOTIFICATIONS,
  .needs_channel = TRUE,
  .reads = ESIMD_READ_NOTIFICATIONS,
  .run = command_run,
  .free_data = euicc_job_free,
};

EsimdJob *
esimd_job_reset_memory_new (EsimdEuicc *euicc, guint options)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->options = options;
  return esimd_job_new (euicc, &reset_ops, e);
}

EsimdJob *
esimd_job_set_default_smdp_new (EsimdEuicc *euicc, const char *address)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->address = g_strdup (address);
  return esimd_job_new (euicc, &default_smdp_ops, e);
}

EsimdJob *
esimd_job_remove_notification_new (EsimdEuicc *euicc, guint32 seq)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->seq = seq;
  return esimd_job_new (euicc, &remove_notification_ops, e);
}

/* ---- sessions left open ------------------------------------------------------------------ */

/* A download that failed without a ProfileInstallationResult, or never finished because the
 * modem vanished or esimd died, may leave its transaction open on the eUICC and the SM-DP+ (an
 * order reserved, a BPP counted as delivered). SGP.22 §3.0.2 closes it with ES10b CancelSession
 * and ES9+ cancelSession; this job does so once the eUICC can be reached again. The server is
 * told only of a cancel the eUICC made, only when it did not end the session itself, only when
 * its back-off allows, and not for ever (ESIMD_OPEN_SESSION_MAX_ATTEMPTS, _MAX_AGE). */
typedef struct
{
  GPtrArray *todo; /* EsimdOpenSession* */
  guint next;
  gboolean telling;  /* the server's cancelSession is in flight */
  gboolean stopping; /* a caller cancelled it, or it gives way to a caller's job */
} CancelJob;

static void
cancel_job_free (gpointer data)
{
  CancelJob *c = data;

  g_clear_pointer (&c->todo, g_ptr_array_unref);
  g_free (c);
}

static void cancel_next (EsimdJob *job);

static EsimdOpenSession *
current_session (EsimdJob *job)
{
  CancelJob *c = job->data;

  return c->todo->pdata[c->next - 1];
}

static void
session_done (EsimdJob *job, const char *outcome)
{
  EsimdOpenSession *s = current_session (job);

  g_info ("eUICC %s: transaction %s with %s %s", job->euicc->config->name, s->transaction_id,
          s->server, outcome);
  esimd_euicc_session_closed (job->euicc, s->transaction_id);
  cancel_next (job);
}

static void
on_server_answered (guint status, GBytes *body, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  CancelJob *c = job->data;
  EsimdOpenSession *s = current_session (job);
  g_autoptr (GError) why = NULL;

  c->telling = FALSE;
  esimd_job_request_ended (job);
  if (c->stopping && g_error_matches (error, LPA_ERROR, LPA_ERROR_CANCELLED))
    {
      /* Our own abort says nothing about the server: no attempt counted, the eUICC's answer
       * is kept for the next time. */
      cancel_next (job);
      esimd_job_unref (job);
      return;
    }
  if (!esimd_cancel_session_heard (status, body, error, &why))
    {
      /* The eUICC side is done; its answer is kept, so only the server is asked again, after
       * its back-off, a bounded number of times. */
      guint wait = esimd_euicc_notify_server_failed (job->euicc, s->server);

      if (esimd_euicc_session_attempt_failed (job->euicc, s->transaction_id, why))
        g_info ("eUICC %s: cancelSession to %s: %s; trying again in %u s", job->euicc->config->name,
                s->server, why->message, wait);
      cancel_next (job);
      esimd_job_unref (job);
      return;
    }
  esimd_euicc_notify_server_succeeded (job->euicc, s->server);
  if (why)
    g_debug ("eUICC %s: cancelSession: %s", job->euicc->config->name, why->message);
  session_done (job, why ? "was refused by the server" : "cancelled");
  esimd_job_unref (job);
}

static void
tell_server (EsimdJob *job)
{
  CancelJob *c = job->data;
  EsimdOpenSession *s = current_session (job);
  g_autoptr (GBytes) body = NULL;

  /* no server can be trusted now (a later attempt may), or a caller stopped the job */
  if (!job->euicc->http || (c->stopping && !job->gave_way))
    {
      cancel_next (job);
      return;
    }
  body = lpa_es9p_cancel_session_request (s->transaction_id, s->cancel_response);
  c->telling = TRUE;
  esimd_http_client_ops.post (job->euicc->http, s->server, LPA_ES9P_CANCEL_SESSION, body,
                              on_server_answered, esimd_job_ref (job));
  /* Giving way since the eUICC's step: the server gets the grace as if it had been asked. */
  if (c->stopping && c->telling)
    esimd_job_stop_request (job, "cancelSession", s->server);
}

static void
on_euicc_cancelled (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  EsimdOpenSession *s = current_session (job);
  g_autoptr (LpaCancelSessionResponse) parsed = NULL;
  g_autoptr (GError) local = NULL;

  if (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT))
    {
      /* The modem went away again: its return starts this job anew. */
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (error || !(parsed = lpa_es10b_parse_cancel_session (response, &local)))
    {
      /* Without a BF41 there is nothing the server would accept; the next challenge clears the
       * eUICC's session anyway. */
      g_warning ("eUICC %s: CancelSession for %s: %s", job->euicc->config->name, s->transaction_id,
                 (error ? error : local)->message);
      session_done (job, "could not be cancelled on the eUICC");
      return;
    }
  if (!parsed->ok)
    {
      /* invalidTransactionId: a reset or a later challenge ended it. The eUICC cancelled
       * nothing, so there is nothing to tell the server (SGP.22's cancelSession carries the
       * eUICC's signed cancel); the server's own timeout ends its side. */
      session_done (job, "was no longer held by the eUICC; the server is not told");
      return;
    }
  if (s->server_ended)
    {
      session_done (job, "cancelled on the eUICC (the server had ended it)");
      return;
    }
  s->cancel_response = g_bytes_ref (parsed->raw);
  esimd_euicc_session_cancelled_on_euicc (job->euicc, s->transaction_id, parsed->raw);
  if (!esimd_euicc_notify_server_due (job->euicc, s->server))
    {
      cancel_next (job); /* its server waits for its back-off; the answer is kept for it */
      return;
    }
  tell_server (job);
}

static void
cancel_on_euicc (EsimdJob *job)
{
  EsimdOpenSession *s = current_session (job);
  g_autoptr (GBytes) tid = NULL;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;

  /* Once the BPP was asked for, the load may have started: loadBppExecutionError is what SGP.22
   * names for a load that did not complete, and what lets the server offer the profile again. */
  if (!(tid = lpa_hex_decode (s->transaction_id, &error)) ||
      !(request = lpa_es10b_cancel_session_request (
            tid,
            s->bpp_requested ? LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR : LPA_CANCEL_UNDEFINED_REASON,
            &error)))
    {
      g_warning ("eUICC %s: transaction %s: %s", job->euicc->config->name, s->transaction_id,
                 error->message);
      session_done (job, "dropped");
      return;
    }
  esimd_euicc_es10 (job->euicc, request, on_euicc_cancelled, job);
}

static gboolean
same_transaction (GBytes *tid, const char *hex)
{
  g_autofree char *h = lpa_hex_encode_bytes (tid);

  return g_ascii_strcasecmp (h, hex) == 0;
}

static void
on_install_results (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  EsimdOpenSession *s = current_session (job);
  g_autoptr (GPtrArray) list = NULL;

  if (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT))
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (!error)
    list = lpa_es10b_parse_retrieve_notifications (response, NULL);
  for (guint i = 0; list && i < list->len; i++)
    {
      LpaPendingNotification *n = list->pdata[i];
      g_autoptr (LpaProfileInstallationResult) pir = NULL;

      if (n->is_install_result &&
          (pir = lpa_es10b_parse_profile_installation_result (n->raw, NULL)) &&
          same_transaction (pir->transaction_id, s->transaction_id))
        {
          /* The load ended on the card: its result, delivered as a notification, closes the
           * server's session; a cancel now would contradict it. */
          session_done (job, "ended with a ProfileInstallationResult");
          return;
        }
    }
  cancel_on_euicc (job);
}

/* Stopped between two steps: what is left waits, in the record, for the next run. */
static void
cancel_stopped (EsimdJob *job)
{
  CancelJob *c = job->data;
  g_autoptr (GError) error = NULL;

  if (job->gave_way)
    /* It is submitted again when the caller's job ends (esimd_euicc_after_job). */
    error = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED,
                                 "gave way to a caller's job; it runs again after it");
  else
    {
      error = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "cancelled");
      /* A caller stopped it: not again at once, but after each server's back-off. */
      for (guint i = c->next > 0 ? c->next - 1 : 0; i < c->todo->len; i++)
        esimd_euicc_notify_server_postponed (job->euicc,
                                             ((EsimdOpenSession *) c->todo->pdata[i])->server);
    }
  g_info ("eUICC %s: cancelling open sessions %s", job->euicc->config->name, error->message);
  esimd_job_complete (job, error, NULL);
}

static void
cancel_next (EsimdJob *job)
{
  CancelJob *c = job->data;
  EsimdOpenSession *s;

  /* Giving way, the session in hand is done first (its server within the grace): one that
   * kept its place ahead of a caller's download must not be left for after it. */
  if (c->stopping && (!job->gave_way || c->next > 0))
    {
      cancel_stopped (job);
      return;
    }
  if (c->next >= c->todo->len)
    {
      esimd_job_complete (job, NULL, NULL);
      return;
    }
  s = c->todo->pdata[c->next++];
  esimd_job_set_stage (job, "cancelling", (double) c->next / (c->todo->len + 1));
  if (s->cancel_response && s->server_ended)
    session_done (job, "cancelled on the eUICC (the server had ended it)");
  else if (s->cancel_response)
    {
      /* Only the server is left; it waits for its own back-off. */
      if (esimd_euicc_notify_server_due (job->euicc, s->server))
        tell_server (job);
      else
        cancel_next (job);
    }
  else if (s->bpp_requested)
    {
      g_autoptr (GBytes) request =
          lpa_es10b_retrieve_notifications_by_event_request (LPA_NOTIFICATION_INSTALL);

      esimd_euicc_es10 (job->euicc, request, on_install_results, job);
    }
  else
    cancel_on_euicc (job);
}

static void
cancel_run (EsimdJob *job)
{
  CancelJob *c = job->data;

  c->todo = esimd_euicc_open_sessions (job->euicc);
  cancel_next (job);
}

/* A caller cancelled it, or a caller's job is queued (job->gave_way): stop after the step in
 * flight. An ES10 command completes first, so the eUICC's answer is recorded. A cancelSession
 * in flight is abandoned (the eUICC's answer stays in the record, sent again later): at once for
 * a caller's cancel, after ESIMD_GIVE_WAY_GRACE when giving way, so that a server that accepted
 * the connection and never answers does not hold the caller for RequestTimeout. */
static gboolean
cancel_cancel (EsimdJob *job, GError **error)
{
  CancelJob *c = job->data;

  c->stopping = TRUE;
  if (c->telling)
    esimd_job_stop_request (job, "cancelSession", current_session (job)->server);
  return TRUE;
}

/* esimd's own clean-up: once it runs, it gives way to callers' jobs as the automatic
 * notification delivery does (a cancel it could not finish waits in the record). */
static const EsimdJobOps cancel_ops = {
  .kind = "cancel-sessions",
  .action = "org.esim.download", /* it ends what downloads left open */
  .needs_channel = TRUE,
  .gives_way = TRUE,
  .keeps_place = TRUE,
  .run = cancel_run,
  .cancel = cancel_cancel,
  .free_data = cancel_job_free,
};

EsimdJob *
esimd_job_cancel_sessions_new (EsimdEuicc *euicc)
{
  EsimdJob *job = esimd_job_new (euicc, &cancel_ops, g_new0 (CancelJob, 1));

  job->internal = TRUE;
  return job;
}
