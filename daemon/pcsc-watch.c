/* pcsc-watch.c — pcscd's readers and their cards, followed from a thread (see pcsc-watch.h).
 *
 * The thread owns one SCARDCONTEXT (pcsc-lite serialises the calls made on one context, so the
 * watch never shares it) and the main context only ever sees snapshots. Stopping has to reach
 * a thread that may be anywhere in its loop: pcsc-lite's SCardCancel() only interrupts a
 * SCardGetStatusChange() that is already waiting for pcscd; sent a moment earlier (the thread
 * just woke for an event and is posting it, or listing the readers) it is dropped, and the wait
 * that follows blocks until the next event, which may never come. So the stop flag is set and
 * the cancel repeated, from the main loop, until the thread says it is out.
 *
 * pcsc-lite before 2.3 has the opposite gap: SCardGetStatusChange() counts the readers when it
 * begins and answers for the "\\?PnP?\Notification" entry only when that count changes
 * during the wait. A reader plugged between the thread's SCardListReaders() and the count is
 * in neither: it would be seen only at the next event, perhaps never. A second thread, the
 * checker, lists the readers again (on a context of its own) once the wait has had time to
 * begin (and once more a moment later: see check_after_ms), and when the list is not the one
 * the wait was given it cancels the wait, which makes the thread list again. It runs per wait,
 * that is per event: never while nothing happens. pcsc-lite 2.3 and later count reader events in
 * the PnP entry itself (the thread gives back the count it last saw), which closes the gap without
 * the checker. */
#include "pcsc-watch.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "pcsc-apdu.h"

#define PNP_READER "\\\\?PnP?\\Notification"
/* How often a stop cancels the wait again until the thread is out (see above). */
#define CANCEL_REPEAT_MS 20
/* How long after the thread goes into a wait the checker lists the readers again: the wait has
 * then counted them (see above), unless the thread was kept off the CPU between saying it waits
 * and waiting, as a loaded machine does for a moment; the second look covers that. Twice per
 * wait, that is per event, never while idle. */
static const guint check_after_ms[] = { 100, 1000 };
/* Where libpcsclite finds pcscd, unless PCSCLITE_CSOCK_NAME says otherwise (pcsc-lite's own
 * default; its headers do not export it). */
#define PCSCD_SOCKET "/run/pcscd/pcscd.comm"

/* What the thread and the main thread share; the posts hold it too. */
typedef struct
{
  GMutex lock;
  GCond wake;
  gboolean stopping;    /* under lock */
  gboolean exited;      /* under lock: the thread made its last pcsc-lite call */
  SCARDCONTEXT context; /* under lock: what SCardCancel interrupts */
  gboolean has_context; /* under lock */
  int wake_fd;          /* an eventfd, signalled once stopping: wakes a wait for pcscd's socket */

  /* The checker (pre-2.3 pcsc-lite, see above); all under lock. */
  GCond check;       /* the thread went into a wait or out of it, or stopping */
  guint wait_gen;    /* bumped each time the thread goes into a wait */
  gboolean in_wait;  /* it is in the wait wait_gen counts, given wait_names */
  gboolean checked;  /* the checker is to look at that wait (pre-2.3 only) */
  char **wait_names; /* the thread's, while in_wait */
  GThread *checker;  /* started and joined by the thread */

  /* Set before the thread starts, read-only after. */
  GMainContext *main_context;
  char *name;
  guint retry_first;
  guint retry_max;

  EsimdPcscWatch *owner; /* main thread only: NULL once the watch is freed */
} Shared;

struct _EsimdPcscWatch
{
  Shared *shared; /* a reference */
  GThread *thread;
  EsimdPcscWatchFunc func;
  gpointer user_data;
  gboolean stopping; /* stop was asked: no more snapshots for the caller */
  gboolean exited;   /* the thread's last post arrived; it is joined */
  gboolean stop_asked;
  void (*stopped) (gpointer user_data); /* called once the thread is out */
  gpointer stopped_data;
  GSource *cancel_source; /* repeats SCardCancel while stopping */
};

/* A snapshot, or the thread's end, on its way to the main context. */
typedef struct
{
  Shared *shared; /* a reference */
  EsimdPcscSnapshot *snapshot;
  gboolean exited;
} Post;

