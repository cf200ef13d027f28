/* verb-jobs.c — jobs and job show|wait|confirm|cancel: esimd's queued and running operations. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "job-watch.h"
#include "output.h"
#include "progress.h"

#include <stdio.h>
#include <string.h>

static char *
progress_text (GVariant *props)
{
  double progress = 0;

  if (!g_str_equal (esimctl_dict_str (props, "Kind"), "download"))
    return g_strdup ("");
  g_variant_lookup (props, "Progress", "d", &progress);
  return g_strdup_printf ("%.0f%%", CLAMP (progress, 0.0, 1.0) * 100.0);
}

static const char *
short_error (const char *name)
{
  const char *dot = strrchr (name, '.');

  return dot ? dot + 1 : name;
}

gboolean
esimctl_verb_jobs (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autoptr (GVariant) objects = NULL;
  g_autoptr (GVariant) jobs = NULL;
  g_autofree char *only = NULL;
  g_autoptr (EsimctlTable) table = NULL;
  JsonArray *list = NULL;
  GVariantIter it;
  const char *path;
  GVariant *props;

  if (!esimctl_parse_verb (ctl, "jobs", NULL,
                           "Lists esimd's jobs: queued, running, and those that ended in the\n"
                           "last JobLinger seconds (see esimd.conf(5)).",
                           "Columns: JOB (its number), EUICC, KIND (\"(esimd)\" after it: a job\n"
                           "esimd started itself, such as notification delivery), STATE, STAGE,\n"
                           "PROGRESS (downloads) and ERROR. With --euicc, only that eUICC's jobs.",
                           NULL, &argc, &argv, 0, 0, error))
    return FALSE;
  objects = esimctl_get_objects_for (ctl, &only, error);
  if (!objects)
    return FALSE;
  jobs = esimctl_objects_with (objects, ESIMD_JOB_IFACE);
  if (ctl->json)
    list = json_array_new ();
  else
    {
      const char *headers[] = { "JOB", "EUICC", "KIND", "STATE", "STAGE", "PROGRESS", "ERROR" };

      table = esimctl_table_new (G_N_ELEMENTS (headers), headers);
    }

  g_variant_iter_init (&it, jobs);
  while (g_variant_iter_next (&it, "{&o@a{sv}}", &path, &props))
    {
      const char *euicc = esimctl_dict_str (props, "Euicc");

      if (!only || g_str_equal (only, euicc))
        {
          if (list)
            {
              json_array_add_object_element (list, esimctl_json_job (props, path));
            }
          else
            {
              g_autofree char *progress = progress_text (props);
              const char *kind = esimctl_dict_str (props, "Kind");
              /* esimd's own jobs have no caller (an older esimd has no Caller at all). */
              g_autofree char *kind_text = g_variant_lookup (props, "Caller", "&s", NULL) &&
                                                   !*esimctl_dict_str (props, "Caller")
                                               ? g_strdup_printf ("%s (esimd)", kind)
                                               : g_strdup (kind);

              esimctl_table_add (table, esimctl_short_id (path), esimctl_short_id (euicc),
                                 kind_text, esimctl_dict_str (props, "State"),
                                 esimctl_dict_str (props, "Stage"), progress,
                                 short_error (esimctl_dict_str (props, "Error")));
            }
        }
      g_variant_unref (props);
    }
  if (list)
    {
      JsonObject *obj = json_object_new ();

      json_object_set_array_member (obj, "jobs", list);
      esimctl_output_json (ctl, obj);
    }
  else if (esimctl_table_rows (table) == 0)
    g_print ("No jobs.\n");
  else
    esimctl_table_print (table, stdout);
  return TRUE;
}

static gboolean
job_show (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) metadata = NULL;
  g_autoptr (GVariant) result = NULL;
  g_autoptr (EsimctlTable) t = NULL;
  g_autofree char *progress = NULL;
  const char *error_name;

  if (!esimctl_parse_verb (ctl, "job show", "JOB",
                           "Shows a job: kind, state, stage, progress,\n"
                           "the profile being downloaded, result or error.",
                           "JOB is the job's number (as esimctl jobs shows it) or its object path.",
                           NULL, &argc, &argv, 1, 1, error))
    return FALSE;
  path = esimctl_job_path (argv[1], error);
  if (!path)
    return FALSE;
  props = esimctl_get_properties (ctl, path, ESIMD_JOB_IFACE, error);
  if (!props)
    return FALSE;
  if (ctl->json)
    {
      esimctl_output_json (ctl, esimctl_json_job (props, path));
      return TRUE;
    }
  t = esimctl_table_new (2, NULL);
  progress = progress_text (props);
  error_name = esimctl_dict_str (props, "Error");
  esimctl_table_add (t, "Job:", path);
  esimctl_table_add (t, "eUICC:", esimctl_dict_str (props, "Euicc"));
  esimctl_table_add (t, "Kind:", esimctl_dict_str (props, "Kind"));
  esimctl_table_add (t, "State:", esimctl_dict_str (props, "State"));
  esimctl_table_add (t, "Stage:", esimctl_dict_str (props, "Stage"));
  if (*progress)
    esimctl_table_add (t, "Progress:", progress);
  if (*error_name)
    {
      esimctl_table_add (t, "Error:", error_name);
      esimctl_table_add (t, "Message:", esimctl_dict_str (props, "ErrorMessage"));
    }
  metadata = g_variant_lookup_value (props, "ProfileMetadata", G_VARIANT_TYPE_VARDICT);
  if (metadata && g_variant_n_children (metadata) > 0)
    {
      esimctl_table_add (t, "Profile:", NULL);
      esimctl_table_add_metadata (t, metadata);
    }
  result = g_variant_lookup_value (props, "Result", G_VARIANT_TYPE_VARDICT);
  if (result && g_variant_n_children (result) > 0)
    {
      g_autofree char *text = esimctl_format_value (result);

      esimctl_table_add (t, "Result:", text);
    }
  esimctl_table_print (t, stdout);
  return TRUE;
}

