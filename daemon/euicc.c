/* euicc.c — an eUICC's life: modem availability, the queue's begin/end, the cache, announcing. */
#include "euicc.h"

#include "daemon.h"
#include "esimd-error.h"
#include "job-euicc.h"
#include "job-notify.h"
#include "log.h"
#include "observer.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

static void euicc_after_job (EsimdEuicc *euicc, const EsimdJobOps *ended);

/* ---- small helpers ----------------------------------------------------------------------- */

const char *
esimd_euicc_state (EsimdEuicc *euicc)
{
  if (!euicc->available || !euicc->cache_valid)
    return "unavailable";
  /* A job only queued (the next one starts from an idle callback) is work too: a client that
   * waits for "ready" must not read the card's state before it ran. */
  return esimd_job_queue_length (euicc->queue) > 0 ? "busy" : "ready";
}

LpaProfileInfo *
esimd_euicc_find_profile (EsimdEuicc *euicc, const char *iccid)
{
  for (guint i = 0; euicc->profiles && i < euicc->profiles->len; i++)
    {
      LpaProfileInfo *p = euicc->profiles->pdata[i];

      if (g_strcmp0 (p->iccid, iccid) == 0)
        return p;
    }
  return NULL;
}

LpaProfileInfo *
esimd_euicc_active_profile (EsimdEuicc *euicc)
{
  for (guint i = 0; euicc->profiles && i < euicc->profiles->len; i++)
    {
      LpaProfileInfo *p = euicc->profiles->pdata[i];

      if (p->state == LPA_PROFILE_STATE_ENABLED)
        return p;
    }
  return NULL;
}

LpaNotificationMetadata *
esimd_euicc_find_notification (EsimdEuicc *euicc, guint32 seq)
{
  for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
    {
      LpaNotificationMetadata *n = euicc->notifications->pdata[i];

      if (n->seq == seq)
        return n;
    }
  return NULL;
}

/* ---- the segment size learnt per eUICC --------------------------------------------------- */

static char *
segment_size_file (EsimdEuicc *euicc)
{
  return g_build_filename (esimd->config->state_dir, "segment-size", euicc->eid, NULL);
}

static void
load_segment_size (EsimdEuicc *euicc)
{
  g_autofree char *path = segment_size_file (euicc);
  g_autofree char *text = NULL;
  guint64 v;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  if (g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, 255, &v, NULL) &&
      v != euicc->segment_size)
    {
      g_info ("eUICC %s: using the STORE DATA size %u learnt earlier", euicc->config->name,
              (guint) v);
      euicc->segment_size = (guint) v;
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_SEGMENT_SIZE);
    }
}

static void
on_segment_size_changed (guint size, gpointer user_data)
{
  EsimdEuicc *euicc = user_data;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *text = g_strdup_printf ("%u\n", size);
  g_autoptr (GError) error = NULL;

  g_warning ("eUICC %s: STORE DATA blocks of %u bytes were refused; using %u from now on",
             euicc->config->name, euicc->segment_size, size);
  euicc->segment_size = size;
  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_SEGMENT_SIZE);
  if (!euicc->eid)
    return;
  path = segment_size_file (euicc);
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) < 0 || !g_file_set_contents (path, text, -1, &error))
    g_warning ("cannot remember the STORE DATA size in %s: %s", dir,
               error ? error->message : g_strerror (errno));
}

/* ---- transactions left open ------------------------------------------------------------- */

static char *
sessions_file (EsimdEuicc *euicc)
{
  return g_build_filename (esimd->config->state_dir, "open-sessions", euicc->eid, NULL);
}

static GKeyFile *
sessions_load (EsimdEuicc *euicc)
{
  g_autofree char *path = NULL;
  GKeyFile *kf = g_key_file_new ();

  if (!euicc->eid)
    return kf;
  path = sessions_file (euicc);
  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL);
  return kf;
}

static void
sessions_save (EsimdEuicc *euicc, GKeyFile *kf)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;
  gsize n = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, &n);

  if (!euicc->eid)
    return;
  path = sessions_file (euicc);
  if (n == 0)
    {
      if (g_unlink (path) < 0 && errno != ENOENT)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      return;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) < 0 || !g_key_file_save_to_file (kf, path, &error))
    g_warning ("cannot remember the open sessions in %s: %s", dir,
               error ? error->message : g_strerror (errno));
}

