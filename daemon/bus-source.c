/* bus-source.c — drives sd-bus from the GLib main loop: one fd, its events and its timeout. */
#include "bus-source.h"

#include <errno.h>
#include <poll.h>

typedef struct
{
  GSource source;
  sd_bus *bus;
  gpointer fd_tag;
  GIOCondition fd_events;
  EsimdBusLostFunc lost;
  gpointer lost_data;
  gboolean lost_reported;
} BusSource;

static GIOCondition
poll_to_condition (int events)
{
  GIOCondition cond = 0;

  if (events & POLLIN)
    cond |= G_IO_IN;
  if (events & POLLOUT)
    cond |= G_IO_OUT;
  return cond | G_IO_HUP | G_IO_ERR;
}

/* sd-bus wants its interest set and deadline refreshed before every poll: both change as
 * messages are queued, so they are recomputed here rather than cached. */
static gboolean
bus_source_prepare (GSource *source, gint *timeout_ms)
{
  BusSource *self = (BusSource *) source;
  uint64_t deadline_us = UINT64_MAX;
  int events;

  *timeout_ms = -1;
  events = sd_bus_get_events (self->bus);
  if (events < 0)
    return TRUE; /* let dispatch see the failure */
  /* g_source_modify_unix_fd() wakes the context up: only call it on a change, or every
   * iteration wakes the next one and the loop never sleeps. */
  if (poll_to_condition (events) != self->fd_events)
    {
      self->fd_events = poll_to_condition (events);
      g_source_modify_unix_fd (source, self->fd_tag, self->fd_events);
    }

  if (sd_bus_get_timeout (self->bus, &deadline_us) < 0)
    return TRUE;
  /* 0 means work is already queued: dispatch without polling. The deadline is absolute
   * CLOCK_MONOTONIC, the same clock as g_get_monotonic_time(). */
  if (deadline_us == 0)
    return TRUE;
  if (deadline_us != UINT64_MAX)
    {
      gint64 now = g_get_monotonic_time ();

      if ((gint64) deadline_us <= now)
        return TRUE;
      *timeout_ms = (gint) MIN ((deadline_us - now + 999) / 1000, (uint64_t) G_MAXINT);
    }
  return FALSE;
}

static gboolean
bus_source_check (GSource *source)
{
  BusSource *self = (BusSource *) source;
  uint64_t deadline_us = UINT64_MAX;

  if (g_source_query_unix_fd (source, self->fd_tag) != 0)
    return TRUE;
  if (sd_bus_get_timeout (self->bus, &deadline_us) < 0)
    return TRUE;
  return deadline_us != UINT64_MAX && (gint64) deadline_us <= g_get_monotonic_time ();
}

static gboolean
bus_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  BusSource *self = (BusSource *) source;
  int r;

  /* Drain everything that is ready; sd_bus_process() handles one message per call. */
  do
    r = sd_bus_process (self->bus, NULL);
  while (r > 0);

  if (r < 0 && !self->lost_reported)
    {
      self->lost_reported = TRUE;
      g_warning ("D-Bus connection lost: %s", g_strerror (-r));
      if (self->lost)
        self->lost (r, self->lost_data);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
bus_source_finalize (GSource *source)
{
  BusSource *self = (BusSource *) source;

  sd_bus_unref (self->bus);
}

static GSourceFuncs bus_source_funcs = {
  .prepare = bus_source_prepare,
  .check = bus_source_check,
  .dispatch = bus_source_dispatch,
  .finalize = bus_source_finalize,
};

GSource *
esimd_bus_source_new (sd_bus *bus, EsimdBusLostFunc lost, gpointer user_data)
{
  BusSource *self = (BusSource *) g_source_new (&bus_source_funcs, sizeof (BusSource));

  self->bus = sd_bus_ref (bus);
  self->lost = lost;
  self->lost_data = user_data;
  self->fd_events = G_IO_IN;
  self->fd_tag = g_source_add_unix_fd (&self->source, sd_bus_get_fd (bus), self->fd_events);
  g_source_set_name (&self->source, "sd-bus");
  return &self->source;
}
