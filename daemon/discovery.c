/* discovery.c — the sources' modems, the probes, and the eUICCs they give (see discovery.h).
 *
 * Each modem a source announces is an entry, keyed by the physical device. An entry is probed
 * once (again when what it offers changes, when a probe failed, and after a slot switch); what
 * the probe finds is matched to eUICC objects by EID. The authority is one source at a time:
 * ModemManager while it is on the bus, udev otherwise. When it changes, the old source's entries
 * are kept, marked stale, until the new one has told everything it knows: a modem both name is
 * adopted without a new probe (and without leaving the bus), the others go. */
#include "discovery.h"

#include "daemon.h"
#include "discovery-mm.h"
#ifdef HAVE_TRANSPORT_PCSC
#include "discovery-pcsc.h"
#endif
#include "discovery-probe.h"
#include "discovery-udev.h"
#include "esimd-error.h"
#include "job-queue.h"
#include "log.h"
#include "lpa-error.h"
#include "modem.h"
#include "observer.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST    2 /* seconds before probing a modem again after a failed probe */
#define RETRY_MAX      60
#define RETRY_ATTEMPTS 5 /* then wait until the modem is announced again */
/* Seconds a restarted ModemManager has to announce a modem again before its eUICCs go. */
#define STALE_GRACE 90

typedef enum
{
  PROBE_NONE, /* not probed (or to probe again) */
  PROBE_RUNNING,
  PROBE_DONE,
  PROBE_FAILED,  /* retried after a back-off */
  PROBE_SKIPPED, /* nothing to probe: every port denied or configured, or held with a SIM */
  /* The port is an eUICC's whose queue has work (a job may be talking on it): probed once the
   * queue is idle (port_busy()). */
  PROBE_DEFERRED,
} ProbeState;

typedef struct
{
  EsimdFoundModem *found;
  EsimdSource source;
  gboolean stale;           /* its source ended: kept until the new source settled without it */
  gboolean gone;            /* removed while a probe ran: dropped when it returns */
  char *port;               /* the port probed (name), NULL when none */
  EsimdModemConfig *config; /* that port's settings */
  ProbeState probe;
  gboolean reprobe; /* announced with changes while a probe ran: probe again after */
  guint retry_id;
  guint retries;
  guint slots; /* what the last probe found */
  guint active_slot;
  /* ModemManager switches its slot (SetPrimarySimSlot) and probes it again: its modem object
   * going away meanwhile is not an unplug. Until it comes back, or the grace ends. */
  guint mm_switch_id;
  gboolean mm_away; /* its modem object went away during the switch */
  /* Its eUICCs let the port go for a probe (port_kept_open()): unreachable until it answers. */
  gboolean let_go;
  /* Dropped (stale, its node still there) once its eUICCs' queues are idle: why. */
  char *drop_why;
  GPtrArray *euiccs; /* EsimdEuicc* reached through this modem (borrowed) */
} Entry;

static struct
{
  gboolean started;
  GHashTable *entries; /* uid -> Entry* */
  gboolean running[ESIMD_N_SOURCES];
  gboolean settled[ESIMD_N_SOURCES];
  gboolean mm_present;
  guint probing;
  void (*idle_hook) (void);
  GHashTable *inhibited;     /* uid -> count: esimd holds the modem with InhibitDevice */
  GCancellable *cancellable; /* every probe's: stopping cuts them short */
  GTask *stop_task;          /* answered once no probe runs */
  guint stale_grace_id;      /* ModemManager's time to announce its modems again */
  guint deferred_id;         /* looks at the deferred probes again once the model is idle */
} d;

static void probe_entry (Entry *e);
static void unlink_entry (Entry *e);
static void drop_entry (Entry *e);
static gboolean any_deferred (void);

/* STALE_GRACE; test rigs shorten it with ESIMD_TEST_STALE_GRACE (seconds), as they feed udev's
 * records through ESIMD_TEST_UDEV_EVENTS. */
static guint
stale_grace (void)
{
  const char *test = g_getenv ("ESIMD_TEST_STALE_GRACE");
  guint64 seconds;

  if (test && g_ascii_string_to_unsigned (test, 10, 1, STALE_GRACE, &seconds, NULL))
    return (guint) seconds;
  return STALE_GRACE;
}

/* ---- found modems -------------------------------------------------------------------------- */

EsimdFoundModem *
esimd_found_modem_new (const char *uid)
{
  EsimdFoundModem *m = g_new0 (EsimdFoundModem, 1);

  m->uid = g_strdup (uid);
  m->ports = g_ptr_array_new_with_free_func (g_free);
  return m;
}

static void
found_port_free (gpointer data)
{
  EsimdFoundPort *p = data;

  g_free (p->name);
  g_free (p->transport);
  g_free (p);
}

void
esimd_found_modem_add_port (EsimdFoundModem *modem, const char *name, const char *transport,
                            gboolean primary)
{
  EsimdFoundPort *p = g_new0 (EsimdFoundPort, 1);

  if (modem->ports->len == 0)
    g_ptr_array_set_free_func (modem->ports, found_port_free);
  p->name = g_strdup (name);
  p->transport = g_strdup (transport);
  p->primary = primary;
  g_ptr_array_add (modem->ports, p);
}

static void
mm_slot_free (gpointer data)
{
  EsimdMmSlot *slot = data;

  g_free (slot->eid);
  g_free (slot);
}

void
esimd_found_modem_add_mm_slot (EsimdFoundModem *m, guint slot, gboolean active, guint32 sim_type,
                               const char *eid)
{
  EsimdMmSlot *s = g_new0 (EsimdMmSlot, 1);

  if (!m->mm_slots)
    m->mm_slots = g_ptr_array_new_with_free_func (mm_slot_free);
  s->slot = slot;
  s->active = active;
  s->sim_type = sim_type;
  s->eid = eid && *eid ? g_strdup (eid) : NULL;
  g_ptr_array_add (m->mm_slots, s);
}

void
esimd_found_modem_free (EsimdFoundModem *m)
{
  if (!m)
    return;
  g_clear_pointer (&m->mm_slots, g_ptr_array_unref);
  g_free (m->uid);
  g_ptr_array_set_free_func (m->ports, found_port_free);
  g_ptr_array_unref (m->ports);
  g_free (m->mm_path);
  g_free (m->mm_sim);
  g_free (m->imei);
  g_strfreev (m->drivers);
  g_free (m);
}

/* ---- which port ---------------------------------------------------------------------------- */

static char *
port_path (const char *name, const char *device_dir)
{
  return g_build_filename (device_dir ? device_dir : "/dev", name, NULL);
}

