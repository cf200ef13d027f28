/* test-pcsc-watch.c — following pcscd's readers (daemon/pcsc-watch.c), against a pcsc-lite
 * client library that behaves as the real one does at the moments that matter.
 *
 * The races are between the watch thread and pcsc-lite's client side, so the test replaces
 * libpcsclite's few functions the watch calls with an in-process one whose behaviour is
 * pcsc-lite's own (src/winscard_clnt.c, 1.9.9 and 2.3): SCardGetStatusChange() answers at once
 * for an entry in SCARD_STATE_UNAWARE, or when a reader's presence or its card-event count (the
 * high 16 bits of dwCurrentState, when not 0) differs from what the caller gave, or when the
 * number of readers changed during the call; in 2.3 mode the "\\?PnP?\Notification" entry's
 * high 16 bits are a reader-event count, compared the same way when not 0. SCardCancel() only
 * interrupts a wait that is blocked in pcscd (the context's "cancellable" flag) and is dropped
 * at any other moment. A gate lets the test hold the thread just before it blocks, which is
 * where a cancel is lost: the integration test over a real pcscd (integration-discovery-pcsc)
 * met that moment only under load, when a card was pulled and the transport stopped at once. */
#include "pcsc-watch.h"

#include <glib/gstdio.h>
#include <string.h>

/* ---- the pcsc-lite client, as the watch sees it --------------------------------------------- */

#define MAX_READERS 8

static struct
{
  GMutex lock;
  GCond cond;
  gboolean up;         /* pcscd reachable */
  gboolean pnp_counts; /* 2.3: the PnP entry carries a reader-event count */
  guint pnp_events;
  struct
  {
    char name[64];
    gboolean present;
    guint events; /* insertions and removals */
  } readers[MAX_READERS];
  guint n_readers;
  guint seq; /* bumped at each change: wakes a blocked wait */

  gboolean waiting; /* blocked in pcscd: what SCardCancel can interrupt */
  gboolean cancelled;
  gboolean hold; /* the next SCardGetStatusChange stops at its entry until released */
  gboolean held; /* it is stopped there now */
  guint blocks;  /* waits that blocked */
  guint lists;   /* SCardListReaders calls that returned names */
  guint cancels_ignored;
  guint cancels_delivered;
  guint establishes; /* SCardEstablishContext calls */
  SCARDCONTEXT next_context;
} fake;

static void
fake_reset (void)
{
  g_mutex_lock (&fake.lock);
  fake.up = TRUE;
  fake.pnp_counts = FALSE;
  fake.pnp_events = 1;
  fake.n_readers = 0;
  fake.seq = 0;
  fake.waiting = fake.cancelled = fake.hold = fake.held = FALSE;
  fake.blocks = fake.lists = fake.cancels_ignored = fake.cancels_delivered = 0;
  fake.establishes = 0;
  g_mutex_unlock (&fake.lock);
}

static void
fake_add_reader (const char *name, gboolean present)
{
  g_mutex_lock (&fake.lock);
  g_strlcpy (fake.readers[fake.n_readers].name, name, sizeof fake.readers[0].name);
  fake.readers[fake.n_readers].present = present;
  fake.readers[fake.n_readers].events = present ? 1 : 0;
  fake.n_readers++;
  fake.pnp_events++;
  fake.seq++;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
}

static void
fake_set_card (guint reader, gboolean present)
{
  g_mutex_lock (&fake.lock);
  fake.readers[reader].present = present;
  fake.readers[reader].events++;
  fake.seq++;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
}

static void
fake_set_hold (gboolean hold)
{
  g_mutex_lock (&fake.lock);
  fake.hold = hold;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
}

/* Waits (in the test's thread, not the main loop) until @field says so. */
#define FAKE_WAIT_UNTIL(cond_expr, what)                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 until_ = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;                             \
    g_mutex_lock (&fake.lock);                                                                     \
    while (!(cond_expr))                                                                           \
      if (!g_cond_wait_until (&fake.cond, &fake.lock, until_))                                     \
        g_error ("timed out waiting for %s", what);                                                \
    g_mutex_unlock (&fake.lock);                                                                   \
  }                                                                                                \
  G_STMT_END