static void
shared_clear (gpointer data)
{
  Shared *s = data;

  g_mutex_clear (&s->lock);
  g_cond_clear (&s->wake);
  g_cond_clear (&s->check);
  if (s->wake_fd >= 0)
    close (s->wake_fd);
  g_main_context_unref (s->main_context);
  g_free (s->name);
}

static void
shared_unref (Shared *s)
{
  g_atomic_rc_box_release_full (s, shared_clear);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static void
reader_free (EsimdPcscReader *r)
{
  g_free (r->name);
  g_free (r);
}

static EsimdPcscSnapshot *
snapshot_new (LONG service_rv, gboolean service_lost)
{
  EsimdPcscSnapshot *s = g_new0 (EsimdPcscSnapshot, 1);

  s->service_rv = service_rv;
  s->service_lost = service_lost;
  s->readers = g_ptr_array_new_with_free_func ((GDestroyNotify) reader_free);
  return s;
}

void
esimd_pcsc_snapshot_free (EsimdPcscSnapshot *s)
{
  if (!s)
    return;
  g_ptr_array_unref (s->readers);
  g_free (s);
}

const EsimdPcscReader *
esimd_pcsc_snapshot_find (const EsimdPcscSnapshot *s, const char *name)
{
  for (guint i = 0; s && i < s->readers->len; i++)
    {
      const EsimdPcscReader *r = s->readers->pdata[i];

      if (g_str_equal (r->name, name))
        return r;
    }
  return NULL;
}

/* ---- the thread ---------------------------------------------------------------------------- */

static gboolean post_main (gpointer data);

static void
post_free (gpointer data)
{
  Post *p = data;

  esimd_pcsc_snapshot_free (p->snapshot);
  shared_unref (p->shared);
  g_free (p);
}

static void
post (Shared *sh, EsimdPcscSnapshot *snapshot, gboolean exited)
{
  Post *p = g_new0 (Post, 1);
  g_autoptr (GSource) source = g_idle_source_new ();

  p->shared = g_atomic_rc_box_acquire (sh);
  p->snapshot = snapshot;
  p->exited = exited;
  /* Always through the context, never run here: g_main_context_invoke() would call it in this
   * thread when nobody holds the context at that instant. */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, post_main, p, post_free);
  g_source_set_static_name (source, "pcsc-watch look");
  g_source_attach (source, sh->main_context);
}

static gboolean
thread_stopping (Shared *sh)
{
  gboolean s;

  g_mutex_lock (&sh->lock);
  s = sh->stopping;
  g_mutex_unlock (&sh->lock);
  return s;
}

/* Waits @seconds, or less when stopped. */
static void
nap (Shared *sh, guint seconds)
{
  gint64 until = g_get_monotonic_time () + (gint64) seconds * G_TIME_SPAN_SECOND;

  g_mutex_lock (&sh->lock);
  while (!sh->stopping && g_cond_wait_until (&sh->wake, &sh->lock, until))
    ;
  g_mutex_unlock (&sh->lock);
}

/* Adds an inotify watch on @dir for names appearing in it; FALSE if @dir cannot be watched. */
static gboolean
watch_for (int ifd, const char *dir)
{
  return inotify_add_watch (ifd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) >= 0;
}

/* Reads the pending events: TRUE if one names @socket_name or @dir_name (or some were lost). */
static gboolean
named_created (int ifd, const char *socket_name, const char *dir_name)
{
  union
  {
    struct inotify_event event;
    char bytes[4096];
  } buf;
  gboolean hit = FALSE;
  ssize_t len;

  while ((len = read (ifd, buf.bytes, sizeof buf.bytes)) > 0)
    for (ssize_t at = 0; at + (ssize_t) sizeof (struct inotify_event) <= len;)
      {
        const struct inotify_event *e = (const struct inotify_event *) (buf.bytes + at);

        if ((e->mask & IN_Q_OVERFLOW) ||
            (e->len && (g_str_equal (e->name, socket_name) || g_str_equal (e->name, dir_name))))
          hit = TRUE;
        at += sizeof (struct inotify_event) + e->len;
      }
  return hit;
}

