/* job-discover.c — Discover(): ES11 mutual authentication with an SM-DS, returning its events. */
#include "job-discover.h"

#include "daemon.h"

typedef struct
{
  char *smds_address;
  LpaDiscovery *discovery;
  GVariant *events; /* aa{sv} with the event IDs: for the caller's reply only */
} DiscoverJob;

static void
discover_job_free (gpointer data)
{
  DiscoverJob *d = data;

  g_clear_pointer (&d->discovery, lpa_discovery_free);
  g_clear_pointer (&d->events, g_variant_unref);
  g_free (d->smds_address);
  g_free (d);
}

/* Discover() returns the events themselves to its caller. An event ID is the matching ID of a
 * later download (a secret, as an activation code's): the Job's Result, which every local user
 * reads and whose PropertiesChanged every connection receives, lists the events without it. */
static GVariant *
discover_output (EsimdJob *job)
{
  DiscoverJob *d = job->data;
  GVariant *events = d->events;

  return events ? g_variant_new_tuple (&events, 1) : NULL;
}

static void
on_discovered (gpointer user_data, GPtrArray *events, guint skipped, const GError *error)
{
  EsimdJob *job = user_data;
  DiscoverJob *d = job->data;
  GVariantBuilder list, shown, result;

  if (error)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_init (&shown, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < events->len; i++)
    {
      LpaEventEntry *e = events->pdata[i];
      GVariant *address = g_variant_new_string (e->rsp_server_address);
      GVariantBuilder entry;

      g_variant_builder_init (&entry, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&entry, "{sv}", "event_id", g_variant_new_string (e->event_id));
      g_variant_builder_add (&entry, "{sv}", "smdp_address", address);
      g_variant_builder_add_value (&list, g_variant_builder_end (&entry));
      g_variant_builder_init (&entry, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&entry, "{sv}", "smdp_address", address);
      g_variant_builder_add_value (&shown, g_variant_builder_end (&entry));
    }
  g_clear_pointer (&d->events, g_variant_unref);
  d->events = g_variant_ref_sink (g_variant_builder_end (&list));
  g_info ("eUICC %s: %u event(s) pending at the SM-DS", job->euicc->config->name, events->len);
  if (skipped)
    g_warning ("eUICC %s: the SM-DS sent %u event entr%s that cannot be used (no event ID, one "
               "no download takes as a matching ID, an SM-DP+ address that is no host name, or "
               "beyond the %u kept); left out",
               job->euicc->config->name, skipped, skipped == 1 ? "y" : "ies", LPA_ES11_MAX_EVENTS);
  g_variant_builder_init (&result, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&result, "{sv}", "events", g_variant_builder_end (&shown));
  esimd_job_complete (job, NULL, g_variant_builder_end (&result));
}

static void
discover_run (EsimdJob *job)
{
  DiscoverJob *d = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;
  LpaDiscoveryParams params = {
    .smds_address = d->smds_address ? d->smds_address : euicc->root_smds,
    .imei = esimd_euicc_get_imei (euicc),
    .euicc_info1 = euicc->info1 ? euicc->info1->raw : NULL,
    .paths = esimd->config->es11_fallback ? LPA_DISCOVERY_PATHS_ES11_FIRST
                                          : LPA_DISCOVERY_PATHS_ES11_ONLY,
  };

  esimd_job_set_stage (job, "authenticating", 0);
  if (!params.smds_address || !*params.smds_address)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "the eUICC has no root SM-DS address; give the smds_address option");
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (!euicc->http)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "no server can be trusted: no CI certificate this eUICC trusts is installed");
      esimd_job_complete (job, error, NULL);
      return;
    }
  d->discovery = lpa_discovery_new (&params, euicc->es10, &esimd_http_client_ops, euicc->http,
                                    on_discovered, job, &error);
  if (!d->discovery)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  lpa_discovery_start (d->discovery);
}

static gboolean
discover_cancel (EsimdJob *job, GError **error)
{
  DiscoverJob *d = job->data;

  if (d->discovery)
    lpa_discovery_cancel (d->discovery);
  if (job->euicc->http)
    esimd_http_client_cancel_all (job->euicc->http);
  return TRUE;
}

static const EsimdJobOps discover_ops = {
  .kind = "discover",
  .action = "org.esim.download",
  .needs_channel = TRUE,
  .run = discover_run,
  .cancel = discover_cancel,
  .output = discover_output,
  .free_data = discover_job_free,
};

EsimdJob *
esimd_job_discover_new (EsimdEuicc *euicc, const char *smds_address)
{
  DiscoverJob *d = g_new0 (DiscoverJob, 1);

  d->smds_address = smds_address && *smds_address ? g_strdup (smds_address) : NULL;
  return esimd_job_new (euicc, &discover_ops, d);
}