LONG
SCardEstablishContext (DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT context)
{
  LONG rv = SCARD_E_NO_SERVICE;

  g_mutex_lock (&fake.lock);
  fake.establishes++;
  if (fake.up)
    {
      *context = ++fake.next_context;
      rv = SCARD_S_SUCCESS;
    }
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
  return rv;
}

LONG
SCardReleaseContext (SCARDCONTEXT context)
{
  return SCARD_S_SUCCESS;
}

LONG
SCardListReaders (SCARDCONTEXT context, LPCSTR groups, LPSTR buf, LPDWORD len)
{
  g_autoptr (GString) multi = g_string_new (NULL);
  LONG rv = SCARD_S_SUCCESS;

  g_mutex_lock (&fake.lock);
  if (!fake.up)
    rv = SCARD_E_NO_SERVICE;
  else if (fake.n_readers == 0)
    rv = SCARD_E_NO_READERS_AVAILABLE;
  else
    {
      for (guint i = 0; i < fake.n_readers; i++)
        g_string_append_len (multi, fake.readers[i].name, strlen (fake.readers[i].name) + 1);
      g_string_append_c (multi, '\0');
      if (buf && *len < multi->len)
        rv = SCARD_E_INSUFFICIENT_BUFFER;
      else if (buf)
        {
          memcpy (buf, multi->str, multi->len);
          fake.lists++;
        }
      *len = multi->len;
    }
  g_mutex_unlock (&fake.lock);
  return rv;
}

static gint
fake_find (const char *name)
{
  for (guint i = 0; i < fake.n_readers; i++)
    if (g_str_equal (fake.readers[i].name, name))
      return (gint) i;
  return -1;
}

/* Under the lock: fills every dwEventState; TRUE when the call answers now. */
static gboolean
fake_compare (SCARD_READERSTATE *states, DWORD n, guint readers_at_start)
{
  gboolean changed = FALSE;

  for (DWORD j = 0; j < n; j++)
    {
      SCARD_READERSTATE *r = &states[j];
      DWORD cur = r->dwCurrentState;
      gint i = fake_find (r->szReader);

      if (i < 0 && g_str_equal (r->szReader, "\\\\?PnP?\\Notification"))
        {
          guint prev = cur >> 16;

          r->dwEventState = fake.pnp_counts ? fake.pnp_events << 16 : 0;
          if ((fake.pnp_counts && prev && prev != fake.pnp_events) ||
              fake.n_readers != readers_at_start)
            {
              r->dwEventState |= SCARD_STATE_CHANGED;
              changed = TRUE;
            }
          continue;
        }
      if (i < 0)
        {
          r->dwEventState = SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE;
          if (!(cur & SCARD_STATE_UNKNOWN))
            {
              r->dwEventState |= SCARD_STATE_CHANGED;
              changed = TRUE;
            }
          continue;
        }
      r->dwEventState = (fake.readers[i].present ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY) |
                        (fake.readers[i].events << 16);
      if (cur == SCARD_STATE_UNAWARE ||
          ((cur & 0xFFFF0000) && (cur >> 16) != fake.readers[i].events) ||
          (fake.readers[i].present ? (cur & SCARD_STATE_EMPTY) : (cur & SCARD_STATE_PRESENT)))
        {
          r->dwEventState |= SCARD_STATE_CHANGED;
          changed = TRUE;
        }
    }
  return changed;
}

LONG
SCardGetStatusChange (SCARDCONTEXT context, DWORD timeout, SCARD_READERSTATE *states, DWORD n)
{
  guint readers_at_start;

  g_mutex_lock (&fake.lock);
  if (fake.hold)
    {
      fake.held = TRUE;
      g_cond_broadcast (&fake.cond);
      while (fake.hold)
        g_cond_wait (&fake.cond, &fake.lock);
      fake.held = FALSE;
    }
  if (!fake.up)
    {
      g_mutex_unlock (&fake.lock);
      return SCARD_E_NO_SERVICE;
    }
  for (DWORD j = 0; j < n; j++)
    if (fake_find (states[j].szReader) < 0 &&
        !g_str_equal (states[j].szReader, "\\\\?PnP?\\Notification"))
      {
        g_mutex_unlock (&fake.lock);
        return SCARD_E_UNKNOWN_READER;
      }
  readers_at_start = fake.n_readers;
  for (;;)
    {
      guint seq = fake.seq;

      if (fake_compare (states, n, readers_at_start))
        break;
      fake.waiting = TRUE;
      fake.blocks++;
      g_cond_broadcast (&fake.cond);
      while (fake.seq == seq && !fake.cancelled && fake.up)
        g_cond_wait (&fake.cond, &fake.lock);
      fake.waiting = FALSE;
      if (fake.cancelled)
        {
          fake.cancelled = FALSE;
          g_mutex_unlock (&fake.lock);
          return SCARD_E_CANCELLED;
        }
      if (!fake.up)
        {
          g_mutex_unlock (&fake.lock);
          return SCARD_E_NO_SERVICE;
        }
    }
  g_mutex_unlock (&fake.lock);
  return SCARD_S_SUCCESS;
}

