/* discovery-pcsc.c — pcscd's readers for discovery.c (see discovery-pcsc.h). */
#include "discovery-pcsc.h"

#include "discovery.h"
#include "pcsc-apdu.h"

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#define PNP_READER        "\\\\?PnP?\\Notification"
#define SERVICE_RETRY_MIN 2  /* seconds before asking pcscd again when it cannot be reached */
#define SERVICE_RETRY_MAX 60 /* pcscd may be installed or started at any time */
#define UID_PREFIX        "pcsc:"

/* What the thread saw: the readers holding a card, each with its card's event count (pcsc-lite
 * counts insertions and removals in the high 16 bits of the state), so a card swapped between
 * two looks is a card gone and another come. */
typedef struct
{
  guint generation;
  GHashTable *cards; /* reader name -> GUINT_TO_POINTER (event count + 1) */
} Snapshot;

static struct
{
  GThread *thread;
  GMutex lock;
  GCond wake;
  gboolean stopping;     /* under lock */
  gboolean exited;       /* under lock: the thread is past its last pcsc-lite call */
  SCARDCONTEXT context;  /* under lock: what SCardCancel interrupts */
  gboolean has_context;  /* under lock */
  guint generation;      /* main thread: snapshots of an older thread are dropped */
  gboolean settled;      /* main thread: the first look was reported */
  GHashTable *announced; /* main thread: reader name -> event count + 1 */
} p;

static gboolean
stopping (void)
{
  gboolean s;

  g_mutex_lock (&p.lock);
  s = p.stopping;
  g_mutex_unlock (&p.lock);
  return s;
}

/* Waits @seconds or until stopped. */
static void
nap (guint seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) seconds * G_TIME_SPAN_SECOND;

  g_mutex_lock (&p.lock);
  while (!p.stopping && g_cond_wait_until (&p.wake, &p.lock, until))
    ;
  g_mutex_unlock (&p.lock);
}

static void
set_context (SCARDCONTEXT ctx, gboolean has)
{
  g_mutex_lock (&p.lock);
  p.context = ctx;
  p.has_context = has;
  g_mutex_unlock (&p.lock);
}

static void
snapshot_free (Snapshot *s)
{
  g_hash_table_unref (s->cards);
  g_free (s);
}

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

/* On the main thread: what changed since the last look goes to discovery.c. */
static gboolean
apply_snapshot (gpointer data)
{
  Snapshot *s = data;
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key, value;

  if (s->generation != p.generation || !p.announced)
    return G_SOURCE_REMOVE;
  g_hash_table_iter_init (&it, p.announced);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_hash_table_lookup (s->cards, key) != value)
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    {
      g_debug ("PC/SC: no card in reader \"%s\" any more", (char *) gone->pdata[i]);
      retract (gone->pdata[i]);
    }
  g_hash_table_iter_init (&it, s->cards);
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
  return G_SOURCE_REMOVE;
}

/* @cards NULL: pcscd cannot be reached, so no reader has a card. */
static void
post (guint generation, GHashTable *cards)
{
  Snapshot *s = g_new0 (Snapshot, 1);

  s->generation = generation;
  s->cards = cards ? g_hash_table_ref (cards)
                   : g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, apply_snapshot, s,
                              (GDestroyNotify) snapshot_free);
}

static GStrv
list_readers (SCARDCONTEXT ctx, LONG *rv)
{
  DWORD len = 0;
  g_autofree char *buf = NULL;

  *rv = SCardListReaders (ctx, NULL, NULL, &len);
  if (*rv == SCARD_S_SUCCESS)
    {
      buf = g_malloc0 (len + 1);
      *rv = SCardListReaders (ctx, NULL, buf, &len);
    }
  if (*rv == SCARD_E_NO_READERS_AVAILABLE)
    {
      *rv = SCARD_S_SUCCESS;
      return g_new0 (char *, 1);
    }
  return *rv == SCARD_S_SUCCESS ? esimd_pcsc_split_readers (buf, len) : NULL;
}

