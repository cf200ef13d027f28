/* esimctl.c — the command line: global options, the verb table, running a verb, exit status. */
#include "esimctl.h"

#include "build-config.h"
#include "errors.h"
#include "output.h"
#include "polkit-agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gboolean verb_help (Esimctl *ctl, int argc, char **argv, GError **error);

static const EsimctlVerb verbs[] = {
  { "status", NULL, "Show each eUICC: state, EID, active profile, pending notifications",
    esimctl_verb_status },
  { "eid", NULL, "Print the eUICC's EID", esimctl_verb_eid },
  { "info", NULL, "Show the eUICC's decoded EUICCInfo2 and esimd's view of it", esimctl_verb_info },
  { "list", "[--all]", "List the installed profiles", esimctl_verb_list },
  { "download", "ACTIVATION-CODE | --smdp ADDRESS [--matching-id ID]",
    "Download and install a profile", esimctl_verb_download },
  { "discover", "[--smds ADDRESS]", "Ask an SM-DS for profiles waiting for this eUICC",
    esimctl_verb_discover },
  { "enable", "ICCID", "Enable a profile (disabling the enabled one)", esimctl_verb_enable },
  { "disable", "ICCID", "Disable the enabled profile", esimctl_verb_disable },
  { "delete", "ICCID", "Delete a disabled profile", esimctl_verb_delete },
  { "nickname", "ICCID [NAME]", "Set or remove a profile's nickname", esimctl_verb_nickname },
  { "notifications", "[list | send | remove SEQ]", "List, send or discard pending notifications",
    esimctl_verb_notifications },
  { "default-smdp", "[ADDRESS | --clear]", "Show, set or clear the eUICC's default SM-DP+",
    esimctl_verb_default_smdp },
  { "reset", "--operational | --test | --default-smdp", "Erase profiles or settings of the eUICC",
    esimctl_verb_reset },
  { "refresh", NULL, "Make esimd re-read everything from the eUICC", esimctl_verb_refresh },
  { "switch-slot", NULL, "Make the modem use another SIM slot", esimctl_verb_switch_slot },
  { "jobs", NULL, "List queued, running and recently finished jobs", esimctl_verb_jobs },
  { "job", "show | wait | confirm | cancel JOB", "Show, wait for, confirm or cancel a job",
    esimctl_verb_job },
  { "monitor", NULL, "Print esimd's signals as they come, until interrupted",
    esimctl_verb_monitor },
  { "help", "[COMMAND]", "Show this help, or a command's", verb_help },
};

const EsimctlVerb *
esimctl_verbs (gsize *n_verbs)
{
  *n_verbs = G_N_ELEMENTS (verbs);
  return verbs;
}

const EsimctlVerb *
esimctl_find_verb (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (g_str_equal (verbs[i].name, name))
      return &verbs[i];
  return NULL;
}

#define N_GLOBAL 5

static void
global_entries (Esimctl *ctl, GOptionEntry entries[N_GLOBAL])
{
  const GOptionEntry e[N_GLOBAL] = {
    { "euicc", 'e', 0, G_OPTION_ARG_STRING, &ctl->euicc,
      "The eUICC to act on: its number, modem name, EID or object path (default: the only one)",
      "EUICC" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl->json,
      "Print one JSON document on standard output (monitor: one object per line)", NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &ctl->timeout,
      "Wait at most SECONDS (1 to 86400) for a job to end (default 300)", "SECONDS" },
    { "no-ask-password", 0, 0, G_OPTION_ARG_NONE, &ctl->no_ask_password,
      "Never ask for a password (polkit) or a confirmation code", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &ctl->quiet,
      "Print nothing on success but what was asked for: no progress, no confirmations", NULL },
  };

  memcpy (entries, e, sizeof e);
}

/* After every parse: the options may come before or after the verb. */
static gboolean
check_global (Esimctl *ctl, GError **error)
{
  if (ctl->timeout <= 0 || ctl->timeout > 86400)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "--timeout: expected a number of seconds from 1 to 86400");
      return FALSE;
    }
  ctl->interactive = isatty (STDIN_FILENO) && !ctl->no_ask_password;
  return TRUE;
}

