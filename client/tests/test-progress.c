/* test-progress.c — the download progress line: fits the terminal, clamps, redraws, plain lines. */
#include "output.h"
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void
test_render_exact (void)
{
  g_autofree char *line = esimctl_progress_render ("downloading", 0.5, 50);

  /* "Downloading the profile" (23) + "  [" + an 18-column bar + "]" + "  50%". */
  g_assert_cmpstr (line, ==, "Downloading the profile  [#########---------]  50%");
  g_assert_cmpuint (esimctl_text_width (line), ==, 50);
}

static void
test_render_never_wider (void)
{
  static const char *const stages[] = { "authenticating", "installing", "awaiting-confirmation",
                                        "some-new-stage", "" };

  for (gsize s = 0; s < G_N_ELEMENTS (stages); s++)
    for (guint width = 1; width <= 120; width++)
      {
        g_autofree char *line = esimctl_progress_render (stages[s], 0.37, width);

        g_assert_cmpuint (esimctl_text_width (line), <=, width);
        g_assert_true (g_utf8_validate (line, -1, NULL));
        if (width >= 60)
          g_assert_nonnull (strstr (line, " 37%"));
      }
}

static void
test_render_clamps (void)
{
  g_autofree char *low = esimctl_progress_render ("downloading", -0.5, 60);
  g_autofree char *high = esimctl_progress_render ("downloading", 7.0, 60);
  g_autofree char *nan = esimctl_progress_render ("downloading", NAN, 60);
  g_autofree char *narrow = esimctl_progress_render ("downloading", 1.0, 30);

  g_assert_true (g_str_has_suffix (low, "]   0%"));
  g_assert_null (strchr (low, '#'));
  g_assert_true (g_str_has_suffix (high, "] 100%"));
  g_assert_null (strstr (high, "-]"));
  g_assert_true (g_str_has_suffix (nan, "]   0%"));
  /* No room for a bar: label and percentage only. */
  g_assert_cmpstr (narrow, ==, "Downloading the profile 100%");
}

static void
test_labels (void)
{
  g_assert_cmpstr (esimctl_stage_label ("installing"), ==, "Installing on the eUICC");
  g_assert_cmpstr (esimctl_stage_label ("awaiting-confirmation"), ==, "Waiting for confirmation");
  g_assert_cmpstr (esimctl_stage_label ("awaiting-confirmation-code"), ==,
                   "Waiting for the confirmation code");
  g_assert_cmpstr (esimctl_stage_label ("queued"), ==, "Waiting for other jobs");
  /* A stage a newer esimd invents is shown as it is. */
  g_assert_cmpstr (esimctl_stage_label ("teleporting"), ==, "teleporting");
  g_assert_cmpstr (esimctl_stage_label (NULL), ==, "");
}

static char *
run_progress (gboolean tty)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream (&buf, &len);
  EsimctlProgress *p = esimctl_progress_new (out, tty);

  g_setenv ("COLUMNS", "61", TRUE);
  esimctl_progress_update (p, "authenticating", 0.1);
  esimctl_progress_update (p, "authenticating", 0.2);
  esimctl_progress_update (p, "", 0.3); /* no stage: nothing to show */
  esimctl_progress_print (p, "a message");
  esimctl_progress_update (p, "installing", 0.9);
  esimctl_progress_free (p);
  fclose (out);
  return buf;
}

static void
test_plain_lines (void)
{
  g_autofree char *text = run_progress (FALSE);

  /* One line per stage, no control characters, no repeats. */
  g_assert_cmpstr (text, ==,
                   "Authenticating with the server\n"
                   "a message\n"
                   "Installing on the eUICC\n");
}

static void
test_terminal_redraw (void)
{
  g_autofree char *text = run_progress (TRUE);
  g_auto (GStrv) frames = g_strsplit (text, "\r", -1);

  /* Each draw returns to column 0 and erases the rest of the line; the message replaces the
   * bar; freeing clears the bar. */
  g_assert_true (g_str_has_prefix (text, "\rAuthenticating with the server  ["));
  g_assert_nonnull (strstr (text, " 10%\033[K\rAuthenticating with the server  ["));
  g_assert_nonnull (strstr (text, " 20%\033[K\r\033[Ka message\n\rInstalling on the eUICC  ["));
  g_assert_true (g_str_has_suffix (text, " 90%\033[K\r\033[K"));
  /* Every bar drawn fills the 61-column terminal but its last column. */
  for (gsize i = 0; frames[i]; i++)
    {
      const char *end = strstr (frames[i], "\033[K");
      g_autofree char *line = end ? g_strndup (frames[i], (gsize) (end - frames[i])) : NULL;

      if (line && *line)
        g_assert_cmpuint (esimctl_text_width (line), ==, 60);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/progress/render/exact", test_render_exact);
  g_test_add_func ("/progress/render/never-wider", test_render_never_wider);
  g_test_add_func ("/progress/render/clamps", test_render_clamps);
  g_test_add_func ("/progress/labels", test_labels);
  g_test_add_func ("/progress/plain-lines", test_plain_lines);
  g_test_add_func ("/progress/terminal-redraw", test_terminal_redraw);
  return g_test_run ();
}
