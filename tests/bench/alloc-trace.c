/* alloc-trace.c — LD_PRELOAD heap tracer: live/peak heap per phase, where big blocks come from. */
/*
 * Every malloc-family call of the traced process comes through here (glibc supports replacing
 * malloc by interposition; we forward to the __libc_* entry points, so there is no dlsym
 * bootstrap). Accounting uses malloc_usable_size() on both sides, so frees balance allocations
 * exactly. Blocks of at least BENCH_ALLOC_MIN bytes (default 8192) are recorded with their call
 * stack; when such a block is freed (or reported while still live) its first bytes say what it
 * held: a DER Bound Profile Package (BF36), its base64 text, or the JSON response carrying it.
 *
 * Control: with BENCH_ALLOC_SOCKET=PATH a thread serves a unix socket, one command per line:
 *   mark    start a new phase (peak := live, big-block list := still-live blocks)
 *   report  one JSON object describing the phase, then the connection stays open
 * The thread's own allocations are not counted.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *ptr, size_t size);
extern void __libc_free (void *ptr);
extern void *__libc_memalign (size_t alignment, size_t size);

#define MAX_BIG    8192
#define MAX_FRAMES 14
#define HEAD_LEN   8

typedef struct
{
  void *ptr;
  size_t size;     /* usable size now (or when freed) */
  size_t max_size; /* largest usable size it had */
  unsigned moves;  /* reallocs that moved it: each copied its contents */
  unsigned phase;
  int live;
  const char *kind;
  unsigned char head[HEAD_LEN];
  int n_frames;
  void *frames[MAX_FRAMES];
} Big;

static Big bigs[MAX_BIG];
static int n_bigs;
static unsigned long dropped_bigs;
static unsigned phase;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic long long live_bytes;
static _Atomic long long peak_bytes;
static _Atomic long long big_live_bytes;
static _Atomic long long big_live_at_peak;
static _Atomic unsigned long long phase_allocs;
static _Atomic unsigned long long phase_alloc_bytes;
static size_t big_min = 8192;
static __thread int busy; /* set while the tracer itself runs: its allocations are not counted */

/* What a block held, from its first bytes: the BPP and its encodings are what we look for. */
static const char *
classify (const unsigned char *p, size_t size)
{
  static const char key[] = "\"boundProfilePackage\"";
  size_t scan = size < 2048 ? size : 2048;

  if (size >= 2 && p[0] == 0xBF && p[1] == 0x36)
    return "bpp-der";
  if (size >= 3 && memcmp (p, "vza", 3) == 0) /* base64 of BF 36 … */
    return "bpp-base64";
  if (memmem (p, scan, key, sizeof key - 1))
    return "bpp-json";
  return "other";
}

static void
raise_peak (long long now)
{
  long long p = atomic_load (&peak_bytes);

  while (now > p)
    if (atomic_compare_exchange_weak (&peak_bytes, &p, now))
      {
        atomic_store (&big_live_at_peak, atomic_load (&big_live_bytes));
        break;
      }
}

static Big *
find_big (void *ptr)
{
  for (int i = n_bigs - 1; i >= 0; i--)
    if (bigs[i].live && bigs[i].ptr == ptr)
      return &bigs[i];
  return NULL;
}

/* Called with the lock held. */
static void
new_big (void *ptr, size_t size)
{
  Big *b;

  if (n_bigs == MAX_BIG)
    {
      dropped_bigs++;
      return;
    }
  b = &bigs[n_bigs++];
  memset (b, 0, sizeof *b);
  b->ptr = ptr;
  b->size = b->max_size = size;
  b->phase = phase;
  b->live = 1;
  b->kind = "other";
  busy = 1;
  b->n_frames = backtrace (b->frames, MAX_FRAMES);
  busy = 0;
  atomic_fetch_add (&big_live_bytes, (long long) size);
}

/* Called with the lock held, before the block goes back to the allocator. */
static void
end_big (Big *b)
{
  memcpy (b->head, b->ptr, b->size < HEAD_LEN ? b->size : HEAD_LEN);
  b->kind = classify (b->ptr, b->size);
  b->live = 0;
  atomic_fetch_sub (&big_live_bytes, (long long) b->size);
}

