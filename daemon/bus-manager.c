/* bus-manager.c — the org.esim.Manager interface: cached reads, queued methods, its signals. */
#include "bus-manager.h"

#include "bus.h"
#include "bus-errors.h"
#include "bus-gvariant.h"
#include "bus-job.h"
#include "bus-nodes.h"
#include "bus-paths.h"
#include "bus-profile.h"
#include "bus-props.h"
#include "bus-source.h"
#include "daemon.h"
#include "discovery.h"
#include "job-discover.h"
#include "job-download.h"
#include "job-euicc.h"
#include "job-notify.h"
#include "job-profile.h"
#include "job-slot.h"
#include "observer.h"
#include "polkit.h"
#include "profile-dict.h"

#include <errno.h>
#include <string.h>

#define EUICC_PREFIX  "/org/esim/euicc"
#define MANAGER_IFACE "org.esim.Manager"

/* ---- lookup ------------------------------------------------------------------------------ */

static int
manager_find (sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
              sd_bus_error *error)
{
  EsimdEuicc *euicc = esimd_bus_euicc_from_path (path);

  if (!euicc)
    return 0;
  *found = euicc;
  return 1;
}

static int
manager_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
                   sd_bus_error *error)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *e = esimd->euiccs->pdata[i];

      if (e->present)
        g_ptr_array_add (paths, esimd_bus_euicc_path (e));
    }
  *nodes = esimd_bus_nodes_answer (bus, prefix, (const char *const *) paths->pdata, paths->len);
  return *nodes ? 0 : -ENOMEM;
}

/* ---- values ------------------------------------------------------------------------------ */

static GVariant *
ppr_variant (guint64 ppr)
{
  const char *names[4];

  return g_variant_new_strv (esimd_ppr_names (ppr, names), -1);
}

/* ListProfiles writes a profile's fields (profile-dict.c) straight into its reply: building and
 * converting a GVariant per profile cost 5 times as much. */
/* The sd-bus sink: entries appended to an open a{sv} container; the first failure sticks. */
typedef struct
{
  sd_bus_message *m;
  int r;
} MessageSink;

static gboolean
message_entry_open (MessageSink *ms, const char *key, const char *signature)
{
  if (ms->r >= 0)
    ms->r = sd_bus_message_open_container (ms->m, 'e', "sv");
  if (ms->r >= 0)
    ms->r = sd_bus_message_append_basic (ms->m, 's', key);
  if (ms->r >= 0)
    ms->r = sd_bus_message_open_container (ms->m, 'v', signature);
  return ms->r >= 0;
}

static void
message_entry_close (MessageSink *ms)
{
  if (ms->r >= 0)
    ms->r = sd_bus_message_close_container (ms->m); /* v */
  if (ms->r >= 0)
    ms->r = sd_bus_message_close_container (ms->m); /* e */
}

static void
message_basic (MessageSink *ms, const char *key, char type, const char *value)
{
  const char signature[2] = { type, 0 };

  if (message_entry_open (ms, key, signature))
    ms->r = sd_bus_message_append_basic (ms->m, type, value);
  message_entry_close (ms);
}

static void
message_string (gpointer sink, const char *key, const char *value)
{
  message_basic (sink, key, 's', value);
}

static void
message_bytes (gpointer sink, const char *key, GBytes *value)
{
  MessageSink *ms = sink;
  gsize len = 0;
  const void *data = value ? g_bytes_get_data (value, &len) : NULL;

  if (message_entry_open (ms, key, "ay"))
    ms->r = sd_bus_message_append_array (ms->m, 'y', data ? data : "", len);
  message_entry_close (ms);
}

static void
message_strv (gpointer sink, const char *key, const char *const *values)
{
  MessageSink *ms = sink;

  if (message_entry_open (ms, key, "as"))
    ms->r = sd_bus_message_append_strv (ms->m, (char **) values);
  message_entry_close (ms);
}

static const EsimdProfileSink message_sink = { message_string, message_bytes, message_strv };

/* The fields, and the path of the profile's object. */
static int
append_profile (sd_bus_message *m, EsimdEuicc *e, const LpaProfileInfo *p)
{
  MessageSink ms = { m, sd_bus_message_open_container (m, 'a', "{sv}") };

  esimd_profile_fields (p, &message_sink, &ms);
  if (p->iccid)
    {
      g_autofree char *path = esimd_bus_profile_path (e, p->iccid);

      message_basic (&ms, "path", 'o', path);
    }
  if (ms.r < 0)
    return ms.r;
  return sd_bus_message_close_container (m);
}

