/* discovery-pcsc.c — pcscd's readers for discovery.c (see discovery-pcsc.h). */
#include "discovery-pcsc.h"

#include "discovery.h"
#include "pcsc-watch.h"

#define SERVICE_RETRY_MIN 2  /* seconds before asking pcscd again when it cannot be reached */
#define SERVICE_RETRY_MAX 60 /* pcscd may be installed or started at any time */
#define UID_PREFIX        "pcsc:"

/* The readers announced, each with its card's event count (pcsc-lite counts insertions and
 * removals in the high 16 bits of the state) plus one, so a card swapped between two looks is a
 * card gone and another come. */
static struct
{
  EsimdPcscWatch *watch;
  gboolean settled;      /* the first look was reported */
  gboolean unreachable;  /* pcscd could not be reached at the last look (said once) */
  GHashTable *announced; /* reader name -> event count + 1 */
} p;

static void
announce (const char *reader, guint count)
{
  g_autofree char *uid = g_strconcat (UID_PREFIX, reader, NULL);
  EsimdFoundModem *m = esimd_found_modem_new (uid);

  esimd_found_modem_add_port (m, reader, "pcsc", TRUE);
  g_hash_table_insert (p.announced, g_strdup (reader), GUINT_TO_POINTER (count));
  esimd_discovery_modem_found (ESIMD_SOURCE_PCSC, m);
}

static void
retract (const char *reader)
{
  g_autofree char *uid = g_strconcat (UID_PREFIX, reader, NULL);

  g_hash_table_remove (p.announced, reader);
  esimd_discovery_modem_gone (ESIMD_SOURCE_PCSC, uid);
}

/* What changed since the last look goes to discovery.c. */
static void
look (EsimdPcscSnapshot *snapshot, gpointer data)
{
  g_autoptr (EsimdPcscSnapshot) s = snapshot;
  g_autoptr (GHashTable) cards = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key, value;

  if (s->service_rv != SCARD_S_SUCCESS)
    {
      /* Not an error: most machines have no pcscd, or start it on demand. Said once, so that a
       * card in a reader that never shows up has its reason in the log, not a line a minute. */
      if (!p.unreachable)
        g_info ("PC/SC: %s (%s); looking for its readers again now and then",
                s->service_lost ? "pcscd went away" : "pcscd cannot be reached",
                pcsc_stringify_error (s->service_rv));
      p.unreachable = TRUE;
    }
  else if (p.unreachable || !p.settled)
    {
      p.unreachable = FALSE;
      g_debug ("PC/SC: following pcscd's readers");
    }
  /* A reader without a card, or whose reader is not usable, is nothing to discovery. */
  for (guint i = 0; i < s->readers->len; i++)
    {
      const EsimdPcscReader *r = s->readers->pdata[i];

      if (r->card)
        g_hash_table_insert (cards, r->name, GUINT_TO_POINTER ((r->state >> 16) + 1));
    }
  g_hash_table_iter_init (&it, p.announced);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_hash_table_lookup (cards, key) != value)
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    {
      g_debug ("PC/SC: no card in reader \"%s\" any more", (char *) gone->pdata[i]);
      retract (gone->pdata[i]);
    }
  g_hash_table_iter_init (&it, cards);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (!g_hash_table_contains (p.announced, key))
      {
        g_debug ("PC/SC: a card in reader \"%s\"", (char *) key);
        announce (key, GPOINTER_TO_UINT (value));
      }
  if (!p.settled)
    {
      p.settled = TRUE;
      esimd_discovery_source_settled (ESIMD_SOURCE_PCSC);
    }
}

gboolean
esimd_discovery_pcsc_start (void)
{
  if (p.watch)
    return TRUE;
  p.settled = FALSE;
  p.unreachable = FALSE;
  p.announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p.watch = esimd_pcsc_watch_new ("esimd-pcsc-discovery", SERVICE_RETRY_MIN, SERVICE_RETRY_MAX,
                                  look, NULL);
  return TRUE;
}

void
esimd_discovery_pcsc_stop (void)
{
  if (!p.watch)
    return;
  /* Blocks until the thread is out (it is cancelled until it is): looks still queued are
   * dropped with the watch. */
  g_clear_pointer (&p.watch, esimd_pcsc_watch_free);
  g_clear_pointer (&p.announced, g_hash_table_unref);
}