/* pcscd could not be reached. Where its socket does not exist (pcscd not installed, or stopped
 * cleanly and not socket-activated: the common case on a machine without a reader), trying again
 * on a timer would wake an idle esimd for ever: it waits instead for the socket, or its directory,
 * to be created (pcscd's start, or systemd's socket unit, creates it). Where the socket exists and
 * still refused (pcscd killed, leaving it behind), nothing announces its return but a new socket
 * or a try: then it tries again after @seconds as well. Without inotify, only the timer. TRUE
 * when the socket or its directory was created (try again at once, and soon after if it was only
 * the directory). */
static gboolean
wait_for_service (Shared *sh, guint seconds)
{
  const char *socket_path = g_getenv ("PCSCLITE_CSOCK_NAME");
  g_autofree char *dir = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *socket_name = NULL;
  g_autofree char *dir_name = NULL;
  struct pollfd fds[2];
  gint64 deadline = -1;
  gboolean created = FALSE;
  int ifd;

  if (!socket_path || !*socket_path)
    socket_path = PCSCD_SOCKET;
  dir = g_path_get_dirname (socket_path);
  parent = g_path_get_dirname (dir);
  socket_name = g_path_get_basename (socket_path);
  dir_name = g_path_get_basename (dir);
  ifd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  /* The watch first, then the look: a socket created in between is seen either way. */
  if (ifd < 0 || sh->wake_fd < 0 || !(watch_for (ifd, dir) || watch_for (ifd, parent)))
    {
      if (ifd >= 0)
        close (ifd);
      nap (sh, seconds);
      return FALSE;
    }
  if (g_file_test (socket_path, G_FILE_TEST_EXISTS))
    deadline = g_get_monotonic_time () + (gint64) seconds * G_TIME_SPAN_SECOND;
  fds[0] = (struct pollfd){ .fd = ifd, .events = POLLIN };
  fds[1] = (struct pollfd){ .fd = sh->wake_fd, .events = POLLIN };
  /* Other names created beside it are read and let go; the stop signals wake_fd (kick_locked). */
  while (!created && !thread_stopping (sh))
    {
      int timeout_ms = -1;
      int n;

      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();

          if (left <= 0)
            break;
          timeout_ms = (int) MIN ((left + 999) / 1000, G_MAXINT);
        }
      n = poll (fds, 2, timeout_ms);
      if (n < 0 && errno != EINTR)
        {
          nap (sh, seconds); /* never a busy loop */
          break;
        }
      if (n > 0 && (fds[1].revents & POLLIN))
        break;
      if (n > 0 && (fds[0].revents & POLLIN))
        created = named_created (ifd, socket_name, dir_name);
    }
  close (ifd);
  return created;
}

static void
set_context (Shared *sh, SCARDCONTEXT ctx, gboolean has)
{
  g_mutex_lock (&sh->lock);
  sh->context = ctx;
  sh->has_context = has;
  g_mutex_unlock (&sh->lock);
}

/* The reader names pcscd knows now; NULL with *rv set when it cannot say. */
static GStrv
list_readers (SCARDCONTEXT ctx, LONG *rv)
{
  DWORD len = 0;
  g_autofree char *buf = NULL;

  /* A reader plugged between asking the size and reading the names makes the second call find
   * the buffer short: that is a change, not pcscd gone; ask again. */
  for (guint tries = 0; tries < 4; tries++)
    {
      len = 0;
      *rv = SCardListReaders (ctx, NULL, NULL, &len);
      if (*rv == SCARD_S_SUCCESS)
        {
          g_free (buf);
          buf = g_malloc0 (len + 1);
          *rv = SCardListReaders (ctx, NULL, buf, &len);
        }
      if (*rv != SCARD_E_INSUFFICIENT_BUFFER)
        break;
    }
  if (*rv == SCARD_E_NO_READERS_AVAILABLE)
    {
      *rv = SCARD_S_SUCCESS;
      return g_new0 (char *, 1);
    }
  return *rv == SCARD_S_SUCCESS ? esimd_pcsc_split_readers (buf, len) : NULL;
}

/* ---- the checker --------------------------------------------------------------------------- */

static gboolean
same_names (char *const *a, char *const *b)
{
  return a && b && g_strv_equal ((const char *const *) a, (const char *const *) b);
}