static int
prop_get (sd_bus *bus, const char *path, const char *iface, const char *property,
          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  const char *s = NULL;

  if (g_str_equal (property, "Eid"))
    s = e->eid ? e->eid : e->discovered_eid;
  else if (g_str_equal (property, "ModemManagerModem"))
    s = e->mm_path;
  else if (g_str_equal (property, "Slot") || g_str_equal (property, "ActiveSlot"))
    {
      guint32 n = g_str_equal (property, "Slot") ? e->slot : e->active_slot;

      return sd_bus_message_append_basic (reply, 'u', &n);
    }
  else if (g_str_equal (property, "Name"))
    s = e->config->name;
  else if (g_str_equal (property, "Device"))
    s = e->config->device;
  else if (g_str_equal (property, "Transport"))
    s = e->config->transport;
  else if (g_str_equal (property, "State"))
    s = esimd_euicc_state (e);
  else if (g_str_equal (property, "UnavailableReason"))
    s = esimd_euicc_unavailable_reason (e);
  else if (g_str_equal (property, "DefaultSmdpAddress"))
    s = e->default_smdp;
  else if (g_str_equal (property, "RootSmdsAddress"))
    s = e->root_smds;
  else if (g_str_equal (property, "SpecVersion"))
    s = e->info2 && e->info2->svn ? e->info2->svn : e->info1 ? e->info1->svn : NULL;
  else if (g_str_equal (property, "ActiveProfile"))
    {
      LpaProfileInfo *p = esimd_euicc_active_profile (e);
      g_autofree char *p_path = p ? esimd_bus_profile_path (e, p->iccid) : NULL;

      return sd_bus_message_append_basic (reply, 'o', p_path ? p_path : "/");
    }
  else if (g_str_equal (property, "CurrentJob"))
    {
      EsimdJob *job = esimd_job_queue_current (e->queue);
      g_autofree char *j_path = job ? esimd_bus_job_path (job) : NULL;

      return sd_bus_message_append_basic (reply, 'o', j_path ? j_path : "/");
    }
  else if (g_str_equal (property, "Jobs"))
    {
      g_autoptr (GPtrArray) jobs = esimd_job_queue_jobs (e->queue);
      int r = sd_bus_message_open_container (reply, 'a', "o");

      for (guint i = 0; r >= 0 && i < jobs->len; i++)
        {
          g_autofree char *j_path = esimd_bus_job_path (jobs->pdata[i]);

          r = sd_bus_message_append_basic (reply, 'o', j_path);
        }
      return r < 0 ? r : sd_bus_message_close_container (reply);
    }
  else if (g_str_equal (property, "PendingNotifications"))
    {
      /* Unknown (the list could not be read) is not none: G_MAXUINT32, as the XML says. */
      guint32 n = esimd_euicc_notifications_unknown (e) ? G_MAXUINT32 : e->notifications->len;

      return sd_bus_message_append_basic (reply, 'u', &n);
    }
  else if (g_str_equal (property, "ReadErrors"))
    {
      int r = sd_bus_message_open_container (reply, 'a', "{ss}");

      for (guint bit = 1; r >= 0 && bit & ESIMD_READ_ALL; bit <<= 1)
        {
          const GError *why = esimd_euicc_read_error (e, bit);

          /* EUICCInfo1 and 2 are both "info": the first failure speaks for it. */
          if (!why || (bit == ESIMD_READ_INFO2 && esimd_euicc_read_error (e, ESIMD_READ_INFO1)))
            continue;
          r = sd_bus_message_append (reply, "{ss}", esimd_read_part_name (bit), why->message);
        }
      return r < 0 ? r : sd_bus_message_close_container (reply);
    }
  else if (g_str_equal (property, "SegmentSize"))
    {
      guint32 n = e->segment_size;

      return sd_bus_message_append_basic (reply, 'u', &n);
    }
  else if (g_str_equal (property, "FreeNonVolatileMemory"))
    {
      guint64 n = e->info2 && e->info2->has_free_nvm ? e->info2->free_nvm : 0;

      return sd_bus_message_append_basic (reply, 't', &n);
    }
  else if (g_str_equal (property, "Profiles"))
    {
      int r = sd_bus_message_open_container (reply, 'a', "o");

      for (guint i = 0; r >= 0 && e->profiles && i < e->profiles->len; i++)
        {
          LpaProfileInfo *p = e->profiles->pdata[i];
          g_autofree char *p_path = esimd_bus_profile_path (e, p->iccid);

          r = sd_bus_message_append_basic (reply, 'o', p_path);
        }
      return r < 0 ? r : sd_bus_message_close_container (reply);
    }
  return sd_bus_message_append_basic (reply, 's', s ? s : "");
}

/* ---- helpers shared with bus-profile.c --------------------------------------------------- */

/* The "key:type" entry of @allowed for @key, or NULL. */
static const char *
find_option (const char *const *allowed, const char *key)
{
  for (const char *const *a = allowed; a && *a; a++)
    {
      gsize klen = strcspn (*a, ":");

      if (strlen (key) == klen && strncmp (*a, key, klen) == 0)
        return *a + klen + 1;
    }
  return NULL;
}

int
esimd_bus_read_options (sd_bus_message *m, const char *const *allowed, GVariant **out,
                        sd_bus_error *error)
{
  /* Straight from the message, one entry at a time, each checked before its value is read: a
   * caller's 200 000-entry dictionary (or a huge value under a known key) is refused at its first
   * unknown key, duplicate or wrong type, never converted whole. What is kept is at most one
   * value per allowed key. */
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int r;

  if ((r = sd_bus_message_enter_container (m, 'a', "{sv}")) <= 0)
    return r < 0 ? r : -ENXIO;
  while ((r = sd_bus_message_enter_container (m, 'e', "sv")) > 0)
    {
      const char *key = NULL, *type, *contents = NULL;
      g_autoptr (GVariant) boxed = NULL;
      g_autoptr (GVariant) value = NULL;

      if ((r = sd_bus_message_read_basic (m, 's', &key)) <= 0)
        return r < 0 ? r : -ENXIO;
      if (!(type = find_option (allowed, key)))
        {
          /* Cut at a character boundary: a cut inside one is invalid UTF-8, which sd-bus does
           * not send, and the caller would wait for an answer that never comes. */
          g_autofree char *shown = lpa_text_sanitize (key, -1, 64, LPA_TEXT_ONE_LINE);

          return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS, "unknown option \"%s\"",
                                    shown);
        }
      if (g_hash_table_contains (seen, key))
        return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS, "option \"%s\" given twice",
                                  key);
      if ((r = sd_bus_message_peek_type (m, NULL, &contents)) <= 0)
        return r < 0 ? r : -ENXIO;
      if (!g_str_equal (contents, type))
        return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS,
                                  "option \"%s\" must be of type %s", key, type);
      if ((r = esimd_bus_read_gvariant (m, "v", &boxed)) < 0 ||
          (r = sd_bus_message_exit_container (m)) < 0)
        return r;
      g_hash_table_add (seen, g_strdup (key));
      value = g_variant_get_variant (boxed);
      g_variant_builder_add (&b, "{sv}", key, value);
    }
  if (r < 0 || (r = sd_bus_message_exit_container (m)) < 0)
    return r;
  *out = g_variant_ref_sink (g_variant_builder_end (&b));
  return 0;
}

