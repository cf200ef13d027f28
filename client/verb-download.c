/* verb-download.c — download (activation code, SM-DP+ and matching ID) and discover. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "job-watch.h"
#include "output.h"
#include "progress.h"
#include "prompt.h"

#include "activation-code.h"
#include "download.h"
#include "es10c.h"
#include "iccid.h"
#include "text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char *code_file;
  char *cc;
  char *cc_file;
  gboolean enable;
  char *nickname;
  char *imei;
  gboolean confirm;
  char *smdp;
  char *matching_id;
  gboolean default_smdp;
} DownloadArgs;

static void
download_args_clear (DownloadArgs *a)
{
  g_free (a->code_file);
  lpa_secret_free (a->cc);
  g_free (a->cc_file);
  g_free (a->nickname);
  g_free (a->imei);
  g_free (a->smdp);
  lpa_secret_free (a->matching_id);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DownloadArgs, download_args_clear)

static const char download_description[] =
    "Gives the profile to download as one of:\n"
    "  ACTIVATION-CODE           as the operator gave it (LPA:1$SMDP.EXAMPLE.COM$MATCHING-ID…)\n"
    "  --activation-code-file F  the same, read from file F (- for standard input)\n"
    "  --smdp ADDRESS [--matching-id ID]   an SM-DP+ and, e.g. for an event found by\n"
    "                            esimctl discover, the matching ID (event ID)\n"
    "  --default-smdp            the eUICC's default SM-DP+ (esimctl default-smdp)\n"
    "\n"
    "When the activation code or the server asks for a confirmation code and none was\n"
    "given, esimctl asks for it on a terminal (without echo). Prefer that, or\n"
    "--confirmation-code-file, to --confirmation-code: other users can read command\n"
    "lines (ps). The same holds for activation codes.\n"
    "\n"
    "On a terminal a progress bar shows the stages; otherwise each stage is printed on a\n"
    "line. Ctrl-C cancels the download until the profile starts loading onto the eUICC.";

/* Follows one Download call's job: progress on screen, confirmation, Ctrl-C, timeout. */
typedef struct
{
  Esimctl *ctl;
  EsimctlProgress *progress; /* NULL with --json */
  FILE *info;                /* where messages for the person go: stdout, or stderr with --json */
  const char *server;        /* the SM-DP+, announced once esimd took the download */
} Follow;

static void
on_job_changed (EsimctlJobWatch *w, gpointer data)
{
  Follow *f = data;
  const char *what = *w->stage ? w->stage : w->state;

  /* A running job between two stages (the channel opening, the cache being read back) says
   * nothing new: only stages and final states are worth a line. */
  if (f->progress && !g_str_equal (what, "running"))
    esimctl_progress_update (f->progress, what, w->progress);
}

static void
say (Follow *f, const char *text)
{
  if (f->progress)
    esimctl_progress_print (f->progress, text);
  else
    {
      fprintf (f->info, "%s\n", text);
      fflush (f->info);
    }
}

static void
show_metadata (Follow *f, GVariant *metadata)
{
  g_autoptr (EsimctlTable) t = esimctl_table_new (2, NULL);
  g_autofree char *text = NULL;

  esimctl_table_add_metadata (t, metadata);
  text = esimctl_table_render (t, FALSE);
  g_strchomp (text);
  say (f, "The SM-DP+ offers this profile:");
  say (f, text);
}

