/* test-errors.c — every D-Bus error name esimd can return has its exit status, and hints fit. */
#include "errors.h"

#include <gio/gio.h>

static EsimctlExit
status_of (const char *name)
{
  g_autoptr (GError) e = esimctl_error_new_remote (name, "text");

  return esimctl_exit_status (e);
}

static void
test_classes (void)
{
  g_assert_cmpint (status_of ("org.esim.Error.WrongProfileState"), ==, ESIMCTL_EXIT_FAILED);
  g_assert_cmpint (status_of ("org.esim.Error.ProfileNotFound"), ==, ESIMCTL_EXIT_FAILED);
  g_assert_cmpint (status_of ("org.esim.Error.ServerRejected"), ==, ESIMCTL_EXIT_FAILED);
  g_assert_cmpint (status_of ("org.freedesktop.DBus.Error.InvalidArgs"), ==, ESIMCTL_EXIT_USAGE);
  g_assert_cmpint (status_of ("org.esim.Error.InvalidActivationCode"), ==, ESIMCTL_EXIT_USAGE);
  g_assert_cmpint (status_of ("org.esim.Error.ConfirmationCodeRequired"), ==, ESIMCTL_EXIT_USAGE);
  g_assert_cmpint (status_of ("org.esim.Error.NotAuthorized"), ==, ESIMCTL_EXIT_NOT_AUTHORIZED);
  g_assert_cmpint (status_of ("org.freedesktop.DBus.Error.AccessDenied"), ==,
                   ESIMCTL_EXIT_NOT_AUTHORIZED);
  g_assert_cmpint (status_of ("org.freedesktop.DBus.Error.ServiceUnknown"), ==,
                   ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.freedesktop.DBus.Error.NoReply"), ==, ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.freedesktop.DBus.Error.Spawn.ChildExited"), ==,
                   ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.esim.Error.Unavailable"), ==, ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.esim.Error.NoEuicc"), ==, ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.esim.Error.Transport"), ==, ESIMCTL_EXIT_UNAVAILABLE);
  g_assert_cmpint (status_of ("org.esim.Error.NetworkUnavailable"), ==, ESIMCTL_EXIT_NETWORK);
  g_assert_cmpint (status_of ("org.esim.Error.TlsVerificationFailed"), ==, ESIMCTL_EXIT_NETWORK);
  g_assert_cmpint (status_of ("org.esim.Error.Timeout"), ==, ESIMCTL_EXIT_NETWORK);
  g_assert_cmpint (status_of ("org.esim.Error.ServerError"), ==, ESIMCTL_EXIT_NETWORK);
  g_assert_cmpint (status_of ("org.esim.Error.Cancelled"), ==, ESIMCTL_EXIT_CANCELLED);
  /* A name from a newer esimd: the operation failed, nothing more is known. */
  g_assert_cmpint (status_of ("org.esim.Error.SomethingNew"), ==, ESIMCTL_EXIT_FAILED);
}

static void
test_local_errors (void)
{
  g_autoptr (GError) usage = g_error_new (ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "x");
  g_autoptr (GError) cancelled = g_error_new (ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "x");
  g_autoptr (GError) option = g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "x");
  g_autoptr (GError) other = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "x");

  g_assert_cmpint (esimctl_exit_status (usage), ==, ESIMCTL_EXIT_USAGE);
  g_assert_cmpint (esimctl_exit_status (cancelled), ==, ESIMCTL_EXIT_CANCELLED);
  g_assert_cmpint (esimctl_exit_status (option), ==, ESIMCTL_EXIT_USAGE);
  g_assert_cmpint (esimctl_exit_status (other), ==, ESIMCTL_EXIT_FAILED);
}

static void
test_remote_roundtrip (void)
{
  g_autoptr (GError) e =
      esimctl_error_new_remote ("org.esim.Error.ProfileNotFound", "no such profile");
  g_autoptr (GError) empty = esimctl_error_new_remote ("org.esim.Error.Busy", "");
  g_autoptr (GError) local = g_error_new (ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "local");
  g_autofree char *name = esimctl_error_get_name (e);
  g_autofree char *message = esimctl_error_get_message (e);
  g_autofree char *empty_message = esimctl_error_get_message (empty);
  g_autofree char *local_name = esimctl_error_get_name (local);
  g_autofree char *local_message = esimctl_error_get_message (local);

  g_assert_cmpstr (name, ==, "org.esim.Error.ProfileNotFound");
  g_assert_cmpstr (message, ==, "no such profile");
  g_assert_cmpstr (empty_message, ==, "org.esim.Error.Busy");
  g_assert_null (local_name);
  g_assert_cmpstr (local_message, ==, "local");
  /* The original error is left as it was. */
  g_assert_true (g_str_has_prefix (e->message, "GDBus.Error:"));
}

