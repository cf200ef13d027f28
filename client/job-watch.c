/* job-watch.c — tracks a Job's state, stage, progress and metadata from its signals. */
#include "job-watch.h"

#include "errors.h"

#include <string.h>

gboolean
esimctl_job_state_is_final (const char *state)
{
  return g_strcmp0 (state, "succeeded") == 0 || g_strcmp0 (state, "failed") == 0 ||
         g_strcmp0 (state, "cancelled") == 0;
}

static void
set_str (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value ? value : "");
}

static void
set_dict (GVariant **field, GVariant *value)
{
  g_clear_pointer (field, g_variant_unref);
  *field = g_variant_ref_sink (value);
}

/* Takes in properties from PropertiesChanged or GetAll. */
static void
update (EsimctlJobWatch *w, GVariant *props)
{
  GVariantIter it;
  const char *name;
  GVariant *value;
  gboolean was_asking = g_str_equal (w->state, "awaiting-confirmation-code");

  g_variant_iter_init (&it, props);
  while (g_variant_iter_next (&it, "{&sv}", &name, &value))
    {
      if (g_str_equal (name, "State") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        set_str (&w->state, g_variant_get_string (value, NULL));
      else if (g_str_equal (name, "Stage") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        set_str (&w->stage, g_variant_get_string (value, NULL));
      else if (g_str_equal (name, "Progress") &&
               g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
        w->progress = g_variant_get_double (value);
      else if (g_str_equal (name, "ProfileMetadata") &&
               g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
        set_dict (&w->metadata, value);
      else if (g_str_equal (name, "Result") && g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
        set_dict (&w->result, value);
      else if (g_str_equal (name, "Error") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        set_str (&w->error_name, g_variant_get_string (value, NULL));
      else if (g_str_equal (name, "ErrorMessage") &&
               g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        set_str (&w->error_message, g_variant_get_string (value, NULL));
      else if (g_str_equal (name, "ConfirmationCodeRefused") &&
               g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        set_str (&w->code_refused, g_variant_get_string (value, NULL));
      g_variant_unref (value);
    }
  if (g_str_equal (w->state, "awaiting-confirmation") && !w->awaiting_seen)
    {
      w->awaiting_seen = TRUE;
      w->wake = TRUE;
    }
  if (g_str_equal (w->state, "awaiting-confirmation-code") && !was_asking)
    {
      w->code_asked = TRUE;
      w->wake = TRUE;
    }
  if (esimctl_job_state_is_final (w->state))
    {
      /* The state is final before Finished is sent; Finished still follows. Waiting for it
       * is not needed: nothing changes after a final state. */
      w->finished = TRUE;
      w->wake = TRUE;
    }
  if (w->changed)
    w->changed (w, w->changed_data);
}

static gboolean
is_ours (EsimctlJobWatch *w, sd_bus_message *m)
{
  return w->path && g_strcmp0 (sd_bus_message_get_path (m), w->path) == 0;
}

static int
on_properties_changed (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  EsimctlJobWatch *w = data;
  g_autoptr (GVariant) body = NULL;
  g_autoptr (GVariant) changed = NULL;

  if (!is_ours (w, m))
    return 0;
  body = esimctl_message_read (m, NULL);
  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(sa{sv}as)")))
    return 0;
  changed = g_variant_get_child_value (body, 1);
  update (w, changed);
  return 0;
}

static int
on_finished (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  EsimctlJobWatch *w = data;
  const char *state = NULL;

  if (!is_ours (w, m) || sd_bus_message_read (m, "s", &state) < 0)
    return 0;
  set_str (&w->state, state);
  w->finished = TRUE;
  w->wake = TRUE;
  if (w->changed)
    w->changed (w, w->changed_data);
  return 0;
}

static int
on_download_result (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  EsimctlJobWatch *w = data;
  const char *job, *iccid, *error_name, *error_message;
  guint32 result;

  if (sd_bus_message_read (m, "ousss", &job, &result, &iccid, &error_name, &error_message) < 0 ||
      g_strcmp0 (job, w->path) != 0)
    return 0;
  /* Kept in case the Job object is gone by the time its outcome is read (JobLinger=0). */
  if (*error_name)
    {
      set_str (&w->error_name, error_name);
      set_str (&w->error_message, error_message);
    }
  if (*iccid)
    {
      GVariantDict d;

      g_variant_dict_init (&d, w->result);
      g_variant_dict_insert (&d, "iccid", "s", iccid);
      set_dict (&w->result, g_variant_dict_end (&d));
    }
  return 0;
}

EsimctlJobWatch *
esimctl_job_watch_new (Esimctl *ctl, const char *euicc, EsimctlJobChanged changed,
                       gpointer user_data, GError **error)
{
  g_autoptr (EsimctlJobWatch) w = g_new0 (EsimctlJobWatch, 1);
  g_autofree char *dr_rule = NULL;

  w->ctl = ctl;
  w->state = g_strdup ("");
  w->stage = g_strdup ("");
  w->error_name = g_strdup ("");
  w->error_message = g_strdup ("");
  w->code_refused = g_strdup ("");
  w->metadata = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  w->result = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  w->changed = changed;
  w->changed_data = user_data;

  if (!esimctl_bus_match (ctl,
                          "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                          "path_namespace='/org/esim/job',arg0='" ESIMD_JOB_IFACE "'",
                          on_properties_changed, w, &w->slots[0], error) ||
      !esimctl_bus_match (ctl,
                          "interface='" ESIMD_JOB_IFACE "',member='Finished',"
                          "path_namespace='/org/esim/job'",
                          on_finished, w, &w->slots[1], error))
    return NULL;
  if (euicc)
    {
      dr_rule = g_strdup_printf ("interface='" ESIMD_MANAGER_IFACE "',member='DownloadResult',"
                                 "path='%s'",
                                 euicc);
      if (!esimctl_bus_match (ctl, dr_rule, on_download_result, w, &w->slots[2], error))
        return NULL;
    }
  return g_steal_pointer (&w);
}

gboolean
esimctl_job_watch_start (EsimctlJobWatch *w, const char *path, GError **error)
{
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *name = NULL;

  w->path = g_strdup (path);
  props = esimctl_get_properties (w->ctl, path, ESIMD_JOB_IFACE, &local);
  if (props)
    {
      update (w, props);
      return TRUE;
    }
  /* A job that ended before we looked may be gone already (JobLinger=0); its Finished signal
   * is queued on our connection, since we subscribed before it was created. */
  name = esimctl_error_get_name (local);
  if (g_strcmp0 (name, SD_BUS_ERROR_UNKNOWN_OBJECT) == 0 ||
      g_strcmp0 (name, SD_BUS_ERROR_UNKNOWN_METHOD) == 0 ||
      g_strcmp0 (name, SD_BUS_ERROR_UNKNOWN_INTERFACE) == 0)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

EsimctlWait
esimctl_job_watch_wait (EsimctlJobWatch *w, gint64 deadline_us, GError **error)
{
  w->wake = w->finished;
  return esimctl_bus_wait (w->ctl, &w->wake, deadline_us, error);
}

gboolean
esimctl_job_watch_outcome (EsimctlJobWatch *w, GError **error)
{
  g_autoptr (GVariant) props = NULL;

  /* Signals sent together with the end (DownloadResult) may still wait in the queue. */
  while (sd_bus_process (w->ctl->bus, NULL) > 0)
    ;
  props = esimctl_get_properties (w->ctl, w->path, ESIMD_JOB_IFACE, NULL);
  if (props)
    update (w, props);
  if (g_str_equal (w->state, "succeeded"))
    return TRUE;
  if (g_str_equal (w->state, "cancelled"))
    {
      g_propagate_error (error,
                         esimctl_error_new_remote ("org.esim.Error.Cancelled",
                                                   *w->error_message ? w->error_message
                                                                     : "the job was cancelled"));
      return FALSE;
    }
  g_propagate_error (
      error, esimctl_error_new_remote (*w->error_name ? w->error_name : "org.esim.Error.Failed",
                                       *w->error_message ? w->error_message : "the job failed"));
  return FALSE;
}

void
esimctl_job_watch_free (EsimctlJobWatch *w)
{
  if (!w)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (w->slots); i++)
    g_clear_pointer (&w->slots[i], sd_bus_slot_unref);
  g_free (w->path);
  g_free (w->state);
  g_free (w->stage);
  g_clear_pointer (&w->metadata, g_variant_unref);
  g_clear_pointer (&w->result, g_variant_unref);
  g_free (w->error_name);
  g_free (w->error_message);
  g_free (w->code_refused);
  g_free (w);
}