static void
account_new (void *ptr)
{
  size_t size;

  if (!ptr || busy)
    return;
  size = malloc_usable_size (ptr);
  atomic_fetch_add (&phase_allocs, 1);
  atomic_fetch_add (&phase_alloc_bytes, size);
  if (size >= big_min)
    {
      pthread_mutex_lock (&lock);
      new_big (ptr, size);
      pthread_mutex_unlock (&lock);
    }
  raise_peak (atomic_fetch_add (&live_bytes, (long long) size) + (long long) size);
}

static void
account_free (void *ptr)
{
  size_t size;

  if (!ptr || busy)
    return;
  size = malloc_usable_size (ptr);
  if (size >= big_min)
    {
      Big *b;

      pthread_mutex_lock (&lock);
      if ((b = find_big (ptr)))
        end_big (b);
      pthread_mutex_unlock (&lock);
    }
  atomic_fetch_sub (&live_bytes, (long long) size);
}

void *
malloc (size_t size)
{
  void *p = __libc_malloc (size);

  account_new (p);
  return p;
}

void *
calloc (size_t n, size_t size)
{
  void *p = __libc_calloc (n, size);

  account_new (p);
  return p;
}

void
free (void *ptr)
{
  account_free (ptr);
  __libc_free (ptr);
}

void *
realloc (void *ptr, size_t size)
{
  size_t old_size;
  void *p;
  Big *b = NULL;

  if (!ptr || busy)
    {
      p = __libc_realloc (ptr, size);
      if (!ptr)
        account_new (p);
      return p;
    }
  if (size == 0)
    {
      free (ptr);
      return NULL;
    }
  old_size = malloc_usable_size (ptr);
  if (old_size >= big_min)
    {
      /* The lock is held across the realloc so the record and the block move together. */
      pthread_mutex_lock (&lock);
      b = find_big (ptr);
      p = __libc_realloc (ptr, size);
      if (p && b)
        {
          size_t new_size = malloc_usable_size (p);

          atomic_fetch_add (&big_live_bytes, (long long) new_size - (long long) b->size);
          b->moves += p != ptr;
          b->ptr = p;
          b->size = new_size;
          if (new_size > b->max_size)
            b->max_size = new_size;
        }
      pthread_mutex_unlock (&lock);
    }
  else
    p = __libc_realloc (ptr, size);
  if (!p)
    return NULL;
  size = malloc_usable_size (p);
  atomic_fetch_add (&phase_allocs, 1);
  atomic_fetch_add (&phase_alloc_bytes, size > old_size ? size - old_size : 0);
  if (!b && size >= big_min)
    {
      /* A small block grew into a big one: record it where it grew. */
      pthread_mutex_lock (&lock);
      new_big (p, size);
      pthread_mutex_unlock (&lock);
    }
  raise_peak (atomic_fetch_add (&live_bytes, (long long) size - (long long) old_size) +
              (long long) size - (long long) old_size);
  return p;
}

void *
reallocarray (void *ptr, size_t n, size_t size)
{
  size_t total;

  if (__builtin_mul_overflow (n, size, &total))
    return NULL;
  return realloc (ptr, total);
}

void *
memalign (size_t alignment, size_t size)
{
  void *p = __libc_memalign (alignment, size);

  account_new (p);
  return p;
}

void *
aligned_alloc (size_t alignment, size_t size)
{
  return memalign (alignment, size);
}

int
posix_memalign (void **out, size_t alignment, size_t size)
{
  void *p;

  if (alignment < sizeof (void *) || (alignment & (alignment - 1)))
    return 22; /* EINVAL */
  p = memalign (alignment, size);
  if (!p && size)
    return 12; /* ENOMEM */
  *out = p;
  return 0;
}

void *
valloc (size_t size)
{
  return memalign ((size_t) sysconf (_SC_PAGESIZE), size);
}

void *
pvalloc (size_t size)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);

  return memalign (page, (size + page - 1) & ~(page - 1));
}

/* ---- control thread ---------------------------------------------------------------------- */

static void
mark_phase (void)
{
  int kept = 0;

  pthread_mutex_lock (&lock);
  for (int i = 0; i < n_bigs; i++)
    if (bigs[i].live)
      bigs[kept++] = bigs[i];
  n_bigs = kept;
  phase++;
  atomic_store (&peak_bytes, atomic_load (&live_bytes));
  atomic_store (&big_live_at_peak, atomic_load (&big_live_bytes));
  atomic_store (&phase_allocs, 0);
  atomic_store (&phase_alloc_bytes, 0);
  pthread_mutex_unlock (&lock);
}