typedef struct
{
  sd_bus_message *call;
  EsimdEuicc *euicc;
  EsimdJob *job;
  gboolean reply_now;
  EsimdBusWatch *watch; /* the caller of a job that outlives the call, from the call on */
  uid_t caller_uid;     /* whose share of the queue the job takes (job-queue.h) */
} RunJob;

/* @m's caller's user, read while its call is handled, for its share of what waits (the queue,
 * the calls kept for a read or a refresh). A caller the bus no longer knows has left: its work
 * would count as esimd's own, outside every user's share, with nobody waiting for it; @error
 * says so (a negative return). */
static int
caller_euid (sd_bus_message *m, uid_t *euid, sd_bus_error *error)
{
  g_autoptr (sd_bus_creds) creds = NULL;

  if (sd_bus_query_sender_creds (m, SD_BUS_CREDS_EUID, &creds) >= 0 &&
      sd_bus_creds_get_euid (creds, euid) >= 0)
    return 0;
  return sd_bus_error_set (error, ESIMD_BUS_ERROR_NOT_AUTHORIZED,
                           "the caller's user cannot be read: it left the bus");
}

/* A RunJob for @m, or NULL with an error sent to @m (caller_euid()). */
static RunJob *
run_job_new (sd_bus_message *m, EsimdEuicc *euicc)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  RunJob *rj;
  uid_t euid;

  if (caller_euid (m, &euid, &error) < 0)
    {
      sd_bus_reply_method_error (m, &error);
      sd_bus_error_free (&error);
      return NULL;
    }
  rj = g_new0 (RunJob, 1);
  rj->call = sd_bus_message_ref (m);
  rj->euicc = euicc;
  rj->caller_uid = euid;
  return rj;
}

static int
reply_gerror (sd_bus_message *call, const GError *error)
{
  sd_bus_error e = SD_BUS_ERROR_NULL;
  int r;

  esimd_bus_error_set (&e, error);
  r = sd_bus_reply_method_error (call, &e);
  sd_bus_error_free (&e);
  return r;
}

static void
run_job_authorized (const GError *auth_error, gpointer data)
{
  RunJob *rj = data;
  g_autoptr (GError) error = NULL;

  if (auth_error)
    reply_gerror (rj->call, auth_error);
  else
    {
      rj->job->caller_uid = rj->caller_uid;
      esimd_bus_job_take_call (rj->job, rj->call, !rj->reply_now, g_steal_pointer (&rj->watch));
      if (!esimd_euicc_submit (rj->euicc, rj->job, &error))
        reply_gerror (rj->call, error); /* the job is dropped with the call it kept */
      else if (rj->reply_now)
        {
          g_autofree char *path = esimd_bus_job_path (rj->job);

          sd_bus_reply_method_return (rj->call, "o", path);
        }
    }
  g_clear_pointer (&rj->watch, esimd_bus_watch_free);
  sd_bus_message_unref (rj->call);
  esimd_job_unref (rj->job);
  g_free (rj);
}

int
esimd_bus_run_job (sd_bus_message *m, EsimdEuicc *euicc, EsimdJob *job, const char *action,
                   gboolean reply_now)
{
  RunJob *rj = run_job_new (m, euicc);

  if (!rj)
    {
      esimd_job_unref (job);
      return 1;
    }
  rj->job = job;
  rj->reply_now = reply_now;
  if (reply_now)
    rj->watch = esimd_bus_watch_new (sd_bus_message_get_sender (m), NULL, NULL);
  if (action)
    esimd_polkit_check (m, action, run_job_authorized, rj);
  else
    run_job_authorized (NULL, rj);
  return 1;
}

/* What a caller sent, as an error message shows it: one line, at most 64 bytes (a caller's
 * megabyte or its escape sequences are not echoed back; D-Bus carries only valid UTF-8). */
static char *
shown_text (const char *text)
{
  return lpa_text_sanitize (text, -1, 64, LPA_TEXT_ONE_LINE);
}

/* *@address: a server address a caller gave (SetDefaultSmdpAddress, Discover's smds_address),
 * read as Download reads its smdp_address: without the white space around it (lpa_text_strip()),
 * then a host name (lpa_host_name_is_valid()) or, when @empty_ok, "". Checked before polkit is
 * asked or anything is queued: nothing else reaches the card or a URL. */
static int
check_address (const char *given, gboolean empty_ok, char **address, sd_bus_error *error)
{
  *address = lpa_text_strip (given);
  if ((**address || !empty_ok) && !lpa_host_name_is_valid (*address))
    {
      g_autofree char *shown = shown_text (*address);

      g_clear_pointer (address, g_free);
      return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS,
                                "\"%s\" is not a host name (letters, digits, '-' and '.', at most "
                                "253 characters)",
                                shown);
    }
  return 0;
}

/* *@canonical: the ICCID @iccid names, as esimd lists it (lpa_iccid_canonical()): a caller's
 * lower-case, padded or pasted ICCID names the same profile as the listed one. */
static int
check_iccid (const char *iccid, char **canonical, sd_bus_error *error)
{
  *canonical = lpa_iccid_canonical (iccid);
  if (!*canonical)
    {
      g_autofree char *shown = shown_text (iccid);

      return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS,
                                "\"%s\" is not an ICCID (" LPA_ICCID_FORMS ")", shown);
    }
  return 0;
}

static int
check_nickname (const char *nickname, sd_bus_error *error)
{
  const char *problem = lpa_nickname_problem (nickname);

  if (problem)
    return sd_bus_error_set (error, SD_BUS_ERROR_INVALID_ARGS, problem);
  return 0;
}

/* With the modem gone, the last lists read are served (documented); with the modem there and the
 * card not usable yet (being read, or failing to be), the caller hears why. */
static int
check_cache (EsimdEuicc *e, sd_bus_error *error)
{
  if (!e->cache_valid && (!e->profiles || e->available))
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_UNAVAILABLE,
                              "the eUICC has not been read yet: %s",
                              esimd_euicc_unavailable_reason (e));
  return 0;
}

