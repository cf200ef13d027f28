/* euicc-cache.c — the cache of what the card holds: reading it, serving reads, reading again. */
#include "euicc-private.h"

#include "daemon.h"
#include "job-euicc.h"
#include "log.h"
#include "observer.h"

#include <errno.h>
#include <glib/gstdio.h>

/* ---- cache queries ---------------------------------------------------------------------- */

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

/* ---- what a profile operation changed, known without reading ---------------------------- */

/* The states the observers compare against (profiles_changed's @old): what they read of it. */
static GPtrArray *
profiles_snapshot (EsimdEuicc *euicc)
{
  GPtrArray *old = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_profile_info_free);

  for (guint i = 0; euicc->profiles && i < euicc->profiles->len; i++)
    {
      const LpaProfileInfo *p = euicc->profiles->pdata[i];
      LpaProfileInfo *copy = g_new0 (LpaProfileInfo, 1);

      copy->iccid = g_strdup (p->iccid);
      copy->state = p->state;
      copy->nickname = g_strdup (p->nickname);
      copy->profile_class = p->profile_class;
      g_ptr_array_add (old, copy);
    }
  return old;
}

void
esimd_euicc_read_after_outcome (EsimdEuicc *euicc, guint parts)
{
  euicc->reads_after |= euicc->reads & parts;
  euicc->reads &= ~parts;
}

gboolean
esimd_euicc_cache_profile_installed (EsimdEuicc *euicc, GBytes *stored_metadata, GBytes *isdp_aid)
{
  g_autoptr (LpaProfileInfo) info = NULL;
  g_autoptr (GPtrArray) old = NULL;
  g_autoptr (GError) error = NULL;

  if (!euicc->profiles || !stored_metadata || !isdp_aid)
    return FALSE;
  info = lpa_profile_metadata_parse (stored_metadata, &error);
  if (!info)
    {
      g_debug ("eUICC %s: the installed profile's metadata: %s", euicc->config->name,
               error->message);
      return FALSE;
    }
  if (esimd_euicc_find_profile (euicc, info->iccid))
    return FALSE;
  info->isdp_aid = g_bytes_ref (isdp_aid);
  info->state = LPA_PROFILE_STATE_DISABLED; /* SGP.22: installed profiles start disabled */
  old = profiles_snapshot (euicc);
  g_ptr_array_add (euicc->profiles, g_steal_pointer (&info));
  esimd_announce_profiles_changed (euicc, old);
  /* The card's own list confirms it once the caller has the outcome. */
  esimd_euicc_read_after_outcome (euicc, ESIMD_READ_PROFILES | ESIMD_READ_NOTIFICATIONS |
                                             ESIMD_READ_INFO2);
  return TRUE;
}

/* The profile list is now known; the rest the operation changed is read once it is answered. */
static void
profile_op_cached (EsimdEuicc *euicc, GPtrArray *old)
{
  esimd_euicc_read_after_outcome (euicc, ESIMD_READ_NOTIFICATIONS | ESIMD_READ_INFO2);
  euicc->reads &= ~ESIMD_READ_PROFILES;
  esimd_announce_profiles_changed (euicc, old);
}

void
esimd_euicc_cache_profile_switched (EsimdEuicc *euicc, const char *iccid, gboolean enabled)
{
  g_autoptr (GPtrArray) old = profiles_snapshot (euicc);
  LpaProfileInfo *target = esimd_euicc_find_profile (euicc, iccid);

  if (!target)
    {
      /* Not in the cache (it was out of date): read the list after all. */
      euicc->reads |= ESIMD_READ_PROFILES;
      return;
    }
  for (guint i = 0; enabled && i < euicc->profiles->len; i++)
    {
      LpaProfileInfo *p = euicc->profiles->pdata[i];

      if (p->state == LPA_PROFILE_STATE_ENABLED)
        p->state = LPA_PROFILE_STATE_DISABLED;
    }
  target->state = enabled ? LPA_PROFILE_STATE_ENABLED : LPA_PROFILE_STATE_DISABLED;
  profile_op_cached (euicc, old);
}

void
esimd_euicc_cache_profile_deleted (EsimdEuicc *euicc, const char *iccid)
{
  g_autoptr (GPtrArray) old = profiles_snapshot (euicc);
  LpaProfileInfo *target = esimd_euicc_find_profile (euicc, iccid);

  if (!target)
    {
      euicc->reads |= ESIMD_READ_PROFILES;
      return;
    }
  g_ptr_array_remove (euicc->profiles, target);
  profile_op_cached (euicc, old);
}

void
esimd_euicc_cache_nickname_set (EsimdEuicc *euicc, const char *iccid, const char *nickname)
{
  g_autoptr (GPtrArray) old = profiles_snapshot (euicc);
  LpaProfileInfo *target = esimd_euicc_find_profile (euicc, iccid);

  if (!target)
    {
      euicc->reads |= ESIMD_READ_PROFILES;
      return;
    }
  g_free (target->nickname);
  /* As the card answers it in ProfileInfo's 90 (an empty one is empty, not absent). */
  target->nickname = g_strdup (nickname);
  profile_op_cached (euicc, old);
}