/* The job waits in awaiting-confirmation: ask here, or tell how to answer from elsewhere. */
static void
confirm_or_explain (Follow *f, EsimctlJobWatch *w)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  gboolean yes;

  if (g_variant_n_children (w->metadata) == 0)
    {
      g_autoptr (GVariant) props = esimctl_get_properties (f->ctl, w->path, ESIMD_JOB_IFACE, NULL);
      g_autoptr (GVariant) md =
          props ? g_variant_lookup_value (props, "ProfileMetadata", G_VARIANT_TYPE_VARDICT) : NULL;

      if (md)
        {
          g_variant_unref (w->metadata);
          w->metadata = g_steal_pointer (&md);
        }
    }
  show_metadata (f, w->metadata);
  if (!isatty (STDIN_FILENO))
    {
      g_autofree char *text = g_strdup_printf (
          "Waiting for confirmation: esimctl job confirm %s (or esimctl job cancel %s).",
          esimctl_short_id (w->path), esimctl_short_id (w->path));

      say (f, text);
      return;
    }
  if (f->progress)
    esimctl_progress_clear (f->progress);
  yes = esimctl_prompt_yes_no ("Install this profile?");
  reply = esimctl_call (f->ctl, w->path, ESIMD_JOB_IFACE, yes ? "Confirm" : "Cancel", NULL, "()",
                        ESIMCTL_CALL_AUTH, &error);
  if (!reply)
    {
      g_autofree char *message = esimctl_error_get_message (error);
      g_autofree char *text = g_strdup_printf ("esimctl: %s", message);

      say (f, text);
    }
}

static char *prompt_confirmation_code (GError **error);

/* The job waits in awaiting-confirmation-code: the SM-DP+ wants a code the activation code did
 * not announce, or refused the one typed and allows another try. Ask for it (only asked for
 * when there is a terminal to ask on); no answer cancels. */
static void
supply_code (Follow *f, EsimctlJobWatch *w)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (LpaSecret) cc = NULL;

  if (f->progress)
    esimctl_progress_clear (f->progress);
  if (*w->code_refused)
    {
      g_autofree char *text =
          g_strdup_printf ("The server refused the code (%s); try again.", w->code_refused);
      g_autofree char *clean = esimctl_text_sanitize (text);

      say (f, clean);
    }
  else
    say (f, "The server asks for a confirmation code.");
  cc = prompt_confirmation_code (&error);
  reply = cc ? esimctl_call (f->ctl, w->path, ESIMD_JOB_IFACE, "SupplyConfirmationCode",
                             g_variant_new ("(s)", cc), "()", ESIMCTL_CALL_AUTH, &error)
             : esimctl_call (f->ctl, w->path, ESIMD_JOB_IFACE, "Cancel", NULL, "()",
                             ESIMCTL_CALL_AUTH, NULL);
  if (error)
    {
      g_autofree char *message = esimctl_error_get_message (error);
      g_autofree char *text = g_strdup_printf ("esimctl: %s", message);

      say (f, text);
    }
}

/* Ctrl-C: cancel the job and wait for it to say so (it may be too late to cancel). */
static void
cancel_on_interrupt (Follow *f, EsimctlJobWatch *w)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = esimctl_call (f->ctl, w->path, ESIMD_JOB_IFACE, "Cancel", NULL, "()",
                                             ESIMCTL_CALL_READ, &error);
  g_autofree char *name = reply ? NULL : esimctl_error_get_name (error);

  if (reply)
    say (f, "Cancelling…");
  else if (g_strcmp0 (name, "org.esim.Error.WrongJobState") == 0)
    say (f, "The profile is already loading onto the eUICC and can no longer be cancelled; "
            "waiting for the end (Ctrl-C again stops waiting).");
  else
    {
      g_autofree char *message = esimctl_error_get_message (error);
      g_autofree char *text = g_strdup_printf ("esimctl: cannot cancel: %s", message);

      say (f, text);
    }
}

/* Starts a download and follows its job to the end. NULL with @error when the download did
 * not start; else its watch, with *@outcome set if it did not succeed. */