gboolean
esimd_discovery_port_denied (const char *name, char *const *deny_ports, const char *device_dir)
{
  g_autofree char *path = port_path (name, device_dir);

  for (char *const *p = deny_ports; p && *p; p++)
    if (fnmatch (*p, name, 0) == 0 || fnmatch (*p, path, FNM_PATHNAME) == 0)
      return TRUE;
  return FALSE;
}

static int
transport_rank (const char *transport)
{
  static const char *const order[] = { "qmi", "mbim", "at", "pcsc" };

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (g_str_equal (transport, order[i]))
      return (int) i;
  return -1;
}

static gboolean
transport_built (const char *transport)
{
  return g_strv_contains (esimd_modem_transports (), transport);
}

const EsimdFoundPort *
esimd_discovery_pick_port (const EsimdFoundModem *modem, char *const *deny_ports,
                           const char *device_dir)
{
  const EsimdFoundPort *best = NULL;

  for (guint i = 0; i < modem->ports->len; i++)
    {
      const EsimdFoundPort *p = modem->ports->pdata[i];
      int rank = transport_rank (p->transport);

      if (rank < 0 || !transport_built (p->transport) ||
          esimd_discovery_port_denied (p->name, deny_ports, device_dir))
        continue;
      if (!best || rank < transport_rank (best->transport) ||
          (rank == transport_rank (best->transport) && p->primary && !best->primary))
        best = p;
    }
  return best;
}

/* ---- idle ---------------------------------------------------------------------------------- */

void
esimd_discovery_set_idle_hook (void (*hook) (void))
{
  d.idle_hook = hook;
}

static void
idle_changed (void)
{
  if (d.idle_hook)
    d.idle_hook ();
}

guint
esimd_discovery_euiccs_present (void)
{
  guint n = 0;

  for (guint i = 0; esimd && i < esimd->euiccs->len; i++)
    n += ((EsimdEuicc *) esimd->euiccs->pdata[i])->present;
  return n;
}

gboolean
esimd_discovery_settled (void)
{
  gboolean any_running = FALSE;

  if (d.probing || d.stale_grace_id || any_deferred ())
    return FALSE;
  for (guint s = 0; s < ESIMD_N_SOURCES; s++)
    {
      if (d.running[s] && !d.settled[s])
        return FALSE;
      /* pcscd's readers are followed whichever modem source runs. */
      if (s != ESIMD_SOURCE_PCSC)
        any_running |= d.running[s];
    }
  /* Between ModemManager leaving and udev starting nothing runs: not settled then either. */
  return any_running || !d.started || (!esimd->config->discover_udev && !d.mm_present);
}

/* ---- eUICCs -------------------------------------------------------------------------------- */

static const char *
source_name (EsimdSource s)
{
  return s == ESIMD_SOURCE_MM ? "ModemManager" : s == ESIMD_SOURCE_UDEV ? "udev" : "PC/SC";
}

static Entry *
entry_of_euicc (EsimdEuicc *euicc)
{
  GHashTableIter it;
  Entry *e;

  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (g_ptr_array_find (e->euiccs, euicc, NULL))
      return e;
  return NULL;
}

static EsimdEuicc *
euicc_by_eid (const char *eid)
{
  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *euicc = esimd->euiccs->pdata[i];
      const char *known = euicc->discovered_eid ? euicc->discovered_eid : euicc->eid;

      if (g_strcmp0 (known, eid) == 0)
        return euicc;
    }
  return NULL;
}

/* The eUICC leaves the bus; its object stays for the same EID to come back to. */
static void
release_euicc (Entry *e, EsimdEuicc *euicc, const char *why)
{
  g_ptr_array_remove (e->euiccs, euicc);
  g_info ("eUICC %u (EID %s): %s", euicc->index, esimd_log_pd (euicc->discovered_eid), why);
  esimd_euicc_set_modem (euicc, NULL, why);
  idle_changed ();
}

static void
release_all (Entry *e, const char *why)
{
  while (e->euiccs->len)
    release_euicc (e, e->euiccs->pdata[e->euiccs->len - 1], why);
}

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_clear_handle_id (&e->retry_id, g_source_remove);
  g_clear_handle_id (&e->mm_switch_id, g_source_remove);
  release_all (e, "its modem went away");
  g_free (e->drop_why);
  g_ptr_array_unref (e->euiccs);
  esimd_found_modem_free (e->found);
  esimd_modem_config_free (e->config);
  g_free (e->port);
  g_free (e);
}

/* The settings an eUICC in an inactive slot gets: nothing reaches it until the slot is active. */
static EsimdModemConfig *
inactive_config (Entry *e, guint slot)
{
  EsimdModemConfig *c = esimd_modem_config_copy (e->config);

  g_free (c->unreachable);
  c->unreachable = g_strdup_printf (
      "the eUICC is in slot %u, which the modem does not use (slot %u is active); switch to "
      "it to use it",
      slot, e->active_slot);
  return c;
}

static void
attach (Entry *e, const EsimdProbedEuicc *p, guint active_slot)
{
  EsimdEuicc *euicc = euicc_by_eid (p->eid);
  Entry *other = euicc ? entry_of_euicc (euicc) : NULL;

  if (euicc && !euicc->discovered)
    {
      g_info ("modem %s: its eUICC (EID %s) is [Modem %s]'s, which the configuration names",
              e->port, esimd_log_pd (p->eid), euicc->config->name);
      return;
    }
  if (other && other != e)
    {
      g_info ("modem %s: its eUICC (EID %s) is already reached through %s", e->port,
              esimd_log_pd (p->eid), other->port);
      return;
    }
  if (!euicc)
    {
      euicc = esimd_euicc_new_discovered (esimd->euiccs->len, p->eid);
      g_ptr_array_add (esimd->euiccs, euicc);
    }
  if (!other)
    g_ptr_array_add (e->euiccs, euicc);
  esimd_euicc_set_location (euicc, e->found->mm_path, p->slot, active_slot, e->found->imei);
  g_info ("eUICC %u (EID %s): %s %s%s%s", euicc->index, esimd_log_pd (p->eid),
          p->active ? "reached through" : "found through", e->port,
          p->slot && !p->active ? ", in an inactive slot" : "",
          e->found->mm_path ? ", a ModemManager modem" : "");
  if (p->active)
    esimd_euicc_set_modem (euicc, esimd_modem_config_copy (e->config), NULL);
  else
    {
      EsimdModemConfig *c = inactive_config (e, p->slot);
      /* Queued jobs fail with it, and a running one is stopped with it, when the slot was
       * switched away from under them. */
      g_autofree char *why = g_strdup (c->unreachable);

      esimd_euicc_set_modem (euicc, c, why);
    }
  idle_changed ();
}