void
esimd_euicc_cache_notification_removed (EsimdEuicc *euicc, guint32 seq)
{
  LpaNotificationMetadata *n = esimd_euicc_find_notification (euicc, seq);

  if (!n)
    return;
  g_ptr_array_remove (euicc->notifications, n);
  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_NOTIFICATIONS);
}

void
esimd_euicc_cache_notifications_known (EsimdEuicc *euicc)
{
  euicc->reads &= ~ESIMD_READ_NOTIFICATIONS;
}

/* ---- the segment size learnt per eUICC -------------------------------------------------- */

static char *
segment_size_file (EsimdEuicc *euicc)
{
  return g_build_filename (esimd->config->state_dir, "segment-size", euicc->eid, NULL);
}

void
esimd_euicc_load_segment_size (EsimdEuicc *euicc)
{
  g_autofree char *path = segment_size_file (euicc);
  g_autofree char *text = NULL;
  guint64 v;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  if (!g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, 255, &v, NULL))
    {
      /* Damaged: the size is learnt again if the card refuses ours; the next one learnt
       * replaces the file. The directory is named, never the file (its name is the EID). */
      g_autofree char *dir = g_path_get_dirname (path);

      g_warning ("eUICC %s: the STORE DATA size learnt earlier (in %s) is unreadable; using %u",
                 euicc->config->name, dir, euicc->segment_size);
      return;
    }
  if (v != euicc->segment_size)
    {
      g_info ("eUICC %s: using the STORE DATA size %u learnt earlier", euicc->config->name,
              (guint) v);
      euicc->segment_size = (guint) v;
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_SEGMENT_SIZE);
    }
}

void
esimd_euicc_segment_size_learnt (guint size, gpointer user_data)
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
  /* 0600 whatever esimd's umask (g_file_set_contents() gives 0666 less the umask, and esimd
   * started by hand has the shell's): the file is named by the EID. Written whole and renamed
   * into place, as the session records are. */
  if (g_mkdir_with_parents (dir, 0700) < 0 ||
      !g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_warning ("cannot remember the STORE DATA size in %s: %s", dir,
               error ? error->message : g_strerror (errno));
}

/* ---- reading the card into the cache ---------------------------------------------------- */

typedef struct
{
  EsimdEuicc *euicc;
  guint todo;
  guint current;
  guint done;                       /* bits read into the cache */
  guint failed;                     /* bits not read: the cache keeps older values for them */
  GError *error;                    /* the first failure; the other reads still run */
  GError *errors[ESIMD_READ_PARTS]; /* each failed bit's */
  gboolean notifications_unknown;   /* before this read */
  GAsyncReadyCallback callback;
  gpointer user_data;
} ReadOp;

static guint
bit_index (guint bit)
{
  return (guint) g_bit_nth_lsf (bit, -1);
}

const char *
esimd_read_part_name (guint bit)
{
  switch (bit)
    {
    case ESIMD_READ_EID:
      return "eid";
    case ESIMD_READ_INFO1:
    case ESIMD_READ_INFO2:
      return "info";
    case ESIMD_READ_ADDRESSES:
      return "addresses";
    case ESIMD_READ_PROFILES:
      return "profiles";
    case ESIMD_READ_NOTIFICATIONS:
      return "notifications";
    }
  return "";
}

/* What a failed read was, for its message. */
static const char *
read_what (guint bit)
{
  switch (bit)
    {
    case ESIMD_READ_EID:
      return "its EID (GetEID)";
    case ESIMD_READ_INFO1:
      return "EUICCInfo1";
    case ESIMD_READ_INFO2:
      return "EUICCInfo2";
    case ESIMD_READ_ADDRESSES:
      return "its configured addresses";
    case ESIMD_READ_PROFILES:
      return "its profile list";
    case ESIMD_READ_NOTIFICATIONS:
      return "its notification list";
    }
  return "it";
}

const GError *
esimd_euicc_read_error (EsimdEuicc *euicc, guint bit)
{
  return euicc->read_errors[bit_index (bit)];
}

gboolean
esimd_euicc_notifications_unknown (EsimdEuicc *euicc)
{
  return !euicc->notifications || (euicc->stale & ESIMD_READ_NOTIFICATIONS);
}

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
            esimd_euicc_load_segment_size (euicc);
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

/* What the cache held of an optional @bit that the card no longer answers. */
static void
forget_part (EsimdEuicc *euicc, guint bit)
{
  if (bit == ESIMD_READ_ADDRESSES && (euicc->default_smdp || euicc->root_smds))
    {
      g_clear_pointer (&euicc->default_smdp, g_free);
      g_clear_pointer (&euicc->root_smds, g_free);
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_ADDRESSES);
    }
}

