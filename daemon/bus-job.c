/* bus-job.c — the org.esim.Job interface: properties, Confirm/Cancel, Finished, lifetime. */
#include "bus-job.h"

#include "bus.h"
#include "bus-errors.h"
#include "bus-gvariant.h"
#include "bus-nodes.h"
#include "bus-paths.h"
#include "bus-props.h"
#include "bus-source.h"
#include "bus-watch.h"
#include "daemon.h"
#include "euicc.h"
#include "observer.h"
#include "polkit.h"
#include "text.h"

#include <errno.h>
#include <string.h>

#define JOB_PREFIX "/org/esim/job"
#define JOB_IFACE  "org.esim.Job"

/* A job on the bus, from its job_added to the end of its linger time. */
typedef struct
{
  EsimdJob *job; /* a reference */
  char *path;
  guint linger_id;
  guint64 finished;     /* in which order its job finished, from 1 (0: not yet) */
  EsimdBusProps *props; /* what clients were told */
} Exported;

static GHashTable *exported; /* path → Exported* */
static guint64 n_finished;

static void
exported_free (gpointer data)
{
  Exported *x = data;

  g_clear_handle_id (&x->linger_id, g_source_remove);
  esimd_bus_props_free (x->props);
  esimd_job_unref (x->job);
  g_free (x->path);
  g_free (x);
}

static Exported *
exported_of (EsimdJob *job)
{
  g_autofree char *path = NULL;

  if (!exported)
    return NULL;
  path = esimd_bus_job_path (job);
  return g_hash_table_lookup (exported, path);
}

EsimdJob *
esimd_bus_job_lookup (const char *path)
{
  Exported *x = exported ? g_hash_table_lookup (exported, path) : NULL;

  return x ? x->job : NULL;
}

/* ---- the caller: who asked, the call to answer, its tracking ------------------------------ */

typedef struct
{
  char *owner;             /* unique bus name of the caller */
  sd_bus_message *request; /* the method call to answer when the job ends, if any */
  EsimdBusWatch *watch;    /* notices the owner leaving the bus */
} BusCaller;

static void
bus_caller_free (gpointer data)
{
  BusCaller *c = data;

  g_clear_pointer (&c->request, sd_bus_message_unref);
  g_clear_pointer (&c->watch, esimd_bus_watch_free);
  g_free (c->owner);
  g_free (c);
}

/* The job's caller if this front-end took the call (another front-end keeps its own). */
static BusCaller *
bus_caller_of (EsimdJob *job)
{
  return job->caller_free == bus_caller_free ? job->caller : NULL;
}

/* A download whose caller left before its profile started loading is abandoned: the model
 * decides, this only tells it. */
static void
on_owner_gone (EsimdBusWatch *watch, gpointer userdata)
{
  EsimdJob *job = userdata;

  esimd_euicc_caller_gone (job->euicc, job);
}

void
esimd_bus_job_take_call (EsimdJob *job, sd_bus_message *call, gboolean answer_at_end,
                         EsimdBusWatch *watch)
{
  BusCaller *c = g_new0 (BusCaller, 1);

  c->owner = g_strdup (sd_bus_message_get_sender (call));
  if (answer_at_end)
    {
      c->request = sd_bus_message_ref (call);
      esimd_bus_watch_free (watch);
    }
  else
    {
      /* One match rule watches every caller (bus-watch.h); the watch made when the call came
       * has seen its caller leave even while polkit was asked. */
      c->watch = watch ? watch : esimd_bus_watch_new (c->owner, NULL, NULL);
      esimd_bus_watch_set_func (c->watch, on_owner_gone, job);
    }
  esimd_job_set_caller (job, c, bus_caller_free);
}

/* The method call that started the job gets its answer: the job's output, or its error. */
static void
answer_caller (EsimdJob *job)
{
  BusCaller *c = bus_caller_of (job);
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GVariant) output = NULL;
  int r;

  if (!c || !c->request)
    return;
  if (job->error)
    {
      sd_bus_error e = SD_BUS_ERROR_NULL;

      esimd_bus_error_set (&e, job->error);
      sd_bus_reply_method_error (c->request, &e);
      sd_bus_error_free (&e);
    }
  else if ((r = sd_bus_message_new_method_return (c->request, &reply)) >= 0)
    {
      output = esimd_job_get_output (job);
      for (gsize i = 0; r >= 0 && output && i < g_variant_n_children (output); i++)
        {
          g_autoptr (GVariant) value = g_variant_get_child_value (output, i);

          r = esimd_bus_append_gvariant (reply, value);
        }
      if (r >= 0)
        sd_bus_send (NULL, reply, NULL);
    }
  g_clear_pointer (&c->request, sd_bus_message_unref);
}