static EsimctlJobWatch *
run_download (Esimctl *ctl, const char *euicc, const char *code, const char *cc, GVariant *options,
              Follow *f, GError **outcome, GError **error)
{
  g_autoptr (EsimctlJobWatch) w = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *job;
  gint64 deadline;

  w = esimctl_job_watch_new (ctl, euicc, on_job_changed, f, error);
  if (!w)
    return NULL;
  /* Authorization happens before the reply and may wait for a password: allow --timeout. */
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "Download",
                        g_variant_new ("(ss@a{sv})", code, cc, options), "(o)",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return NULL;
  g_variant_get (reply, "(&o)", &job);
  /* Only now, with every argument accepted, is a download on its way. */
  if (f->progress && f->server && *f->server)
    {
      g_autofree char *text = g_strdup_printf ("Downloading a profile from %s.", f->server);
      g_autofree char *clean = esimctl_text_sanitize (text);

      say (f, clean);
    }
  esimctl_catch_interrupt (TRUE);
  if (!esimctl_job_watch_start (w, job, error))
    return NULL;

  deadline = g_get_monotonic_time () + (gint64) ctl->timeout * G_USEC_PER_SEC;
  while (!w->finished)
    {
      EsimctlWait r = esimctl_job_watch_wait (w, deadline, error);

      if (r == ESIMCTL_WAIT_FAILED)
        return NULL;
      if (r == ESIMCTL_WAIT_INTERRUPTED)
        cancel_on_interrupt (f, w);
      else if (r == ESIMCTL_WAIT_TIMEOUT)
        {
          g_autoptr (GVariant) cancelled = esimctl_call (ctl, w->path, ESIMD_JOB_IFACE, "Cancel",
                                                         NULL, "()", ESIMCTL_CALL_READ, NULL);
          g_autofree char *message =
              g_strdup_printf ("no result within %d s (see --timeout); %s", ctl->timeout,
                               cancelled ? "the download was cancelled" : "the download goes on");

          g_propagate_error (outcome, esimctl_error_new_remote (SD_BUS_ERROR_NO_REPLY, message));
          return g_steal_pointer (&w);
        }
      else if (!w->finished && g_str_equal (w->state, "awaiting-confirmation"))
        {
          confirm_or_explain (f, w);
          /* The time a person took to answer does not count. */
          deadline = g_get_monotonic_time () + (gint64) ctl->timeout * G_USEC_PER_SEC;
        }
      else if (!w->finished && w->code_asked &&
               g_str_equal (w->state, "awaiting-confirmation-code"))
        {
          w->code_asked = FALSE;
          supply_code (f, w);
          deadline = g_get_monotonic_time () + (gint64) ctl->timeout * G_USEC_PER_SEC;
        }
    }
  esimctl_job_watch_outcome (w, outcome);
  return g_steal_pointer (&w);
}

/* A usage error naming the rule liblpa gives (the same esimd applies). */
static gboolean
refuse (GError **error, const char *what, const char *problem)
{
  g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "%s: %s", what, problem);
  return FALSE;
}

/* *@arg without the white space around it, as esimd reads what a caller gives
 * (lpa_text_strip()); the old copy, which may be a secret, is wiped. */
static void
strip_arg (char **arg)
{
  char *stripped = lpa_text_strip (*arg);

  lpa_secret_free (*arg);
  *arg = stripped;
}

/* A confirmation code typed at the prompt, held to the same rule as one given otherwise. */
static char *
prompt_confirmation_code (GError **error)
{
  g_autoptr (LpaSecret) cc = esimctl_prompt_secret ("Confirmation code", error);

  strip_arg (&cc);
  if (cc && lpa_confirmation_code_problem (cc))
    {
      refuse (error, "the code entered", lpa_confirmation_code_problem (cc));
      return NULL;
    }
  return g_steal_pointer (&cc);
}

static gboolean
is_error (const GError *error, const char *name)
{
  g_autofree char *got = error ? esimctl_error_get_name (error) : NULL;

  return g_strcmp0 (got, name) == 0;
}

static gboolean
check_args (const DownloadArgs *a, int argc, GError **error)
{
  int sources = (argc == 2) + (a->code_file != NULL) + (a->smdp != NULL) + (a->default_smdp != 0);
  guint8 imei[8];
  g_autoptr (GError) local = NULL;

  if (sources != 1)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "give exactly one of ACTIVATION-CODE, --activation-code-file, --smdp and "
                   "--default-smdp (see esimctl download --help)");
      return FALSE;
    }
  if (a->matching_id && !a->smdp && !a->default_smdp)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "--matching-id goes with --smdp or --default-smdp");
      return FALSE;
    }
  if (a->cc && a->cc_file)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "give --confirmation-code or --confirmation-code-file, not both");
      return FALSE;
    }
  if (a->imei && !lpa_imei_to_bcd (a->imei, imei, &local))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "--imei: expected 15 digits");
      return FALSE;
    }
  if (a->nickname && lpa_nickname_problem (a->nickname))
    return refuse (error, "--nickname", lpa_nickname_problem (a->nickname));
  if (a->smdp && !lpa_host_name_is_valid (a->smdp))
    return refuse (error, "--smdp", "not a host name (letters, digits, '-' and '.')");
  if (a->matching_id && lpa_matching_id_problem (a->matching_id))
    return refuse (error, "--matching-id", lpa_matching_id_problem (a->matching_id));
  if (a->cc && lpa_confirmation_code_problem (a->cc))
    return refuse (error, "--confirmation-code", lpa_confirmation_code_problem (a->cc));
  return TRUE;
}