/* A part whose last read failed is not served from the cache: the caller gets that failure (its
 * status word in the message), never a list that may no longer be the card's, nor an empty one
 * for one that could not be read. */
static int
check_read (EsimdEuicc *e, guint bit, const char *what, sd_bus_error *error)
{
  const GError *why = esimd_euicc_read_error (e, bit);
  g_autoptr (GError) copy = NULL;

  if (!why)
    return 0;
  copy = g_error_copy (why);
  g_prefix_error (&copy, "%s is unknown: ", what);
  return esimd_bus_error_set (error, copy);
}

/* ---- methods ----------------------------------------------------------------------------- */

static int
method_list_profiles (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  g_autoptr (sd_bus_message) reply = NULL;
  int include_all = 0, r;

  if ((r = sd_bus_message_read (m, "b", &include_all)) < 0 || (r = check_cache (e, error)) < 0 ||
      (r = check_read (e, ESIMD_READ_PROFILES, "the profile list", error)) < 0)
    return r;
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0 ||
      (r = sd_bus_message_open_container (reply, 'a', "a{sv}")) < 0)
    return r;
  for (guint i = 0; e->profiles && i < e->profiles->len; i++)
    {
      LpaProfileInfo *p = e->profiles->pdata[i];

      if ((include_all || p->profile_class == LPA_PROFILE_CLASS_OPERATIONAL) &&
          (r = append_profile (reply, e, p)) < 0)
        return r;
    }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
profile_method (sd_bus_message *m, EsimdEuicc *e, EsimdProfileOp op, sd_bus_error *error)
{
  const char *arg = NULL, *nickname = NULL;
  g_autofree char *iccid = NULL;
  g_autoptr (GVariant) options = NULL;
  int r;

  if ((r = sd_bus_message_read (m, "s", &arg)) < 0 || (r = check_iccid (arg, &iccid, error)) < 0)
    return r;
  if (op == ESIMD_PROFILE_SET_NICKNAME)
    {
      if ((r = sd_bus_message_read (m, "s", &nickname)) < 0 ||
          (r = check_nickname (nickname, error)) < 0)
        return r;
    }
  else if ((r = esimd_bus_read_options (m, NULL, &options, error)) < 0)
    return r;
  return esimd_bus_run_job (m, e, esimd_job_profile_new (e, op, iccid, nickname),
                            ESIMD_ACTION_MANAGE, FALSE);
}

static int
method_enable (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_ENABLE, error);
}

static int
method_disable (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_DISABLE, error);
}

static int
method_delete (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_DELETE, error);
}

static int
method_set_nickname (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_SET_NICKNAME, error);
}

static int
method_download (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  static const char *const allowed[] = { "enable:b",
                                         "nickname:s",
                                         "imei:s",
                                         "confirm:b",
                                         "smdp_address:s",
                                         "matching_id:s",
                                         "detach:b",
                                         "ask_confirmation_code:b",
                                         NULL };
  EsimdEuicc *e = userdata;
  const char *code = NULL, *cc = NULL;
  g_autoptr (GVariant) options = NULL;
  g_autoptr (GError) local = NULL;
  EsimdJob *job;
  int r;

  if ((r = sd_bus_message_read (m, "ss", &code, &cc)) < 0 ||
      (r = esimd_bus_read_options (m, allowed, &options, error)) < 0)
    return r;
  job = esimd_job_download_new (e, code, cc, options, &local);
  if (!job)
    return esimd_bus_error_set (error, local);
  return esimd_bus_run_job (m, e, job, ESIMD_ACTION_DOWNLOAD, TRUE);
}

static int
method_discover (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  static const char *const allowed[] = { "smds_address:s", NULL };
  EsimdEuicc *e = userdata;
  g_autoptr (GVariant) options = NULL;
  const char *given = NULL;
  g_autofree char *smds = NULL;
  int r;

  if ((r = esimd_bus_read_options (m, allowed, &options, error)) < 0)
    return r;
  /* "" asks the eUICC's root SM-DS, as no option does. */
  if (g_variant_lookup (options, "smds_address", "&s", &given) &&
      (r = check_address (given, TRUE, &smds, error)) < 0)
    return r;
  return esimd_bus_run_job (m, e, esimd_job_discover_new (e, smds), ESIMD_ACTION_DOWNLOAD, FALSE);
}

/* ListNotifications that came while the list was being read again after an operation's outcome
 * went out: an enable's, a delete's or a download's new notification is on the card, and a
 * caller who asks right after the operation (the existing API's delete, then "which delete
 * notifications are pending") must see it. They are answered when the reads end (SETTLED), with
 * an error when the eUICC goes or esimd stops. The window is one list read (a few APDUs). */
typedef struct
{
  EsimdEuicc *euicc;
  sd_bus_message *call;
  GVariant *filter;
  uid_t caller_uid; /* whose share of the waiting calls it takes */
} WaitingList;

static GQueue waiting_lists = G_QUEUE_INIT;
/* Reading is every local user's, without polkit: at most this many calls of users other than
 * root wait per eUICC, the next are refused (Busy) at once, and one user may hold only a share of
 * them, so that whatever it sends, the others (another session's panel) still find room. Root's
 * calls always wait: root is the administrator, not the flood to bound, and its clients (a
 * router's management daemon, fifty of them in tests/faults/test_load.py) read right after their
 * own operations. */
#define MAX_WAITING_LISTS          32
#define MAX_WAITING_LISTS_PER_USER (MAX_WAITING_LISTS / 4)

static int list_notifications_reply (sd_bus_message *m, EsimdEuicc *e, GVariant *filter,
                                     sd_bus_error *error);

static void
waiting_list_answer (WaitingList *w, const char *error_name, const char *message)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r;

  if (error_name)
    r = sd_bus_error_set (&error, error_name, message);
  else
    r = list_notifications_reply (w->call, w->euicc, w->filter, &error);
  if (sd_bus_error_is_set (&error))
    sd_bus_reply_method_error (w->call, &error);
  else if (r < 0)
    sd_bus_reply_method_errno (w->call, r, NULL);
  sd_bus_error_free (&error);
  sd_bus_message_unref (w->call);
  g_variant_unref (w->filter);
  g_free (w);
}