LONG
SCardCancel (SCARDCONTEXT context)
{
  g_mutex_lock (&fake.lock);
  if (fake.waiting)
    {
      fake.cancelled = TRUE;
      fake.cancels_delivered++;
      g_cond_broadcast (&fake.cond);
    }
  else
    fake.cancels_ignored++;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
  return SCARD_S_SUCCESS;
}

const char *
pcsc_stringify_error (const LONG rv)
{
  return "an error of the fake pcsc-lite";
}

/* ---- the watch's side ------------------------------------------------------------------------ */

typedef struct
{
  GPtrArray *looks; /* EsimdPcscSnapshot* */
  gboolean stopped;
} Seen;

static void
seen_look (EsimdPcscSnapshot *s, gpointer data)
{
  Seen *seen = data;

  g_ptr_array_add (seen->looks, s);
}

static void
seen_stopped (gpointer data)
{
  ((Seen *) data)->stopped = TRUE;
}

static Seen *
seen_new (void)
{
  Seen *seen = g_new0 (Seen, 1);

  seen->looks = g_ptr_array_new_with_free_func ((GDestroyNotify) esimd_pcsc_snapshot_free);
  return seen;
}

static void
seen_free (Seen *seen)
{
  g_ptr_array_unref (seen->looks);
  g_free (seen);
}

static const EsimdPcscSnapshot *
last_look (Seen *seen)
{
  g_assert_cmpuint (seen->looks->len, >, 0);
  return seen->looks->pdata[seen->looks->len - 1];
}

