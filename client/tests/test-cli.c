/* test-cli.c — esimctl's command line, eUICC and job selection, and secrets read from files. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"
#include "prompt.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  Esimctl ctl;
  char **argv; /* what the parser may rearrange */
  char **strings;
  int argc;
} Cli;

static void
cli_init (Cli *c, const char *command_line)
{
  memset (c, 0, sizeof *c);
  c->ctl.timeout = ESIMCTL_DEFAULT_TIMEOUT;
  c->strings = g_strsplit (command_line, " ", -1);
  c->argc = (int) g_strv_length (c->strings);
  c->argv = g_memdup2 (c->strings, sizeof (char *) * (gsize) (c->argc + 1));
}

static void
cli_clear (Cli *c)
{
  esimctl_clear (&c->ctl);
  g_free (c->argv);
  g_strfreev (c->strings);
}

static void
test_global_then_verb (void)
{
  Cli c;
  const EsimctlVerb *verb = NULL;
  g_autoptr (GError) error = NULL;
  char **argv;
  int argc;

  cli_init (&c, "esimctl --json -e wwan1 --timeout 30 list --all");
  argv = c.argv;
  argc = c.argc;
  g_assert_true (esimctl_parse_global (&c.ctl, &argc, &argv, &verb, &error));
  g_assert_no_error (error);
  g_assert_nonnull (verb);
  g_assert_cmpstr (verb->name, ==, "list");
  g_assert_true (c.ctl.json);
  g_assert_cmpstr (c.ctl.euicc, ==, "wwan1");
  g_assert_cmpint (c.ctl.timeout, ==, 30);
  /* The verb's options are left for the verb. */
  g_assert_cmpint (argc, ==, 2);
  g_assert_cmpstr (argv[0], ==, "list");
  g_assert_cmpstr (argv[1], ==, "--all");
  cli_clear (&c);
}

static void
test_no_verb_and_bad_ones (void)
{
  static const struct
  {
    const char *line;
    gboolean ok;
  } cases[] = {
    { "esimctl", TRUE },
    { "esimctl --json", TRUE },
    { "esimctl frobnicate", FALSE },
    { "esimctl --timeout 0 list", FALSE },
    { "esimctl --timeout -5 list", FALSE },
    { "esimctl --timeout soon list", FALSE },
    { "esimctl --all list", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Cli c;
      const EsimctlVerb *verb = (gpointer) 1;
      g_autoptr (GError) error = NULL;
      char **argv;
      int argc;

      cli_init (&c, cases[i].line);
      argv = c.argv;
      argc = c.argc;
      g_test_message ("%s", cases[i].line);
      g_assert_cmpint (esimctl_parse_global (&c.ctl, &argc, &argv, &verb, &error), ==, cases[i].ok);
      if (cases[i].ok)
        g_assert_null (verb);
      else
        g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
      cli_clear (&c);
    }
}

static void
test_verb_options_and_globals_after (void)
{
  Cli c;
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "", NULL },
    { NULL },
  };
  g_autoptr (GError) error = NULL;
  char **argv;
  int argc;

  cli_init (&c, "enable --json 8944476500001224158 --euicc 1 -t 9");
  argv = c.argv;
  argc = c.argc;
  g_assert_true (esimctl_parse_verb (&c.ctl, "enable", "ICCID", "s", NULL, entries, &argc, &argv, 1,
                                     1, &error));
  g_assert_no_error (error);
  g_assert_true (c.ctl.json);
  g_assert_cmpstr (c.ctl.euicc, ==, "1");
  g_assert_cmpint (c.ctl.timeout, ==, 9);
  g_assert_cmpint (argc, ==, 2);
  g_assert_cmpstr (argv[1], ==, "8944476500001224158");
  g_assert_cmpstr (c.ctl.command, ==, "enable");
  cli_clear (&c);
}