static void
read_done (GBytes *response, const GError *error, gpointer data)
{
  ReadOp *op = data;
  GError *local = NULL;

  if (error)
    local = g_error_copy (error);
  else
    store_read (op->euicc, op->current, response, &local);
  if (local)
    {
      gboolean refused_optional =
          (op->current & ESIMD_READ_OPTIONAL) && lpa_status_word_from_error (local) != 0;

      /* The status word or the fault stays in the message: it is what the caller is told. */
      g_prefix_error (&local, "reading %s: ", read_what (op->current));
      g_debug ("eUICC %s: %s", op->euicc->config->name, local->message);
      op->errors[bit_index (op->current)] = g_error_copy (local);
      if (refused_optional)
        {
          /* The card answered and refused a function it may lack (6D00, 6A81, 6A88 on a card
           * without GetEuiccConfiguredAddresses; lpac's chip info reads them as null then). Not
           * stale, so not read again in a loop, and no failure of the job that read it: what
           * it held is unknown now, and ReadErrors says why. The next Refresh asks again. */
          forget_part (op->euicc, op->current);
          g_error_free (local);
          read_next (op);
          return;
        }
      op->failed |= op->current;
      /* A lost modem fails every following read the same way: stop here. */
      if (g_error_matches (local, LPA_ERROR, LPA_ERROR_TRANSPORT))
        {
          for (guint b = op->todo; b; b &= b - 1)
            op->errors[bit_index (b & -b)] = g_error_copy (local);
          op->failed |= op->todo;
          op->todo = 0;
        }
      if (!op->error)
        op->error = local;
      else
        g_error_free (local);
    }
  else
    op->done |= op->current;
  read_next (op);
}

static void note_stale (EsimdEuicc *euicc, guint done, guint failed);
static void note_errors (EsimdEuicc *euicc, guint done, GError **errors,
                         gboolean notifications_unknown);

static void
read_next (ReadOp *op)
{
  g_autoptr (GBytes) request = NULL;

  if (op->todo == 0)
    {
      GTask *task = g_task_new (NULL, NULL, op->callback, op->user_data);

      /* What is stale first: the announcement that follows shows the state as it now is. */
      note_stale (op->euicc, op->done, op->failed);
      note_errors (op->euicc, op->done, op->errors, op->notifications_unknown);
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
  op->notifications_unknown = esimd_euicc_notifications_unknown (euicc);
  op->callback = callback;
  op->user_data = user_data;
  read_next (op);
}

gboolean
esimd_euicc_read_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- reading again what could not be read ----------------------------------------------- */

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

/* ---- what could not be read, said once ------------------------------------------------- */

/* Keeps each part's last error (ReadErrors), says a change once (at warning level once the
 * eUICC is in use; before, its UnavailableReason says it), and decides whether the eUICC can
 * be used: its EID, EUICCInfo and profile list were read since the modem appeared, and their
 * last reads did not fail. */
static void
note_errors (EsimdEuicc *euicc, guint done, GError **errors, gboolean notifications_unknown)
{
  guint changed = 0;
  const GError *blocking = NULL;

  for (guint i = 0; i < ESIMD_READ_PARTS; i++)
    {
      g_autoptr (GError) error = g_steal_pointer (&errors[i]);
      GError **kept = &euicc->read_errors[i];
      guint bit = 1u << i;

      if (done & bit)
        {
          euicc->read_once |= bit;
          if (*kept)
            {
              g_info ("eUICC %s: %s can be read again", euicc->config->name, read_what (bit));
              g_clear_error (kept);
              changed |= ESIMD_EUICC_CHANGE_READ_ERRORS;
            }
          continue;
        }
      if (!error)
        continue;
      if (!*kept || g_strcmp0 ((*kept)->message, error->message) != 0)
        {
          if (euicc->cache_valid)
            g_warning ("eUICC %s: %s", euicc->config->name, error->message);
          else
            g_info ("eUICC %s: %s", euicc->config->name, error->message);
          changed |= ESIMD_EUICC_CHANGE_READ_ERRORS;
        }
      g_clear_error (kept);
      *kept = g_steal_pointer (&error);
    }
  for (guint i = 0; i < ESIMD_READ_PARTS && !blocking; i++)
    if ((ESIMD_READ_ESSENTIAL & (1u << i)) && euicc->read_errors[i])
      blocking = euicc->read_errors[i];
  /* The notification list that could not be read is unknown (PendingNotifications says so). */
  if (esimd_euicc_notifications_unknown (euicc) != notifications_unknown)
    changed |= ESIMD_EUICC_CHANGE_NOTIFICATIONS;

  if (!euicc->cache_valid && euicc->available)
    {
      if (!blocking && (euicc->read_once & ESIMD_READ_ESSENTIAL) == ESIMD_READ_ESSENTIAL)
        {
          euicc->cache_valid = TRUE;
          changed |=
              ESIMD_EUICC_CHANGE_STATE | esimd_euicc_update_unavailable_reason (euicc, NULL, FALSE);
        }
      else if (blocking)
        {
          g_autofree char *reason =
              g_strdup_printf ("the eUICC cannot be read: %s", blocking->message);

          changed |= esimd_euicc_update_unavailable_reason (euicc, reason, TRUE);
        }
    }
  /* One announcement for all of it. */
  if (changed)
    esimd_announce_euicc_changed (euicc, changed);
}
