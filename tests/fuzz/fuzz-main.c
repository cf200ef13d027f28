/* fuzz-main.c — replays corpus files through a harness as an ordinary program (no libFuzzer). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Each argument is a file or a directory whose regular files are replayed, in name order so a
 * failure names the same file on every run. An argument that yields no file fails the run: an
 * empty or misspelt corpus must not pass as a green test. */
static gboolean
collect (const char *path, GPtrArray *files, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (files, g_strdup (path));
      return TRUE;
    }
  if (!(dir = g_dir_open (path, 0, error)))
    return FALSE;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *full = g_build_filename (path, name, NULL);
      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&full));
    }
  if (names->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s holds no corpus file", path);
      return FALSE;
    }
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (files, g_strdup (g_ptr_array_index (names, i)));
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE|DIR…\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) error = NULL;
      if (!collect (argv[i], files, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
    }
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      g_autoptr (GError) error = NULL;
      g_autofree char *data = NULL;
      g_autofree guint8 *exact = NULL;
      gsize len;

      if (!g_file_get_contents (path, &data, &len, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      /* A crash names its input before the sanitizer or abort() report. */
      fprintf (stderr, "replay %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
      /* An exact-size copy, as libFuzzer passes it: g_file_get_contents() adds a NUL that would
       * hide a one-byte over-read from AddressSanitizer. */
      exact = g_malloc (MAX (len, 1));
      memcpy (exact, data, len);
      LLVMFuzzerTestOneInput (exact, len);
    }
  printf ("replayed %u input(s)\n", files->len);
  return 0;
}