static void
test_hints (void)
{
  const char *delete_hint = esimctl_error_hint ("delete", "org.esim.Error.WrongProfileState");
  const char *enable_hint = esimctl_error_hint ("enable", "org.esim.Error.WrongProfileState");

  g_assert_nonnull (delete_hint);
  g_assert_nonnull (strstr (delete_hint, "disable it first"));
  g_assert_nonnull (enable_hint);
  g_assert_null (strstr (enable_hint, "disable it first"));
  /* Hints for every verb. */
  g_assert_nonnull (esimctl_error_hint ("list", "org.freedesktop.DBus.Error.ServiceUnknown"));
  g_assert_nonnull (esimctl_error_hint (NULL, "org.esim.Error.NotAuthorized"));
  g_assert_null (esimctl_error_hint ("list", "org.esim.Error.SomethingNew"));
  g_assert_null (esimctl_error_hint ("list", NULL));
}

/* Every org.esim.Error name in @text that esimctl_exit_status_lookup() does not know. */
static void
collect_unknown (const char *text, const char *pattern, GPtrArray *unknown, guint *found)
{
  g_autoptr (GRegex) re = g_regex_new (pattern, 0, 0, NULL);
  g_autoptr (GMatchInfo) m = NULL;

  g_regex_match (re, text, 0, &m);
  while (g_match_info_matches (m))
    {
      g_autofree char *name = g_match_info_fetch (m, 1);
      EsimctlExit status;

      (*found)++;
      if (!esimctl_exit_status_lookup (name, &status) &&
          !g_ptr_array_find_with_equal_func (unknown, name, g_str_equal, NULL))
        g_ptr_array_add (unknown, g_steal_pointer (&name));
      g_match_info_next (m, NULL);
    }
}

/* The API reference and the daemon's error table: each name they can produce must have been
 * given an exit status on purpose, so a new one fails here until errors.c classifies it. */
static void
test_every_documented_name_is_classified (void)
{
  const char *root = g_getenv ("ESIMD_SOURCE_ROOT");
  static const char *const xml[] = { "org.esim.Manager.xml", "org.esim.Profile.xml",
                                     "org.esim.Job.xml" };
  static const char *const daemon[] = { "bus-errors.c", "bus-errors.h" };
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  guint found = 0;

  if (!root)
    {
      g_test_skip ("ESIMD_SOURCE_ROOT is not set");
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (xml); i++)
    {
      g_autofree char *path = g_build_filename (root, "dbus", xml[i], NULL);
      g_autofree char *text = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (g_file_get_contents (path, &text, NULL, &error));
      g_assert_no_error (error);
      collect_unknown (text,
                       "(org\\.esim\\.Error\\.[A-Z][A-Za-z]+|org\\.freedesktop\\.DBus\\.Error\\.[A-"
                       "Za-z.]+[A-Za-z])",
                       unknown, &found);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (daemon); i++)
    {
      g_autofree char *path = g_build_filename (root, "daemon", daemon[i], NULL);
      g_autofree char *text = NULL;
      g_autofree char *expanded = NULL;
      g_autoptr (GRegex) prefix = g_regex_new ("ESIMD_ERROR_PREFIX\\s*\"", 0, 0, NULL);

      /* The daemon may not be there in a client-only checkout. */
      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      /* ESIMD_ERROR_PREFIX "Name" → org.esim.Error.Name */
      expanded = g_regex_replace (prefix, text, -1, 0, "org.esim.Error.", 0, NULL);
      collect_unknown (expanded, "(org\\.esim\\.Error\\.[A-Z][A-Za-z]+)", unknown, &found);
    }
  g_assert_cmpuint (found, >, 20);
  for (guint i = 0; i < unknown->len; i++)
    g_test_message ("not classified: %s", (char *) unknown->pdata[i]);
  g_assert_cmpuint (unknown->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/errors/classes", test_classes);
  g_test_add_func ("/errors/local", test_local_errors);
  g_test_add_func ("/errors/remote-roundtrip", test_remote_roundtrip);
  g_test_add_func ("/errors/hints", test_hints);
  g_test_add_func ("/errors/every-documented-name", test_every_documented_name_is_classified);
  return g_test_run ();
}