/* Under sh->lock: waits until @until (monotonic) or until the thread leaves wait @gen; FALSE when
 * it left it or the watch stops. */
static gboolean
still_in_wait_until (Shared *sh, guint gen, gint64 until)
{
  while (!sh->stopping && sh->in_wait && sh->wait_gen == gen)
    if (!g_cond_wait_until (&sh->check, &sh->lock, until))
      return !sh->stopping && sh->in_wait && sh->wait_gen == gen;
  return FALSE;
}

static gpointer
checker_main (gpointer data)
{
  Shared *sh = data;
  SCARDCONTEXT ctx = 0;
  gboolean has_ctx = FALSE;
  guint seen_gen = 0;

  g_mutex_lock (&sh->lock);
  for (;;)
    {
      guint gen;
      gint64 entered;

      while (!sh->stopping && (!sh->in_wait || !sh->checked || sh->wait_gen == seen_gen))
        g_cond_wait (&sh->check, &sh->lock);
      if (sh->stopping)
        break;
      gen = seen_gen = sh->wait_gen;
      entered = g_get_monotonic_time ();
      for (guint k = 0; k < G_N_ELEMENTS (check_after_ms); k++)
        {
          g_auto (GStrv) names = NULL;
          LONG rv;

          /* Let the wait begin (and count the readers) first. */
          if (!still_in_wait_until (sh, gen, entered + check_after_ms[k] * G_TIME_SPAN_MILLISECOND))
            break;
          g_mutex_unlock (&sh->lock);
          if (!has_ctx)
            has_ctx =
                SCardEstablishContext (SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS;
          names = has_ctx ? list_readers (ctx, &rv) : NULL;
          if (has_ctx && !names)
            {
              /* pcscd went away: the thread hears it in its wait. */
              SCardReleaseContext (ctx);
              has_ctx = FALSE;
            }
          g_mutex_lock (&sh->lock);
          if (!names || !sh->in_wait || sh->wait_gen != gen)
            break;
          if (same_names (names, sh->wait_names))
            continue;
          /* A reader came or went before the wait counted them: the wait would not answer for
           * it. Cancel it (again, until it is out: a cancel before it blocks is lost) to list
           * again. */
          while (!sh->stopping && sh->in_wait && sh->wait_gen == gen)
            {
              if (sh->has_context)
                SCardCancel (sh->context);
              still_in_wait_until (
                  sh, gen, g_get_monotonic_time () + CANCEL_REPEAT_MS * G_TIME_SPAN_MILLISECOND);
            }
          break;
        }
    }
  g_mutex_unlock (&sh->lock);
  if (has_ctx)
    SCardReleaseContext (ctx);
  return NULL;
}

/* The thread goes into a wait for @names (@check: with pre-2.3 pcsc-lite, the checker looks). */
static void
enter_wait (Shared *sh, char **names, gboolean check)
{
  g_mutex_lock (&sh->lock);
  sh->wait_gen++;
  sh->in_wait = TRUE;
  sh->checked = check;
  sh->wait_names = names;
  if (check && !sh->checker && !sh->stopping)
    sh->checker = g_thread_new ("pcsc-check", checker_main, sh);
  g_cond_broadcast (&sh->check);
  g_mutex_unlock (&sh->lock);
}

static void
leave_wait (Shared *sh)
{
  g_mutex_lock (&sh->lock);
  sh->in_wait = FALSE;
  sh->wait_names = NULL;
  g_cond_broadcast (&sh->check);
  g_mutex_unlock (&sh->lock);
}

/* ---- the thread, again ---------------------------------------------------------------------- */

static gpointer
thread_main (gpointer data)
{
  Shared *sh = data;
  SCARDCONTEXT ctx = 0;
  gboolean has_ctx = FALSE;
  guint backoff = 0;
  /* The PnP entry's state is carried from one wait to the next, across new lists of readers:
   * pcsc-lite 2.3 and later count reader events in its high 16 bits and answer at once when the
   * count given differs (one that is not the last one answered would make every wait return at
   * once); older ones ignore it and only see readers come or go during a wait. */
  DWORD pnp_state = SCARD_STATE_UNAWARE;
  /* pcscd unreachable, as last posted: the same again is not posted (it would wake the main
   * loop at every try for nothing). */
  gboolean said_unreachable = FALSE;
  LONG said_rv = SCARD_S_SUCCESS;

  while (!thread_stopping (sh))
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
              if (!said_unreachable || said_rv != rv)
                post (sh, snapshot_new (rv, FALSE), FALSE);
              said_unreachable = TRUE;
              said_rv = rv;
              backoff = backoff ? MIN (backoff * 2, sh->retry_max) : sh->retry_first;
              if (wait_for_service (sh, backoff))
                backoff = 0;
              continue;
            }
          has_ctx = TRUE;
          backoff = 0;
          said_unreachable = FALSE;
          set_context (sh, ctx, TRUE);
          continue; /* stopped meanwhile? */
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
      states[n].dwCurrentState = pnp_state;
      if (n == 0)
        /* Nothing makes the wait answer at once: say now that there is no reader (the first
         * look, or pcscd back without the reader that was there). */
        post (sh, snapshot_new (SCARD_S_SUCCESS, FALSE), FALSE);

      /* Until the set of readers changes: each wake is one look posted. */
      for (;;)
        {
          EsimdPcscSnapshot *s;
          gboolean pnp_changed;

          if (thread_stopping (sh))
            break;
          /* Entries still SCARD_STATE_UNAWARE make it answer at once with the current state;
           * the others' state, event count included, is what it compares with. A PnP entry
           * without a count is pre-2.3 pcsc-lite: the checker looks at the wait. */
          enter_wait (sh, names, (pnp_state >> 16) == 0);
          rv = SCardGetStatusChange (ctx, INFINITE, states, n + 1);
          leave_wait (sh);
          if (rv == SCARD_E_TIMEOUT)
            continue;
          if (rv == SCARD_E_CANCELLED || rv == SCARD_E_UNKNOWN_READER)
            break; /* stopping, or a reader went between the list and the wait: list again */
          if (rv != SCARD_S_SUCCESS)
            goto lost;
          pnp_changed = (states[n].dwEventState & SCARD_STATE_CHANGED) != 0;
          pnp_state = states[n].dwEventState & ~SCARD_STATE_CHANGED;
          states[n].dwCurrentState = pnp_state;
          if (pnp_changed)
            /* Readers came or went: the new list's first wait answers at once with them all. */
            break;
          s = snapshot_new (SCARD_S_SUCCESS, FALSE);
          for (guint i = 0; i < n; i++)
            {
              EsimdPcscReader *r = g_new0 (EsimdPcscReader, 1);
              DWORD st = states[i].dwEventState & ~SCARD_STATE_CHANGED;

              r->name = g_strdup (names[i]);
              r->state = st;
              r->card = (st & SCARD_STATE_PRESENT) &&
                        !(st & (SCARD_STATE_MUTE | SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE));
              g_ptr_array_add (s->readers, r);
              states[i].dwCurrentState = st;
            }
          post (sh, s, FALSE);
        }
      continue;

    lost:
      post (sh, snapshot_new (rv, TRUE), FALSE);
      said_unreachable = TRUE;
      said_rv = rv;
      set_context (sh, 0, FALSE);
      SCardReleaseContext (ctx);
      has_ctx = FALSE;
      pnp_state = SCARD_STATE_UNAWARE; /* a new pcscd counts anew */
      backoff = sh->retry_first;
      wait_for_service (sh, backoff);
    }
  set_context (sh, 0, FALSE);
  if (has_ctx)
    SCardReleaseContext (ctx);
  /* stopping is set: the checker is on its way out. */
  if (sh->checker)
    g_thread_join (g_steal_pointer (&sh->checker));
  g_mutex_lock (&sh->lock);
  sh->exited = TRUE;
  g_cond_broadcast (&sh->wake);
  g_mutex_unlock (&sh->lock);
  post (sh, NULL, TRUE);
  shared_unref (sh);
  return NULL;
}

