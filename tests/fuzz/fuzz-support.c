/* fuzz-support.c — the helpers every harness shares (fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpa-error.h"
#include "text.h"

void
fuzz_fail (const char *where, const char *what)
{
  fprintf (stderr, "FUZZ_CHECK failed at %s: %s\n", where, what);
  abort ();
}

/* Criticals (a g_return_if_fail() reached) and warnings end the run with abort(), which
 * libFuzzer reports and saves the input for; GLib's own fatal path raises SIGTRAP instead, which
 * it does not. Quieter levels are dropped: the harnesses run millions of times. */
static GLogWriterOutput
fatal_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

void
fuzz_setup (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  g_log_set_writer_func (fatal_writer, NULL, NULL);
}

void
fuzz_check_error (const GError *error)
{
  FUZZ_CHECK (error != NULL);
  FUZZ_CHECK (error->domain == LPA_ERROR);
  FUZZ_CHECK (error->message != NULL && error->message[0] != '\0');
  /* It goes to D-Bus and the log: whatever the input, valid UTF-8 and no forged lines. */
  FUZZ_CHECK (lpa_text_is_clean (error->message, -1, LPA_TEXT_ONE_LINE));
}

GBytes *
fuzz_bytes (const uint8_t *data, size_t size)
{
  return g_bytes_new (data, size);
}

gboolean
fuzz_bytes_equal (GBytes *a, const guint8 *data, gsize len)
{
  gsize a_len;
  const guint8 *a_data = a ? g_bytes_get_data (a, &a_len) : NULL;

  if (a == NULL || a_len != len)
    return FALSE;
  return len == 0 || memcmp (a_data, data, len) == 0;
}

gboolean
fuzz_all_digits (const char *text)
{
  if (text == NULL || *text == '\0')
    return FALSE;
  for (; *text; text++)
    if (!g_ascii_isdigit (*text))
      return FALSE;
  return TRUE;
}