void
esimd_open_session_free (EsimdOpenSession *session)
{
  if (!session)
    return;
  g_free (session->transaction_id);
  g_free (session->server);
  g_clear_pointer (&session->cancel_response, g_bytes_unref);
  g_free (session);
}

void
esimd_euicc_session_opened (EsimdEuicc *euicc, const char *transaction_id, const char *server)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  g_key_file_set_string (kf, transaction_id, "Server", server);
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", FALSE);
  sessions_save (euicc, kf);
}

void
esimd_euicc_session_bpp_requested (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", TRUE);
  sessions_save (euicc, kf);
}

void
esimd_euicc_session_cancelled_on_euicc (EsimdEuicc *euicc, const char *transaction_id,
                                        GBytes *cancel_response)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);
  g_autofree char *b64 = NULL;

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  b64 = g_base64_encode (g_bytes_get_data (cancel_response, NULL),
                         g_bytes_get_size (cancel_response));
  g_key_file_set_string (kf, transaction_id, "CancelResponse", b64);
  sessions_save (euicc, kf);
}

void
esimd_euicc_session_closed (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (g_key_file_remove_group (kf, transaction_id, NULL))
    sessions_save (euicc, kf);
}

gboolean
esimd_cancel_session_heard (guint status, GBytes *body, const GError *error, GError **why)
{
  g_autoptr (GError) local = NULL;

  if (error)
    {
      g_propagate_error (why, g_error_copy (error));
      return FALSE;
    }
  if (lpa_es9p_parse_cancel_session (status, body, &local))
    return TRUE;
  /* A Failed status was the server's decision (e.g. the session had already ended); an HTTP
   * error or a body that does not decode says nothing about what it did. */
  if (g_error_matches (local, LPA_ERROR, LPA_ERROR_HTTP) ||
      g_error_matches (local, LPA_ERROR, LPA_ERROR_MALFORMED))
    {
      g_propagate_error (why, g_steal_pointer (&local));
      return FALSE;
    }
  g_propagate_error (why, g_steal_pointer (&local));
  return TRUE;
}

GPtrArray *
esimd_euicc_open_sessions (EsimdEuicc *euicc)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) esimd_open_session_free);

  for (guint i = 0; groups[i]; i++)
    {
      g_autofree char *server = g_key_file_get_string (kf, groups[i], "Server", NULL);
      g_autofree char *b64 = g_key_file_get_string (kf, groups[i], "CancelResponse", NULL);
      EsimdOpenSession *s;

      if (!server || !lpa_host_name_is_valid (server))
        continue; /* not written by us: nothing sensible to send it to */
      s = g_new0 (EsimdOpenSession, 1);
      s->transaction_id = g_strdup (groups[i]);
      s->server = g_steal_pointer (&server);
      s->bpp_requested = g_key_file_get_boolean (kf, groups[i], "BppRequested", NULL);
      if (b64 && *b64)
        {
          gsize len = 0;
          guchar *raw = g_base64_decode (b64, &len);

          s->cancel_response = g_bytes_new_take (raw, len);
        }
      g_ptr_array_add (out, s);
    }
  return out;
}

/* ---- ES10 for jobs ----------------------------------------------------------------------- */

typedef struct
{
  EsimdEs10Func func;
  gpointer user_data;
  GError *error; /* set when the request could not even be sent */
} Es10Call;

static void
es10_done (GBytes *response, const GError *error, gpointer data)
{
  Es10Call *c = data;

  c->func (response, error, c->user_data);
  g_free (c);
}

static gboolean
es10_fail_later (gpointer data)
{
  Es10Call *c = data;
  g_autoptr (GError) error = g_steal_pointer (&c->error);

  es10_done (NULL, error, c);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_es10 (EsimdEuicc *euicc, GBytes *request, EsimdEs10Func func, gpointer user_data)
{
  Es10Call *c = g_new0 (Es10Call, 1);

  c->func = func;
  c->user_data = user_data;
  if (!euicc->es10)
    c->error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                    "no logical channel is open to the eUICC");
  else if (lpa_es10_call (euicc->es10, request, es10_done, c, &c->error))
    return;
  /* Callers are written for answers that come later, never from inside this call. */
  g_idle_add (es10_fail_later, c);
}

