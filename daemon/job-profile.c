/* job-profile.c — EnableProfile, DisableProfile, DeleteProfile, SetNickname as queued jobs. */
#include "job-profile.h"

#include "log.h"

typedef struct
{
  EsimdProfileOp op;
  char *iccid;
  char *nickname;
  GError *unanswered; /* the 6F00 a switch was answered with, while the list is read */
} ProfileJob;

static void
profile_job_free (gpointer data)
{
  ProfileJob *p = data;

  g_free (p->iccid);
  g_free (p->nickname);
  g_clear_error (&p->unanswered);
  g_free (p);
}

static const char *
op_name (EsimdProfileOp op)
{
  switch (op)
    {
    case ESIMD_PROFILE_ENABLE:
      return "enable";
    case ESIMD_PROFILE_DISABLE:
      return "disable";
    case ESIMD_PROFILE_DELETE:
      return "delete";
    case ESIMD_PROFILE_SET_NICKNAME:
      return "set-nickname";
    }
  return "?";
}

static void
modem_refreshed (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) error = NULL;

  /* The profile is switched whatever the modem made of the refresh: report that. */
  if (!esimd_euicc_refresh_modem_finish (job->euicc, res, &error))
    g_warning ("eUICC %s: the modem did not re-read the card: %s", job->euicc->config->name,
               error->message);
  esimd_job_complete (job, NULL, NULL);
}

/* The switch is done: the modem is told, whatever it makes of it. */
static void
switched (EsimdJob *job)
{
  esimd_job_set_stage (job, "refreshing-modem", 0);
  esimd_euicc_refresh_modem (job->euicc, modem_refreshed, job);
}

/* Whether the list just read shows the job's operation done. */
static gboolean
list_shows_done (EsimdJob *job)
{
  ProfileJob *p = job->data;
  LpaProfileInfo *info = esimd_euicc_find_profile (job->euicc, p->iccid);

  switch (p->op)
    {
    case ESIMD_PROFILE_ENABLE:
      return info && info->state == LPA_PROFILE_STATE_ENABLED;
    case ESIMD_PROFILE_DISABLE:
      return info && info->state == LPA_PROFILE_STATE_DISABLED;
    case ESIMD_PROFILE_DELETE:
      return info == NULL;
    case ESIMD_PROFILE_SET_NICKNAME:
      return info &&
             g_strcmp0 (info->nickname ? info->nickname : "", p->nickname ? p->nickname : "") == 0;
    }
  return FALSE;
}

static void
unanswered_list_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  ProfileJob *p = job->data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) unanswered = g_steal_pointer (&p->unanswered);
  gboolean read = esimd_euicc_read_after_reset_finish (job->euicc, res, &error);

  if (read && !esimd_euicc_read_error (job->euicc, ESIMD_READ_PROFILES) && list_shows_done (job))
    {
      g_info ("eUICC %s: %s %s done (answered %s; the profile list says it is done)",
              job->euicc->config->name, op_name (p->op), esimd_log_pd (p->iccid),
              unanswered->message);
      if (p->op == ESIMD_PROFILE_ENABLE || p->op == ESIMD_PROFILE_DISABLE)
        switched (job);
      else
        esimd_job_complete (job, NULL, NULL);
      return;
    }
  g_info ("eUICC %s: %s %s refused: %s%s%s", job->euicc->config->name, op_name (p->op),
          esimd_log_pd (p->iccid), unanswered->message,
          error ? "; the profile list could not be read after it: " : "",
          error ? error->message : "");
  esimd_job_complete (job, unanswered, NULL);
}

static void
profile_done (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  ProfileJob *p = job->data;
  g_autoptr (GError) local = NULL;
  gboolean ok = FALSE;

  if (error ? (p->op == ESIMD_PROFILE_ENABLE || p->op == ESIMD_PROFILE_DISABLE) &&
                  lpa_status_word_from_error (error) == 0x6F00
            : g_bytes_get_size (response) == 0)
    {
      /* A card that switched profiles may be reset before it answers, and answer 6F00: AOSP
       * takes that for success (EuiccPort's sendApduWithSimResetErrorWorkaround); or any answer
       * may come without its result. Not taken on trust, nor sent again: the profile list read
       * now says whether it happened. */
      static const char *const functions[] = {
        [ESIMD_PROFILE_ENABLE] = "EnableProfile",
        [ESIMD_PROFILE_DISABLE] = "DisableProfile",
        [ESIMD_PROFILE_DELETE] = "DeleteProfile",
        [ESIMD_PROFILE_SET_NICKNAME] = "SetNickname",
      };

      p->unanswered =
          error ? g_error_copy (error)
                : g_error_new (LPA_ERROR, LPA_ERROR_MALFORMED,
                               "%s: the eUICC's answer carried no result", functions[p->op]);
      esimd_euicc_read_after_reset (job->euicc, ESIMD_READ_PROFILES, unanswered_list_read, job);
      return;
    }
  if (error)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  switch (p->op)
    {
    case ESIMD_PROFILE_ENABLE:
      ok = lpa_es10c_parse_enable_profile (response, NULL, &local);
      break;
    case ESIMD_PROFILE_DISABLE:
      ok = lpa_es10c_parse_disable_profile (response, NULL, &local);
      break;
    case ESIMD_PROFILE_DELETE:
      ok = lpa_es10c_parse_delete_profile (response, NULL, &local);
      break;
    case ESIMD_PROFILE_SET_NICKNAME:
      ok = lpa_es10c_parse_set_nickname (response, NULL, &local);
      break;
    }
  if (!ok)
    {
      g_info ("eUICC %s: %s %s refused: %s", job->euicc->config->name, op_name (p->op),
              esimd_log_pd (p->iccid), local->message);
      esimd_job_complete (job, local, NULL);
      return;
    }
  g_info ("eUICC %s: %s %s done", job->euicc->config->name, op_name (p->op),
          esimd_log_pd (p->iccid));
  /* The new state is known from the answer: no read-back of the list before the caller hears. */
  switch (p->op)
    {
    case ESIMD_PROFILE_ENABLE:
    case ESIMD_PROFILE_DISABLE:
      esimd_euicc_cache_profile_switched (job->euicc, p->iccid, p->op == ESIMD_PROFILE_ENABLE);
      break;
    case ESIMD_PROFILE_DELETE:
      esimd_euicc_cache_profile_deleted (job->euicc, p->iccid);
      break;
    case ESIMD_PROFILE_SET_NICKNAME:
      esimd_euicc_cache_nickname_set (job->euicc, p->iccid, p->nickname);
      break;
    }
  if (p->op == ESIMD_PROFILE_ENABLE || p->op == ESIMD_PROFILE_DISABLE)
    {
      switched (job);
      return;
    }
  esimd_job_complete (job, NULL, NULL);
}