static gpointer
thread_main (gpointer data)
{
  guint generation = GPOINTER_TO_UINT (data);
  SCARDCONTEXT ctx = 0;
  gboolean has_ctx = FALSE;
  guint backoff = 0;

  while (!stopping ())
    {
      g_auto (GStrv) names = NULL;
      g_autofree SCARD_READERSTATE *states = NULL;
      guint n;
      LONG rv;

      if (!has_ctx)
        {
          rv = SCardEstablishContext (SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
          if (rv != SCARD_S_SUCCESS)
            {
              /* Not an error: most machines have no pcscd, or start it on demand. */
              if (!backoff)
                g_debug ("PC/SC: pcscd cannot be reached (%s); asking again now and then",
                         pcsc_stringify_error (rv));
              post (generation, NULL);
              backoff = backoff ? MIN (backoff * 2, SERVICE_RETRY_MAX) : SERVICE_RETRY_MIN;
              nap (backoff);
              continue;
            }
          has_ctx = TRUE;
          backoff = 0;
          set_context (ctx, TRUE);
          g_debug ("PC/SC: following pcscd's readers");
          if (stopping ())
            break;
        }

      names = list_readers (ctx, &rv);
      if (!names)
        goto lost;
      n = g_strv_length (names);
      states = g_new0 (SCARD_READERSTATE, n + 1);
      for (guint i = 0; i < n; i++)
        {
          states[i].szReader = names[i];
          states[i].dwCurrentState = SCARD_STATE_UNAWARE;
        }
      states[n].szReader = PNP_READER;
      states[n].dwCurrentState = SCARD_STATE_UNAWARE;

      /* Until the set of readers changes: each change of a card is one look posted. */
      for (;;)
        {
          g_autoptr (GHashTable) cards =
              g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          gboolean pnp;

          /* Entries still SCARD_STATE_UNAWARE make it answer at once. SCardCancel wakes it. */
          rv = SCardGetStatusChange (ctx, INFINITE, states, n + 1);
          if (rv == SCARD_E_TIMEOUT)
            continue;
          if (rv == SCARD_E_CANCELLED || stopping ())
            break;
          if (rv == SCARD_E_UNKNOWN_READER)
            break; /* a reader went between the list and the wait: list again */
          if (rv != SCARD_S_SUCCESS)
            goto lost;
          for (guint i = 0; i < n; i++)
            {
              DWORD st = states[i].dwEventState & ~SCARD_STATE_CHANGED;

              if ((st & SCARD_STATE_PRESENT) &&
                  !(st & (SCARD_STATE_MUTE | SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)))
                g_hash_table_insert (cards, g_strdup (names[i]), GUINT_TO_POINTER ((st >> 16) + 1));
              states[i].dwCurrentState = st;
            }
          post (generation, cards);
          pnp = (states[n].dwEventState & SCARD_STATE_CHANGED) &&
                states[n].dwCurrentState != SCARD_STATE_UNAWARE;
          states[n].dwCurrentState = states[n].dwEventState & ~SCARD_STATE_CHANGED;
          if (pnp)
            break; /* readers came or went */
        }
      continue;

    lost:
      g_debug ("PC/SC: pcscd went away (%s)", pcsc_stringify_error (rv));
      post (generation, NULL);
      set_context (0, FALSE);
      SCardReleaseContext (ctx);
      has_ctx = FALSE;
      backoff = SERVICE_RETRY_MIN;
      nap (backoff);
    }
  set_context (0, FALSE);
  if (has_ctx)
    SCardReleaseContext (ctx);
  g_mutex_lock (&p.lock);
  p.exited = TRUE;
  g_cond_broadcast (&p.wake);
  g_mutex_unlock (&p.lock);
  return NULL;
}

gboolean
esimd_discovery_pcsc_start (void)
{
  if (p.thread)
    return TRUE;
  p.generation++;
  p.settled = FALSE;
  p.stopping = FALSE;
  p.exited = FALSE;
  p.announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p.thread = g_thread_new ("esimd-pcsc-discovery", thread_main, GUINT_TO_POINTER (p.generation));
  return TRUE;
}

void
esimd_discovery_pcsc_stop (void)
{
  if (!p.thread)
    return;
  g_mutex_lock (&p.lock);
  p.stopping = TRUE;
  /* pcsc-lite's SCardCancel only interrupts a wait already begun: one that starts just after
   * it would block for good, so cancel again until the thread is out. */
  while (!p.exited)
    {
      if (p.has_context)
        SCardCancel (p.context);
      g_cond_broadcast (&p.wake);
      g_cond_wait_until (&p.wake, &p.lock, g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND);
    }
  g_mutex_unlock (&p.lock);
  g_thread_join (g_steal_pointer (&p.thread));
  /* Looks still queued belong to the thread that ended: dropped by their generation. */
  p.generation++;
  g_clear_pointer (&p.announced, g_hash_table_unref);
}