static LpaEs10 *
open_es10 (EsimdEuicc *euicc, guint8 channel)
{
  LpaEs10 *es10 = lpa_es10_new (&esimd_modem_apdu_ops, euicc->modem, channel);

  lpa_es10_set_segment_size (es10, euicc->segment_size);
  lpa_es10_set_segment_size_callback (es10, on_segment_size_changed, euicc);
  euicc->channel_lost = FALSE;
  return es10;
}

/* ---- reading the card into the cache ----------------------------------------------------- */

typedef struct
{
  EsimdEuicc *euicc;
  guint todo;
  guint current;
  guint done;    /* bits read into the cache */
  guint failed;  /* bits not read: the cache keeps older values for them */
  GError *error; /* the first failure; the other reads still run */
  GAsyncReadyCallback callback;
  gpointer user_data;
} ReadOp;

static GBytes *
profiles_request (void)
{
  gsize n_tags = 0;
  const guint32 *tags = lpa_es10c_profile_info_tags (TRUE, &n_tags);

  return lpa_es10c_get_profiles_info_request (NULL, tags, n_tags, NULL);
}

static GBytes *
build_read_request (guint bit)
{
  switch (bit)
    {
    case ESIMD_READ_EID:
      return lpa_es10c_get_eid_request ();
    case ESIMD_READ_INFO1:
      return lpa_es10b_get_euicc_info1_request ();
    case ESIMD_READ_INFO2:
      return lpa_es10b_get_euicc_info2_request ();
    case ESIMD_READ_ADDRESSES:
      return lpa_es10a_get_configured_addresses_request ();
    case ESIMD_READ_PROFILES:
      return profiles_request ();
    case ESIMD_READ_NOTIFICATIONS:
      return lpa_es10b_list_notification_request (0);
    }
  g_assert_not_reached ();
}

static gint
compare_notifications (gconstpointer a, gconstpointer b)
{
  const LpaNotificationMetadata *x = *(LpaNotificationMetadata *const *) a;
  const LpaNotificationMetadata *y = *(LpaNotificationMetadata *const *) b;

  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
update_trust (EsimdEuicc *euicc)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bundle = NULL;
  g_autoptr (GBytes) ci_only = NULL;
  guint matched = 0;

  g_clear_pointer (&euicc->http, esimd_http_client_unref);
  bundle = esimd_trust_bundle (
      esimd->trust, euicc->info1->ci_pkids_verification,
      esimd->config->trust_system_cas ? esimd->config->system_ca_file : NULL, &matched, &error);
  if (matched > 0)
    ci_only =
        esimd_trust_bundle (esimd->trust, euicc->info1->ci_pkids_verification, NULL, NULL, NULL);
  if (bundle)
    euicc->http = esimd_http_client_new (esimd->http, bundle, ci_only, &error);
  if (!euicc->http)
    g_warning ("eUICC %s: no server can be trusted: %s", euicc->config->name, error->message);
  else if (matched == 0)
    g_warning ("eUICC %s: none of the %u CI certificates it trusts is installed (see "
               "CiCertificateDirs): only servers with web certificates can be reached",
               euicc->config->name, euicc->info1->ci_pkids_verification->len);
}