/* ---- properties and methods -------------------------------------------------------------- */

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
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;

  if (exported)
    {
      g_hash_table_iter_init (&it, exported);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (paths, key);
    }
  *nodes = esimd_bus_nodes_answer (bus, prefix, (const char *const *) paths->pdata, paths->len);
  return *nodes ? 0 : -ENOMEM;
}

static int
prop_string (sd_bus *bus, const char *path, const char *iface, const char *property,
             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;
  const char *v = "";

  if (g_str_equal (property, "Kind"))
    v = job->ops->kind;
  else if (g_str_equal (property, "Caller"))
    {
      BusCaller *caller = bus_caller_of (job);

      v = caller && caller->owner ? caller->owner : "";
    }
  else if (g_str_equal (property, "State"))
    v = esimd_job_state_to_string (job->state);
  else if (g_str_equal (property, "Stage"))
    v = job->stage;
  else if (g_str_equal (property, "Error"))
    v = job->error ? esimd_bus_error_name (job->error) : "";
  else if (g_str_equal (property, "ErrorMessage"))
    v = job->error ? job->error->message : "";
  else if (g_str_equal (property, "ConfirmationCodeRefused"))
    v = job->confirmation_code_refused ? job->confirmation_code_refused : "";
  return sd_bus_message_append_basic (reply, 's', v);
}

static int
prop_progress (sd_bus *bus, const char *path, const char *iface, const char *property,
               sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;

  return sd_bus_message_append_basic (reply, 'd', &job->progress);
}

/* A result that names a profile also gives its object's path. */
static GVariant *
result_with_path (EsimdJob *job)
{
  const char *iccid = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GVariant) has_path = g_variant_lookup_value (job->result, "path", NULL);
  GVariantBuilder b;
  GVariantIter it;
  const char *key;
  GVariant *value;

  if (!g_variant_lookup (job->result, "iccid", "&s", &iccid) || has_path)
    return g_variant_ref (job->result);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&it, job->result);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &value))
    g_variant_builder_add (&b, "{sv}", key, value);
  path = esimd_bus_profile_path (job->euicc, iccid);
  g_variant_builder_add (&b, "{sv}", "path", g_variant_new_object_path (path));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static int
prop_dict (sd_bus *bus, const char *path, const char *iface, const char *property,
           sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;
  g_autoptr (GVariant) v = NULL;

  if (g_str_equal (property, "Result"))
    v = job->result ? result_with_path (job) : NULL;
  else
    v = job->metadata ? g_variant_ref (job->metadata) : NULL;
  if (!v)
    return sd_bus_message_append (reply, "a{sv}", 0);
  return esimd_bus_append_gvariant (reply, v);
}

static int
prop_euicc (sd_bus *bus, const char *path, const char *iface, const char *property,
            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdJob *job = userdata;
  g_autofree char *euicc_path = esimd_bus_euicc_path (job->euicc);

  return sd_bus_message_append_basic (reply, 'o', euicc_path);
}

/* Confirm and Cancel belong to whoever started the job; anyone else needs polkit's word on the
 * action that started it (or would have: esimd's own jobs have no caller, and the action of
 * their kind). */
typedef struct
{
  sd_bus_message *call;
  char *path;
  gboolean confirm;
  char *code;              /* SupplyConfirmationCode's (a secret: wiped) */
  EsimdPolkitCheck *check; /* while polkit is asked */
} JobCall;

/* The JobCalls waiting for polkit's answer: a job that ends makes their question moot. */
static GQueue job_calls_waiting = G_QUEUE_INIT;

static void
job_call_free (JobCall *c)
{
  sd_bus_message_unref (c->call);
  g_free (c->path);
  lpa_secret_free (c->code);
  g_free (c);
}