static void send_command (EsimdJob *job);

static void
fresh_list_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  ProfileJob *p = job->data;
  g_autoptr (GError) error = NULL;

  if (!esimd_euicc_read_finish (job->euicc, res, &error))
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (!esimd_euicc_find_profile (job->euicc, p->iccid))
    {
      g_set_error_literal (&error, LPA_ERROR, LPA_ERROR_PROFILE_NOT_FOUND,
                           "the eUICC has no profile with this ICCID");
      esimd_job_complete (job, error, NULL);
      return;
    }
  send_command (job);
}

/* An ICCID the cache does not list (another LPA may have installed it, or the caller is wrong)
 * is looked up in a list read now; the command goes to the card only for a profile that is
 * there, so a wrong ICCID is ProfileNotFound without the card acting on it. */
static void
profile_run (EsimdJob *job)
{
  ProfileJob *p = job->data;

  esimd_job_set_stage (job, "running", 0);
  if (!esimd_euicc_find_profile (job->euicc, p->iccid) ||
      esimd_euicc_read_error (job->euicc, ESIMD_READ_PROFILES))
    {
      esimd_euicc_read (job->euicc, ESIMD_READ_PROFILES, fresh_list_read, job);
      return;
    }
  send_command (job);
}

static void
send_command (EsimdJob *job)
{
  ProfileJob *p = job->data;
  LpaProfileId id = { .iccid = p->iccid };
  gboolean refresh_flag = job->euicc->config->refresh == ESIMD_REFRESH_FLAG;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;

  switch (p->op)
    {
    case ESIMD_PROFILE_ENABLE:
      request = lpa_es10c_enable_profile_request (&id, refresh_flag, &error);
      break;
    case ESIMD_PROFILE_DISABLE:
      request = lpa_es10c_disable_profile_request (&id, refresh_flag, &error);
      break;
    case ESIMD_PROFILE_DELETE:
      request = lpa_es10c_delete_profile_request (&id, &error);
      break;
    case ESIMD_PROFILE_SET_NICKNAME:
      request = lpa_es10c_set_nickname_request (p->iccid, p->nickname, &error);
      break;
    }
  if (!request)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  esimd_euicc_es10 (job->euicc, request, profile_done, job);
}

#define PROFILE_JOB_OPS(name, kind_str, what)                                                      \
  static const EsimdJobOps name = {                                                                \
    .kind = kind_str,                                                                              \
    .action = "org.esim.manage-profiles",                                                          \
    .needs_channel = TRUE,                                                                         \
    .reads = what,                                                                                 \
    .run = profile_run,                                                                            \
    .free_data = profile_job_free,                                                                 \
  }

PROFILE_JOB_OPS (enable_ops, "enable", ESIMD_READ_PROFILES | ESIMD_READ_NOTIFICATIONS);
PROFILE_JOB_OPS (disable_ops, "disable", ESIMD_READ_PROFILES | ESIMD_READ_NOTIFICATIONS);
PROFILE_JOB_OPS (delete_ops, "delete",
                 ESIMD_READ_PROFILES | ESIMD_READ_NOTIFICATIONS | ESIMD_READ_INFO2);
PROFILE_JOB_OPS (nickname_ops, "set-nickname", ESIMD_READ_PROFILES);

EsimdJob *
esimd_job_profile_new (EsimdEuicc *euicc, EsimdProfileOp op, const char *iccid,
                       const char *nickname)
{
  static const EsimdJobOps *const ops[] = {
    [ESIMD_PROFILE_ENABLE] = &enable_ops,
    [ESIMD_PROFILE_DISABLE] = &disable_ops,
    [ESIMD_PROFILE_DELETE] = &delete_ops,
    [ESIMD_PROFILE_SET_NICKNAME] = &nickname_ops,
  };
  ProfileJob *p = g_new0 (ProfileJob, 1);

  p->op = op;
  p->iccid = g_strdup (iccid);
  p->nickname = g_strdup (nickname);
  return esimd_job_new (euicc, ops[op], p);
}
