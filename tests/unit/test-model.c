/* test-model.c — the eUICC model without D-Bus: a scripted modem and card below it (modem.h),
 * a recording observer above it (observer.h), and the order of what it announces. */
#include "daemon.h"
#include "euicc.h"
#include "job-download.h"
#include "job-euicc.h"
#include "job-queue.h"
#include "job-profile.h"
#include "lpa-error.h"
#include "modem.h"
#include "observer.h"
#include "unit-support.h"
#include "euicc-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

/* The daemon's one instance (main.c has its own). */
EsimdDaemon *esimd;

#define EID        "89049032123451234512345678901235"
#define ICCID_ONE  "8949449999999990011"
#define ICCID_TWO  "8949449999999990029"
#define CHANNEL    1
#define MODEM_IMEI "356938035643809"

/* EUICCInfo1 as tests/unit/procedure-world.c's eUICC reports it (SGP.22 2.2.0, one CI). */
#define INFO1                                                                                      \
  "BF 20 35 82 03 02 02 00 A9 16 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85"   \
  "C3 AA 16 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"
/* EUICCInfo2: test-es10.c's own vector, hand-derived from the ASN.1 (every v2.2.2 field). */
#define INFO2                                                                                      \
  "BF 22 81 A0"                                                                                    \
  "81 03 02 03 01  82 03 02 02 02  83 03 01 02 03"                                                 \
  "84 0B 81 01 05 82 03 01 00 00 83 01 7F"                                                         \
  "85 05 00 6B 36 D3 C3  86 03 11 02 00  87 03 02 03 00  88 02 02 9C"                              \
  "A9 2C 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "      04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "AA 16 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "8B 01 02  99 02 05 60  04 03 01 00 00  0C 06 41 42 43 2D 30 31"                                 \
  "AC 10 80 05 4C 61 62 65 6C 81 07 68 74 74 70 73 3A 2F"                                          \
  "8D 01 00"

/* ---- the scripted card: what it holds, and its answer to each ES10 request ---------------- */

typedef struct
{
  const char *iccid;
  gboolean enabled;
} CardProfile;

typedef struct
{
  guint32 seq;
  guint events;
  const char *iccid;
} CardNotification;

typedef struct
{
  CardProfile profiles[2];
  GArray *notifications; /* CardNotification */
  guint32 next_seq;
  GString *log; /* what reached the card and the modem, in order: "BF3E BF20 … reset-card …" */
  guint fail_tag; /* an ES10 function the card answers with fail_sw instead (0: none) */
  guint16 fail_sw;
} Card;

static Card card;

static void
card_log (const char *what)
{
  g_string_append_printf (card.log, "%s%s", card.log->len ? " " : "", what);
}

static void
write_iccid (LpaDerWriter *w, const char *iccid)
{
  guint8 bcd[10];

  g_assert_true (lpa_iccid_to_bcd (iccid, bcd, NULL));
  lpa_der_write (w, 0x5A, bcd, sizeof bcd);
}

static GBytes *
profiles_answer (void)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2D);
  lpa_der_writer_begin (&w, 0xA0);
  for (guint i = 0; i < G_N_ELEMENTS (card.profiles); i++)
    {
      lpa_der_writer_begin (&w, 0xE3);
      write_iccid (&w, card.profiles[i].iccid);
      lpa_der_write_uint (&w, 0x9F70, card.profiles[i].enabled ? 1 : 0);
      lpa_der_write_utf8 (&w, 0x91, "Test Operator");
      lpa_der_write_utf8 (&w, 0x92, "Plan");
      lpa_der_write_uint (&w, 0x95, LPA_PROFILE_CLASS_OPERATIONAL);
      lpa_der_writer_end (&w);
    }
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

static GBytes *
notifications_answer (void)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF28);
  lpa_der_writer_begin (&w, 0xA0);
  for (guint i = 0; i < card.notifications->len; i++)
    {
      CardNotification *n = &g_array_index (card.notifications, CardNotification, i);

      lpa_der_writer_begin (&w, 0xBF2F);
      lpa_der_write_uint (&w, 0x80, n->seq);
      lpa_der_write_bits (&w, 0x81, n->events);
      lpa_der_write_utf8 (&w, 0x0C, "smdp.example.com");
      write_iccid (&w, n->iccid);
      lpa_der_writer_end (&w);
    }
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

/* Enable or disable: the request must be exactly what liblpa builds for the profile with
 * refreshFlag FALSE (the modem re-reads the card, Refresh=power-cycle). */
static GBytes *
switch_answer (GBytes *request, gboolean enable)
{
  for (guint i = 0; i < G_N_ELEMENTS (card.profiles); i++)
    {
      LpaProfileId id = { .iccid = (char *) card.profiles[i].iccid };
      g_autoptr (GBytes) expected = enable ? lpa_es10c_enable_profile_request (&id, FALSE, NULL)
                                           : lpa_es10c_disable_profile_request (&id, FALSE, NULL);
      CardNotification n = { 0, enable ? LPA_NOTIFICATION_ENABLE : LPA_NOTIFICATION_DISABLE,
                             card.profiles[i].iccid };

      if (!g_bytes_equal (request, expected))
        continue;
      n.seq = card.next_seq++;
      g_assert_true (card.profiles[i].enabled != enable);
      for (guint j = 0; j < G_N_ELEMENTS (card.profiles); j++)
        card.profiles[j].enabled = enable && j == i;
      g_array_append_val (card.notifications, n);
      return unit_hex (enable ? "BF 31 03 80 01 00" : "BF 32 03 80 01 00");
    }
  g_assert_not_reached ();
}