static void
write_frame (FILE *out, void *addr)
{
  Dl_info info;

  /* dli_sname is only the nearest exported symbol: its distance tells how far to trust it. */
  if (dladdr (addr, &info) && info.dli_fname)
    fprintf (out, "{\"object\":\"%s\",\"offset\":%lu,\"symbol\":\"%s\",\"symbol_offset\":%lu}",
             info.dli_fname, (unsigned long) ((char *) addr - (char *) info.dli_fbase),
             info.dli_sname ? info.dli_sname : "",
             info.dli_saddr ? (unsigned long) ((char *) addr - (char *) info.dli_saddr) : 0UL);
  else
    fprintf (out, "{\"object\":\"\",\"offset\":%lu,\"symbol\":\"\"}", (unsigned long) addr);
}

static void
write_report (FILE *out)
{
  Dl_info self;
  void *self_base = dladdr ((void *) write_report, &self) ? self.dli_fbase : NULL;

  pthread_mutex_lock (&lock);
  fprintf (out,
           "{\"phase\":%u,\"live\":%lld,\"peak\":%lld,\"big_live\":%lld,\"big_live_at_peak\":%lld,"
           "\"allocs\":%llu,\"alloc_bytes\":%llu,\"big_min\":%zu,\"dropped\":%lu,\"big\":[",
           phase, atomic_load (&live_bytes), atomic_load (&peak_bytes),
           atomic_load (&big_live_bytes), atomic_load (&big_live_at_peak),
           atomic_load (&phase_allocs), atomic_load (&phase_alloc_bytes), big_min, dropped_bigs);
  for (int i = 0; i < n_bigs; i++)
    {
      Big *b = &bigs[i];
      const char *kind = b->live ? classify (b->ptr, b->size) : b->kind;

      fprintf (out,
               "%s{\"size\":%zu,\"max_size\":%zu,\"moves\":%u,\"live\":%s,\"this_phase\":%s,"
               "\"kind\":\"%s\",\"frames\":[",
               i ? "," : "", b->size, b->max_size, b->moves, b->live ? "true" : "false",
               b->phase == phase ? "true" : "false", kind);
      for (int f = 0, first = 1; f < b->n_frames; f++)
        {
          Dl_info info;

          /* The tracer's own frames (new_big, malloc, …) say nothing about the caller. */
          if (dladdr (b->frames[f], &info) && info.dli_fbase == self_base)
            continue;
          if (!first)
            fputc (',', out);
          first = 0;
          write_frame (out, b->frames[f]);
        }
      fputs ("]}", out);
    }
  fputs ("]}\n", out);
  pthread_mutex_unlock (&lock);
}

static void
serve_client (int fd)
{
  FILE *in = fdopen (dup (fd), "r");
  FILE *out = fdopen (fd, "w");
  char line[64];

  if (!in || !out)
    return;
  while (fgets (line, sizeof line, in))
    {
      if (strncmp (line, "mark", 4) == 0)
        {
          mark_phase ();
          fputs ("ok\n", out);
        }
      else if (strncmp (line, "report", 6) == 0)
        write_report (out);
      else
        fputs ("error\n", out);
      fflush (out);
    }
  fclose (in);
  fclose (out);
}

static void *
control_thread (void *data)
{
  int listener = (int) (long) data;

  busy = 1;
  for (;;)
    {
      int fd = accept (listener, NULL, NULL);

      if (fd >= 0)
        serve_client (fd);
    }
  return NULL;
}

__attribute__ ((constructor)) static void
tracer_init (void)
{
  const char *min = getenv ("BENCH_ALLOC_MIN");
  const char *path = getenv ("BENCH_ALLOC_SOCKET");
  void *warm[2];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  pthread_t thread;
  int fd;

  if (min && atol (min) > 0)
    big_min = (size_t) atol (min);
  /* backtrace() loads the unwinder on first use, which allocates: do it now, uncounted. */
  busy = 1;
  backtrace (warm, 2);
  busy = 0;
  if (!path || strlen (path) >= sizeof addr.sun_path)
    return;
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  unlink (path);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 4) < 0)
    {
      close (fd);
      return;
    }
  busy = 1;
  pthread_create (&thread, NULL, control_thread, (void *) (long) fd);
  pthread_detach (thread);
  busy = 0;
}