static gboolean
store_read (EsimdEuicc *euicc, guint bit, GBytes *response, GError **error)
{
  switch (bit)
    {
    case ESIMD_READ_EID:
      {
        g_autofree char *eid = lpa_es10c_parse_eid (response, error);

        if (!eid)
          return FALSE;
        /* Before anything quotes it (the state files are named by it). */
        esimd_log_add_personal (eid);
        if (g_strcmp0 (eid, euicc->eid) != 0)
          {
            g_free (euicc->eid);
            euicc->eid = g_steal_pointer (&eid);
            g_info ("eUICC %s: EID %s", euicc->config->name, esimd_log_pd (euicc->eid));
            esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_EID);
            load_segment_size (euicc);
          }
        return TRUE;
      }
    case ESIMD_READ_INFO1:
      {
        LpaEuiccInfo1 *info1 = lpa_euicc_info1_parse (response, error);

        if (!info1)
          return FALSE;
        g_clear_pointer (&euicc->info1, lpa_euicc_info1_free);
        euicc->info1 = info1;
        update_trust (euicc);
        return TRUE;
      }
    case ESIMD_READ_INFO2:
      {
        LpaEuiccInfo2 *info2 = lpa_euicc_info2_parse (response, error);

        if (!info2)
          return FALSE;
        g_clear_pointer (&euicc->info2, lpa_euicc_info2_free);
        euicc->info2 = info2;
        esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_INFO);
        return TRUE;
      }
    case ESIMD_READ_ADDRESSES:
      {
        g_autoptr (LpaConfiguredAddresses) a =
            lpa_es10a_parse_configured_addresses (response, error);

        if (!a)
          return FALSE;
        g_free (euicc->default_smdp);
        g_free (euicc->root_smds);
        euicc->default_smdp = g_strdup (a->default_dp_address);
        euicc->root_smds = g_strdup (a->root_ds_address);
        esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_ADDRESSES);
        return TRUE;
      }
    case ESIMD_READ_PROFILES:
      {
        g_autoptr (GPtrArray) old = euicc->profiles;
        GPtrArray *profiles = lpa_es10c_parse_profiles_info (response, error);

        if (!profiles)
          {
            euicc->profiles = g_steal_pointer (&old);
            return FALSE;
          }
        euicc->profiles = profiles;
        for (guint i = 0; i < profiles->len; i++)
          esimd_log_add_personal (((LpaProfileInfo *) profiles->pdata[i])->iccid);
        esimd_announce_profiles_changed (euicc, old);
        return TRUE;
      }
    case ESIMD_READ_NOTIFICATIONS:
      {
        GPtrArray *list = lpa_es10b_parse_list_notification (response, error);
        guint before = euicc->notifications ? euicc->notifications->len : 0;

        if (!list)
          return FALSE;
        g_ptr_array_sort (list, compare_notifications);
        for (guint i = 0; i < list->len; i++)
          esimd_log_add_personal (((LpaNotificationMetadata *) list->pdata[i])->iccid);
        g_clear_pointer (&euicc->notifications, g_ptr_array_unref);
        euicc->notifications = list;
        if (before != list->len)
          esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_NOTIFICATIONS);
        return TRUE;
      }
    }
  g_assert_not_reached ();
}

static void read_next (ReadOp *op);

static void
read_done (GBytes *response, const GError *error, gpointer data)
{
  ReadOp *op = data;
  GError *local = NULL;

  if (error)
    local = g_error_copy (error);
  else if (!store_read (op->euicc, op->current, response, &local))
    g_prefix_error (&local, "reading the eUICC: ");
  if (local)
    {
      g_warning ("eUICC %s: %s", op->euicc->config->name, local->message);
      op->failed |= op->current;
      if (!op->error)
        op->error = local;
      else
        g_error_free (local);
      /* A lost modem fails every following read the same way: stop here. */
      if (g_error_matches (op->error, LPA_ERROR, LPA_ERROR_TRANSPORT))
        {
          op->failed |= op->todo;
          op->todo = 0;
        }
    }
  else
    op->done |= op->current;
  read_next (op);
}

static void note_stale (EsimdEuicc *euicc, guint done, guint failed);

static void
read_next (ReadOp *op)
{
  g_autoptr (GBytes) request = NULL;

  if (op->todo == 0)
    {
      GTask *task = g_task_new (NULL, NULL, op->callback, op->user_data);

      note_stale (op->euicc, op->done, op->failed);
      if (op->error)
        g_task_return_error (task, op->error);
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      g_free (op);
      return;
    }
  op->current = op->todo & -op->todo; /* lowest bit first: EID before the rest */
  op->todo &= ~op->current;
  request = build_read_request (op->current);
  esimd_euicc_es10 (op->euicc, request, read_done, op);
}

/* Reads @what from the card the current job holds into the cache. */
void
esimd_euicc_read (EsimdEuicc *euicc, guint what, GAsyncReadyCallback callback, gpointer user_data)
{
  ReadOp *op = g_new0 (ReadOp, 1);

  op->euicc = euicc;
  op->todo = what & ESIMD_READ_ALL;
  op->callback = callback;
  op->user_data = user_data;
  read_next (op);
}

gboolean
esimd_euicc_read_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- reading again what could not be read ---------------------------------------------- */

#define STALE_RETRY_MAX 60 /* seconds */

static gboolean
stale_retry_cb (gpointer data)
{
  EsimdEuicc *euicc = data;
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  euicc->stale_retry_id = 0;
  if (!euicc->stale || !euicc->available)
    return G_SOURCE_REMOVE;
  /* A refresh opens a fresh channel: a read that failed because the card was reset works again. */
  job = esimd_job_refresh_new (euicc, TRUE);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: reading it again not queued: %s", euicc->config->name, error->message);
  return G_SOURCE_REMOVE;
}