gboolean
esimctl_parse_verb (Esimctl *ctl, const char *command, const char *parameters, const char *summary,
                    const char *description, const GOptionEntry *entries, int *argc, char ***argv,
                    int min_args, int max_args, GError **error)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (parameters);
  g_autofree char *prgname = g_strdup_printf ("esimctl %s", command);
  g_autoptr (GArray) all = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  GOptionEntry globals[N_GLOBAL];
  int n_args;
  gboolean ok;

  for (const GOptionEntry *e = entries; e && e->long_name; e++)
    g_array_append_val (all, *e);
  global_entries (ctl, globals);
  g_array_append_vals (all, globals, N_GLOBAL);

  g_option_context_set_summary (ctx, summary);
  if (description)
    g_option_context_set_description (ctx, description);
  g_option_context_add_main_entries (ctx, (GOptionEntry *) (void *) all->data, NULL);
  /* The usage line reads "esimctl COMMAND [OPTION…] PARAMETERS". */
  g_set_prgname (prgname);
  ok = g_option_context_parse (ctx, argc, argv, error);
  g_set_prgname ("esimctl");
  ctl->command = command;
  if (!ok || !check_global (ctl, error))
    return FALSE;

  n_args = *argc - 1;
  if (n_args < min_args || (max_args >= 0 && n_args > max_args))
    {
      if (max_args == 0)
        g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "%s takes no arguments (got \"%s\")",
                     command, (*argv)[1]);
      else
        g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "usage: esimctl %s%s%s", command,
                     parameters ? " " : "", parameters ? parameters : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
esimctl_run_subverb (Esimctl *ctl, const char *verb, const EsimctlSubverb *subs, gsize n_subs,
                     EsimctlVerbFunc fallback, int argc, char **argv, GError **error)
{
  g_autoptr (GString) names = g_string_new (NULL);

  if (argc >= 2 && argv[1][0] != '-')
    {
      for (gsize i = 0; i < n_subs; i++)
        if (g_str_equal (argv[1], subs[i].name))
          return subs[i].run (ctl, argc - 1, argv + 1, error);
    }
  else if (fallback)
    return fallback (ctl, argc, argv, error);
  else if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    {
      g_print ("Usage:\n");
      for (gsize i = 0; i < n_subs; i++)
        {
          g_autofree char *usage =
              g_strdup_printf ("%s %s %s", verb, subs[i].name, subs[i].parameters);

          g_print ("  esimctl %-24s %s\n", usage, subs[i].summary);
        }
      g_print ("\nRun \"esimctl %s COMMAND --help\" for a command's options.\n", verb);
      exit (0);
    }
  for (gsize i = 0; i < n_subs; i++)
    g_string_append_printf (names, "%s%s", i ? "|" : "", subs[i].name);
  g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "usage: esimctl %s %s ...", verb,
               names->str);
  return FALSE;
}

static char *
verbs_summary (void)
{
  GString *s = g_string_new ("Manages the eSIM profiles of this machine's eUICCs through esimd.\n\n"
                             "Commands:");
  gsize width = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (verbs); i++)
    width = MAX (width, strlen (verbs[i].name));
  for (gsize i = 0; i < G_N_ELEMENTS (verbs); i++)
    g_string_append_printf (s, "\n  %-*s  %s", (int) width, verbs[i].name, verbs[i].summary);
  g_string_append (s, "\n\nWithout a command, esimctl runs status.");
  return g_string_free (s, FALSE);
}

static const char main_description[] =
    "Run \"esimctl COMMAND --help\" for a command's arguments and options. The global options\n"
    "above may also follow the command.\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 usage error or invalid argument,\n"
    "3 not authorized, 4 esimd or the eUICC unavailable, 5 network or TLS failure,\n"
    "6 cancelled.\n"
    "\n"
    "See esimctl(1), esimd(8) and esimd.conf(5).";