/* ---- a port a job uses ---------------------------------------------------------------------- */

/* @euicc has a modem and work on it: a job queued or running, or the modem being let go (its
 * running job is ending on it). */
static gboolean
euicc_has_work (EsimdEuicc *euicc)
{
  return euicc->modem && (esimd_job_queue_length (euicc->queue) > 0 || euicc->replacing);
}

/* The eUICC whose queue has work on the port @config names, when a probe there would touch what
 * the work uses; NULL when none has. An AT port is one byte stream: a probe opens the tty beside
 * the job's transport and each reads the other's answers; held, it also takes the modem from
 * ModemManager. It is so whoever found the port: ModemManager appearing (its modem holds a port
 * esimd reached directly through udev: probed again to be taken with InhibitDevice), a modem
 * announced again with changes, a port removed and added again while the job on its old modem
 * ends, a probe retried. QMI and MBIM are reached through qmi-proxy and mbim-proxy, where the
 * probe is a client of its own beside the job's. A queued job counts (it starts at once), and so
 * does a modem being let go (its running job is ending on it). */
static EsimdEuicc *
port_busy (const EsimdModemConfig *config)
{
  if (!config || !g_str_equal (config->transport, "at"))
    return NULL;
  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *euicc = esimd->euiccs->pdata[i];

      if (euicc->config && g_strcmp0 (euicc->config->device, config->device) == 0 &&
          euicc_has_work (euicc))
        return euicc;
    }
  return NULL;
}

/* The discovered eUICC whose idle modem keeps @config's AT port open: reached directly (no
 * ModemManager holding it then), its transport reads the tty all the time, answers to a probe
 * included. A held modem opens the tty only for a job, an unreachable one never. */
static EsimdEuicc *
port_kept_open (const EsimdModemConfig *config)
{
  if (!g_str_equal (config->transport, "at"))
    return NULL;
  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *euicc = esimd->euiccs->pdata[i];

      if (euicc->discovered && euicc->modem && euicc->config && !euicc->config->hold &&
          !euicc->config->unreachable && g_str_equal (euicc->config->transport, "at") &&
          g_strcmp0 (euicc->config->device, config->device) == 0)
        return euicc;
    }
  return NULL;
}

/* The eUICC reached through @e that has work queued or running, or whose modem is being let go
 * (its running job is ending on it); NULL when none has. Discovery neither replaces nor takes
 * away such an eUICC's modem (a probe whose answer would give it another, a stale modem dropped):
 * that waits until the queue is idle, like a probe of a busy port. Only a modem that certainly
 * went away (unplugged, its node gone) lets its job go at once. */
static EsimdEuicc *
entry_busy (Entry *e)
{
  for (guint i = 0; i < e->euiccs->len; i++)
    {
      EsimdEuicc *euicc = e->euiccs->pdata[i];

      if (euicc_has_work (euicc))
        return euicc;
    }
  return NULL;
}

static gboolean
any_deferred (void)
{
  GHashTableIter it;
  Entry *e;

  if (!d.entries)
    return FALSE;
  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (e->probe == PROBE_DEFERRED || e->drop_why)
      return TRUE;
  return FALSE;
}

/* Stale modems whose eUICCs' queues are idle now are dropped, and probes whose port is no longer
 * busy are done, once each. A deferred entry dropped meanwhile (its modem went away) is gone from
 * the table: nothing is left to do for it. */
static gboolean
probe_deferred (gpointer data)
{
  g_autoptr (GPtrArray) drop = g_ptr_array_new ();
  g_autoptr (GPtrArray) ready = g_ptr_array_new ();
  GHashTableIter it;
  Entry *e;

  d.deferred_id = 0;
  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (e->drop_why && !entry_busy (e))
      g_ptr_array_add (drop, e);
    else if (!e->drop_why && e->probe == PROBE_DEFERRED && !port_busy (e->config) &&
             !entry_busy (e))
      g_ptr_array_add (ready, e);
  for (guint i = 0; i < drop->len; i++)
    {
      e = drop->pdata[i];
      g_info ("modem %s is gone (%s), now that no job uses it", e->port ? e->port : e->found->uid,
              e->drop_why);
      drop_entry (e);
    }
  for (guint i = 0; i < ready->len; i++)
    {
      e = ready->pdata[i];
      g_debug ("modem %s: no job holds its port now", e->port);
      e->probe = PROBE_NONE;
      probe_entry (e);
    }
  idle_changed ();
  return G_SOURCE_REMOVE;
}

/* The model changed (a job started or ended, a modem was let go): the deferred probes are looked
 * at again from the main loop, not from inside the announcement (observer.h). */
static void
model_changed (gpointer data, EsimdEuicc *euicc)
{
  if (d.started && !d.deferred_id && any_deferred ())
    d.deferred_id = g_idle_add (probe_deferred, NULL);
}

static void
euicc_changed (gpointer data, EsimdEuicc *euicc, EsimdEuiccChange what)
{
  model_changed (data, euicc);
}

static const EsimdObserver discovery_observer = {
  .euicc_removed = model_changed,
  .euicc_changed = euicc_changed,
};

/* ---- probing ------------------------------------------------------------------------------- */

static gboolean
retry_cb (gpointer data)
{
  Entry *e = data;

  e->retry_id = 0;
  probe_entry (e);
  return G_SOURCE_REMOVE;
}

static void apply_result (Entry *e, EsimdProbeResult *result);

/* The eUICCs that let the port go for the probe stay unreachable: with the probe's failure as
 * the reason (a job asked for fails with it) rather than a probe that is over. */
static void
say_probe_failed (Entry *e, const GError *error)
{
  g_autofree char *why = g_strdup_printf ("its modem %s did not answer when probed again (%s)",
                                          e->port, error->message);

  for (guint i = 0; i < e->euiccs->len; i++)
    {
      EsimdEuicc *euicc = e->euiccs->pdata[i];
      EsimdModemConfig *c = esimd_modem_config_copy (e->config);

      g_free (c->unreachable);
      c->unreachable = g_strdup (why);
      esimd_euicc_set_modem (euicc, c, why);
    }
}

static void
probed_euicc_free (gpointer data)
{
  EsimdProbedEuicc *p = data;

  g_free (p->eid);
  g_free (p);
}

