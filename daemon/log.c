/* log.c — routes GLib's structured log to the journal or stderr and hides personal data. */
#include "log.h"

#include "text.h"

#include <string.h>
#include <unistd.h>

static gboolean log_debug;
static gboolean log_personal;

/* The last line of defence for text from a server, a card or a user that a message quotes: the
 * journal and log readers get valid UTF-8 and no control character but newlines and tabs
 * (a carriage return or an escape sequence would rewrite what a terminal shows). */
static GLogWriterOutput
write_clean (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (g_log_writer_is_journald (STDERR_FILENO) &&
      g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, user_data);
}

static GLogWriterOutput
esimd_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0 &&
        !lpa_text_is_clean (fields[i].value, fields[i].length, LPA_TEXT_KEEP_NEWLINES))
      {
        g_autofree GLogField *copy = g_memdup2 (fields, n_fields * sizeof *fields);
        g_autofree char *clean =
            lpa_text_sanitize (fields[i].value, fields[i].length, 0, LPA_TEXT_KEEP_NEWLINES);

        copy[i].value = clean;
        copy[i].length = -1;
        return write_clean (level, copy, n_fields, user_data);
      }
  return write_clean (level, fields, n_fields, user_data);
}

void
esimd_log_init (gboolean debug)
{
  log_debug = debug;
  g_log_set_writer_func (esimd_log_writer, NULL, NULL);
}

void
esimd_log_set_personal_data (gboolean show)
{
  log_personal = show;
}

gboolean
esimd_log_get_personal_data (void)
{
  return log_personal;
}

const char *
esimd_log_pd (const char *value)
{
  if (!value)
    return "(none)";
  return log_personal ? value : "[hidden]";
}