/* Answers the lists waiting for @euicc (NULL: every eUICC), with @error_name if set. */
static void
waiting_lists_answer (EsimdEuicc *euicc, const char *error_name, const char *message)
{
  for (GList *l = waiting_lists.head, *next; l; l = next)
    {
      WaitingList *w = l->data;

      next = l->next;
      if (euicc && w->euicc != euicc)
        continue;
      g_queue_delete_link (&waiting_lists, l);
      waiting_list_answer (w, error_name, message);
    }
}

void
esimd_bus_manager_stop (void)
{
  waiting_lists_answer (NULL, ESIMD_BUS_ERROR_UNAVAILABLE, "esimd is stopping");
}

static int
method_list_notifications (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  g_autoptr (GVariant) filter = NULL;
  g_autoptr (GError) local = NULL;
  WaitingList *w;
  guint waiting = 0, mine = 0;
  uid_t euid;
  int r;

  if ((r = esimd_bus_read_options (m, esimd_notification_filter_keys, &filter, error)) < 0)
    return r;
  if (!esimd_notification_filter_check (&filter, &local))
    return esimd_bus_error_set (error, local);
  if (!(e->settling & ESIMD_READ_NOTIFICATIONS))
    return list_notifications_reply (m, e, filter, error);
  if ((r = caller_euid (m, &euid, error)) < 0)
    return r;
  for (GList *l = waiting_lists.head; euid != 0 && l; l = l->next)
    {
      WaitingList *o = l->data;

      if (o->euicc != e || o->caller_uid == 0)
        continue;
      waiting++;
      if (o->caller_uid == euid)
        mine++;
    }
  if (waiting >= MAX_WAITING_LISTS)
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_BUSY,
                              "%u ListNotifications calls already wait for the notification "
                              "list being read again: try again in a moment",
                              MAX_WAITING_LISTS);
  if (mine >= MAX_WAITING_LISTS_PER_USER)
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_BUSY,
                              "this user already has %u ListNotifications calls waiting for the "
                              "notification list being read again, its share of the %u allowed: "
                              "try again in a moment",
                              mine, MAX_WAITING_LISTS);
  w = g_new0 (WaitingList, 1);
  w->euicc = e;
  w->caller_uid = euid;
  w->call = sd_bus_message_ref (m);
  w->filter = g_steal_pointer (&filter);
  g_queue_push_tail (&waiting_lists, w);
  return 1;
}

static int
list_notifications_reply (sd_bus_message *m, EsimdEuicc *e, GVariant *filter, sd_bus_error *error)
{
  g_autoptr (sd_bus_message) reply = NULL;
  int r;

  if ((r = check_cache (e, error)) < 0 ||
      (r = check_read (e, ESIMD_READ_NOTIFICATIONS, "the notification list", error)) < 0)
    return r;
  if (esimd_euicc_notifications_unknown (e))
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_UNAVAILABLE,
                              "the notification list has not been read yet");
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0 ||
      (r = sd_bus_message_open_container (reply, 'a', "a{sv}")) < 0)
    return r;
  for (guint i = 0; e->notifications && i < e->notifications->len; i++)
    {
      LpaNotificationMetadata *n = e->notifications->pdata[i];

      if (!esimd_notification_matches (n, filter))
        continue;
      r = sd_bus_message_append (reply, "a{sv}", 4, "seq", "u", n->seq, "operation", "s",
                                 lpa_notification_event_name (n->operation), "iccid", "s",
                                 n->iccid ? n->iccid : "", "address", "s",
                                 n->address ? n->address : "");
      if (r < 0)
        return r;
    }
  if ((r = sd_bus_message_close_container (reply)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
method_send_notifications (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  g_autoptr (GVariant) filter = NULL;
  g_autoptr (GError) local = NULL;
  int r;

  if ((r = esimd_bus_read_options (m, esimd_notification_filter_keys, &filter, error)) < 0)
    return r;
  if (!esimd_notification_filter_check (&filter, &local))
    return esimd_bus_error_set (error, local);
  return esimd_bus_run_job (m, e, esimd_job_notify_new (e, filter, FALSE),
                            ESIMD_ACTION_NOTIFICATIONS, FALSE);
}

static int
method_remove_notification (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  guint32 seq = 0;
  int r;

  if ((r = sd_bus_message_read (m, "u", &seq)) < 0)
    return r;
  /* A list that could not be read says nothing about it: the card is asked. */
  if (e->cache_valid && !esimd_euicc_notifications_unknown (e) &&
      !esimd_euicc_find_notification (e, seq))
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_NOTIFICATION_NOT_FOUND,
                              "no notification with sequence number %u is pending", seq);
  return esimd_bus_run_job (m, e, esimd_job_remove_notification_new (e, seq),
                            ESIMD_ACTION_DISCARD_NOTIFICATIONS, FALSE);
}

static void
add_strv (GVariantBuilder *b, const char *key, GStrv names)
{
  g_variant_builder_add (b, "{sv}", key, g_variant_new_strv ((const char *const *) names, -1));
}

static void
add_pkids (GVariantBuilder *b, const char *key, GPtrArray *ids)
{
  GVariantBuilder a;

  g_variant_builder_init (&a, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; ids && i < ids->len; i++)
    {
      g_autofree char *hex = lpa_hex_encode_bytes (ids->pdata[i]);

      g_variant_builder_add (&a, "s", hex);
    }
  g_variant_builder_add (b, "{sv}", key, g_variant_builder_end (&a));
}

static int
method_get_info (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  LpaEuiccInfo2 *i2 = e->info2;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GVariant) info = NULL;
  GVariantBuilder b;
  int r;

  if ((r = check_read (e, ESIMD_READ_INFO2, "EUICCInfo2", error)) < 0)
    return r;
  if (!i2)
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_UNAVAILABLE,
                              "the eUICC has not been read yet: %s",
                              esimd_euicc_unavailable_reason (e));
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
#define ADD_STR(key, v)                                                                            \
  if (v)                                                                                           \
  g_variant_builder_add (&b, "{sv}", key, g_variant_new_string (v))
  ADD_STR ("profile_version", i2->profile_version);
  ADD_STR ("svn", i2->svn);
  ADD_STR ("firmware_version", i2->firmware_version);
  ADD_STR ("ts102241_version", i2->ts102241_version);
  ADD_STR ("globalplatform_version", i2->globalplatform_version);
  ADD_STR ("pp_version", i2->pp_version);
  ADD_STR ("sas_accreditation", i2->sas_accreditation_number);
  /* certificationDataObject: the GlobalPlatform DLOA platform label and registrar URL. */
  ADD_STR ("platform_label", i2->certification_platform_label);
  ADD_STR ("discovery_base_url", i2->certification_discovery_base_url);
  if (i2->euicc_category != LPA_EUICC_CATEGORY_ABSENT)
    ADD_STR ("category", lpa_euicc_category_name (i2->euicc_category));