static void
probed (GObject *source, GAsyncResult *res, gpointer data)
{
  Entry *e = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdProbeResult) result = esimd_probe_finish (res, &error);

  d.probing--;
  if (e->gone)
    {
      entry_free (e);
      if (d.stop_task && d.probing == 0)
        {
          g_task_return_boolean (d.stop_task, TRUE);
          g_clear_object (&d.stop_task);
        }
      idle_changed ();
      return;
    }
  if (e->reprobe)
    {
      e->reprobe = FALSE;
      e->probe = PROBE_NONE;
      probe_entry (e);
      idle_changed ();
      return;
    }
  if (!result)
    {
      e->probe = PROBE_FAILED;
      if (e->let_go)
        say_probe_failed (e, error);
      if (++e->retries < RETRY_ATTEMPTS)
        {
          guint delay = MIN (RETRY_FIRST << (e->retries - 1), RETRY_MAX);

          g_info ("modem %s: %s; probing again in %u s", e->port, error->message, delay);
          e->retry_id = g_timeout_add_seconds (delay, retry_cb, e);
        }
      else
        g_warning ("modem %s: %s; giving up until the modem is found again", e->port,
                   error->message);
      idle_changed ();
      return;
    }
  e->probe = PROBE_DONE;
  e->retries = 0;
  apply_result (e, result);
}

/* What ModemManager says of the slots the probe could not see: which one the modem uses when the
 * transport cannot tell (AT), and the eUICCs in the others, from their Sim objects' Eid, when the
 * transport cannot look at a slot the modem does not use (AT; MBIM before the slot was ever
 * active). The transport's own findings win. */
static void
merge_mm_slots (const EsimdFoundModem *m, EsimdProbeResult *result)
{
  if (!m->mm_slots)
    return;
  result->slots = MAX (result->slots, m->mm_slot_count);
  if (!result->active_slot && m->mm_primary_slot)
    {
      result->active_slot = m->mm_primary_slot;
      for (guint i = 0; i < result->euiccs->len; i++)
        {
          EsimdProbedEuicc *p = result->euiccs->pdata[i];

          if (!p->slot && p->active)
            p->slot = result->active_slot;
        }
    }
  for (guint i = 0; i < m->mm_slots->len; i++)
    {
      const EsimdMmSlot *slot = m->mm_slots->pdata[i];
      gboolean known = FALSE;
      EsimdProbedEuicc *p;

      if (!slot->eid || slot->sim_type == 1 /* physical */ || slot->slot == result->active_slot)
        continue;
      for (guint j = 0; j < result->euiccs->len && !known; j++)
        {
          const EsimdProbedEuicc *q = result->euiccs->pdata[j];

          known = q->slot == slot->slot || g_strcmp0 (q->eid, slot->eid) == 0;
        }
      if (known)
        continue;
      p = g_new0 (EsimdProbedEuicc, 1);
      p->slot = slot->slot;
      p->eid = g_strdup (slot->eid);
      g_ptr_array_add (result->euiccs, p);
    }
}

static void
apply_result (Entry *e, EsimdProbeResult *result)
{
  g_autoptr (GPtrArray) before = NULL;

  e->let_go = FALSE;
  merge_mm_slots (e->found, result);
  e->slots = result->slots;
  e->active_slot = result->active_slot;
  if (result->euiccs->len == 0)
    g_info ("modem %s: no eUICC (%s)", e->port,
            result->no_isdr ? result->no_isdr : "none in any slot");
  else if (result->no_isdr)
    g_debug ("modem %s: the active slot: %s", e->port, result->no_isdr);

  /* eUICCs no longer behind this modem (a card taken out of its tray) leave; the others are
   * (re)attached with what the probe said of their slot. */
  before = g_ptr_array_copy (e->euiccs, NULL, NULL);
  for (guint i = 0; i < before->len; i++)
    {
      EsimdEuicc *euicc = before->pdata[i];
      gboolean still = FALSE;

      for (guint j = 0; j < result->euiccs->len && !still; j++)
        still = g_strcmp0 (((EsimdProbedEuicc *) result->euiccs->pdata[j])->eid,
                           euicc->discovered_eid) == 0;
      /* Switched away from over MBIM, which says a card is in the other slot but not whose:
       * the eUICC known there is there still, so that a caller can switch back to it. */
      if (!still && euicc->slot && euicc->slot != result->active_slot && euicc->slot <= 32 &&
          (result->unnamed_slots & (1u << (euicc->slot - 1))))
        {
          EsimdProbedEuicc *kept = g_new0 (EsimdProbedEuicc, 1);

          kept->slot = euicc->slot;
          kept->eid = g_strdup (euicc->discovered_eid);
          g_ptr_array_add (result->euiccs, kept);
          still = TRUE;
        }
      if (!still)
        release_euicc (e, euicc, "no longer behind its modem");
    }
  for (guint i = 0; i < result->euiccs->len; i++)
    attach (e, result->euiccs->pdata[i], result->active_slot);
  idle_changed ();
}

/* A [Modem] section with Transport=pcsc takes the readers its Reader= names (exactly, or as part
 * of their name, as the transport picks them), or every reader when it names none. */
static gboolean
reader_configured (const EsimdModemConfig *c, const EsimdFoundModem *m)
{
  if (!g_str_equal (c->transport, "pcsc"))
    return FALSE;
  for (guint j = 0; j < m->ports->len; j++)
    {
      EsimdFoundPort *p = m->ports->pdata[j];

      if (g_str_equal (p->transport, "pcsc") &&
          (!c->device || !*c->device || strstr (p->name, c->device)))
        return TRUE;
    }
  return FALSE;
}

/* A modem a [Modem] section names is left to it, whichever port the section uses. @port: the
 * modem's port the section names (NULL for a reader). */
static const EsimdModemConfig *
configured_by (const EsimdFoundModem *m, const EsimdFoundPort **port)
{
  *port = NULL;
  for (guint i = 0; i < esimd->config->modems->len; i++)
    {
      EsimdModemConfig *c = esimd->config->modems->pdata[i];
      g_autofree char *conf = NULL;

      if (reader_configured (c, m))
        return c;
      if (g_str_equal (c->transport, "pcsc"))
        continue;
      conf = c->device && c->device[0] == '/' ? realpath (c->device, NULL) : NULL;
      if (!conf)
        continue;
      for (guint j = 0; j < m->ports->len; j++)
        {
          EsimdFoundPort *p = m->ports->pdata[j];
          g_autofree char *path = port_path (p->name, esimd->config->device_dir);
          g_autofree char *real = realpath (path, NULL);

          if (g_strcmp0 (conf, real ? real : path) == 0)
            {
              *port = p;
              return c;
            }
        }
    }
  return NULL;
}