/* A failed read leaves the cache answering with what the card held before: clients would be
 * served a profile list or notification list that is no longer true. Read those parts again,
 * at once after the first failure, then with back-off while the card keeps failing. */
static void
note_stale (EsimdEuicc *euicc, guint done, guint failed)
{
  euicc->stale = (euicc->stale & ~done) | failed;
  if (!euicc->stale)
    {
      euicc->stale_backoff = 0;
      g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
      return;
    }
  if (euicc->stale_retry_id || !euicc->available)
    return;
  g_info ("eUICC %s: part of its state could not be read; reading it again in %u s",
          euicc->config->name, euicc->stale_backoff);
  euicc->stale_retry_id = g_timeout_add_seconds (euicc->stale_backoff, stale_retry_cb, euicc);
  euicc->stale_backoff = euicc->stale_backoff ? MIN (euicc->stale_backoff * 2, STALE_RETRY_MAX) : 1;
}

/* ---- notifications: announcing and automatic delivery ------------------------------------ */

/* Returns how many were announced for the first time. */
static guint
announce_notifications (EsimdEuicc *euicc)
{
  guint fresh = 0;

  /* Delete notifications first: they tell an operator a subscription is gone. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
      {
        LpaNotificationMetadata *n = euicc->notifications->pdata[i];
        gboolean is_delete = n->operation == LPA_NOTIFICATION_DELETE;

        if ((pass == 0) != is_delete)
          continue;
        if (g_hash_table_contains (euicc->announced, GUINT_TO_POINTER (n->seq)))
          continue;
        g_hash_table_add (euicc->announced, GUINT_TO_POINTER (n->seq));
        esimd_announce_notification_pending (euicc, n);
        fresh++;
      }
  /* Forget delivered ones, so a reused sequence number (after a memory reset) is announced. */
  {
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init (&it, euicc->announced);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!esimd_euicc_find_notification (euicc, GPOINTER_TO_UINT (key)))
        g_hash_table_iter_remove (&it);
  }
  return fresh;
}

static void
submit_auto_notify (EsimdEuicc *euicc)
{
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  if (!esimd->config->notify_auto || !euicc->available || !euicc->notifications ||
      euicc->notifications->len == 0 || euicc->notify_retry_id ||
      esimd_job_queue_has_kind (euicc->queue, "send-notifications"))
    return;
  job = esimd_job_notify_new (euicc, NULL, TRUE);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: automatic notification delivery not queued: %s", euicc->config->name,
             error->message);
}

/* Transactions a failed download (or a crash) left open: cancel them while nothing else runs. */
static void
submit_cancel_sessions (EsimdEuicc *euicc)
{
  g_autoptr (GPtrArray) open = NULL;
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  if (!euicc->available || !euicc->eid ||
      esimd_job_queue_has_kind (euicc->queue, "cancel-sessions"))
    return;
  open = esimd_euicc_open_sessions (euicc);
  if (open->len == 0)
    return;
  job = esimd_job_cancel_sessions_new (euicc);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: cancelling open sessions not queued: %s", euicc->config->name,
             error->message);
}

static gboolean
notify_retry_cb (gpointer data)
{
  EsimdEuicc *euicc = data;

  euicc->notify_retry_id = 0;
  submit_cancel_sessions (euicc);
  submit_auto_notify (euicc);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_notifications_failed (EsimdEuicc *euicc)
{
  const EsimdConfig *c = esimd->config;

  euicc->notify_backoff =
      euicc->notify_backoff ? MIN (euicc->notify_backoff * 2, c->retry_max) : c->retry_initial;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  euicc->notify_retry_id = g_timeout_add_seconds (euicc->notify_backoff, notify_retry_cb, euicc);
  g_info ("eUICC %s: notifications not delivered; next attempt in %u s", euicc->config->name,
          euicc->notify_backoff);
}

void
esimd_euicc_notifications_succeeded (EsimdEuicc *euicc)
{
  /* The server is reachable again: nothing left should wait for the back-off. */
  euicc->notify_backoff = 0;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
}

/* ---- the queue's hooks ------------------------------------------------------------------- */

typedef struct
{
  EsimdJob *job;
  EsimdQueueStepDone done;
} HookOp;

static void
begin_channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  if (esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    euicc->es10 = open_es10 (euicc, channel);
  op->done (op->job, error);
  g_free (op);
}

static void
queue_begin (EsimdJob *job, EsimdQueueStepDone done)
{
  EsimdEuicc *euicc = job->euicc;
  HookOp *op;

  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_CURRENT_JOB);
  euicc->reads = job->ops->reads;
  if (!job->ops->needs_channel)
    {
      done (job, NULL);
      return;
    }
  if (!euicc->available)
    {
      g_autoptr (GError) error =
          g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s", euicc->unavailable_reason);

      done (job, error);
      return;
    }
  op = g_new0 (HookOp, 1);
  op->job = job;
  op->done = done;
  esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, begin_channel_opened, op);
}