#undef ADD_STR
  if (i2->has_installed_applications)
    g_variant_builder_add (
        &b, "{sv}", "installed_applications",
        g_variant_new_uint32 ((guint32) MIN (i2->installed_applications, G_MAXUINT32)));
  /* Named as the FreeNonVolatileMemory property is, so one field has one name everywhere. */
  if (i2->has_free_nvm)
    g_variant_builder_add (&b, "{sv}", "free_non_volatile_memory",
                           g_variant_new_uint64 (i2->free_nvm));
  if (i2->has_free_ram)
    g_variant_builder_add (&b, "{sv}", "free_volatile_memory", g_variant_new_uint64 (i2->free_ram));
  {
    g_auto (GStrv) uicc = lpa_uicc_capability_names (i2->uicc_capability);
    g_auto (GStrv) rsp = lpa_rsp_capability_names (i2->rsp_capability);

    add_strv (&b, "uicc_capabilities", uicc);
    add_strv (&b, "rsp_capabilities", rsp);
  }
  if (i2->has_forbidden_ppr)
    g_variant_builder_add (&b, "{sv}", "forbidden_policy_rules", ppr_variant (i2->forbidden_ppr));
  add_pkids (&b, "ci_pkids_verification", i2->ci_pkids_verification);
  add_pkids (&b, "ci_pkids_signing", i2->ci_pkids_signing);
  info = g_variant_ref_sink (g_variant_builder_end (&b));
  if ((r = sd_bus_message_new_method_return (m, &reply)) < 0 ||
      (r = esimd_bus_append_gvariant (reply, info)) < 0)
    return r;
  return sd_bus_send (NULL, reply, NULL);
}

static int
method_set_default_smdp (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  const char *given = NULL;
  g_autofree char *address = NULL;
  int r;

  if ((r = sd_bus_message_read (m, "s", &given)) < 0 ||
      (r = check_address (given, TRUE, &address, error)) < 0)
    return r;
  return esimd_bus_run_job (m, e, esimd_job_set_default_smdp_new (e, address), ESIMD_ACTION_RESET,
                            FALSE);
}

static int
method_reset_memory (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  guint32 options = 0;
  int r;

  if ((r = sd_bus_message_read (m, "u", &options)) < 0)
    return r;
  if (options == 0 || options > 7)
    return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS,
                              "options must combine 1 (operational profiles), 2 (test "
                              "profiles) and 4 (default SM-DP+ address); got %u",
                              options);
  return esimd_bus_run_job (m, e, esimd_job_reset_memory_new (e, options), ESIMD_ACTION_RESET,
                            FALSE);
}

/* SwitchSlot runs on the queue of the eUICC whose card the switch takes away (the one in the
 * active slot, when esimd manages it), so that it never cuts a running job short. */
static int
method_switch_slot (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  EsimdEuicc *queue_of;
  guint32 slot = 0;
  int r;

  if ((r = sd_bus_message_read (m, "u", &slot)) < 0)
    return r;
  if (slot == 0)
    return sd_bus_error_setf (error, SD_BUS_ERROR_INVALID_ARGS, "slots are numbered from 1; got 0");
  queue_of = esimd_discovery_switch_queue (e);
  return esimd_bus_run_job (m, queue_of, esimd_job_switch_slot_new (queue_of, e, slot),
                            ESIMD_ACTION_SWITCH_SLOT, FALSE);
}

/* Refresh calls that came while a refresh was waiting in the queue: that one reads the card
 * after they came, so they share its outcome instead of queueing the same work again. Each is
 * kept until then, and a download may hold the queue for minutes while org.esim.refresh is
 * every active user's: at most MAX_JOINED_REFRESHES join one refresh, the others are refused
 * (Busy) at once. One user (root too) may hold only a share of them, so that whatever it
 * sends, the others still find room. */
static GHashTable *joined_refreshes; /* EsimdJob* (a reference) -> GPtrArray of JoinedCall */
#define MAX_JOINED_REFRESHES          32
#define MAX_JOINED_REFRESHES_PER_USER (MAX_JOINED_REFRESHES / 4)

typedef struct
{
  sd_bus_message *call;
  uid_t caller_uid;
} JoinedCall;

static void
joined_call_free (gpointer data)
{
  JoinedCall *jc = data;

  sd_bus_message_unref (jc->call);
  g_free (jc);
}

/* A refresh ended: the Refresh calls that joined it (it was waiting when they came) get its
 * outcome. */
static void
on_job_finished (gpointer data, EsimdJob *job)
{
  GPtrArray *calls;

  /* A queued job cancelled before it ran leaves the list without the running one changing. */
  if (job != esimd_job_queue_current (job->euicc->queue))
    {
      const char *names[] = { "Jobs", NULL };

      esimd_bus_manager_changed_strv (job->euicc, names);
    }
  if (!joined_refreshes || !(calls = g_hash_table_lookup (joined_refreshes, job)))
    return;
  for (guint i = 0; i < calls->len; i++)
    {
      JoinedCall *jc = calls->pdata[i];

      if (job->error)
        reply_gerror (jc->call, job->error);
      else
        sd_bus_reply_method_return (jc->call, "");
    }
  g_hash_table_remove (joined_refreshes, job);
  if (g_hash_table_size (joined_refreshes) == 0)
    g_clear_pointer (&joined_refreshes, g_hash_table_unref);
}