static EsimdModemConfig *
port_config (Entry *e, const EsimdFoundPort *port)
{
  /* A reader is named, not a node under /dev: Reader= takes its name (an exact name wins). */
  g_autofree char *path = g_str_equal (port->transport, "pcsc")
                              ? g_strdup (port->name)
                              : port_path (port->name, esimd->config->device_dir);
  EsimdModemConfig *c = esimd_modem_config_new (port->name, port->transport, path);

  /* QMI and MBIM always through their proxies (the defaults): ModemManager shares them. */
  if (e->found->held && g_str_equal (port->transport, "at"))
    {
      c->hold_uid = g_strdup (e->found->uid);
      c->hold = esimd_discovery_mm_hold ();
    }
  /* The modem's IMEI as ModemManager read it: the transport need not ask again. */
  c->imei = g_strdup (e->found->imei);
  return c;
}

static void
probe_entry (Entry *e)
{
  const EsimdFoundPort *port, *named;
  const EsimdModemConfig *section_config;
  const char *section;
  EsimdEuicc *busy;

  if (e->probe == PROBE_RUNNING)
    {
      e->reprobe = TRUE;
      return;
    }
  g_clear_handle_id (&e->retry_id, g_source_remove);
  /* What the probe (or its skipping) decides may take the eUICCs reached through @e from their
   * modem or give them another (another port or transport, a section naming it, no port left),
   * which would let their job go: it waits until their queues are idle. */
  if ((busy = entry_busy (e)))
    {
      if (e->probe != PROBE_DEFERRED)
        g_info ("modem %s: eUICC %u has work on the port; probed once its queue is idle",
                e->port ? e->port : e->found->uid, busy->index);
      e->probe = PROBE_DEFERRED;
      idle_changed ();
      return;
    }
  section_config = configured_by (e->found, &named);
  section = section_config ? section_config->name : NULL;
  port = section ? NULL
                 : esimd_discovery_pick_port (e->found, esimd->config->deny_ports,
                                              esimd->config->device_dir);
  g_clear_pointer (&e->port, g_free);
  g_clear_pointer (&e->config, esimd_modem_config_free);
  if (section && e->found->held && named && g_str_equal (named->transport, "at") &&
      g_str_equal (section_config->transport, "at"))
    /* ModemManager lists the port among its modem's AT ports: it probes it and sends its own
     * commands there, and the answers of one get mixed into the other's. */
    g_warning ("[Modem %s]: ModemManager uses its AT port %s too (its modem %s), and the two "
               "would talk over each other: mark the port ID_MM_PORT_IGNORE=1 in a udev rule "
               "for ModemManager to leave it to esimd, or remove the section (esimd then takes "
               "the modem from ModemManager for each job)",
               section, named->name, e->found->mm_path ? e->found->mm_path : e->found->uid);
  else if (section)
    g_info ("modem %s: [Modem %s] names it; not probed", e->found->uid, section);
  else if (!port)
    g_info ("modem %s: no port to probe (%u port(s), none QMI, MBIM or AT, or DenyPorts= denies "
            "them)",
            e->found->uid, e->found->ports->len);
  else if (e->found->held && g_str_equal (port->transport, "at") && e->found->physical_sim)
    g_info ("modem %s: ModemManager says its SIM is a physical one; its AT port %s is not taken "
            "from ModemManager to probe it",
            e->found->uid, port->name);
  if (section || !port)
    {
      e->probe = PROBE_SKIPPED;
      release_all (e, "its modem is not probed");
      return;
    }
  if (e->found->held && g_str_equal (port->transport, "at") && e->found->physical_sim)
    {
      /* Not taken from ModemManager: an eUICC it names in another slot is all there is. */
      g_autoptr (EsimdProbeResult) result = g_new0 (EsimdProbeResult, 1);

      result->euiccs = g_ptr_array_new_with_free_func (probed_euicc_free);
      result->slots = 1;
      e->port = g_strdup (port->name);
      e->config = port_config (e, port);
      e->probe = PROBE_SKIPPED;
      apply_result (e, result);
      return;
    }
  e->port = g_strdup (port->name);
  e->config = port_config (e, port);
  if ((busy = port_busy (e->config)))
    {
      if (e->probe != PROBE_DEFERRED)
        g_info ("modem %s: eUICC %u has work on the port; probed once its queue is idle", e->port,
                busy->index);
      e->probe = PROBE_DEFERRED;
      idle_changed ();
      return;
    }
  if ((busy = port_kept_open (e->config)))
    {
      /* Let go first (the eUICC stays on the bus, unavailable for the probe's length: a job
       * asked for meanwhile fails with the reason), then probed alone once it is closed; the
       * probe's answer gives the eUICC its new modem. */
      EsimdModemConfig *c = esimd_modem_config_copy (busy->config);
      g_autofree char *why = g_strdup_printf ("its modem %s is being probed again", e->port);

      g_info ("modem %s: eUICC %u lets the port go for it to be probed again", e->port,
              busy->index);
      g_free (c->unreachable);
      c->unreachable = g_strdup (why);
      esimd_euicc_set_modem (busy, c, why);
      e->let_go = TRUE;
      e->probe = PROBE_DEFERRED;
      if (!d.deferred_id)
        d.deferred_id = g_idle_add (probe_deferred, NULL);
      idle_changed ();
      return;
    }
  e->probe = PROBE_RUNNING;
  d.probing++;
  g_debug ("modem %s: probing %s (%s%s)", e->found->uid, e->config->device, port->transport,
           e->config->hold ? ", taken from ModemManager for the probe" : "");
  esimd_probe_run (e->config, esimd->config->probe_timeout, d.cancellable, probed, e);
}

/* Probes @e anew; one running now is left to finish (it borrows the port's settings, which a
 * new probe would free under it) and followed by another. */
static void
probe_again (Entry *e)
{
  if (e->probe != PROBE_RUNNING && e->probe != PROBE_DEFERRED)
    e->probe = PROBE_NONE;
  probe_entry (e);
}

/* ---- what the sources say ------------------------------------------------------------------ */

/* Whether a new announcement changes what is probed. */
static gboolean
same_port (Entry *e, EsimdFoundModem *m)
{
  const EsimdFoundPort *p =
      esimd_discovery_pick_port (m, esimd->config->deny_ports, esimd->config->device_dir);

  /* Held or not changes only how an AT port is reached (QMI and MBIM go through the proxies
   * either way): the same port under another source is the same modem, with no new probe. An AT
   * port reached by taking it from ModemManager needs nothing new once ModemManager is gone
   * (each job then uses it without asking anyone: a probe now would open the tty beside a job
   * using it); one reached directly must be probed again when ModemManager starts holding it,
   * to be taken from ModemManager from then on. */
  return p && e->port && e->config && g_str_equal (p->name, e->port) &&
         g_str_equal (p->transport, e->config->transport) &&
         (!g_str_equal (p->transport, "at") || m->held == e->found->held ||
          (!m->held && e->config->hold));
}