static void
end_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;

  const EsimdJobOps *ended = op->job->ops;

  if (!esimd_modem_close_channel_finish (euicc->modem, res, &error))
    g_debug ("eUICC %s: closing the channel: %s", euicc->config->name, error->message);
  op->done (op->job, NULL);
  g_free (op);
  euicc_after_job (euicc, ended);
}

static void
end_close (HookOp *op)
{
  EsimdEuicc *euicc = op->job->euicc;

  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  if (euicc->channel_lost)
    esimd_modem_forget_channel (euicc->modem);
  esimd_modem_close_channel (euicc->modem, end_closed, op);
}

static void
end_read_done (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;

  if (esimd_euicc_read_finish (euicc, res, &error) && !euicc->cache_valid)
    {
      euicc->cache_valid = TRUE;
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE);
    }
  end_close (op);
}

static void
end_reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;
  guint reads = euicc->reads;

  euicc->reads = 0;
  if (!esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    {
      const EsimdJobOps *ended = op->job->ops;

      g_warning ("eUICC %s: cannot read it again after the reset: %s", euicc->config->name,
                 error->message);
      op->done (op->job, NULL);
      g_free (op);
      euicc_after_job (euicc, ended);
      return;
    }
  euicc->es10 = open_es10 (euicc, channel);
  esimd_euicc_read (euicc, reads, end_read_done, op);
}

/* After every job: read again what it may have changed, then let the card go. */
static void
queue_end (EsimdJob *job, EsimdQueueStepDone done)
{
  EsimdEuicc *euicc = job->euicc;
  HookOp *op = g_new0 (HookOp, 1);
  guint reads = euicc->reads | (job->ops->needs_channel ? euicc->stale : 0);

  op->job = job;
  op->done = done;
  if (!job->ops->needs_channel)
    {
      const EsimdJobOps *ended = job->ops;

      done (job, NULL);
      g_free (op);
      euicc_after_job (euicc, ended);
      return;
    }
  if (!euicc->available || reads == 0)
    {
      euicc->reads = 0;
      end_close (op);
      return;
    }
  euicc->reads = reads;
  if (euicc->channel_lost || !euicc->es10)
    {
      /* The card was reset (refresh or power cycle): open a fresh channel to read it. */
      g_clear_pointer (&euicc->es10, lpa_es10_unref);
      esimd_modem_forget_channel (euicc->modem);
      esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, end_reopened, op);
      return;
    }
  euicc->reads = 0;
  esimd_euicc_read (euicc, reads, end_read_done, op);
}

static void
queue_current_changed (gpointer user_data, EsimdJob *current)
{
  EsimdEuicc *euicc = user_data;

  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_CURRENT_JOB);
}

static const EsimdJobQueueHooks queue_hooks = {
  .begin = queue_begin,
  .end = queue_end,
  .current_changed = queue_current_changed,
};

static void
modem_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdEuicc *euicc = data;
  g_autoptr (GTask) task = g_steal_pointer (&euicc->stop_task);

  /* Returning a result keeps the creator's reference: it is dropped here. */
  if (task)
    g_task_return_boolean (task, TRUE);
}

/* The last step of stopping: the modem keeps no channel or client of ours. */
static void
stop_transport (EsimdEuicc *euicc)
{
  g_clear_handle_id (&euicc->stop_timeout_id, g_source_remove);
  esimd_modem_stop (euicc->modem, modem_stopped, euicc);
}

/* Between jobs: close what a failed download left open, tell clients about notifications and
 * start delivering them. */