/* ---- the main thread ----------------------------------------------------------------------- */

/* Under sh->lock: wakes the thread wherever it is. */
static void
kick_locked (Shared *sh)
{
  sh->stopping = TRUE;
  g_cond_broadcast (&sh->wake);
  g_cond_broadcast (&sh->check);
  if (sh->wake_fd >= 0)
    {
      guint64 one = 1;

      /* Level-triggered and never read: every later wait for the socket ends at once too. */
      if (write (sh->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        g_warning ("%s: cannot wake the watch thread: %s", sh->name, g_strerror (errno));
    }
  if (sh->has_context && !sh->exited)
    SCardCancel (sh->context); /* a local message to pcscd: it answers at once */
}

static gboolean
cancel_again (gpointer data)
{
  Shared *sh = data;

  g_mutex_lock (&sh->lock);
  kick_locked (sh);
  g_mutex_unlock (&sh->lock);
  return G_SOURCE_CONTINUE;
}

static void
thread_ended (EsimdPcscWatch *w)
{
  w->exited = TRUE;
  if (w->cancel_source)
    {
      g_source_destroy (w->cancel_source);
      g_clear_pointer (&w->cancel_source, g_source_unref);
    }
  g_thread_join (g_steal_pointer (&w->thread));
}

static gboolean
post_main (gpointer data)
{
  Post *p = data;
  EsimdPcscWatch *w = p->shared->owner;

  if (!w)
    return G_SOURCE_REMOVE;
  if (p->exited)
    {
      void (*stopped) (gpointer) = w->stopped;

      thread_ended (w);
      /* It may free the watch: nothing of it is touched after. */
      if (stopped)
        stopped (w->stopped_data);
      return G_SOURCE_REMOVE;
    }
  if (!w->stopping)
    w->func (g_steal_pointer (&p->snapshot), w->user_data);
  return G_SOURCE_REMOVE;
}

EsimdPcscWatch *
esimd_pcsc_watch_new (const char *name, guint retry_first, guint retry_max, EsimdPcscWatchFunc func,
                      gpointer user_data)
{
  EsimdPcscWatch *w = g_new0 (EsimdPcscWatch, 1);
  Shared *sh = g_atomic_rc_box_new0 (Shared);

  g_mutex_init (&sh->lock);
  g_cond_init (&sh->wake);
  g_cond_init (&sh->check);
  sh->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  sh->main_context = g_main_context_ref_thread_default ();
  sh->name = g_strdup (name);
  sh->retry_first = MAX (retry_first, 1);
  sh->retry_max = MAX (retry_max, sh->retry_first);
  sh->owner = w;
  w->shared = sh;
  w->func = func;
  w->user_data = user_data;
  w->thread = g_thread_new (name, thread_main, g_atomic_rc_box_acquire (sh));
  return w;
}

void
esimd_pcsc_watch_stop (EsimdPcscWatch *w, void (*stopped) (gpointer user_data), gpointer user_data)
{
  g_return_if_fail (!w->stop_asked);
  w->stop_asked = TRUE;
  w->stopping = TRUE;
  if (w->exited)
    {
      stopped (user_data);
      return;
    }
  w->stopped = stopped;
  w->stopped_data = user_data;
  g_mutex_lock (&w->shared->lock);
  kick_locked (w->shared);
  g_mutex_unlock (&w->shared->lock);
  /* The one above may have come while the thread was not waiting: again until it is out. */
  w->cancel_source = g_timeout_source_new (CANCEL_REPEAT_MS);
  g_source_set_callback (w->cancel_source, cancel_again, w->shared, NULL);
  g_source_set_static_name (w->cancel_source, "pcsc-watch cancel");
  g_source_attach (w->cancel_source, w->shared->main_context);
}

void
esimd_pcsc_watch_free (EsimdPcscWatch *w)
{
  Shared *sh;

  if (!w)
    return;
  sh = w->shared;
  if (w->thread)
    {
      /* Not stopped (teardown): end it here, cancelling until it is out. */
      g_mutex_lock (&sh->lock);
      while (!sh->exited)
        {
          kick_locked (sh);
          g_cond_wait_until (&sh->wake, &sh->lock,
                             g_get_monotonic_time () + CANCEL_REPEAT_MS * G_TIME_SPAN_MILLISECOND);
        }
      g_mutex_unlock (&sh->lock);
      thread_ended (w);
    }
  /* Posts still queued find no owner and only free themselves. */
  sh->owner = NULL;
  shared_unref (sh);
  g_free (w);
}