static GOptionContext *
main_context (Esimctl *ctl, gboolean *version, GOptionEntry *entries)
{
  GOptionContext *ctx = g_option_context_new ("[COMMAND [ARGUMENT…]]");
  g_autofree char *summary = verbs_summary ();

  global_entries (ctl, entries);
  entries[N_GLOBAL] = (GOptionEntry){
    "version", 0, 0, G_OPTION_ARG_NONE, version, "Print esimctl's version and exit", NULL
  };
  entries[N_GLOBAL + 1] = (GOptionEntry){ NULL };
  g_option_context_set_summary (ctx, summary);
  g_option_context_set_description (ctx, main_description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* Everything from the verb on is the verb's to parse. */
  g_option_context_set_strict_posix (ctx, TRUE);
  return ctx;
}

gboolean
esimctl_parse_global (Esimctl *ctl, int *argc, char ***argv, const EsimctlVerb **verb,
                      GError **error)
{
  GOptionEntry entries[N_GLOBAL + 2];
  gboolean version = FALSE;
  g_autoptr (GOptionContext) ctx = main_context (ctl, &version, entries);

  *verb = NULL;
  if (!g_option_context_parse (ctx, argc, argv, error) || !check_global (ctl, error))
    return FALSE;
  if (version)
    {
      g_print ("esimctl %s\n", PACKAGE_VERSION);
      exit (0);
    }
  if (*argc < 2)
    return TRUE;
  *verb = esimctl_find_verb ((*argv)[1]);
  if (!*verb)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "unknown command \"%s\" (see esimctl --help)", (*argv)[1]);
      return FALSE;
    }
  /* The verb sees itself as argv[0]. */
  (*argc)--;
  (*argv)++;
  return TRUE;
}

static gboolean
verb_help (Esimctl *ctl, int argc, char **argv, GError **error)
{
  const EsimctlVerb *verb;

  if (!esimctl_parse_verb (ctl, "help", "[COMMAND]", "Shows esimctl's help or a command's.", NULL,
                           NULL, &argc, &argv, 0, 1, error))
    return FALSE;
  if (argc < 2)
    {
      GOptionEntry entries[N_GLOBAL + 2];
      gboolean version = FALSE;
      g_autoptr (GOptionContext) ctx = main_context (ctl, &version, entries);
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);

      fputs (help, stdout);
      return TRUE;
    }
  verb = esimctl_find_verb (argv[1]);
  if (!verb)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "unknown command \"%s\"", argv[1]);
      return FALSE;
    }
  {
    char *help_argv[] = { (char *) verb->name, (char *) "--help", NULL };

    /* GOptionContext prints the verb's help and exits. */
    return verb->run (ctl, 2, help_argv, error);
  }
}

void
esimctl_clear (Esimctl *ctl)
{
  g_clear_pointer (&ctl->euicc, g_free);
  g_clear_pointer (&ctl->bus, sd_bus_flush_close_unref);
  g_clear_pointer (&ctl->esimd_owner, g_free);
}

static void
report_error (Esimctl *ctl, const GError *error)
{
  g_autofree char *name = esimctl_error_get_name (error);
  g_autofree char *message = esimctl_error_get_message (error);
  g_autofree char *clean = esimctl_text_sanitize (message);
  const char *hint = esimctl_error_hint (ctl->command, name);

  if (name && g_str_has_prefix (name, "org.esim.Error."))
    g_printerr ("esimctl: %s (%s)\n", clean, name + strlen ("org.esim.Error."));
  else
    g_printerr ("esimctl: %s\n", clean);
  if (hint)
    g_printerr ("Hint: %s\n", hint);
  if (ctl->json && !ctl->json_done)
    {
      g_autoptr (JsonNode) err = esimctl_json_error (error);
      g_autoptr (JsonObject) obj = json_object_new ();
      g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);

      json_object_set_member (obj, "error", g_steal_pointer (&err));
      json_node_set_object (root, obj);
      esimctl_json_print (root, FALSE, stdout);
    }
}

int
esimctl_main (int argc, char **argv)
{
  Esimctl ctl = { .timeout = ESIMCTL_DEFAULT_TIMEOUT };
  g_autoptr (GError) error = NULL;
  const EsimctlVerb *verb = NULL;
  char *default_argv[] = { (char *) "status", NULL };
  gboolean ok;
  int status;

  g_set_prgname ("esimctl");
  ok = esimctl_parse_global (&ctl, &argc, &argv, &verb, &error);
  if (ok)
    {
      if (!verb)
        {
          verb = esimctl_find_verb ("status");
          argc = 1;
          argv = default_argv;
        }
      ctl.command = verb->name;
      ok = verb->run (&ctl, argc, argv, &error);
    }
  if (!ok)
    report_error (&ctl, error);
  fflush (stdout);
  esimctl_polkit_agent_close ();
  status = ok ? ESIMCTL_EXIT_OK : esimctl_exit_status (error);
  esimctl_clear (&ctl);
  return status;
}