static void
euicc_after_job (EsimdEuicc *euicc, const EsimdJobOps *ended)
{
  if (euicc->stop_task)
    {
      if (!esimd_job_queue_current (euicc->queue))
        stop_transport (euicc);
      return;
    }
  if (!euicc->cache_valid)
    return;
  /* After a cancel job that could not finish, wait for the back-off or the modem's return. */
  if (!g_str_equal (ended->kind, "cancel-sessions"))
    submit_cancel_sessions (euicc);
  /* A new notification (the PIR of a download, an enable's) goes out now, even while older ones
   * wait for the back-off: the server expects it right after the operation, and a back-off
   * armed by an earlier failure says nothing about the network now. */
  if (announce_notifications (euicc) > 0)
    g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  submit_auto_notify (euicc);
}

/* ---- submitting and steering jobs -------------------------------------------------------- */

gboolean
esimd_euicc_submit (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  if (euicc->stop_task)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "esimd is stopping");
      return FALSE;
    }
  if (!euicc->available && job->ops->needs_channel)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s",
                   euicc->unavailable_reason ? euicc->unavailable_reason : "modem not available");
      return FALSE;
    }
  if (!esimd_job_queue_push (euicc->queue, job, error))
    return FALSE;
  esimd_announce_job_added (job);
  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE);
  return TRUE;
}

gboolean
esimd_euicc_cancel_job (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  return esimd_job_queue_cancel (euicc->queue, job, error);
}

void
esimd_euicc_caller_gone (EsimdEuicc *euicc, EsimdJob *job)
{
  g_autoptr (GError) error = NULL;

  if (esimd_job_is_finished (job))
    return;
  g_info ("eUICC %s: the caller of job %u (%s) went away: cancelling it", euicc->config->name,
          job->id, job->ops->kind);
  job->caller_gone = TRUE;
  if (!esimd_euicc_cancel_job (euicc, job, &error))
    g_info ("eUICC %s: job %u goes on: %s", euicc->config->name, job->id, error->message);
}

gboolean
esimd_euicc_confirm_job (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  if (job->state != ESIMD_JOB_AWAITING_CONFIRMATION || !job->ops->confirm)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the job is %s, not awaiting confirmation",
                   esimd_job_state_to_string (job->state));
      return FALSE;
    }
  return job->ops->confirm (job, error);
}

/* ---- refreshing the modem after enable/disable ------------------------------------------- */

static void
card_reset (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  GError *error = NULL;

  euicc->channel_lost = TRUE;
  if (!esimd_modem_reset_card_finish (euicc->modem, res, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
refresh_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!esimd_modem_close_channel_finish (euicc->modem, res, &error))
    g_debug ("eUICC %s: closing before the power cycle: %s", euicc->config->name, error->message);
  esimd_modem_reset_card (euicc->modem, card_reset, task);
}

void
esimd_euicc_refresh_modem (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, euicc, NULL);
  switch (euicc->config->refresh)
    {
    case ESIMD_REFRESH_FLAG:
      /* The eUICC resets itself after answering: the channel is gone. */
      euicc->channel_lost = TRUE;
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    case ESIMD_REFRESH_NONE:
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    case ESIMD_REFRESH_POWER_CYCLE:
      g_clear_pointer (&euicc->es10, lpa_es10_unref);
      esimd_modem_close_channel (euicc->modem, refresh_closed, task);
      return;
    }
}

gboolean
esimd_euicc_refresh_modem_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the IMEI ---------------------------------------------------------------------------- */

const char *
esimd_euicc_get_imei (EsimdEuicc *euicc)
{
  return euicc->config->imei ? euicc->config->imei : euicc->modem_imei;
}

static void
imei_read (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autofree char *imei = esimd_modem_read_imei_finish (euicc->modem, res, &error);

  if (!imei)
    g_warning ("eUICC %s: cannot read the modem's IMEI (%s): servers get no IMEI; set Imei= "
               "to send one",
               euicc->config->name, error->message);
  else
    {
      g_info ("eUICC %s: the modem's IMEI is %s", euicc->config->name, esimd_log_pd (imei));
      euicc->imei_stale = FALSE;
      g_free (euicc->modem_imei);
      euicc->modem_imei = g_steal_pointer (&imei);
    }
  g_task_return_boolean (task, TRUE);
}

void
esimd_euicc_update_imei (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, euicc, NULL);
  if (euicc->config->imei || !euicc->imei_stale || !esimd_modem_can_read_imei (euicc->modem))
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  esimd_modem_read_imei (euicc->modem, imei_read, task);
}