static void
test_verb_argument_counts (void)
{
  static const struct
  {
    const char *line;
    int min, max;
    gboolean ok;
  } cases[] = {
    { "enable", 1, 1, FALSE },
    { "enable 1 2", 1, 1, FALSE },
    { "enable 1", 1, 1, TRUE },
    { "list extra", 0, 0, FALSE },
    { "list", 0, 0, TRUE },
    { "nickname 1 2", 1, 2, TRUE },
    { "nickname 1 2 3", 1, 2, FALSE },
    { "list --bogus", 0, 0, FALSE },
    { "list --timeout=0", 0, 0, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Cli c;
      g_autoptr (GError) error = NULL;
      char **argv;
      int argc;

      cli_init (&c, cases[i].line);
      argv = c.argv;
      argc = c.argc;
      g_test_message ("%s", cases[i].line);
      g_assert_cmpint (esimctl_parse_verb (&c.ctl, c.strings[0], NULL, "s", NULL, NULL, &argc,
                                           &argv, cases[i].min, cases[i].max, &error),
                       ==, cases[i].ok);
      if (!cases[i].ok)
        g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
      cli_clear (&c);
    }
}

static void
test_verb_table (void)
{
  gsize n;
  const EsimctlVerb *verbs = esimctl_verbs (&n);

  g_assert_cmpuint (n, >=, 17);
  for (gsize i = 0; i < n; i++)
    {
      g_assert_true (esimctl_find_verb (verbs[i].name) == &verbs[i]);
      g_assert_nonnull (verbs[i].run);
      g_assert_nonnull (verbs[i].summary);
    }
  g_assert_null (esimctl_find_verb ("frobnicate"));
}

/* What GetManagedObjects could answer: two eUICCs (listed out of order), a profile, jobs. */
static GVariant *
objects (void)
{
  return g_variant_ref_sink (g_variant_new_parsed (
      "@a{oa{sa{sv}}} {"
      "'/org/esim/euicc/1': {'org.esim.Manager': {'Name': <'usb'>, 'Eid': <'222'>}},"
      "'/org/esim/euicc/0': {'org.esim.Manager': {'Name': <'wwan0'>, 'Eid': <'111'>}},"
      "'/org/esim/euicc/0/profile/8944': {'org.esim.Profile': {'Iccid': <'8944'>}},"
      "'/org/esim/job/10': {'org.esim.Job': {'Kind': <'refresh'>}},"
      "'/org/esim/job/9': {'org.esim.Job': {'Kind': <'download'>}}"
      "}"));
}

static void
test_euicc_select (void)
{
  g_autoptr (GVariant) all = objects ();
  static const struct
  {
    const char *selector;
    const char *path;
  } cases[] = {
    { "0", "/org/esim/euicc/0" },
    { "1", "/org/esim/euicc/1" },
    { "usb", "/org/esim/euicc/1" },
    { "111", "/org/esim/euicc/0" },
    { "/org/esim/euicc/1", "/org/esim/euicc/1" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) props = NULL;
      g_autofree char *path = esimctl_euicc_select (all, cases[i].selector, &props, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (path, ==, cases[i].path);
      g_assert_nonnull (props);
      g_assert_true (g_variant_is_of_type (props, G_VARIANT_TYPE_VARDICT));
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = esimctl_euicc_select (all, NULL, NULL, &error);

    /* Several and none chosen: a usage error that lists them. */
    g_assert_null (path);
    g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
    g_assert_nonnull (strstr (error->message, "0 (wwan0, EID 111)"));
    g_assert_nonnull (strstr (error->message, "1 (usb, EID 222)"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = esimctl_euicc_select (all, "2", NULL, &error);

    g_assert_null (path);
    g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
    g_assert_nonnull (strstr (error->message, "\"2\""));
  }
}

static void
test_euicc_select_one_or_none (void)
{
  g_autoptr (GVariant) one = g_variant_ref_sink (g_variant_new_parsed (
      "@a{oa{sa{sv}}} {'/org/esim/euicc/0': {'org.esim.Manager': {'Name': <'wwan0'>}},"
      "'/org/esim/job/1': {'org.esim.Job': {'Kind': <'refresh'>}}}"));
  g_autoptr (GVariant) none = g_variant_ref_sink (g_variant_new_parsed (
      "@a{oa{sa{sv}}} {'/org/esim/job/1': {'org.esim.Job': {'Kind': <'refresh'>}}}"));
  g_autoptr (GError) error = NULL;
  g_autofree char *path = esimctl_euicc_select (one, NULL, NULL, &error);
  g_autofree char *name = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, "/org/esim/euicc/0");
  g_assert_null (esimctl_euicc_select (none, NULL, NULL, &error));
  name = esimctl_error_get_name (error);
  g_assert_cmpstr (name, ==, "org.esim.Error.NoEuicc");
  g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_UNAVAILABLE);
}

static void
test_objects_with (void)
{
  g_autoptr (GVariant) all = objects ();
  g_autoptr (GVariant) jobs = esimctl_objects_with (all, ESIMD_JOB_IFACE);
  g_autoptr (GVariant) profiles = esimctl_objects_with (all, ESIMD_PROFILE_IFACE);
  const char *path;
  g_autoptr (GVariant) props = NULL;

  /* Numeric order: job 9 before job 10. */
  g_assert_cmpuint (g_variant_n_children (jobs), ==, 2);
  g_variant_get_child (jobs, 0, "{&o@a{sv}}", &path, NULL);
  g_assert_cmpstr (path, ==, "/org/esim/job/9");
  g_variant_get_child (jobs, 1, "{&o@a{sv}}", &path, &props);
  g_assert_cmpstr (path, ==, "/org/esim/job/10");
  g_assert_cmpstr (esimctl_dict_str (props, "Kind"), ==, "refresh");
  g_assert_cmpuint (g_variant_n_children (profiles), ==, 1);
}

static void
test_paths (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *by_number = esimctl_job_path ("12", &error);
  g_autofree char *by_path = esimctl_job_path ("/org/esim/job/3", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (by_number, ==, "/org/esim/job/12");
  g_assert_cmpstr (by_path, ==, "/org/esim/job/3");
  g_assert_null (esimctl_job_path ("/org/esim/euicc/0", &error));
  g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
  g_clear_error (&error);
  g_assert_null (esimctl_job_path ("twelve", &error));
  g_clear_error (&error);
  g_assert_null (esimctl_job_path ("-1", &error));
  g_clear_error (&error);

  g_assert_cmpint (esimctl_path_compare ("/org/esim/job/9", "/org/esim/job/10"), <, 0);
  g_assert_cmpint (esimctl_path_compare ("/org/esim/job/10", "/org/esim/job/9"), >, 0);
  g_assert_cmpint (esimctl_path_compare ("/org/esim/job/7", "/org/esim/job/7"), ==, 0);
  g_assert_cmpint (esimctl_path_compare ("/org/esim/euicc/0", "/org/esim/job/0"), <, 0);
  g_assert_cmpstr (esimctl_short_id ("/org/esim/job/42"), ==, "42");
}

static void
test_secret_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("esimctl-test-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (dir, "cc", NULL);
  g_autofree char *blank = g_build_filename (dir, "blank", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaSecret) code = NULL;

  g_assert_true (g_file_set_contents (good, "  1234-5678 \nsecond line\n", -1, NULL));
  g_assert_true (g_file_set_contents (blank, " \n", -1, NULL));
  code = esimctl_read_secret_file (good, "confirmation code", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (code, ==, "1234-5678");

  g_assert_null (esimctl_read_secret_file (blank, "confirmation code", &error));
  g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
  g_assert_nonnull (strstr (error->message, "no confirmation code"));
  g_clear_error (&error);
  g_assert_null (esimctl_read_secret_file (missing, "activation code", &error));
  g_assert_cmpint (esimctl_exit_status (error), ==, ESIMCTL_EXIT_USAGE);
  g_assert_nonnull (strstr (error->message, "activation code"));

  g_unlink (good);
  g_unlink (blank);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_set_prgname ("esimctl");
  g_test_add_func ("/cli/global-then-verb", test_global_then_verb);
  g_test_add_func ("/cli/no-verb-and-bad-ones", test_no_verb_and_bad_ones);
  g_test_add_func ("/cli/verb-options-and-globals-after", test_verb_options_and_globals_after);
  g_test_add_func ("/cli/verb-argument-counts", test_verb_argument_counts);
  g_test_add_func ("/cli/verb-table", test_verb_table);
  g_test_add_func ("/cli/euicc-select", test_euicc_select);
  g_test_add_func ("/cli/euicc-select-one-or-none", test_euicc_select_one_or_none);
  g_test_add_func ("/cli/objects-with", test_objects_with);
  g_test_add_func ("/cli/paths", test_paths);
  g_test_add_func ("/cli/secret-file", test_secret_file);
  return g_test_run ();
}