static void
refresh_authorized (const GError *auth_error, gpointer data)
{
  RunJob *rj = data;
  EsimdJob *waiting;
  GPtrArray *calls;
  guint mine = 0;

  if (auth_error || !(waiting = esimd_job_queue_find_waiting (rj->euicc->queue, "refresh")))
    {
      if (!auth_error)
        rj->job = esimd_job_refresh_new (rj->euicc, FALSE);
      run_job_authorized (auth_error, rj);
      return;
    }
  if (!joined_refreshes)
    joined_refreshes = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) esimd_job_unref,
                                              (GDestroyNotify) g_ptr_array_unref);
  calls = g_hash_table_lookup (joined_refreshes, waiting);
  if (!calls)
    {
      calls = g_ptr_array_new_with_free_func (joined_call_free);
      g_hash_table_insert (joined_refreshes, esimd_job_ref (waiting), calls);
    }
  for (guint i = 0; i < calls->len; i++)
    if (((JoinedCall *) calls->pdata[i])->caller_uid == rj->caller_uid)
      mine++;
  if (calls->len >= MAX_JOINED_REFRESHES)
    sd_bus_reply_method_errorf (rj->call, ESIMD_BUS_ERROR_BUSY,
                                "%u Refresh calls already wait for the refresh queued on this "
                                "eUICC: try again when it has run",
                                MAX_JOINED_REFRESHES);
  else if (mine >= MAX_JOINED_REFRESHES_PER_USER)
    sd_bus_reply_method_errorf (rj->call, ESIMD_BUS_ERROR_BUSY,
                                "this user already has %u Refresh calls waiting for the refresh "
                                "queued on this eUICC, its share of the %u allowed: try again "
                                "when it has run",
                                mine, MAX_JOINED_REFRESHES);
  else
    {
      JoinedCall *jc = g_new0 (JoinedCall, 1);

      jc->call = g_steal_pointer (&rj->call);
      jc->caller_uid = rj->caller_uid;
      g_ptr_array_add (calls, jc);
    }
  if (rj->call)
    sd_bus_message_unref (rj->call);
  g_free (rj);
}

static int
method_refresh (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  RunJob *rj = run_job_new (m, userdata);

  if (rj)
    esimd_polkit_check (m, ESIMD_ACTION_REFRESH, refresh_authorized, rj);
  return 1;
}