/* Whether ModemManager says the same of the slots (which is used, which eUICC is where). */
static gboolean
same_mm_slots (const EsimdFoundModem *a, const EsimdFoundModem *b)
{
  if (!a->mm_slots || !b->mm_slots)
    return !a->mm_slots == !b->mm_slots;
  if (a->mm_primary_slot != b->mm_primary_slot || a->mm_slots->len != b->mm_slots->len)
    return FALSE;
  for (guint i = 0; i < a->mm_slots->len; i++)
    {
      const EsimdMmSlot *x = a->mm_slots->pdata[i], *y = b->mm_slots->pdata[i];

      if (x->slot != y->slot || !x->active != !y->active || x->sim_type != y->sim_type ||
          g_strcmp0 (x->eid, y->eid) != 0)
        return FALSE;
    }
  return TRUE;
}

/* Whether ModemManager's modem object says it uses the same SIM. Another object (ModemManager
 * probed the modem anew, or restarted) numbers its SIMs anew: that alone is no new card. */
static gboolean
same_mm_sim (const EsimdFoundModem *a, const EsimdFoundModem *b)
{
  return !a->mm_path || g_strcmp0 (a->mm_path, b->mm_path) != 0 ||
         g_strcmp0 (a->mm_sim, b->mm_sim) == 0;
}

/* udev and ModemManager may name a modem's device differently: the same port is the same modem. */
static Entry *
entry_with_port (EsimdFoundModem *m)
{
  const EsimdFoundPort *p =
      esimd_discovery_pick_port (m, esimd->config->deny_ports, esimd->config->device_dir);
  GHashTableIter it;
  Entry *e;

  if (!p)
    return NULL;
  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (!e->gone && e->port && g_str_equal (e->port, p->name))
      return e;
  return NULL;
}

void
esimd_discovery_modem_found (EsimdSource source, EsimdFoundModem *m)
{
  Entry *e = g_hash_table_lookup (d.entries, m->uid);
  gboolean reprobe;

  if (!d.started)
    {
      esimd_found_modem_free (m);
      return;
    }
  if (!e && (e = entry_with_port (m)))
    {
      /* Re-key it under the new source's name for the device. */
      unlink_entry (e);
      g_hash_table_insert (d.entries, g_strdup (m->uid), e);
    }
  if (!e)
    {
      e = g_new0 (Entry, 1);
      e->euiccs = g_ptr_array_new ();
      e->found = m;
      e->source = source;
      g_hash_table_insert (d.entries, g_strdup (m->uid), e);
      g_debug ("%s: modem %s with %u port(s)", source_name (source), m->uid, m->ports->len);
      probe_entry (e);
      idle_changed ();
      return;
    }
  reprobe = !same_port (e, m) || e->probe == PROBE_FAILED || e->probe == PROBE_NONE ||
            (e->probe == PROBE_SKIPPED && g_strcmp0 (m->imei, e->found->imei) != 0) ||
            m->physical_sim != e->found->physical_sim || !same_mm_slots (e->found, m) ||
            !same_mm_sim (e->found, m) || e->mm_switch_id;
  if (reprobe && e->probe == PROBE_DONE && same_port (e, m) && !e->mm_switch_id)
    g_info ("%s: modem %s: %s; probing it again", source_name (source), e->port,
            !same_mm_sim (e->found, m) ? "the SIM it uses changed" : "its SIM slots changed");
  if (e->mm_switch_id)
    g_debug ("%s: modem %s is back after its slot switch", source_name (source), m->uid);
  g_clear_handle_id (&e->mm_switch_id, g_source_remove);
  e->mm_away = FALSE;
  if (e->stale || e->source != source)
    g_debug ("%s: adopts modem %s from %s", source_name (source), m->uid, source_name (e->source));
  esimd_found_modem_free (e->found);
  e->found = m;
  e->source = source;
  e->stale = FALSE;
  g_clear_pointer (&e->drop_why, g_free);
  e->retries = 0;
  if (reprobe)
    probe_again (e);
  else
    for (guint i = 0; i < e->euiccs->len; i++)
      {
        EsimdEuicc *euicc = e->euiccs->pdata[i];

        esimd_euicc_set_location (euicc, m->mm_path, euicc->slot, e->active_slot, m->imei);
      }
  idle_changed ();
}

/* Takes @e out of the table, keeping it. */
static void
unlink_entry (Entry *e)
{
  gpointer key = NULL;

  if (g_hash_table_steal_extended (d.entries, e->found->uid, &key, NULL))
    g_free (key);
}

static void
drop_entry (Entry *e)
{
  g_clear_handle_id (&e->mm_switch_id, g_source_remove);
  unlink_entry (e);
  if (e->probe == PROBE_RUNNING)
    {
      /* The probe holds it: it is freed when the probe returns. */
      e->gone = TRUE;
      release_all (e, "its modem went away");
      return;
    }
  entry_free (e);
}

void
esimd_discovery_modem_gone (EsimdSource source, const char *uid)
{
  Entry *e = g_hash_table_lookup (d.entries, uid);

  if (!e || e->source != source)
    return;
  if (esimd_discovery_inhibiting (uid))
    {
      g_debug ("%s: modem %s is away while esimd holds it", source_name (source), uid);
      return;
    }
  if (e->mm_switch_id)
    {
      g_debug ("%s: modem %s is away while ModemManager switches its slot", source_name (source),
               uid);
      e->mm_away = TRUE;
      return;
    }
  g_info ("%s: modem %s went away", source_name (source), e->port ? e->port : uid);
  drop_entry (e);
  idle_changed ();
}

/* Modems not announced again since their source ended or restarted. @all: every one; else
 * only those whose port node is gone (the modem certainly is). One whose node is there and whose
 * eUICC has work is dropped once its queue is idle (entry_busy()): only an unplug cuts a job. */
