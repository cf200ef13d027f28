/* bus-job.c — the org.esim.Job interface: properties, Confirm/Cancel, Finished, lifetime. */
#include "bus-job.h"

#include "bus-errors.h"
#include "bus-gvariant.h"
#include "bus-manager.h"
#include "bus-source.h"
#include "daemon.h"
#include "euicc.h"
#include "polkit.h"

#include <errno.h>

#define JOB_PREFIX "/org/esim/job"
#define JOB_IFACE  "org.esim.Job"

static GHashTable *exported; /* path → EsimdJob* (a reference) */

EsimdJob *
esimd_bus_job_lookup (const char *path)
{
  return exported ? g_hash_table_lookup (exported, path) : NULL;
}

static int
job_find (sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
          sd_bus_error *error)
{
  EsimdJob *job = esimd_bus_job_lookup (path);

  if (!job)
    return 0;
  *found = job;
  return 1;
}

static int
job_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes, sd_bus_error *error)
{
  GHashTableIter it;
  gpointer key;
  GPtrArray *out = g_ptr_array_new ();

  if (exported)
    {
      g_hash_table_iter_init (&it, exported);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (out, strdup (key)); /* sd-bus frees these with free() */
    }
  g_ptr_array_add (out, NULL);
  *nodes = (char **) g_ptr_array_free (out, FALSE);
  return 0;
}

static int
prop_string (sd_bus *bus, const char *path, const char *iface, const char *property,
             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;
  const char *v = "";

  if (g_str_equal (property, "Kind"))
    v = job->ops->kind;
  else if (g_str_equal (property, "State"))
    v = esimd_job_state_to_string (job->state);
  else if (g_str_equal (property, "Stage"))
    v = job->stage;
  else if (g_str_equal (property, "Error"))
    v = job->error ? esimd_bus_error_name (job->error) : "";
  else if (g_str_equal (property, "ErrorMessage"))
    v = job->error ? job->error->message : "";
  return sd_bus_message_append_basic (reply, 's', v);
}

static int
prop_progress (sd_bus *bus, const char *path, const char *iface, const char *property,
               sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;

  return sd_bus_message_append_basic (reply, 'd', &job->progress);
}

static int
prop_dict (sd_bus *bus, const char *path, const char *iface, const char *property,
           sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;
  GVariant *v = g_str_equal (property, "Result") ? job->result : job->metadata;

  if (!v)
    return sd_bus_message_append (reply, "a{sv}", 0);
  return esimd_bus_append_gvariant (reply, v);
}

static int
prop_euicc (sd_bus *bus, const char *path, const char *iface, const char *property,
            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;

  return sd_bus_message_append_basic (reply, 'o', esimd_euicc_get_path (job->euicc));
}

/* Confirm and Cancel belong to whoever started the job; anyone else needs polkit's word on the
 * action that started it. */
typedef struct
{
  sd_bus_message *call;
  char *path;
  gboolean confirm;
} JobCall;

static void
job_call_authorized (const GError *auth_error, gpointer data)
{
  JobCall *c = data;
  EsimdJob *job = esimd_bus_job_lookup (c->path);
  g_autoptr (GError) error = NULL;

  if (auth_error)
    sd_bus_reply_method_errorf (c->call, ESIMD_BUS_ERROR_NOT_AUTHORIZED, "%s", auth_error->message);
  else if (!job)
    sd_bus_reply_method_errorf (c->call, ESIMD_BUS_ERROR_WRONG_JOB_STATE, "the job is gone");
  else if (c->confirm ? esimd_euicc_confirm_job (job->euicc, job, &error)
                      : esimd_euicc_cancel_job (job->euicc, job, &error))
    sd_bus_reply_method_return (c->call, "");
  else
    {
      sd_bus_error e = SD_BUS_ERROR_NULL;

      esimd_bus_error_set (&e, error);
      sd_bus_reply_method_error (c->call, &e);
      sd_bus_error_free (&e);
    }
  sd_bus_message_unref (c->call);
  g_free (c->path);
  g_free (c);
}

static int
job_call (sd_bus_message *m, EsimdJob *job, gboolean confirm)
{
  JobCall *c = g_new0 (JobCall, 1);

  c->call = sd_bus_message_ref (m);
  c->path = g_strdup (job->path);
  c->confirm = confirm;
  if (job->owner && g_strcmp0 (job->owner, sd_bus_message_get_sender (m)) == 0)
    {
      job_call_authorized (NULL, c);
      return 1;
    }
  esimd_polkit_check (m, job->ops->action, job_call_authorized, c);
  return 1;
}

static int
method_confirm (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return job_call (m, userdata, TRUE);
}

static int
method_cancel (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return job_call (m, userdata, FALSE);
}

static const sd_bus_vtable job_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Kind", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("State", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Stage", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Progress", "d", prop_progress, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ProfileMetadata", "a{sv}", prop_dict, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Error", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ErrorMessage", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Result", "a{sv}", prop_dict, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Euicc", "o", prop_euicc, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_METHOD ("Confirm", "", "", method_confirm, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_NAMES ("Finished", "s", SD_BUS_PARAM (state), 0),
  SD_BUS_VTABLE_END,
};

int
esimd_bus_job_init (sd_bus *bus)
{
  int r;

  exported =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) esimd_job_unref);
  r = sd_bus_add_fallback_vtable (bus, NULL, JOB_PREFIX, JOB_IFACE, job_vtable, job_find, NULL);
  if (r < 0)
    return r;
  return sd_bus_add_node_enumerator (bus, NULL, JOB_PREFIX, job_enumerate, NULL);
}

void
esimd_bus_job_export (EsimdJob *job)
{
  if (job->internal)
    return;
  g_hash_table_replace (exported, g_strdup (job->path), esimd_job_ref (job));
  sd_bus_emit_object_added (esimd->bus, job->path);
}

void
esimd_bus_job_changed_strv (EsimdJob *job, const char **properties)
{
  if (job->internal || !esimd_bus_job_lookup (job->path))
    return;
  sd_bus_emit_properties_changed_strv (esimd->bus, job->path, JOB_IFACE, (char **) properties);
}

static gboolean
unexport (gpointer data)
{
  EsimdJob *job = data;

  job->linger_id = 0;
  sd_bus_emit_object_removed (esimd->bus, job->path);
  g_hash_table_remove (exported, job->path); /* drops the table's reference: job may be gone */
  return G_SOURCE_REMOVE;
}

void
esimd_bus_job_finished (EsimdJob *job)
{
  const char *state = esimd_job_state_to_string (job->state);

  esimd_bus_manager_job_finished (job);
  if (job->request)
    {
      if (job->error)
        {
          sd_bus_error e = SD_BUS_ERROR_NULL;

          esimd_bus_error_set (&e, job->error);
          sd_bus_reply_method_error (job->request, &e);
          sd_bus_error_free (&e);
        }
      else
        {
          g_autoptr (sd_bus_message) reply = NULL;

          if (sd_bus_message_new_method_return (job->request, &reply) >= 0 &&
              (!job->reply || job->reply (job, reply) >= 0))
            sd_bus_send (NULL, reply, NULL);
        }
      g_clear_pointer (&job->request, sd_bus_message_unref);
    }
  if (job->internal || !esimd_bus_job_lookup (job->path))
    return;
  esimd_bus_job_changed (job, "State", "Stage", "Progress", "Error", "ErrorMessage", "Result");
  sd_bus_emit_signal (esimd->bus, job->path, JOB_IFACE, "Finished", "s", state);
  job->linger_id = g_timeout_add_seconds (MAX (esimd->config->job_linger, 1), unexport, job);
}