static gboolean
job_wait (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (EsimctlJobWatch) w = NULL;
  g_autoptr (GError) outcome = NULL;
  gint64 deadline;
  EsimctlWait r;

  if (!esimctl_parse_verb (ctl, "job wait", "JOB", "Waits until a job ends.",
                           "Exits with the job's outcome: 0 if it succeeded, else the exit status\n"
                           "of its error (see esimctl(1)). Gives up after --timeout seconds.",
                           NULL, &argc, &argv, 1, 1, error))
    return FALSE;
  path = esimctl_job_path (argv[1], error);
  if (!path)
    return FALSE;
  w = esimctl_job_watch_new (ctl, NULL, NULL, NULL, error);
  if (!w || !esimctl_job_watch_start (w, path, error))
    return FALSE;
  if (!*w->state && !w->finished)
    {
      g_propagate_error (error,
                         esimctl_error_new_remote (SD_BUS_ERROR_UNKNOWN_OBJECT,
                                                   "no such job (it may have ended a while ago)"));
      return FALSE;
    }
  deadline = g_get_monotonic_time () + (gint64) ctl->timeout * G_USEC_PER_SEC;
  do
    r = esimctl_job_watch_wait (w, deadline, error);
  while (r == ESIMCTL_WAIT_DONE && !w->finished);
  if (r == ESIMCTL_WAIT_FAILED)
    return FALSE;
  if (r == ESIMCTL_WAIT_TIMEOUT || r == ESIMCTL_WAIT_INTERRUPTED)
    {
      g_propagate_error (error,
                         esimctl_error_new_remote (SD_BUS_ERROR_NO_REPLY,
                                                   r == ESIMCTL_WAIT_TIMEOUT
                                                       ? "the job did not end within --timeout"
                                                       : "stopped waiting; the job goes on"));
      return FALSE;
    }
  esimctl_job_watch_outcome (w, &outcome);
  if (ctl->json)
    {
      JsonObject *obj = json_object_new ();

      json_object_set_string_member (obj, "job", path);
      json_object_set_string_member (obj, "state", w->state);
      json_object_set_member (obj, "result", esimctl_json_from_variant (w->result));
      json_object_set_member (
          obj, "error", outcome ? esimctl_json_error (outcome) : json_node_new (JSON_NODE_NULL));
      esimctl_output_json (ctl, obj);
    }
  else if (!outcome)
    esimctl_done (ctl, "Job %s %s.", esimctl_short_id (path), w->state);
  if (outcome)
    {
      g_propagate_error (error, g_steal_pointer (&outcome));
      return FALSE;
    }
  return TRUE;
}

static gboolean
job_call (Esimctl *ctl, int argc, char **argv, const char *member, GError **error)
{
  gboolean confirm = g_str_equal (member, "Confirm");
  g_autofree char *path = NULL;
  g_autoptr (GVariant) reply = NULL;

  if (!esimctl_parse_verb (
          ctl, confirm ? "job confirm" : "job cancel", "JOB",
          confirm ? "Lets a download waiting for confirmation go on."
                  : "Cancels a queued or running job.",
          confirm ? "The download must be in state awaiting-confirmation (started with\n"
                    "esimctl download --confirm). Only the caller that started it, or\n"
                    "a user polkit allows org.esim.download, may confirm it."
                  : "A queued job is dropped. A download is stopped at its next step;\n"
                    "once the profile loads onto the eUICC it can no longer be\n"
                    "cancelled.",
          NULL, &argc, &argv, 1, 1, error))
    return FALSE;
  path = esimctl_job_path (argv[1], error);
  if (!path)
    return FALSE;
  reply = esimctl_call (ctl, path, ESIMD_JOB_IFACE, member, NULL, "()", ESIMCTL_CALL_AUTH, error);
  if (!reply)
    return FALSE;
  if (ctl->json)
    {
      JsonObject *obj = json_object_new ();

      json_object_set_string_member (obj, "job", path);
      esimctl_output_json (ctl, obj);
    }
  else
    esimctl_done (ctl, confirm ? "Confirmed job %s." : "Cancelled job %s.",
                  esimctl_short_id (path));
  return TRUE;
}

static gboolean
job_confirm (Esimctl *ctl, int argc, char **argv, GError **error)
{
  return job_call (ctl, argc, argv, "Confirm", error);
}

static gboolean
job_cancel (Esimctl *ctl, int argc, char **argv, GError **error)
{
  return job_call (ctl, argc, argv, "Cancel", error);
}

gboolean
esimctl_verb_job (Esimctl *ctl, int argc, char **argv, GError **error)
{
  static const EsimctlSubverb subs[] = {
    { "show", "JOB", "Show a job (JOB: its number or path)", job_show },
    { "wait", "JOB", "Wait until it ends; exit with its outcome", job_wait },
    { "confirm", "JOB", "Let a download waiting for confirmation go on", job_confirm },
    { "cancel", "JOB", "Cancel a queued or running job", job_cancel },
  };

  return esimctl_run_subverb (ctl, "job", subs, G_N_ELEMENTS (subs), NULL, argc, argv, error);
}