static void
drop_stale (gboolean all, const char *why)
{
  g_autoptr (GPtrArray) stale = g_ptr_array_new ();
  g_autoptr (GPtrArray) there = g_ptr_array_new ();
  GHashTableIter it;
  Entry *e;

  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    {
      g_autofree char *node = e->port ? port_path (e->port, esimd->config->device_dir) : NULL;
      gboolean present = node && g_file_test (node, G_FILE_TEST_EXISTS);

      if (e->stale && (all || !present))
        g_ptr_array_add (present ? there : stale, e);
    }
  for (guint i = 0; i < stale->len; i++)
    {
      e = stale->pdata[i];
      g_info ("modem %s is gone (%s)", e->port ? e->port : e->found->uid, why);
      drop_entry (e);
    }
  for (guint i = 0; i < there->len; i++)
    {
      EsimdEuicc *busy;

      e = there->pdata[i];
      if (!(busy = entry_busy (e)))
        {
          g_info ("modem %s is gone (%s)", e->port, why);
          drop_entry (e);
        }
      else if (!e->drop_why)
        {
          g_info ("modem %s: %s; eUICC %u has work on it: let go once its queue is idle", e->port,
                  why, busy->index);
          e->drop_why = g_strdup (why);
        }
    }
}

static gboolean
any_stale (void)
{
  GHashTableIter it;
  Entry *e;

  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (e->stale)
      return TRUE;
  return FALSE;
}

static gboolean
stale_grace_over (gpointer data)
{
  d.stale_grace_id = 0;
  drop_stale (TRUE, "ModemManager did not announce it again");
  idle_changed ();
  return G_SOURCE_REMOVE;
}

void
esimd_discovery_source_settled (EsimdSource source)
{
  d.settled[source] = TRUE;
  if (source == ESIMD_SOURCE_PCSC)
    {
      /* It replaces no other source: nothing of another is stale because of it. */
      g_debug ("%s: every reader looked at", source_name (source));
      idle_changed ();
      return;
    }
  g_clear_handle_id (&d.stale_grace_id, g_source_remove);
  if (source == ESIMD_SOURCE_UDEV)
    /* udev's enumeration is the kernel's whole list of devices. */
    drop_stale (TRUE, "udev does not know it");
  else
    {
      /* A ModemManager that just started has not probed its modems yet (that takes it tens of
       * seconds): it lists them as it finishes each. Those whose node is gone went away; the
       * others keep their eUICCs until it had time to announce them. */
      drop_stale (FALSE, "its port is gone");
      /* Nothing left to wait for (esimd just started, or every old modem is gone): no grace,
       * which would also hold an idle esimd started on demand for its length. */
      if (any_stale ())
        d.stale_grace_id = g_timeout_add_seconds (stale_grace (), stale_grace_over, NULL);
    }
  g_debug ("%s: every modem found (%u known)", source_name (source), g_hash_table_size (d.entries));
  idle_changed ();
}

void
esimd_discovery_source_ended (EsimdSource source)
{
  GHashTableIter it;
  Entry *e;

  d.running[source] = FALSE;
  d.settled[source] = FALSE;
  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (e->source == source)
      e->stale = TRUE;
  idle_changed ();
}

static void
start_udev (void)
{
  if (!esimd->config->discover_udev || d.running[ESIMD_SOURCE_UDEV])
    return;
  d.running[ESIMD_SOURCE_UDEV] = TRUE;
  d.settled[ESIMD_SOURCE_UDEV] = FALSE;
  if (!esimd_discovery_udev_start ())
    {
      d.running[ESIMD_SOURCE_UDEV] = FALSE;
      idle_changed ();
    }
}

static void
stop_udev (void)
{
  if (!d.running[ESIMD_SOURCE_UDEV])
    return;
  esimd_discovery_udev_stop ();
  esimd_discovery_source_ended (ESIMD_SOURCE_UDEV);
}

void
esimd_discovery_mm_present (gboolean present)
{
  d.mm_present = present;
  if (present)
    {
      g_info ("ModemManager is on the bus: its modems are where eUICCs are looked for");
      stop_udev ();
      d.running[ESIMD_SOURCE_MM] = TRUE;
      d.settled[ESIMD_SOURCE_MM] = FALSE;
    }
  else
    {
      if (d.running[ESIMD_SOURCE_MM])
        esimd_discovery_source_ended (ESIMD_SOURCE_MM);
      if (esimd->config->discover_udev)
        g_info ("ModemManager is not on the bus: looking for modem ports with udev");
      start_udev ();
    }
  idle_changed ();
}

/* ---- holding ModemManager's modems ---------------------------------------------------------- */

gboolean
esimd_discovery_inhibiting (const char *uid)
{
  return d.inhibited && g_hash_table_contains (d.inhibited, uid);
}

void
esimd_discovery_note_inhibited (const char *uid, gboolean inhibited)
{
  guint n;

  if (!d.inhibited)
    d.inhibited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (d.inhibited, uid));
  if (inhibited)
    g_hash_table_insert (d.inhibited, g_strdup (uid), GUINT_TO_POINTER (n + 1));
  else if (n <= 1)
    g_hash_table_remove (d.inhibited, uid);
  else
    g_hash_table_insert (d.inhibited, g_strdup (uid), GUINT_TO_POINTER (n - 1));
}

/* ---- switching slots ----------------------------------------------------------------------- */

typedef struct
{
  GTask *task;
  char *uid;
  EsimdModem *modem;
  EsimdModemConfig *config;
  guint slot;
  GError *error;
} SwitchOp;

static void
switch_op_free (SwitchOp *op)
{
  g_free (op->uid);
  esimd_modem_config_free (op->config);
  g_clear_error (&op->error);
  g_free (op);
}

static void
switch_modem_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  SwitchOp *op = data;
  Entry *e = g_hash_table_lookup (d.entries, op->uid);

  esimd_modem_free (op->modem);
  if (op->error)
    g_task_return_error (op->task, g_steal_pointer (&op->error));
  else
    {
      g_info ("modem %s: slot %u is the active one now", op->config->name, op->slot);
      /* What the modem reaches has changed: find it again. */
      if (e)
        {
          e->retries = 0;
          probe_again (e);
        }
      g_task_return_boolean (op->task, TRUE);
    }
  g_object_unref (op->task);
  switch_op_free (op);
}

static void
switched (GObject *source, GAsyncResult *res, gpointer data)
{
  SwitchOp *op = data;

  esimd_modem_switch_slot_finish (op->modem, res, &op->error);
  esimd_modem_stop (op->modem, switch_modem_stopped, op);
}

static void
switch_modem_available (EsimdModem *modem, gboolean available, const GError *reason, gpointer data)
{
  SwitchOp *op = data;

  if (!available || op->error || !op->modem)
    return;
  esimd_modem_switch_slot (op->modem, op->slot, switched, op);
}

/* ModemManager had the time a restart has to announce a modem again; it did not. */
static gboolean
mm_switch_over (gpointer data)
{
  Entry *e = data;

  e->mm_switch_id = 0;
  if (e->mm_away)
    {
      g_info ("modem %s: ModemManager did not bring it back after the slot switch",
              e->port ? e->port : e->found->uid);
      drop_entry (e);
      idle_changed ();
    }
  return G_SOURCE_REMOVE;
}