static void
job_call_authorized (const GError *auth_error, gpointer data)
{
  JobCall *c = data;
  EsimdJob *job = esimd_bus_job_lookup (c->path);
  g_autoptr (GError) error = NULL;

  if (c->check)
    {
      g_queue_remove (&job_calls_waiting, c);
      c->check = NULL;
    }
  if (auth_error)
    {
      sd_bus_error e = SD_BUS_ERROR_NULL;

      esimd_bus_error_set (&e, auth_error);
      sd_bus_reply_method_error (c->call, &e);
      sd_bus_error_free (&e);
    }
  else if (!job)
    sd_bus_reply_method_errorf (c->call, ESIMD_BUS_ERROR_WRONG_JOB_STATE, "the job is gone");
  else if (c->code      ? esimd_euicc_supply_confirmation_code (job->euicc, job, c->code, &error)
           : c->confirm ? esimd_euicc_confirm_job (job->euicc, job, &error)
                        : esimd_euicc_cancel_job (job->euicc, job, &error))
    sd_bus_reply_method_return (c->call, "");
  else
    {
      sd_bus_error e = SD_BUS_ERROR_NULL;

      esimd_bus_error_set (&e, error);
      sd_bus_reply_method_error (c->call, &e);
      sd_bus_error_free (&e);
    }
  job_call_free (c);
}

static int
job_call (sd_bus_message *m, EsimdJob *job, gboolean confirm, const char *code)
{
  JobCall *c = g_new0 (JobCall, 1);
  BusCaller *caller = bus_caller_of (job);

  c->call = sd_bus_message_ref (m);
  c->path = esimd_bus_job_path (job);
  c->confirm = confirm;
  c->code = g_strdup (code);
  if (caller && g_strcmp0 (caller->owner, sd_bus_message_get_sender (m)) == 0)
    {
      job_call_authorized (NULL, c);
      return 1;
    }
  c->check = esimd_polkit_check (m, job->ops->action, job_call_authorized, c);
  g_queue_push_tail (&job_calls_waiting, c);
  return 1;
}

/* @job ended while polkit was asked whether another may Confirm, Cancel or answer it: polkit
 * forgets the question (its authentication dialog closes), and the call is answered now. */
static void
cancel_job_calls (EsimdJob *job)
{
  g_autofree char *path = esimd_bus_job_path (job);
  GList *l = job_calls_waiting.head;

  while (l)
    {
      JobCall *c = l->data;

      l = l->next; /* the callback frees c and unlinks it */
      if (g_str_equal (c->path, path))
        esimd_polkit_cancel (c->check, g_error_new (ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                                                    "the job ended (%s) before polkit answered",
                                                    esimd_job_state_to_string (job->state)));
    }
}

static int
method_confirm (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return job_call (m, userdata, TRUE, NULL);
}

static int
method_cancel (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return job_call (m, userdata, FALSE, NULL);
}

static int
method_supply_confirmation_code (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  const char *code = NULL;
  const char *problem;
  g_autoptr (LpaSecret) stripped = NULL;
  int r;

  if ((r = sd_bus_message_read (m, "s", &code)) < 0)
    return r;
  /* The white space a paste brings is no part of the code (lpa_text_strip(), as esimctl reads
   * one); sent on, it would change the hash and cost one of the server's few attempts. Checked
   * before polkit is asked: a malformed code never reaches the model. */
  stripped = lpa_text_strip (code);
  if ((problem = lpa_confirmation_code_problem (stripped)))
    r = sd_bus_error_set (error, SD_BUS_ERROR_INVALID_ARGS, problem);
  else
    r = job_call (m, userdata, FALSE, stripped);
  return r;
}