void
esimd_euicc_update_imei_finish (EsimdEuicc *euicc, GAsyncResult *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

/* ---- availability ------------------------------------------------------------------------ */

static void
on_availability (EsimdModem *modem, gboolean available, const GError *reason, gpointer user_data)
{
  EsimdEuicc *euicc = user_data;

  euicc->available = available;
  g_clear_pointer (&euicc->unavailable_reason, g_free);
  if (!available)
    {
      g_autoptr (GError) error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s",
                                              reason ? reason->message : "modem not available");

      euicc->unavailable_reason = g_strdup (error->message);
      euicc->cache_valid = FALSE;
      g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
      g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
      euicc->stale_backoff = 0;
      esimd_job_queue_fail_queued (euicc->queue, error);
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE |
                                               ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON);
      return;
    }
  esimd_announce_euicc_changed (euicc,
                                ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON);
  /* It may be another modem on the same device node now. */
  euicc->imei_stale = TRUE;
  /* Deliveries that failed while it vanished failed for the modem, not the network: once it is
   * back they are retried at once, not after the back-off. */
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  /* Everything may have changed while the modem was away: read it all, then announce. */
  {
    g_autoptr (EsimdJob) job = esimd_job_refresh_new (euicc, TRUE);
    g_autoptr (GError) error = NULL;

    if (!esimd_euicc_submit (euicc, job, &error))
      g_warning ("eUICC %s: %s", euicc->config->name, error->message);
  }
}

/* ---- life -------------------------------------------------------------------------------- */

EsimdEuicc *
esimd_euicc_new (guint index, EsimdModemConfig *config, GError **error)
{
  EsimdEuicc *euicc;
  EsimdModem *modem = NULL;

  euicc = g_new0 (EsimdEuicc, 1);
  esimd_log_add_personal (config->imei);
  modem = esimd_modem_new (config, on_availability, euicc, error);
  if (!modem)
    {
      g_free (euicc);
      return NULL;
    }

  euicc->index = index;
  euicc->config = config;
  euicc->segment_size = config->segment_size;
  euicc->unavailable_reason = g_strdup ("not connected yet");
  euicc->queue = esimd_job_queue_new (&queue_hooks, euicc, esimd->config->max_queued_jobs);
  euicc->modem = modem;
  euicc->announced = g_hash_table_new (NULL, NULL);
  return euicc;
}

void
esimd_euicc_start (EsimdEuicc *euicc)
{
  esimd_announce_euicc_added (euicc);
  esimd_modem_start (euicc->modem);
}

static gboolean
stop_timeout (gpointer data)
{
  EsimdEuicc *euicc = data;

  euicc->stop_timeout_id = 0;
  g_warning ("eUICC %s: the running job did not end in time; stopping anyway", euicc->config->name);
  stop_transport (euicc);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_stop (EsimdEuicc *euicc, guint grace, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GError) error =
      g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "esimd is stopping");
  EsimdJob *current = esimd_job_queue_current (euicc->queue);

  euicc->stop_task = g_task_new (NULL, NULL, callback, user_data);
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  esimd_job_queue_fail_queued (euicc->queue, error);
  if (!current)
    {
      stop_transport (euicc);
      return;
    }
  if (current->ops->cancel)
    {
      g_autoptr (GError) cancel_error = NULL;

      if (!current->ops->cancel (current, &cancel_error))
        g_info ("eUICC %s: letting the running %s finish: %s", euicc->config->name,
                current->ops->kind, cancel_error->message);
    }
  euicc->stop_timeout_id = g_timeout_add_seconds (grace, stop_timeout, euicc);
}

void
esimd_euicc_free (EsimdEuicc *euicc)
{
  if (!euicc)
    return;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stop_timeout_id, g_source_remove);
  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  esimd_job_queue_free (euicc->queue);
  esimd_modem_free (euicc->modem);
  g_clear_pointer (&euicc->http, esimd_http_client_unref);
  g_clear_pointer (&euicc->info1, lpa_euicc_info1_free);
  g_clear_pointer (&euicc->info2, lpa_euicc_info2_free);
  g_clear_pointer (&euicc->profiles, g_ptr_array_unref);
  g_clear_pointer (&euicc->notifications, g_ptr_array_unref);
  g_hash_table_unref (euicc->announced);
  g_free (euicc->eid);
  g_free (euicc->modem_imei);
  g_free (euicc->default_smdp);
  g_free (euicc->root_smds);
  g_free (euicc->unavailable_reason);
  g_free (euicc);
}