/* Everything esimctl reads from an activation code, checked by liblpa's parser (esimd's): a
 * code that is not one is a usage error before esimd is even asked. */
static gboolean
check_activation_code (const char *code, char **server, gboolean *cc_required, GError **error)
{
  g_autoptr (LpaActivationCode) ac = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (LpaSecret) trimmed = g_strstrip (g_strdup (code)); /* holds the matching ID */

  if (!*trimmed)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "the activation code is empty (for the eUICC's default SM-DP+, use "
                   "--default-smdp)");
      return FALSE;
    }
  ac = lpa_activation_code_parse (code, &local);
  if (!ac)
    {
      /* The parser's message names the rule, never the matching ID (a secret). */
      g_set_error_literal (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, local->message);
      return FALSE;
    }
  *server = g_strdup (ac->smdp_address);
  *cc_required = ac->cc_required;
  return TRUE;
}

static GVariant *
download_options (const DownloadArgs *a, const char *smdp, gboolean ask_code)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  if (a->enable)
    g_variant_dict_insert (&d, "enable", "b", TRUE);
  if (a->nickname)
    g_variant_dict_insert (&d, "nickname", "s", a->nickname);
  if (a->imei)
    g_variant_dict_insert (&d, "imei", "s", a->imei);
  if (a->confirm)
    g_variant_dict_insert (&d, "confirm", "b", TRUE);
  if (smdp)
    g_variant_dict_insert (&d, "smdp_address", "s", smdp);
  if (a->matching_id)
    g_variant_dict_insert (&d, "matching_id", "s", a->matching_id);
  /* A code the server asks for is asked for in the middle of the download, and again if the
   * server refuses it: only when there is a person at a terminal to answer. */
  if (ask_code)
    g_variant_dict_insert (&d, "ask_confirmation_code", "b", TRUE);
  return g_variant_ref_sink (g_variant_dict_end (&d));
}

static void
print_result (Esimctl *ctl, const char *euicc, EsimctlJobWatch *w, const GError *outcome,
              const DownloadArgs *a)
{
  const char *iccid = esimctl_dict_str (w->result, "iccid");

  if (!*iccid)
    iccid = esimctl_dict_str (w->metadata, "iccid");
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);
      const char *profile = esimctl_dict_str (w->result, "path");

      json_object_set_string_member (obj, "job", w->path);
      json_object_set_string_member (obj, "state", w->state);
      /* Members are there whatever the outcome, null when there is nothing to say. */
      if (*iccid)
        json_object_set_string_member (obj, "iccid", iccid);
      else
        json_object_set_null_member (obj, "iccid");
      if (*profile)
        json_object_set_string_member (obj, "profile", profile);
      else
        json_object_set_null_member (obj, "profile");
      json_object_set_member (obj, "profile_metadata", esimctl_json_from_variant (w->metadata));
      json_object_set_member (obj, "result", esimctl_json_from_variant (w->result));
      json_object_set_member (
          obj, "error", outcome ? esimctl_json_error (outcome) : json_node_new (JSON_NODE_NULL));
      esimctl_output_json (ctl, obj);
      return;
    }
  if (!outcome)
    {
      const char *provider = esimctl_dict_str (w->metadata, "service_provider");
      const char *name = esimctl_dict_str (w->metadata, "name");
      g_autofree char *what = g_strdup_printf ("%s%s%s%s%s", iccid, *provider || *name ? " (" : "",
                                               provider, *provider && *name ? ", " : "", name);
      g_autofree char *clean = esimctl_text_sanitize (what);

      esimctl_done (ctl, "Installed profile %s%s%s.", clean, *provider || *name ? ")" : "",
                    a->enable ? "; it is enabled" : "");
    }
}