static const sd_bus_vtable job_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Kind", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Caller", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("State", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Stage", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Progress", "d", prop_progress, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ProfileMetadata", "a{sv}", prop_dict, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Error", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ErrorMessage", "s", prop_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Result", "a{sv}", prop_dict, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Euicc", "o", prop_euicc, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("ConfirmationCodeRefused", "s", prop_string, 0,
                   SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_METHOD ("Confirm", "", "", method_confirm, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SupplyConfirmationCode", "s", SD_BUS_PARAM (code), "", "",
                            method_supply_confirmation_code, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD ("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_NAMES ("Finished", "s", SD_BUS_PARAM (state), 0),
  SD_BUS_VTABLE_END,
};

/* ---- the model's announcements ----------------------------------------------------------- */

static void
emit_changed (Exported *x, const char **properties)
{
  esimd_bus_props_changed (x->props, x->path, x->job, properties);
}

/* Every job is exported, esimd's own too (automatic notification delivery, reading the card
 * when the modem appears, cancelling sessions left open): the eUICC is busy with it, and a
 * client may follow or cancel it like any other. Those have no Caller. */
static void
on_job_added (gpointer data, EsimdJob *job)
{
  Exported *x;

  x = g_new0 (Exported, 1);
  x->job = esimd_job_ref (job);
  x->path = esimd_bus_job_path (job);
  x->props = esimd_bus_props_new (job_vtable, JOB_IFACE);
  g_hash_table_replace (exported, x->path, x);
  sd_bus_emit_object_added (esimd_bus, x->path);
  esimd_bus_props_seen (x->props, x->path, job);
}

static void
on_job_changed (gpointer data, EsimdJob *job, EsimdJobChange what)
{
  Exported *x = exported_of (job);
  const char *names[6];
  guint n = 0;

  if (!x)
    return;
  if (what & ESIMD_JOB_CHANGE_STATE)
    names[n++] = "State";
  if (what & ESIMD_JOB_CHANGE_STAGE)
    names[n++] = "Stage";
  if (what & ESIMD_JOB_CHANGE_PROGRESS)
    names[n++] = "Progress";
  if (what & ESIMD_JOB_CHANGE_METADATA)
    names[n++] = "ProfileMetadata";
  if (what & ESIMD_JOB_CHANGE_CONFIRMATION_CODE_REFUSED)
    names[n++] = "ConfirmationCodeRefused";
  names[n] = NULL;
  if (n > 0)
    emit_changed (x, names);
}

static gboolean
unexport (gpointer data)
{
  Exported *x = data;

  x->linger_id = 0;
  sd_bus_emit_object_removed (esimd_bus, x->path);
  g_hash_table_remove (exported, x->path); /* frees x, drops its reference: the job may go */
  return G_SOURCE_REMOVE;
}

/* A finished job lingers so that a client can read its outcome, but a caller's jobs in a row
 * must not make that any number of objects (and their memory): at most MaxQueuedJobs of an
 * eUICC's finished jobs linger, and room for one more is made by ending the linger of the one
 * that finished first. Its Finished and the answer to its call went out: nothing is lost to a
 * client that follows it. */
static void
make_room_to_linger (EsimdEuicc *euicc)
{
  for (;;)
    {
      Exported *oldest = NULL;
      guint lingering = 0;
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, exported);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Exported *x = value;

          if (!x->linger_id || x->job->euicc != euicc)
            continue;
          lingering++;
          if (!oldest || x->finished < oldest->finished)
            oldest = x;
        }
      if (lingering < esimd->config->max_queued_jobs)
        return;
      g_clear_handle_id (&oldest->linger_id, g_source_remove);
      unexport (oldest);
    }
}

/* The final State, Finished, the answer to the method call that created it (if any), and the
 * object's removal after the linger time. */
static void
on_job_finished (gpointer data, EsimdJob *job)
{
  Exported *x = exported_of (job);
  BusCaller *caller = bus_caller_of (job);
  static const char *final[] = { "State",        "Stage",  "Progress", "Error",
                                 "ErrorMessage", "Result", NULL };

  /* Whether the caller is still there matters no more, nor what polkit says about others. */
  if (caller)
    g_clear_pointer (&caller->watch, esimd_bus_watch_free);
  cancel_job_calls (job);
  answer_caller (job);
  if (!x)
    return;
  emit_changed (x, final);
  sd_bus_emit_signal (esimd_bus, x->path, JOB_IFACE, "Finished", "s",
                      esimd_job_state_to_string (job->state));
  make_room_to_linger (job->euicc);
  x->finished = ++n_finished;
  x->linger_id = g_timeout_add_seconds (MAX (esimd->config->job_linger, 1), unexport, x);
}

static const EsimdObserver job_observer = {
  .job_added = on_job_added,
  .job_changed = on_job_changed,
  .job_finished = on_job_finished,
};

int
esimd_bus_job_init (sd_bus *bus)
{
  int r;

  exported = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, exported_free);
  r = sd_bus_add_fallback_vtable (bus, NULL, JOB_PREFIX, JOB_IFACE, job_vtable, job_find, NULL);
  if (r < 0)
    return r;
  r = sd_bus_add_node_enumerator (bus, NULL, JOB_PREFIX, job_enumerate, NULL);
  if (r < 0)
    return r;
  esimd_observer_add (&job_observer, NULL);
  return 0;
}