/* Runs the main loop until @looks snapshots arrived (or the watch stopped, @looks 0). */
static void
run_until (Seen *seen, guint looks)
{
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  while (looks ? seen->looks->len < looks : !seen->stopped)
    {
      if (g_get_monotonic_time () > until)
        g_error ("timed out: %u look(s) of %u, stopped %d", seen->looks->len, looks, seen->stopped);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Stops @w as its users do, runs the loop until the stop is announced, then frees it. */
static void
stop_and_free (EsimdPcscWatch *w, Seen *seen)
{
  esimd_pcsc_watch_stop (w, seen_stopped, seen);
  run_until (seen, 0);
  esimd_pcsc_watch_free (w);
}

static void
assert_card (const EsimdPcscSnapshot *s, const char *reader, gboolean card, guint events)
{
  const EsimdPcscReader *r = esimd_pcsc_snapshot_find (s, reader);

  g_assert_nonnull (r);
  g_assert_cmpint (r->card, ==, card);
  g_assert_cmpuint (r->state >> 16, ==, events);
}

/* The thread woke for an event and is on its way back into the wait when the stop comes: the
 * stop's cancel finds no wait to interrupt (pcsc-lite drops it) and the wait that follows would
 * block until the next event. The stop must still end the thread. */
static void
test_stop_right_after_an_event (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;
  guint looks;

  fake_reset ();
  fake_add_reader ("Reader A 00 00", TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  assert_card (last_look (seen), "Reader A 00 00", TRUE, 1);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");

  /* The card is pulled; the thread posts it and stops at the next wait's door. */
  fake_set_hold (TRUE);
  fake_set_card (0, FALSE);
  FAKE_WAIT_UNTIL (fake.held, "the watch to come back to the wait");

  looks = seen->looks->len;
  esimd_pcsc_watch_stop (w, seen_stopped, seen);
  g_assert_cmpuint (fake.cancels_ignored, >=, 1); /* the moment that lost it */
  g_assert_cmpuint (fake.cancels_delivered, ==, 0);
  fake_set_hold (FALSE);
  run_until (seen, 0);
  g_assert_true (seen->stopped);
  g_assert_cmpuint (fake.cancels_delivered, ==, 1);
  /* Nothing reaches the caller once it asked to stop, the pulled card's look included. */
  g_assert_cmpuint (seen->looks->len, ==, looks);
  esimd_pcsc_watch_free (w);
  seen_free (seen);
}

static gpointer
release_after_a_lost_cancel (gpointer data)
{
  FAKE_WAIT_UNTIL (fake.cancels_ignored >= 1, "a cancel to be lost");
  fake_set_hold (FALSE);
  return NULL;
}

/* The same moment when the watch is freed without a stop (teardown): free ends the thread. */
static void
test_free_right_after_an_event (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;
  GThread *releaser;

  fake_reset ();
  fake_add_reader ("Reader A 00 00", TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  fake_set_hold (TRUE);
  fake_set_card (0, FALSE);
  FAKE_WAIT_UNTIL (fake.held, "the watch to come back to the wait");
  releaser = g_thread_new ("releaser", release_after_a_lost_cancel, NULL);
  esimd_pcsc_watch_free (w);
  g_thread_join (releaser);
  g_assert_cmpuint (fake.cancels_delivered, ==, 1);
  g_assert_false (seen->stopped); /* freed, not stopped: no callback */
  seen_free (seen);
}

/* A card out and in again between two waits: the same "present", another event count. The
 * watch gives pcsc-lite the count it last saw, so the wait answers and the look shows it. */
static void
test_card_swapped_between_two_waits (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;

  fake_reset ();
  fake_add_reader ("Reader A 00 00", TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  fake_set_hold (TRUE);
  fake_set_card (0, FALSE);
  FAKE_WAIT_UNTIL (fake.held, "the watch to come back to the wait");
  run_until (seen, 2);
  assert_card (last_look (seen), "Reader A 00 00", FALSE, 2);
  /* Back before the thread waits again. */
  fake_set_card (0, TRUE);
  fake_set_hold (FALSE);
  run_until (seen, 3);
  assert_card (last_look (seen), "Reader A 00 00", TRUE, 3);

  /* Out and in while it is not looking at all: one look, the count moved by two. */
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  fake_set_hold (TRUE);
  fake_set_card (0, TRUE); /* an event that changes nothing but the count */
  FAKE_WAIT_UNTIL (fake.held, "the watch to come back to the wait");
  run_until (seen, 4);
  fake_set_card (0, FALSE);
  fake_set_card (0, TRUE);
  fake_set_hold (FALSE);
  run_until (seen, 5);
  assert_card (last_look (seen), "Reader A 00 00", TRUE, 6);

  stop_and_free (w, seen);
  seen_free (seen);
}

/* pcscd with no reader: the first look is posted at once (a wait on the PnP entry alone would
 * only answer when a reader comes), so a caller knows it has looked; then a reader comes. */
static void
test_no_reader_then_one (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;

  fake_reset ();
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  g_assert_cmpint (last_look (seen)->service_rv, ==, SCARD_S_SUCCESS);
  g_assert_cmpuint (last_look (seen)->readers->len, ==, 0);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  fake_add_reader ("Reader B 00 00", TRUE);
  run_until (seen, 2);
  g_assert_cmpuint (last_look (seen)->readers->len, ==, 1);
  assert_card (last_look (seen), "Reader B 00 00", TRUE, 1);
  stop_and_free (w, seen);
  seen_free (seen);
}

/* pcsc-lite 1.9.9 (Debian 12's) counts the readers when a wait begins and answers for the PnP
 * entry only when that count changes during the wait. A reader plugged after the thread listed
 * the readers and before the wait counted them is in neither: the watch must still see it, by
 * listing again once the wait has begun. Before, it was seen only at the next event, here never.
 * Also with no reader at all, where the wait is on the PnP entry alone. */
static void
test_reader_plugged_before_the_wait_counts (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;

  fake_reset ();
  fake_add_reader ("Reader A 00 00", TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");

  /* An event; the thread posts it with the list it has and stops at the next wait's door,
   * before the wait counts the readers: the reader is plugged there. */
  fake_set_hold (TRUE);
  fake_set_card (0, FALSE);
  FAKE_WAIT_UNTIL (fake.held, "the watch to come back to the wait");
  fake_add_reader ("Reader B 00 00", TRUE);
  fake_set_hold (FALSE);
  while (!esimd_pcsc_snapshot_find (last_look (seen), "Reader B 00 00"))
    run_until (seen, seen->looks->len + 1);
  assert_card (last_look (seen), "Reader A 00 00", FALSE, 2);
  assert_card (last_look (seen), "Reader B 00 00", TRUE, 1);
  g_assert_cmpuint (fake.cancels_delivered, >=, 1); /* the wait that would not have answered */
  stop_and_free (w, seen);

  /* No reader: the first look says so, then the wait is on the PnP entry alone. */
  g_ptr_array_set_size (seen->looks, 0);
  seen->stopped = FALSE;
  fake_reset ();
  fake_set_hold (TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  FAKE_WAIT_UNTIL (fake.held, "the watch at the wait's door");
  fake_add_reader ("Reader C 00 00", TRUE);
  fake_set_hold (FALSE);
  run_until (seen, 1);
  g_assert_cmpuint (last_look (seen)->readers->len, ==, 0);
  run_until (seen, 2);
  assert_card (last_look (seen), "Reader C 00 00", TRUE, 1);
  stop_and_free (w, seen);
  seen_free (seen);
}

/* pcsc-lite 2.3 and later: the PnP entry's high 16 bits are a reader-event count, and a count
 * given that is not the last one answered makes every wait return at once. The watch carries
 * the count: it waits after its first look instead of listing the readers again and again. */
static void
test_pnp_event_count_carried (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;

  fake_reset ();
  fake.pnp_counts = TRUE;
  fake_add_reader ("Reader A 00 00", TRUE);
  fake_add_reader ("Reader B 00 00", FALSE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  g_assert_cmpuint (fake.lists, ==, 1);
  assert_card (last_look (seen), "Reader B 00 00", FALSE, 0);

  /* A reader plugged: one new list, then a wait again. */
  fake_add_reader ("Reader C 00 00", TRUE);
  FAKE_WAIT_UNTIL (fake.lists == 2 && fake.waiting, "the watch to list again and wait");
  run_until (seen, 2);
  g_assert_cmpuint (seen->looks->len, ==, 2); /* the old list is not posted again */
  g_assert_cmpuint (last_look (seen)->readers->len, ==, 3);
  assert_card (last_look (seen), "Reader C 00 00", TRUE, 1);
  g_assert_cmpuint (fake.lists, ==, 2);

  stop_and_free (w, seen);
  seen_free (seen);
}

/* pcscd not there: the look says so, once (not lost: it never was reached), and once pcscd is
 * there the readers follow without anything asked. */
/* pcscd's socket (PCSCLITE_CSOCK_NAME, set in main()): the watch looks only at whether it exists,
 * and waits for it to be created. */
static char *socket_path;

static void
socket_file (gboolean present)
{
  g_autoptr (GError) error = NULL;

  if (!present)
    g_assert_true (g_unlink (socket_path) == 0 || errno == ENOENT);
  else if (!g_file_set_contents (socket_path, "", 0, &error))
    g_error ("%s", error->message);
}

static void
test_pcscd_comes_later (void)
{
  Seen *seen = seen_new ();
  EsimdPcscWatch *w;

  fake_reset ();
  fake.up = FALSE;
  /* A socket a killed pcscd left behind: only trying again tells when pcscd is back. */
  socket_file (TRUE);
  fake_add_reader ("Reader A 00 00", TRUE);
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  g_assert_cmpint (last_look (seen)->service_rv, ==, SCARD_E_NO_SERVICE);
  g_assert_false (last_look (seen)->service_lost);
  /* Asked again and again, the same answer is not posted again (an idle esimd would wake for
   * every try). */
  FAKE_WAIT_UNTIL (fake.establishes >= 3, "the watch to ask pcscd again");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (seen->looks->len, ==, 1);
  g_mutex_lock (&fake.lock);
  fake.up = TRUE;
  g_mutex_unlock (&fake.lock);
  while (last_look (seen)->service_rv != SCARD_S_SUCCESS)
    run_until (seen, seen->looks->len + 1);
  assert_card (last_look (seen), "Reader A 00 00", TRUE, 1);

  /* pcscd stops while the watch waits: lost, then back again. */
  FAKE_WAIT_UNTIL (fake.waiting, "the watch to wait");
  g_mutex_lock (&fake.lock);
  fake.up = FALSE;
  g_cond_broadcast (&fake.cond);
  g_mutex_unlock (&fake.lock);
  run_until (seen, seen->looks->len + 1);
  g_assert_cmpint (last_look (seen)->service_rv, ==, SCARD_E_NO_SERVICE);
  g_assert_true (last_look (seen)->service_lost);

  stop_and_free (w, seen);
  seen_free (seen);
}

/* No socket at all (pcscd not installed, or stopped cleanly): nothing is tried until it is
 * created, so an esimd without pcscd never wakes for it, and its creation is seen at once. */
static void
test_pcscd_socket_awaited (void)
{
  Seen *seen = seen_new ();
  g_autofree char *dir = g_path_get_dirname (socket_path);
  g_autofree char *other = NULL;
  EsimdPcscWatch *w;

  fake_reset ();
  fake.up = FALSE;
  socket_file (FALSE);
  fake_add_reader ("Reader A 00 00", TRUE);

  /* Stopped while it waits for the socket. */
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  g_assert_cmpint (last_look (seen)->service_rv, ==, SCARD_E_NO_SERVICE);
  stop_and_free (w, seen);
  g_ptr_array_set_size (seen->looks, 0);
  seen->stopped = FALSE;

  /* Freed (the blocking teardown) while it waits for the socket. */
  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  esimd_pcsc_watch_free (w);
  g_ptr_array_set_size (seen->looks, 0);

  w = esimd_pcsc_watch_new ("test-watch", 1, 1, seen_look, seen);
  run_until (seen, 1);
  g_mutex_lock (&fake.lock);
  fake.establishes = 0;
  g_mutex_unlock (&fake.lock);
  /* Something else created beside the socket is no reason to ask. Three retry periods: on a
   * timer it would have asked pcscd again twice by now. */
  other = g_build_filename (dir, "not-pcscd", NULL);
  g_assert_true (g_file_set_contents (other, "", 0, NULL));
  g_usleep (3 * G_USEC_PER_SEC);
  g_unlink (other);
  g_mutex_lock (&fake.lock);
  g_assert_cmpuint (fake.establishes, ==, 0);
  fake.up = TRUE;
  g_mutex_unlock (&fake.lock);
  socket_file (TRUE);
  while (last_look (seen)->service_rv != SCARD_S_SUCCESS)
    run_until (seen, seen->looks->len + 1);
  assert_card (last_look (seen), "Reader A 00 00", TRUE, 1);

  stop_and_free (w, seen);
  seen_free (seen);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-pcsc-watch-XXXXXX", &error);
  int status;

  g_assert_no_error (error);
  socket_path = g_build_filename (dir, "pcscd.comm", NULL);
  g_setenv ("PCSCLITE_CSOCK_NAME", socket_path, TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pcsc-watch/stop-right-after-an-event", test_stop_right_after_an_event);
  g_test_add_func ("/pcsc-watch/free-right-after-an-event", test_free_right_after_an_event);
  g_test_add_func ("/pcsc-watch/card-swapped-between-two-waits",
                   test_card_swapped_between_two_waits);
  g_test_add_func ("/pcsc-watch/no-reader-then-one", test_no_reader_then_one);
  g_test_add_func ("/pcsc-watch/reader-plugged-before-the-wait-counts",
                   test_reader_plugged_before_the_wait_counts);
  g_test_add_func ("/pcsc-watch/pnp-event-count-carried", test_pnp_event_count_carried);
  g_test_add_func ("/pcsc-watch/pcscd-comes-later", test_pcscd_comes_later);
  g_test_add_func ("/pcsc-watch/pcscd-socket-awaited", test_pcscd_socket_awaited);
  status = g_test_run ();
  socket_file (FALSE);
  g_rmdir (dir);
  g_free (socket_path);
  return status;
}