gboolean
esimctl_verb_download (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_auto (DownloadArgs) a = { 0 };
  const GOptionEntry entries[] = {
    { "activation-code-file", 0, 0, G_OPTION_ARG_FILENAME, &a.code_file,
      "Read the activation code from FILE (- for standard input)", "FILE" },
    { "confirmation-code", 'c', 0, G_OPTION_ARG_STRING, &a.cc,
      "The confirmation code (visible to other users: prefer the file or the prompt)", "CODE" },
    { "confirmation-code-file", 'C', 0, G_OPTION_ARG_FILENAME, &a.cc_file,
      "Read the confirmation code from FILE (- for standard input)", "FILE" },
    { "enable", 0, 0, G_OPTION_ARG_NONE, &a.enable, "Enable the profile once it is installed",
      NULL },
    { "nickname", 'n', 0, G_OPTION_ARG_STRING, &a.nickname,
      "Give the profile this nickname once it is installed", "NAME" },
    { "imei", 0, 0, G_OPTION_ARG_STRING, &a.imei,
      "The IMEI (15 digits) to tell the SM-DP+ (default: esimd.conf's Imei)", "IMEI" },
    { "confirm", 0, 0, G_OPTION_ARG_NONE, &a.confirm,
      "Show the profile the server offers and ask before installing it", NULL },
    { "smdp", 0, 0, G_OPTION_ARG_STRING, &a.smdp, "Download from this SM-DP+ (host name)",
      "ADDRESS" },
    { "matching-id", 0, 0, G_OPTION_ARG_STRING, &a.matching_id,
      "With --smdp: the matching ID, e.g. an event ID from esimctl discover", "ID" },
    { "default-smdp", 0, 0, G_OPTION_ARG_NONE, &a.default_smdp,
      "Download from the eUICC's default SM-DP+", NULL },
    { NULL },
  };
  g_autoptr (LpaSecret) code = NULL;
  g_autoptr (LpaSecret) cc = NULL;
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) options = NULL;
  g_autoptr (EsimctlJobWatch) w = NULL;
  g_autoptr (GError) outcome = NULL;
  g_autoptr (EsimctlProgress) progress = NULL;
  g_autofree char *euicc = NULL;
  g_autofree char *server = NULL;
  gboolean cc_required = FALSE;
  Follow f = { ctl, NULL, NULL, NULL };

  if (!esimctl_parse_verb (ctl, "download", "[ACTIVATION-CODE]",
                           "Downloads a profile from an SM-DP+ and installs it on the eUICC.",
                           download_description, entries, &argc, &argv, 0, 1, error))
    return FALSE;
  strip_arg (&a.cc);
  strip_arg (&a.smdp);
  strip_arg (&a.matching_id);
  if (!check_args (&a, argc, error))
    return FALSE;

  if (argc == 2)
    code = g_strdup (argv[1]);
  else if (a.code_file)
    {
      code = esimctl_read_secret_file (a.code_file, "activation code", error);
      if (!code)
        return FALSE;
    }
  if (a.cc)
    cc = g_strdup (a.cc);
  else if (a.cc_file)
    {
      cc = esimctl_read_secret_file (a.cc_file, "confirmation code", error);
      if (!cc)
        return FALSE;
      strip_arg (&cc);
      if (lpa_confirmation_code_problem (cc))
        return refuse (error, a.cc_file, lpa_confirmation_code_problem (cc));
    }
  if (code && !check_activation_code (code, &server, &cc_required, error))
    return FALSE;

  euicc = esimctl_choose_euicc (ctl, &props, error);
  if (!euicc)
    return FALSE;
  if (code)
    ; /* the server is the activation code's */
  else if (a.smdp)
    server = g_strdup (a.smdp);
  else
    {
      server = g_strdup (esimctl_dict_str (props, "DefaultSmdpAddress"));
      if (!*server)
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                       "the eUICC has no default SM-DP+ address (see esimctl default-smdp)");
          return FALSE;
        }
    }
  if (cc_required && !cc && ctl->interactive && !(cc = prompt_confirmation_code (error)))
    return FALSE;
  /* A code typed at the prompt may be typed again; one given on the command line is final. */
  options = download_options (&a, code ? NULL : server, ctl->interactive && !a.cc && !a.cc_file);

  f.info = ctl->json ? stderr : stdout;
  f.server = server;
  /* --quiet: no bar and no stage lines; what needs the person (a confirmation) still shows. */
  if (!ctl->json && !ctl->quiet)
    {
      progress = esimctl_progress_new (stdout, isatty (STDOUT_FILENO));
      f.progress = progress;
    }

  w = run_download (ctl, euicc, code ? code : "", cc ? cc : "", options, &f, &outcome, error);
  /* The server asks for a confirmation code the activation code did not announce: ask for it
   * and start again (the first session was cancelled with the failure). */
  if (!cc && ctl->interactive &&
      (is_error (error ? *error : NULL, "org.esim.Error.ConfirmationCodeRequired") ||
       is_error (outcome, "org.esim.Error.ConfirmationCodeRequired")))
    {
      if (progress)
        esimctl_progress_clear (progress);
      g_clear_error (error);
      g_clear_error (&outcome);
      g_clear_pointer (&w, esimctl_job_watch_free);
      say (&f, "The server asks for a confirmation code.");
      cc = prompt_confirmation_code (error);
      if (!cc)
        return FALSE;
      w = run_download (ctl, euicc, code ? code : "", cc, options, &f, &outcome, error);
    }
  esimctl_catch_interrupt (FALSE);
  if (progress)
    esimctl_progress_clear (progress);
  if (!w)
    return FALSE;
  print_result (ctl, euicc, w, outcome, &a);
  if (outcome)
    {
      g_propagate_error (error, g_steal_pointer (&outcome));
      return FALSE;
    }
  return TRUE;
}

