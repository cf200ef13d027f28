/* service.c — sd_notify for the service manager; a no-op outside systemd (no NOTIFY_SOCKET). */
#include "service.h"

#include <systemd/sd-daemon.h>

static gboolean
watchdog_ping (gpointer data)
{
  sd_notify (0, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

void
esimd_service_watchdog_start (void)
{
  uint64_t usec = 0;
  guint interval_ms;

  if (sd_watchdog_enabled (0, &usec) <= 0 || usec == 0)
    return;
  interval_ms = (guint) MIN (usec / 2 / 1000, G_MAXUINT);
  /* Whole seconds let GLib group the wakeup with others; a sub-second period needs precision. */
  if (interval_ms >= 2000)
    g_timeout_add_seconds (interval_ms / 1000, watchdog_ping, NULL);
  else
    g_timeout_add (MAX (interval_ms, 1), watchdog_ping, NULL);
  g_debug ("watchdog: pinging every %u ms", interval_ms);
  sd_notify (0, "WATCHDOG=1");
}

void
esimd_service_status (const char *format, ...)
{
  g_autofree char *status = NULL;
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  status = g_strdup_vprintf (format, ap);
  va_end (ap);
  message = g_strconcat ("STATUS=", status, NULL);
  sd_notify (0, message);
}

void
esimd_service_ready (void)
{
  sd_notify (0, "READY=1");
}

void
esimd_service_stopping (void)
{
  sd_notify (0, "STOPPING=1\nSTATUS=stopping: releasing the modems");
}