typedef struct
{
  GTask *task;
  char *uid;
  guint slot;
} MmSwitch;

static void
mm_switched (GObject *source, GAsyncResult *res, gpointer data)
{
  MmSwitch *op = data;
  g_autoptr (GError) error = NULL;
  Entry *e = d.entries ? g_hash_table_lookup (d.entries, op->uid) : NULL;

  if (!esimd_discovery_mm_set_primary_slot_finish (res, &error))
    {
      if (e && e->mm_switch_id)
        {
          g_clear_handle_id (&e->mm_switch_id, g_source_remove);
          if (e->mm_away)
            drop_entry (e);
        }
      g_task_return_error (op->task, g_steal_pointer (&error));
    }
  else
    {
      g_info ("modem %s: ModemManager made slot %u the active one", op->uid, op->slot);
      g_task_return_boolean (op->task, TRUE);
    }
  g_object_unref (op->task);
  g_free (op->uid);
  g_free (op);
}

EsimdEuicc *
esimd_discovery_switch_queue (EsimdEuicc *euicc)
{
  Entry *e = d.entries ? entry_of_euicc (euicc) : NULL;

  for (guint i = 0; e && i < e->euiccs->len; i++)
    {
      EsimdEuicc *other = e->euiccs->pdata[i];

      if (other->slot == e->active_slot && !other->config->unreachable)
        return other;
    }
  return euicc;
}

void
esimd_discovery_switch_slot (EsimdEuicc *euicc, guint slot, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  Entry *e = entry_of_euicc (euicc);
  SwitchOp *op;
  GError *error = NULL;

  g_task_set_source_tag (task, esimd_discovery_switch_slot);
  if (!e || !e->config)
    {
      g_task_return_new_error (task, ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE,
                               "eUICC %u: its modem is not one esimd found (or it is away): "
                               "switch its slots with the modem's own tools",
                               euicc->index);
      g_object_unref (task);
      return;
    }
  if (slot == 0 || (e->slots && slot > e->slots))
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                               "the modem has no slot %u (it has %u)", slot, e->slots);
      g_object_unref (task);
      return;
    }
  if (e->found->mm_path && e->source == ESIMD_SOURCE_MM && d.mm_present)
    {
      /* ModemManager manages the modem: it switches (SetPrimarySimSlot) and probes it again
       * itself, rather than finding its SIM changed behind its back. Its modem object goes away
       * and comes back meanwhile: not an unplug. */
      MmSwitch *mop = g_new0 (MmSwitch, 1);

      mop->task = task;
      mop->uid = g_strdup (e->found->uid);
      mop->slot = slot;
      g_clear_handle_id (&e->mm_switch_id, g_source_remove);
      e->mm_away = FALSE;
      e->mm_switch_id = g_timeout_add_seconds (STALE_GRACE, mm_switch_over, e);
      g_info ("modem %s: asking ModemManager, which manages it, to switch to slot %u",
              e->port ? e->port : e->found->uid, slot);
      esimd_discovery_mm_set_primary_slot (e->found->mm_path, slot, mm_switched, mop);
      return;
    }
  op = g_new0 (SwitchOp, 1);
  op->task = task;
  op->uid = g_strdup (e->found->uid);
  op->slot = slot;
  /* A modem of its own for the switch: through the proxies it coexists with the eUICC's. */
  op->config = esimd_modem_config_copy (e->config);
  op->modem = esimd_modem_new (op->config, switch_modem_available, op, &error);
  if (!op->modem)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      switch_op_free (op);
      return;
    }
  g_info ("modem %s: switching to slot %u", e->port, slot);
  esimd_modem_start (op->modem);
}

gboolean
esimd_discovery_switch_slot_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- life ---------------------------------------------------------------------------------- */

void
esimd_discovery_start (gpointer bus_connection)
{
  EsimdConfig *c = esimd->config;

  d.entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  d.cancellable = g_cancellable_new ();
  d.started = TRUE;
  esimd_observer_add (&discovery_observer, NULL);
#ifdef HAVE_TRANSPORT_PCSC
  if (c->discover_pcsc)
    {
      d.running[ESIMD_SOURCE_PCSC] = TRUE;
      d.settled[ESIMD_SOURCE_PCSC] = FALSE;
      esimd_discovery_pcsc_start ();
    }
#endif
  if (c->discover_mm && bus_connection)
    {
      g_debug ("discovery: following ModemManager%s", c->discover_udev ? ", udev without it" : "");
      /* It calls esimd_discovery_mm_present() once it knows whether ModemManager is there. */
      if (esimd_discovery_mm_start (bus_connection))
        return;
    }
  if (c->discover_udev)
    start_udev ();
  else if (!c->discover_mm && !d.running[ESIMD_SOURCE_PCSC])
    g_info ("discovery is off ([Discovery] ModemManager=false, Udev=false, PCSC=false)");
  idle_changed ();
}

void
esimd_discovery_stop (GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  GHashTableIter it;
  gpointer key;
  Entry *e;

  if (!d.started)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  d.started = FALSE;
  esimd_observer_remove (&discovery_observer, NULL);
  g_clear_handle_id (&d.deferred_id, g_source_remove);
  g_cancellable_cancel (d.cancellable);
  esimd_discovery_mm_stop ();
  esimd_discovery_udev_shutdown ();
#ifdef HAVE_TRANSPORT_PCSC
  esimd_discovery_pcsc_stop ();
#endif
  memset (d.running, 0, sizeof d.running);
  /* Entries whose probe runs are freed when it returns; the others now. The eUICCs themselves
   * are stopped and freed by main.c with the configured ones. */
  g_hash_table_iter_init (&it, d.entries);
  while (g_hash_table_iter_next (&it, &key, (gpointer *) &e))
    {
      g_ptr_array_set_size (e->euiccs, 0);
      g_clear_handle_id (&e->mm_switch_id, g_source_remove);
      g_hash_table_iter_steal (&it);
      g_free (key);
      if (e->probe == PROBE_RUNNING)
        e->gone = TRUE;
      else
        entry_free (e);
    }
  g_clear_handle_id (&d.stale_grace_id, g_source_remove);
  g_clear_pointer (&d.entries, g_hash_table_unref);
  g_clear_pointer (&d.inhibited, g_hash_table_unref);
  g_clear_object (&d.cancellable);
  if (d.probing == 0)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  else
    d.stop_task = task;
}