static const sd_bus_vtable manager_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Eid", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Name", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Device", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Transport", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ModemManagerModem", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Slot", "u", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ActiveSlot", "u", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("State", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("UnavailableReason", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Profiles", "ao", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ActiveProfile", "o", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("PendingNotifications", "u", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ReadErrors", "a{ss}", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("DefaultSmdpAddress", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("RootSmdsAddress", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("SpecVersion", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("FreeNonVolatileMemory", "t", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("CurrentJob", "o", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Jobs", "ao", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("SegmentSize", "u", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD_WITH_NAMES ("ListProfiles", "b", SD_BUS_PARAM (include_all), "aa{sv}",
                            SD_BUS_PARAM (profiles), method_list_profiles,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("Download", "ssa{sv}",
                            SD_BUS_PARAM (activation_code) SD_BUS_PARAM (confirmation_code)
                                SD_BUS_PARAM (options),
                            "o", SD_BUS_PARAM (job), method_download, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("Discover", "a{sv}", SD_BUS_PARAM (options), "aa{sv}",
                            SD_BUS_PARAM (events), method_discover, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("EnableProfile", "sa{sv}", SD_BUS_PARAM (iccid) SD_BUS_PARAM (options),
                            "", "", method_enable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("DisableProfile", "sa{sv}", SD_BUS_PARAM (iccid) SD_BUS_PARAM (options),
                            "", "", method_disable, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("DeleteProfile", "sa{sv}", SD_BUS_PARAM (iccid) SD_BUS_PARAM (options),
                            "", "", method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SetNickname", "ss", SD_BUS_PARAM (iccid) SD_BUS_PARAM (nickname), "", ,
                            method_set_nickname, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("ListNotifications", "a{sv}", SD_BUS_PARAM (filter), "aa{sv}",
                            SD_BUS_PARAM (notifications), method_list_notifications,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SendNotifications", "a{sv}", SD_BUS_PARAM (filter), "u",
                            SD_BUS_PARAM (delivered), method_send_notifications,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("RemoveNotification", "u", SD_BUS_PARAM (seq), "", ,
                            method_remove_notification, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("GetInfo", "", "", "a{sv}", SD_BUS_PARAM (info), method_get_info,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SetDefaultSmdpAddress", "s", SD_BUS_PARAM (address), "", ,
                            method_set_default_smdp, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("ResetMemory", "u", SD_BUS_PARAM (options), "", "", method_reset_memory,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Refresh", "", "", method_refresh, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SwitchSlot", "u", SD_BUS_PARAM (slot), "", , method_switch_slot,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_NAMES ("DownloadResult",
                            "ouss"
                            "s",
                            SD_BUS_PARAM (job) SD_BUS_PARAM (result) SD_BUS_PARAM (iccid)
                                SD_BUS_PARAM (error_name) SD_BUS_PARAM (error_message),
                            0),
  SD_BUS_SIGNAL_WITH_NAMES (
      "NotificationPending", "usss",
      SD_BUS_PARAM (seq) SD_BUS_PARAM (operation) SD_BUS_PARAM (iccid) SD_BUS_PARAM (address), 0),
  SD_BUS_VTABLE_END,
};

/* ---- the model's announcements ----------------------------------------------------------- */

static GHashTable *manager_props; /* EsimdEuicc* → EsimdBusProps*: what clients were told */

static EsimdBusProps *
props_of (EsimdEuicc *euicc)
{
  EsimdBusProps *props = g_hash_table_lookup (manager_props, euicc);

  if (!props)
    {
      props = esimd_bus_props_new (manager_vtable, MANAGER_IFACE);
      g_hash_table_insert (manager_props, euicc, props);
    }
  return props;
}

/* Every PropertiesChanged of a Manager goes through here, so none repeats a value. */
void
esimd_bus_manager_changed_strv (EsimdEuicc *euicc, const char **properties)
{
  g_autofree char *path = NULL;

  /* A discovered eUICC off the bus (unplugged) has no object to change: InterfacesAdded tells
   * all when it comes back. */
  if (!euicc->present)
    return;
  path = esimd_bus_euicc_path (euicc);
  esimd_bus_props_changed (props_of (euicc), path, euicc, properties);
}

static void
on_euicc_added (gpointer data, EsimdEuicc *euicc)
{
  g_autofree char *path = esimd_bus_euicc_path (euicc);

  sd_bus_emit_object_added (esimd_bus, path);
  esimd_bus_props_seen (props_of (euicc), path, euicc);
}

/* Announced while the object is still found: InterfacesRemoved lists what it had. */
static void
on_euicc_removed (gpointer data, EsimdEuicc *euicc)
{
  g_autofree char *path = esimd_bus_euicc_path (euicc);

  waiting_lists_answer (euicc, ESIMD_BUS_ERROR_UNAVAILABLE, "the eUICC is gone");
  sd_bus_emit_object_removed (esimd_bus, path);
}

/* One PropertiesChanged for everything one announcement changed. */
static void
on_euicc_changed (gpointer data, EsimdEuicc *euicc, EsimdEuiccChange what)
{
  static const struct
  {
    EsimdEuiccChange change;
    const char *property;
  } map[] = {
    { ESIMD_EUICC_CHANGE_STATE, "State" },
    { ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON, "UnavailableReason" },
    { ESIMD_EUICC_CHANGE_CURRENT_JOB, "CurrentJob" },
    { ESIMD_EUICC_CHANGE_CURRENT_JOB, "Jobs" },
    { ESIMD_EUICC_CHANGE_EID, "Eid" },
    { ESIMD_EUICC_CHANGE_INFO, "SpecVersion" },
    { ESIMD_EUICC_CHANGE_INFO, "FreeNonVolatileMemory" },
    { ESIMD_EUICC_CHANGE_ADDRESSES, "DefaultSmdpAddress" },
    { ESIMD_EUICC_CHANGE_ADDRESSES, "RootSmdsAddress" },
    { ESIMD_EUICC_CHANGE_NOTIFICATIONS, "PendingNotifications" },
    { ESIMD_EUICC_CHANGE_READ_ERRORS, "ReadErrors" },
    { ESIMD_EUICC_CHANGE_SEGMENT_SIZE, "SegmentSize" },
    { ESIMD_EUICC_CHANGE_MODEM, "Name" },
    { ESIMD_EUICC_CHANGE_MODEM, "Device" },
    { ESIMD_EUICC_CHANGE_MODEM, "Transport" },
    { ESIMD_EUICC_CHANGE_MODEM, "ModemManagerModem" },
    { ESIMD_EUICC_CHANGE_MODEM, "Slot" },
    { ESIMD_EUICC_CHANGE_MODEM, "ActiveSlot" },
  };
  const char *names[G_N_ELEMENTS (map) + 1];
  guint n = 0;

  if (what & ESIMD_EUICC_CHANGE_SETTLED)
    waiting_lists_answer (euicc, NULL, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
    if (what & map[i].change)
      names[n++] = map[i].property;
  names[n] = NULL;
  if (n > 0)
    esimd_bus_manager_changed_strv (euicc, names);
}

static void
on_notification_pending (gpointer data, EsimdEuicc *euicc, const LpaNotificationMetadata *n)
{
  g_autofree char *path = esimd_bus_euicc_path (euicc);

  sd_bus_emit_signal (esimd_bus, path, MANAGER_IFACE, "NotificationPending", "usss", n->seq,
                      lpa_notification_event_name (n->operation), n->iccid ? n->iccid : "",
                      n->address ? n->address : "");
}

static void
on_download_result (gpointer data, EsimdJob *job, const char *iccid, const GError *error)
{
  g_autofree char *path = esimd_bus_euicc_path (job->euicc);
  g_autofree char *job_path = esimd_bus_job_path (job);

  sd_bus_emit_signal (esimd_bus, path, MANAGER_IFACE, "DownloadResult", "ousss", job_path,
                      error ? 1u : 0u, iccid ? iccid : "",
                      error ? esimd_bus_error_name (error) : "", error ? error->message : "");
}

/* A job queued or ended without the running one changing: the list of Jobs did. */
static void
on_job_added (gpointer data, EsimdJob *job)
{
  const char *names[] = { "Jobs", NULL };

  esimd_bus_manager_changed_strv (job->euicc, names);
}

static const EsimdObserver manager_observer = {
  .euicc_added = on_euicc_added,
  .job_added = on_job_added,
  .euicc_removed = on_euicc_removed,
  .euicc_changed = on_euicc_changed,
  .notification_pending = on_notification_pending,
  .download_result = on_download_result,
  .job_finished = on_job_finished,
};

int
esimd_bus_manager_init (sd_bus *bus)
{
  int r = sd_bus_add_fallback_vtable (bus, NULL, EUICC_PREFIX, MANAGER_IFACE, manager_vtable,
                                      manager_find, NULL);

  if (r < 0)
    return r;
  r = sd_bus_add_node_enumerator (bus, NULL, EUICC_PREFIX, manager_enumerate, NULL);
  if (r < 0)
    return r;
  manager_props = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) esimd_bus_props_free);
  esimd_observer_add (&manager_observer, NULL);
  return esimd_bus_profile_init (bus);
}
