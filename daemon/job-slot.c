/* job-slot.c — SwitchSlot as a job: in the queue of the eUICC whose card it takes away, so that
 * it waits for that eUICC's running job and no job starts on it while the modem switches. The
 * switch itself and what follows (the modem's slots found again, each eUICC given the transport
 * its slot allows) are discovery's. */
#include "job-slot.h"

#include "discovery.h"

typedef struct
{
  EsimdEuicc *target; /* eUICCs live as long as esimd */
  guint slot;
} SlotJob;

static void
switched (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  SlotJob *s = job->data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariantBuilder) b = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);

  if (!esimd_discovery_switch_slot_finish (res, &error))
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  g_variant_builder_add (b, "{sv}", "slot", g_variant_new_uint32 (s->slot));
  esimd_job_complete (job, NULL, g_variant_builder_end (b));
}

static void
switch_run (EsimdJob *job)
{
  SlotJob *s = job->data;

  esimd_job_set_stage (job, "switching", 0);
  esimd_discovery_switch_slot (s->target, s->slot, switched, job);
}

static const EsimdJobOps switch_slot_ops = {
  .kind = "switch-slot",
  .action = "org.esim.switch-slot",
  /* The card goes away: no channel to it is opened for the job. */
  .needs_channel = FALSE,
  .run = switch_run,
  .free_data = g_free,
};

EsimdJob *
esimd_job_switch_slot_new (EsimdEuicc *queue_of, EsimdEuicc *target, guint slot)
{
  SlotJob *s = g_new0 (SlotJob, 1);

  s->target = target;
  s->slot = slot;
  return esimd_job_new (queue_of, &switch_slot_ops, s);
}