gboolean
esimctl_verb_discover (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autofree char *smds = NULL;
  const GOptionEntry entries[] = {
    { "smds", 0, 0, G_OPTION_ARG_STRING, &smds, "Ask this SM-DS (default: the eUICC's root SM-DS)",
      "ADDRESS" },
    { NULL },
  };
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) events = NULL;
  GVariantDict d;
  GVariantIter it;
  GVariant *event;

  if (!esimctl_parse_verb (ctl, "discover", NULL,
                           "Asks an SM-DS for profiles waiting to be downloaded onto this eUICC.",
                           "Prints one line per event: its SM-DP+ and event ID. Download one with\n"
                           "  esimctl download --smdp ADDRESS --matching-id EVENT-ID",
                           entries, &argc, &argv, 0, 0, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  g_variant_dict_init (&d, NULL);
  if (smds)
    {
      /* Read as esimd reads it: without the white space around it (lpa_text_strip()). */
      g_autofree char *stripped = lpa_text_strip (smds);

      g_variant_dict_insert (&d, "smds_address", "s", stripped);
    }
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "Discover",
                        g_variant_new ("(@a{sv})", g_variant_dict_end (&d)), "(aa{sv})",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  events = g_variant_get_child_value (reply, 0);
  if (ctl->json)
    {
      esimctl_output_list (ctl, euicc, "events", events);
      return TRUE;
    }
  if (g_variant_n_children (events) == 0)
    {
      g_print ("No profile is waiting for this eUICC.\n");
      return TRUE;
    }
  {
    const char *headers[] = { "SM-DP+", "EVENT-ID" };
    g_autoptr (EsimctlTable) table = esimctl_table_new (G_N_ELEMENTS (headers), headers);

    g_variant_iter_init (&it, events);
    while ((event = g_variant_iter_next_value (&it)))
      {
        esimctl_table_add (table, esimctl_dict_str (event, "smdp_address"),
                           esimctl_dict_str (event, "event_id"));
        g_variant_unref (event);
      }
    esimctl_table_print (table, stdout);
    g_print ("\nDownload one with: esimctl download --smdp SM-DP+ --matching-id EVENT-ID\n");
  }
  return TRUE;
}
