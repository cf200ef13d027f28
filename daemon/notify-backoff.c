/* notify-backoff.c — one back-off per notification server address. */
#include "notify-backoff.h"

#include <string.h>

typedef struct
{
  guint wait; /* seconds; 0: no failure since the last success */
  gint64 due; /* monotonic µs; 0: at once */
} Server;

struct _EsimdNotifyBackoff
{
  guint initial;
  guint max;
  GHashTable *servers; /* key (esimd_notify_backoff_key) → Server* */
};

EsimdNotifyBackoff *
esimd_notify_backoff_new (guint initial, guint max)
{
  EsimdNotifyBackoff *b = g_new0 (EsimdNotifyBackoff, 1);

  b->initial = MAX (initial, 1);
  b->max = MAX (max, b->initial);
  b->servers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return b;
}

void
esimd_notify_backoff_free (EsimdNotifyBackoff *backoff)
{
  if (!backoff)
    return;
  g_hash_table_unref (backoff->servers);
  g_free (backoff);
}

char *
esimd_notify_backoff_key (const char *address)
{
  g_autofree char *copy = g_strdup (address ? address : "");

  /* lpac trims the address the eUICC gives; host names compare without case. */
  return g_ascii_strdown (g_strstrip (copy), -1);
}

static Server *
lookup (EsimdNotifyBackoff *b, const char *address)
{
  g_autofree char *key = esimd_notify_backoff_key (address);

  return g_hash_table_lookup (b->servers, key);
}

static Server *
lookup_or_add (EsimdNotifyBackoff *b, const char *address)
{
  char *key = esimd_notify_backoff_key (address);
  Server *s = g_hash_table_lookup (b->servers, key);

  if (s)
    {
      g_free (key);
      return s;
    }
  s = g_new0 (Server, 1);
  g_hash_table_insert (b->servers, key, s);
  return s;
}

guint
esimd_notify_backoff_failed (EsimdNotifyBackoff *backoff, const char *address, gint64 now)
{
  Server *s = lookup_or_add (backoff, address);

  s->wait = s->wait ? MIN (s->wait * 2, backoff->max) : backoff->initial;
  s->due = now + (gint64) s->wait * G_USEC_PER_SEC;
  return s->wait;
}

void
esimd_notify_backoff_succeeded (EsimdNotifyBackoff *backoff, const char *address)
{
  g_autofree char *key = esimd_notify_backoff_key (address);

  /* Nothing to remember about a server that works: the table only holds failing ones. */
  g_hash_table_remove (backoff->servers, key);
}

void
esimd_notify_backoff_postpone (EsimdNotifyBackoff *backoff, const char *address, gint64 now)
{
  Server *s = lookup_or_add (backoff, address);
  gint64 due = now + (gint64) MAX (s->wait, backoff->initial) * G_USEC_PER_SEC;

  s->due = MAX (s->due, due);
}

void
esimd_notify_backoff_release (EsimdNotifyBackoff *backoff, const char *address)
{
  GHashTableIter it;
  Server *s;

  if (address)
    {
      if ((s = lookup (backoff, address)))
        s->due = 0;
      return;
    }
  g_hash_table_iter_init (&it, backoff->servers);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &s))
    s->due = 0;
}

gint64
esimd_notify_backoff_due_time (EsimdNotifyBackoff *backoff, const char *address)
{
  Server *s = lookup (backoff, address);

  return s ? s->due : 0;
}

gboolean
esimd_notify_backoff_is_due (EsimdNotifyBackoff *backoff, const char *address, gint64 now)
{
  return esimd_notify_backoff_due_time (backoff, address) <= now;
}

guint
esimd_notify_backoff_current (EsimdNotifyBackoff *backoff, const char *address)
{
  Server *s = lookup (backoff, address);

  return s ? s->wait : 0;
}