static UnitEuiccReply
card_answer (GBytes *request, gpointer user_data)
{
  const guint8 *d = g_bytes_get_data (request, NULL);
  guint tag = (guint) d[0] << 8 | d[1];
  g_autofree char *name = g_strdup_printf ("%04X", tag);
  UnitEuiccReply r = { 0 };

  card_log (name);
  if (tag == card.fail_tag)
    {
      r.sw = card.fail_sw;
      return r;
    }
  switch (tag)
    {
    case 0xBF3E:
      r.data = unit_hex ("BF 3E 12 5A 10" EID);
      break;
    case 0xBF20:
      r.data = unit_hex (INFO1);
      break;
    case 0xBF22:
      r.data = unit_hex (INFO2);
      break;
    case 0xBF3C:
      r.data = unit_hex ("BF 3C 0B 81 09 72 6F 6F 74 2E 74 65 73 74"); /* rootDsAddress root.test */
      break;
    case 0xBF2D:
      r.data = profiles_answer ();
      break;
    case 0xBF28:
      r.data = notifications_answer ();
      break;
    case 0xBF31:
    case 0xBF32:
      r.data = switch_answer (request, tag == 0xBF31);
      break;
    default:
      g_error ("the scripted card got an ES10 request it does not know: %s", name);
    }
  return r;
}

/* ---- the scripted modem: an EsimdModem over the scripted card ----------------------------- */

typedef struct
{
  EsimdModem modem;
  UnitEuicc euicc; /* STORE DATA reassembly and ES10 answers (unit-support.c) */
} FakeModem;

