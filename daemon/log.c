/* log.c — routes GLib's structured log to the journal or stderr and hides personal data. */
#include "log.h"

#include <unistd.h>

static gboolean log_debug;
static gboolean log_personal;

static GLogWriterOutput
esimd_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
    return G_LOG_WRITER_HANDLED;
  if (g_log_writer_is_journald (STDERR_FILENO) &&
      g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, user_data);
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