static gboolean
fake_appear (gpointer data)
{
  esimd_modem_set_available (data, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
fake_start (EsimdModem *modem)
{
  g_idle_add (fake_appear, modem);
}

static void
fake_stop (EsimdModem *modem, GTask *task)
{
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
fake_free (EsimdModem *modem)
{
  FakeModem *fake = (FakeModem *) modem;

  unit_euicc_clear (&fake->euicc);
  g_free (fake);
}

static void
fake_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  g_autoptr (GBytes) isdr = unit_hex (ESIMD_ISDR_AID_DEFAULT);

  g_assert_true (g_bytes_equal (aid, isdr));
  card_log ("open");
  g_task_return_int (task, CHANNEL);
  g_object_unref (task);
}

static void
fake_close_channel (EsimdModem *modem, GTask *task)
{
  card_log ("close");
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
fake_forget_channel (EsimdModem *modem)
{
  card_log ("forget");
}

/* unit-support answers through its own deferred queue: run it from the main loop. */
static gboolean
pump_card (gpointer data)
{
  unit_pump ();
  return G_SOURCE_REMOVE;
}

static void
fake_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  FakeModem *fake = (FakeModem *) modem;

  unit_euicc_ops.transmit (&fake->euicc, command, callback, user_data);
  g_idle_add (pump_card, NULL);
}

static void
fake_reset_card (EsimdModem *modem, GTask *task)
{
  card_log ("reset-card");
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
fake_read_imei (EsimdModem *modem, GTask *task)
{
  card_log ("imei");
  g_task_return_pointer (task, g_strdup (MODEM_IMEI), g_free);
  g_object_unref (task);
}

static const EsimdModemOps fake_ops = {
  .name = "scripted",
  .start = fake_start,
  .stop = fake_stop,
  .free = fake_free,
  .open_channel = fake_open_channel,
  .close_channel = fake_close_channel,
  .forget_channel = fake_forget_channel,
  .transmit = fake_transmit,
  .reset_card = fake_reset_card,
  .reset_name = "scripted-reset",
  .read_imei = fake_read_imei,
};

static EsimdModem *
fake_new (const EsimdModemConfig *config)
{
  FakeModem *fake = g_new0 (FakeModem, 1);

  fake->modem.ops = &fake_ops;
  unit_euicc_init (&fake->euicc, CHANNEL, card_answer, NULL);
  return &fake->modem;
}

/* ---- the recording observer --------------------------------------------------------------- */

static GPtrArray *heard; /* char*: one line per announcement */

static void hear (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
hear (const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_ptr_array_add (heard, g_strdup_vprintf (format, ap));
  va_end (ap);
}

static void
on_euicc_added (gpointer data, EsimdEuicc *euicc)
{
  hear ("euicc-added %u", euicc->index);
}

static void
on_euicc_changed (gpointer data, EsimdEuicc *euicc, EsimdEuiccChange what)
{
  static const char *const names[] = {
    "state",     "unavailable-reason", "current-job",  "eid",        "info",
    "addresses", "notifications",      "segment-size", "read-errors"
  };
  g_autoptr (GString) s = g_string_new ("euicc-changed");

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (what & (1u << i))
      g_string_append_printf (s, " %s", names[i]);
  hear ("%s", s->str);
}

static void
on_profiles_changed (gpointer data, EsimdEuicc *euicc, GPtrArray *old)
{
  g_autoptr (GString) s = g_string_new ("profiles-changed");

  for (guint i = 0; i < euicc->profiles->len; i++)
    {
      LpaProfileInfo *p = euicc->profiles->pdata[i];

      g_string_append_printf (s, " %s:%s", p->iccid, lpa_profile_state_name (p->state));
    }
  hear ("%s", s->str);
}

static void
on_notification_pending (gpointer data, EsimdEuicc *euicc, const LpaNotificationMetadata *n)
{
  hear ("notification-pending %u %s", n->seq, lpa_notification_event_name (n->operation));
}

static void
on_job_added (gpointer data, EsimdJob *job)
{
  hear ("job-added %s%s", job->ops->kind, job->internal ? " internal" : "");
}

static void
on_job_changed (gpointer data, EsimdJob *job, EsimdJobChange what)
{
  if (what & ESIMD_JOB_CHANGE_STATE)
    hear ("job-changed %s state %s", job->ops->kind, esimd_job_state_to_string (job->state));
}

static void
on_download_result (gpointer data, EsimdJob *job, const char *iccid, const GError *error)
{
  hear ("download-result %s %s", iccid ? iccid : "-", error ? "failed" : "succeeded");
}

static void
on_job_finished (gpointer data, EsimdJob *job)
{
  hear ("job-finished %s %s", job->ops->kind, esimd_job_state_to_string (job->state));
}

static const EsimdObserver recorder = {
  .euicc_added = on_euicc_added,
  .euicc_changed = on_euicc_changed,
  .profiles_changed = on_profiles_changed,
  .notification_pending = on_notification_pending,
  .job_added = on_job_added,
  .job_changed = on_job_changed,
  .download_result = on_download_result,
  .job_finished = on_job_finished,
};

/* ---- the world around one eUICC ------------------------------------------------------------ */

typedef struct
{
  char *state_dir;
  EsimdModemConfig modem;
  EsimdDaemon daemon;
  EsimdEuicc *euicc;
} Model;

/* Everything announced so far, one per line (for failure messages). */
static char *
heard_text (void)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < heard->len; i++)
    g_string_append_printf (s, "  %s\n", (char *) heard->pdata[i]);
  return g_string_free (s, FALSE);
}

static gboolean
too_long (gpointer data)
{
  g_error ("the model did not get there in 10 s; it announced:\n%s", heard_text ());
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @line has been announced. */
static void
run_until_heard (const char *line)
{
  guint timeout = g_timeout_add_seconds (10, too_long, NULL);

  for (;;)
    {
      for (guint i = 0; i < heard->len; i++)
        if (g_str_equal (heard->pdata[i], line))
          {
            g_source_remove (timeout);
            return;
          }
      g_main_context_iteration (NULL, TRUE);
    }
}

/* Index of the first announcement equal to @line at or after @from; fails if there is none. */
static guint
heard_at (const char *line, guint from)
{
  for (guint i = from; i < heard->len; i++)
    if (g_str_equal (heard->pdata[i], line))
      return i;
  g_error ("never announced after #%u: \"%s\"; heard:\n%s", from, line, heard_text ());
}

/* A card that answers one ES10 function with a status word from the start. */
typedef struct
{
  guint tag;
  guint16 sw;
} CardFault;

static void
model_setup (Model *m, gconstpointer data)
{
  const CardFault *fault = data;
  g_autoptr (GError) error = NULL;

  heard = g_ptr_array_new_with_free_func (g_free);
  card.profiles[0] = (CardProfile){ ICCID_ONE, FALSE };
  card.profiles[1] = (CardProfile){ ICCID_TWO, FALSE };
  card.notifications = g_array_new (FALSE, FALSE, sizeof (CardNotification));
  card.next_seq = 1;
  card.log = g_string_new (NULL);
  card.fail_tag = fault ? fault->tag : 0;
  card.fail_sw = fault ? fault->sw : 0;

  m->state_dir = g_dir_make_tmp ("esimd-model-XXXXXX", &error);
  g_assert_no_error (error);
  m->daemon.config = esimd_config_load_data ("", &error);
  g_assert_no_error (error);
  g_free (m->daemon.config->state_dir);
  m->daemon.config->state_dir = g_strdup (m->state_dir);
  /* No server is reached in these tests: no delivery on its own, no trust at all. */
  m->daemon.config->notify_auto = FALSE;
  m->daemon.config->trust_system_cas = FALSE;
  m->daemon.trust = esimd_trust_load (NULL, &error);
  g_assert_no_error (error);
  m->daemon.http = esimd_http_new (m->daemon.config);
  m->daemon.euiccs = g_ptr_array_new ();
  esimd = &m->daemon;

  m->modem.name = "test";
  m->modem.transport = "scripted";
  m->modem.device = "/dev/null";
  m->modem.slot = 1;
  m->modem.isdr_aid = unit_hex (ESIMD_ISDR_AID_DEFAULT);
  m->modem.segment_size = 255;
  m->modem.refresh = ESIMD_REFRESH_POWER_CYCLE;
  m->modem.command_timeout = 5;

  esimd_observer_add (&recorder, m);
  m->euicc = esimd_euicc_new_with_modem (0, &m->modem, fake_new);
  g_ptr_array_add (m->daemon.euiccs, m->euicc);
  esimd_euicc_start (m->euicc);
  /* The modem appears; esimd reads its IMEI, then everything on the card. */
  run_until_heard (fault ? "job-finished refresh failed" : "job-finished refresh succeeded");
  g_assert_cmpstr (esimd_euicc_state (m->euicc), ==, fault ? "unavailable" : "ready");
}

static void
stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
model_teardown (Model *m, gconstpointer unused)
{
  gboolean done = FALSE;

  esimd_euicc_stop (m->euicc, 1, stopped, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  esimd_observer_remove (&recorder, m);
  esimd_euicc_free (m->euicc);
  g_ptr_array_unref (m->daemon.euiccs);
  esimd_http_free (m->daemon.http);
  esimd_trust_free (m->daemon.trust);
  esimd_config_free (m->daemon.config);
  esimd = NULL;
  g_bytes_unref (m->modem.isdr_aid);
  g_array_unref (card.notifications);
  g_string_free (card.log, TRUE);
  g_ptr_array_unref (heard);
  g_rmdir (m->state_dir);
  g_free (m->state_dir);
}

/* ---- the tests ----------------------------------------------------------------------------- */

/* What the model says from the modem's appearance to "ready", in order. */
static void
test_start (Model *m, gconstpointer unused)
{
  static const char *const expected[] = {
    "euicc-added 0",
    "euicc-changed state unavailable-reason",
    "job-added refresh internal",
    "euicc-changed state",
    /* the queue takes it (current job), it runs, its begin opens the channel */
    "euicc-changed state current-job",
    "job-changed refresh state running",
    "euicc-changed state current-job",
    "euicc-changed eid",
    "euicc-changed info",
    "euicc-changed addresses",
    "profiles-changed " ICCID_ONE ":disabled " ICCID_TWO ":disabled",
    /* usable: its UnavailableReason ("reading the eUICC") clears, the notification list is
     * known (PendingNotifications was "unknown"), in one announcement */
    "euicc-changed state unavailable-reason notifications",
    "job-finished refresh succeeded",
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (i < heard->len ? heard->pdata[i] : NULL, ==, expected[i]);
  /* The refresh job holds the card: the IMEI first (before the eUICC is ready), then one read
   * of each kind, EID first. */
  g_assert_cmpstr (card.log->str, ==, "open imei BF3E BF20 BF22 BF3C BF2D BF28 close");
  g_assert_cmpstr (esimd_euicc_get_imei (m->euicc), ==, MODEM_IMEI);
  g_assert_cmpstr (m->euicc->eid, ==, EID);
  g_assert_cmpstr (m->euicc->root_smds, ==, "root.test");
  g_assert_cmpuint (m->euicc->profiles->len, ==, 2);
  g_assert_cmpuint (m->euicc->notifications->len, ==, 0);
}

/* Enable: the card switches and the modem re-reads it; the model knows the new states from the
 * card's answer and says the job has ended before reading anything back; the notification the
 * card made is read and announced after that. */
static void
test_enable (Model *m, gconstpointer unused)
{
  g_autoptr (EsimdJob) job =
      esimd_job_profile_new (m->euicc, ESIMD_PROFILE_ENABLE, ICCID_TWO, NULL);
  g_autoptr (GError) error = NULL;
  guint start, added, running, cache, finished, counted, pending;

  g_string_truncate (card.log, 0);
  start = heard->len;
  g_assert_true (esimd_euicc_submit (m->euicc, job, &error));
  g_assert_no_error (error);
  run_until_heard ("notification-pending 1 enable");

  added = heard_at ("job-added enable", start);
  running = heard_at ("job-changed enable state running", added);
  cache = heard_at ("profiles-changed " ICCID_ONE ":disabled " ICCID_TWO ":enabled", running);
  finished = heard_at ("job-finished enable succeeded", cache);
  counted = heard_at ("euicc-changed notifications", finished);
  pending = heard_at ("notification-pending 1 enable", counted);
  g_assert_cmpuint (pending, ==, heard->len - 1);
  /* Nothing about the job after its end. */
  for (guint i = finished + 1; i < heard->len; i++)
    g_assert_false (g_str_has_prefix (heard->pdata[i], "job-"));
  /* Enable with refreshFlag FALSE, the channel closed, the modem's re-read (the card forgets
   * every channel), a fresh channel to read the notification list (not the profile list: the
   * answer said what changed), closed at the end. */
  g_assert_cmpstr (card.log->str, ==, "open BF31 close reset-card forget open BF28 close");
  g_assert_cmpint (job->state, ==, ESIMD_JOB_SUCCEEDED);
  g_assert_cmpstr (esimd_euicc_active_profile (m->euicc)->iccid, ==, ICCID_TWO);
  g_assert_cmpstr (esimd_euicc_state (m->euicc), ==, "ready");
}

/* A download's result is announced right before its job's end, after the cache was read back:
 * here one that cannot start (no server can be trusted). */
static void
test_download_result_before_end (Model *m, gconstpointer unused)
{
  g_autoptr (GVariant) options = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdJob) job =
      esimd_job_download_new (m->euicc, "LPA:1$smdp.example.com$MATCHING", "", options, &error);
  guint start, cache, result, finished;

  g_assert_no_error (error);
  g_string_truncate (card.log, 0);
  start = heard->len;
  g_assert_true (esimd_euicc_submit (m->euicc, job, &error));
  run_until_heard ("job-finished download failed");

  cache = heard_at ("profiles-changed " ICCID_ONE ":disabled " ICCID_TWO ":disabled",
                    heard_at ("job-added download", start));
  result = heard_at ("download-result - failed", cache);
  finished = heard_at ("job-finished download failed", result);
  g_assert_cmpuint (finished, ==, result + 1);
  for (guint i = finished + 1; i < heard->len; i++)
    g_assert_false (g_str_has_prefix (heard->pdata[i], "job-") ||
                    g_str_has_prefix (heard->pdata[i], "download-"));
  g_assert_error (job->error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION);
  /* What a download may change is read back: profiles, notifications, free memory. */
  g_assert_cmpstr (card.log->str, ==, "open BF22 BF2D BF28 close");
}

/* Issue 11, item 13: a read of the notification list that fails is not an empty list: the
 * list is unknown, the failure (with its status word) kept for callers, the eUICC still usable;
 * once the card answers again the list is known again. */
static void
test_failed_read_is_unknown (Model *m, gconstpointer unused)
{
  g_autoptr (EsimdJob) job = esimd_job_refresh_new (m->euicc, FALSE);
  g_autoptr (GError) error = NULL;
  const GError *why;
  guint start = heard->len;

  g_assert_false (esimd_euicc_notifications_unknown (m->euicc));
  card.fail_tag = 0xBF28;
  card.fail_sw = 0x6985;
  g_assert_true (esimd_euicc_submit (m->euicc, job, &error));
  run_until_heard ("job-finished refresh failed");
  heard_at ("euicc-changed notifications read-errors", start);
  g_assert_true (esimd_euicc_notifications_unknown (m->euicc));
  why = esimd_euicc_read_error (m->euicc, ESIMD_READ_NOTIFICATIONS);
  g_assert_error (why, LPA_ERROR, LPA_ERROR_STATUS_WORD);
  g_assert_nonnull (strstr (why->message, "notification list"));
  g_assert_nonnull (strstr (why->message, "6985"));
  g_assert_null (esimd_euicc_read_error (m->euicc, ESIMD_READ_PROFILES));
  g_assert_error (job->error, LPA_ERROR, LPA_ERROR_STATUS_WORD);
  /* Only the essential reads make the eUICC unavailable (it is busy reading it again). */
  g_assert_cmpstr (esimd_euicc_state (m->euicc), !=, "unavailable");
  g_assert_cmpstr (esimd_euicc_unavailable_reason (m->euicc), ==, "");

  /* esimd reads it again by itself (a refresh of its own, at once after the first failure,
   * then with back-off): once the card answers, the list is known again. */
  card.fail_tag = 0;
  while (esimd_euicc_notifications_unknown (m->euicc))
    g_main_context_iteration (NULL, TRUE);
  run_until_heard ("job-finished refresh succeeded");
  g_assert_cmpuint (heard_at ("euicc-changed notifications read-errors",
                              heard_at ("euicc-changed notifications read-errors", start) + 1),
                    >, 0);
  g_assert_null (esimd_euicc_read_error (m->euicc, ESIMD_READ_NOTIFICATIONS));
}

/* Issue 11, item 14: a card whose EID cannot be read keeps the eUICC unavailable, and
 * UnavailableReason says why (the status word), announced once though esimd reads it again
 * with back-off; it becomes ready once the card answers. */
static void
test_unreadable_card_says_why (Model *m, gconstpointer unused)
{
  const char *reason = esimd_euicc_unavailable_reason (m->euicc);
  guint reasons = 0, failed = 0;

  g_assert_nonnull (strstr (reason, "EID"));
  g_assert_nonnull (strstr (reason, "6A80"));
  g_assert_nonnull (esimd_euicc_read_error (m->euicc, ESIMD_READ_EID));
  /* read again: at once, then after a second */
  run_until_heard ("job-added refresh internal");
  while (failed < 3)
    {
      g_main_context_iteration (NULL, TRUE);
      failed = 0;
      for (guint i = 0; i < heard->len; i++)
        failed += g_str_equal (heard->pdata[i], "job-finished refresh failed");
    }
  for (guint i = 0; i < heard->len; i++)
    reasons += g_str_has_prefix (heard->pdata[i], "euicc-changed") &&
               strstr (heard->pdata[i], "unavailable-reason") != NULL;
  /* "not connected yet" → "reading the eUICC" (the modem appeared) → the failure, once */
  g_assert_cmpuint (reasons, ==, 2);
  g_assert_cmpstr (esimd_euicc_state (m->euicc), ==, "unavailable");

  card.fail_tag = 0;
  run_until_heard ("job-finished refresh succeeded");
  g_assert_cmpstr (esimd_euicc_state (m->euicc), ==, "ready");
  g_assert_cmpstr (esimd_euicc_unavailable_reason (m->euicc), ==, "");
  g_assert_null (esimd_euicc_read_error (m->euicc, ESIMD_READ_EID));
}

/* Issue 11, item 15: an ICCID the cache does not list is looked up on the card first; the
 * command goes to the card only for a profile that is there. */
static void
test_unknown_iccid (Model *m, gconstpointer unused)
{
  g_autoptr (EsimdJob) missing =
      esimd_job_profile_new (m->euicc, ESIMD_PROFILE_DELETE, "8949449999999990052", NULL);
  g_autoptr (EsimdJob) elsewhere = NULL;
  g_autoptr (GError) error = NULL;

  g_string_truncate (card.log, 0);
  g_assert_true (esimd_euicc_submit (m->euicc, missing, &error));
  run_until_heard ("job-finished delete failed");
  g_assert_error (missing->error, LPA_ERROR, LPA_ERROR_PROFILE_NOT_FOUND);
  /* a fresh list, no DeleteProfile (BF33) */
  g_assert_true (g_str_has_prefix (card.log->str, "open BF2D "));
  g_assert_null (strstr (card.log->str, "BF33"));

  /* Another LPA replaced a profile behind esimd's back: found on the card, and enabled. */
  card.profiles[1].iccid = "8949449999999990045";
  elsewhere = esimd_job_profile_new (m->euicc, ESIMD_PROFILE_ENABLE, "8949449999999990045", NULL);
  g_string_truncate (card.log, 0);
  g_assert_true (esimd_euicc_submit (m->euicc, elsewhere, &error));
  run_until_heard ("job-finished enable succeeded");
  g_assert_true (g_str_has_prefix (card.log->str, "open BF2D BF31 "));
  g_assert_cmpstr (esimd_euicc_active_profile (m->euicc)->iccid, ==, "8949449999999990045");
}

/* ---- a job that holds the queue through the modem's loss and return ------------------------ */

/* As a download whose answer to the last segment was lost: the modem vanishes while the job
 * holds the queue; the model tells the job when it is back (modem_returned), the job opens a
 * fresh channel and reads the card before it ends. The refresh the return queued runs after it:
 * nothing waits for the other. */
static void holder_reopened (GObject *source, GAsyncResult *res, gpointer data);

static gboolean
holder_reopen (gpointer data)
{
  EsimdJob *job = data;

  esimd_euicc_reopen_channel (job->euicc, holder_reopened, job);
  return G_SOURCE_REMOVE;
}

static void
holder_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (esimd_euicc_read_finish (job->euicc, res, &error));
  g_assert_no_error (error);
  /* Usable again before the job ends: a client that hears of its end can read at once. */
  g_assert_cmpstr (esimd_euicc_state (job->euicc), ==, "busy");
  esimd_job_complete (job, NULL, NULL);
}

static void
holder_reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (esimd_euicc_reopen_channel_finish (job->euicc, res, &error));
  g_assert_no_error (error);
  esimd_euicc_read (job->euicc, ESIMD_READ_ESSENTIAL, holder_read, job);
}

static void
holder_run (EsimdJob *job)
{
  guint *losses = job->data;

  *losses = job->euicc->losses;
  card_log ("vanish");
  esimd_modem_set_available (job->euicc->modem, FALSE, NULL);
  g_idle_add (fake_appear, job->euicc->modem);
}

static void
holder_modem_returned (EsimdJob *job)
{
  guint *losses = job->data;

  card_log ("returned");
  g_assert_cmpuint (job->euicc->losses, ==, *losses + 1);
  /* Not from inside the availability change. */
  g_idle_add (holder_reopen, job);
}

static const EsimdJobOps holder_ops = {
  .kind = "holder",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_PROFILES,
  .run = holder_run,
  .modem_returned = holder_modem_returned,
};

static void
test_modem_returns_to_a_running_job (Model *m, gconstpointer unused)
{
  guint losses = 0;
  g_autoptr (EsimdJob) job = esimd_job_new (m->euicc, &holder_ops, &losses);
  g_autoptr (GError) error = NULL;
  guint start = heard->len, ended, timeout;

  g_string_truncate (card.log, 0);
  g_assert_true (esimd_euicc_submit (m->euicc, job, &error));
  run_until_heard ("job-finished holder succeeded");
  ended = heard_at ("job-finished holder succeeded", start);
  /* the refresh queued by the return waited behind the job, then ran */
  g_assert_cmpuint (heard_at ("job-added refresh internal", start), <, ended);
  timeout = g_timeout_add_seconds (10, too_long, NULL);
  for (gboolean seen = FALSE; !seen;)
    {
      for (guint i = ended; i < heard->len && !seen; i++)
        seen = g_str_equal (heard->pdata[i], "job-finished refresh succeeded");
      if (!seen)
        g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (timeout);
  /* the old channel went with the modem: forgotten, a new one opened for the read */
  g_assert_true (g_str_has_prefix (
      card.log->str, "open vanish returned forget open BF3E BF20 BF22 BF2D BF2D close "
                     "open imei "));
  g_assert_cmpstr (esimd_euicc_state (m->euicc), ==, "ready");
}

/* ---- the queue: esimd's own background work gives way to callers' jobs (issue 11, item 7) -- */

typedef struct
{
  GString *log;
  gboolean hold; /* run() does not complete: the job waits for its cancel */
} FakeJob;

static void
fake_job_run (EsimdJob *job)
{
  FakeJob *f = job->data;

  g_string_append_printf (f->log, " run:%u", job->id);
  if (!f->hold)
    esimd_job_complete (job, NULL, NULL);
}

static gboolean
fake_job_cancel (EsimdJob *job, GError **error)
{
  FakeJob *f = job->data;
  g_autoptr (GError) cancelled = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "gave way");

  g_string_append_printf (f->log, " cancel:%u%s", job->id, job->gave_way ? ":gave-way" : "");
  esimd_job_complete (job, cancelled, NULL);
  return TRUE;
}

static const EsimdJobOps background_ops = {
  .kind = "background",
  .gives_way = TRUE,
  .run = fake_job_run,
  .cancel = fake_job_cancel,
};

static const EsimdJobOps caller_ops = {
  .kind = "caller",
  .run = fake_job_run,
  .cancel = fake_job_cancel,
};

static void
queue_begin (EsimdJob *job, EsimdQueueStepDone done)
{
  done (job, NULL);
}

static void
queue_end (EsimdJob *job, EsimdQueueStepDone done)
{
  done (job, NULL);
}

static const EsimdJobQueueHooks plain_hooks = { queue_begin, queue_end, NULL };

static void
test_queue_gives_way (void)
{
  g_autoptr (GString) log = g_string_new (NULL);
  FakeJob hold = { log, TRUE }, quick = { log, FALSE };
  EsimdJobQueue *queue = esimd_job_queue_new (&plain_hooks, NULL, 8);
  g_autoptr (EsimdJob) running = esimd_job_new (NULL, &background_ops, &hold);
  g_autoptr (EsimdJob) waiting = esimd_job_new (NULL, &background_ops, &quick);
  g_autoptr (EsimdJob) mine = esimd_job_new (NULL, &caller_ops, &quick);
  g_autoptr (EsimdJob) internal = esimd_job_new (NULL, &caller_ops, &quick);
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;

  running->internal = waiting->internal = internal->internal = TRUE;
  g_assert_true (esimd_job_queue_push (queue, running, &error));
  while (!strstr (log->str, "run:"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (esimd_job_queue_push (queue, waiting, &error));
  g_assert_true (esimd_job_queue_push (queue, internal, &error));
  /* A caller's job goes before the background work that waits and stops the one that runs;
   * esimd's own job of a kind that does not give way keeps its place. */
  g_assert_true (esimd_job_queue_push (queue, mine, &error));
  g_assert_true (running->gave_way);
  order = esimd_job_queue_jobs (queue);
  g_assert_cmpuint (order->len, ==, 3);
  g_assert_true (order->pdata[0] == mine);
  g_assert_true (order->pdata[1] == waiting);
  g_assert_true (order->pdata[2] == internal);
  while (!esimd_job_is_finished (internal))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (running->state, ==, ESIMD_JOB_CANCELLED);
  g_assert_cmpint (mine->state, ==, ESIMD_JOB_SUCCEEDED);
  expected = g_strdup_printf (" run:%u cancel:%u:gave-way run:%u run:%u run:%u", running->id,
                              running->id, mine->id, waiting->id, internal->id);
  g_assert_cmpstr (log->str, ==, expected);
  esimd_job_queue_free (queue);
}

static const EsimdJobOps clean_up_ops = {
  .kind = "clean-up",
  .gives_way = TRUE,
  .keeps_place = TRUE,
  .run = fake_job_run,
  .cancel = fake_job_cancel,
};

/* Background work that keeps its place (the clean-up of sessions a download left open): a
 * caller's job queued while it waits does not pass it, and it gives way as soon as it runs. */
static void
test_queue_keeps_place (void)
{
  g_autoptr (GString) log = g_string_new (NULL);
  FakeJob hold = { log, TRUE }, quick = { log, FALSE };
  EsimdJobQueue *queue = esimd_job_queue_new (&plain_hooks, NULL, 8);
  g_autoptr (EsimdJob) first = esimd_job_new (NULL, &caller_ops, &hold);
  g_autoptr (EsimdJob) clean_up = esimd_job_new (NULL, &clean_up_ops, &hold);
  g_autoptr (EsimdJob) mine = esimd_job_new (NULL, &caller_ops, &quick);
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;

  first->internal = clean_up->internal = TRUE;
  g_assert_true (esimd_job_queue_push (queue, first, &error));
  while (!strstr (log->str, "run:"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (esimd_job_queue_push (queue, clean_up, &error));
  g_assert_true (esimd_job_queue_push (queue, mine, &error));
  order = esimd_job_queue_jobs (queue);
  g_assert_cmpuint (order->len, ==, 3); /* the running job first */
  g_assert_true (order->pdata[1] == clean_up);
  g_assert_true (order->pdata[2] == mine);
  esimd_job_complete (first, NULL, NULL);
  while (!esimd_job_is_finished (mine))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (clean_up->gave_way);
  g_assert_cmpint (clean_up->state, ==, ESIMD_JOB_CANCELLED);
  expected = g_strdup_printf (" run:%u run:%u cancel:%u:gave-way run:%u", first->id, clean_up->id,
                              clean_up->id, mine->id);
  g_assert_cmpstr (log->str, ==, expected);
  esimd_job_queue_free (queue);
}

/* Background work that, giving way, lets its server's answer in flight come within a grace (the
 * notification delivery, the clean-up): asked to give way it goes on; a caller's cancel ends it. */
static gboolean
graceful_cancel (EsimdJob *job, GError **error)
{
  FakeJob *f = job->data;
  g_autoptr (GError) cancelled = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "cancelled");

  g_string_append_printf (f->log, " cancel:%u%s", job->id, job->gave_way ? ":gave-way" : "");
  if (!job->gave_way)
    esimd_job_complete (job, cancelled, NULL);
  return TRUE;
}

static const EsimdJobOps graceful_ops = {
  .kind = "graceful",
  .gives_way = TRUE,
  .run = fake_job_run,
  .cancel = graceful_cancel,
};

/* A caller cancels background work while it gives way (its server's grace runs): the job hears a
 * caller's cancel, which stops it at once and, for esimd's own delivery, until each server's
 * back-off; as "gave way" it would wait out the grace and run again right after the caller's
 * job, the Cancel lost. */
static void
test_queue_cancel_while_giving_way (void)
{
  g_autoptr (GString) log = g_string_new (NULL);
  FakeJob hold = { log, TRUE }, quick = { log, FALSE };
  EsimdJobQueue *queue = esimd_job_queue_new (&plain_hooks, NULL, 8);
  g_autoptr (EsimdJob) background = esimd_job_new (NULL, &graceful_ops, &hold);
  g_autoptr (EsimdJob) mine = esimd_job_new (NULL, &caller_ops, &quick);
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;

  background->internal = TRUE;
  g_assert_true (esimd_job_queue_push (queue, background, &error));
  while (!strstr (log->str, "run:"))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (esimd_job_queue_push (queue, mine, &error));
  g_assert_true (background->gave_way);
  g_assert_false (esimd_job_is_finished (background)); /* the grace runs */
  g_assert_true (esimd_job_queue_cancel (queue, background, &error));
  g_assert_no_error (error);
  g_assert_true (esimd_job_is_finished (background));
  g_assert_false (background->gave_way);
  while (!esimd_job_is_finished (mine))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (background->state, ==, ESIMD_JOB_CANCELLED);
  expected = g_strdup_printf (" run:%u cancel:%u:gave-way cancel:%u run:%u", background->id,
                              background->id, background->id, mine->id);
  g_assert_cmpstr (log->str, ==, expected);
  esimd_job_queue_free (queue);
}

static const CardFault eid_fails = { 0xBF3E, 0x6A80 };

/* What esimd keeps in its state directory is its own whatever umask it was started with (by
 * hand, from a shell with umask 000, rather than by esimd.service's UMask=0077): the file named
 * by the EID that remembers the STORE DATA size a card accepts is written 0600, atomically (the
 * old or the new one, never half). */
static void
test_state_files_private (Model *m, gconstpointer unused)
{
  g_autofree char *dir = g_build_filename (m->state_dir, "segment-size", NULL);
  g_autofree char *path = g_build_filename (dir, EID, NULL);
  g_autofree char *text = NULL;
  mode_t old = umask (0);
  GStatBuf st;

  esimd_euicc_segment_size_learnt (200, m->euicc);
  umask (old);
  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "200\n");
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The model warns about what a daemon's administrator should know (here: no server can be
   * trusted); that is expected, not a failure. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/model/start", Model, NULL, model_setup, test_start, model_teardown);
  g_test_add ("/model/state-files-private", Model, NULL, model_setup, test_state_files_private,
              model_teardown);
  g_test_add ("/model/enable", Model, NULL, model_setup, test_enable, model_teardown);
  g_test_add ("/model/download-result-before-end", Model, NULL, model_setup,
              test_download_result_before_end, model_teardown);
  g_test_add ("/model/failed-read-is-unknown", Model, NULL, model_setup,
              test_failed_read_is_unknown, model_teardown);
  g_test_add ("/model/unreadable-card-says-why", Model, &eid_fails, model_setup,
              test_unreadable_card_says_why, model_teardown);
  g_test_add ("/model/unknown-iccid", Model, NULL, model_setup, test_unknown_iccid, model_teardown);
  g_test_add ("/model/modem-returns-to-a-running-job", Model, NULL, model_setup,
              test_modem_returns_to_a_running_job, model_teardown);
  g_test_add_func ("/model/queue-gives-way", test_queue_gives_way);
  g_test_add_func ("/model/queue-keeps-place", test_queue_keeps_place);
  g_test_add_func ("/model/queue-cancel-while-giving-way", test_queue_cancel_while_giving_way);
  return g_test_run ();
}
