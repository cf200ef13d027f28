/* listprofiles-load.c — ListProfiles latency percentiles from N concurrent D-Bus clients. */
/*
 * Each client is a thread with its own sd-bus connection to the system bus
 * (DBUS_SYSTEM_BUS_ADDRESS), so the daemon sees N peers. After a warm-up the clients start
 * together; each makes --calls calls, one every --interval-us (0 = back to back), at a random
 * phase so the N clients do not fire in lockstep. Latency is measured around sd_bus_call_method()
 * with CLOCK_MONOTONIC: marshalling, both bus hops, the daemon, unmarshalling.
 */
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <time.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)

typedef struct
{
  guint index;
  guint calls;
  guint64 interval_ns;
  pthread_barrier_t *ready;
  guint64 *start_ns; /* shared: set by client 0 after the barrier */
  guint64 *latency_ns;
  guint errors;
  gint profiles;
  char *failure;
} Client;

static gint opt_clients = 1;
static gint opt_calls = 200;
static gint opt_interval_us = 10000;
static gint opt_warmup = 3;
static gchar *opt_method = NULL;
static int (*call) (sd_bus *bus);

static guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static void
sleep_until (guint64 t_ns)
{
  struct timespec ts = { .tv_sec = (time_t) (t_ns / 1000000000),
                         .tv_nsec = (long) (t_ns % 1000000000) };

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

/* org.freedesktop.DBus.Peer.Ping on esimd: sd-bus answers it inside sd_bus_process(), so its
 * latency is the transport's (both bus hops, the main loop) without any esimd handler. */
static int
ping (sd_bus *bus)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r = sd_bus_call_method (bus, "org.esim", "/org/esim/euicc/0", "org.freedesktop.DBus.Peer",
                              "Ping", &error, NULL, "");

  sd_bus_error_free (&error);
  return r < 0 ? r : 0;
}

/* One ListProfiles(true) call; returns the number of profiles in the answer, or -errno. */
static int
list_profiles (sd_bus *bus)
{
  sd_bus_error error = SD_BUS_ERROR_NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  int r, n = 0;

  r = sd_bus_call_method (bus, "org.esim", "/org/esim/euicc/0", "org.esim.Manager", "ListProfiles",
                          &error, &reply, "b", 1);
  sd_bus_error_free (&error);
  if (r < 0)
    return r;
  if ((r = sd_bus_message_enter_container (reply, 'a', "a{sv}")) < 0)
    return r;
  while ((r = sd_bus_message_skip (reply, "a{sv}")) > 0)
    n++;
  return r < 0 ? r : n;
}

static gpointer
client_run (gpointer data)
{
  Client *c = data;
  g_autoptr (sd_bus) bus = NULL;
  g_autoptr (GRand) rand = g_rand_new ();
  guint64 phase;
  int r;

  r = sd_bus_open_system (&bus);
  for (gint i = 0; r >= 0 && i < opt_warmup; i++)
    r = c->profiles = call (bus);
  if (r < 0)
    c->failure = g_strdup_printf ("client %u: %s", c->index, g_strerror (-r));
  pthread_barrier_wait (c->ready);
  if (c->index == 0)
    *c->start_ns = now_ns () + 1000000; /* everyone is past the barrier by then */
  pthread_barrier_wait (c->ready);
  if (c->failure)
    return NULL;
  phase = c->interval_ns
              ? (guint64) g_rand_int_range (rand, 0, (gint32) MIN (c->interval_ns, G_MAXINT32))
              : 0;
  for (guint i = 0; i < c->calls; i++)
    {
      guint64 t0;

      if (c->interval_ns)
        sleep_until (*c->start_ns + phase + i * c->interval_ns);
      t0 = now_ns ();
      r = call (bus);
      c->latency_ns[i] = now_ns () - t0;
      if (r < 0)
        c->errors++;
    }
  return NULL;
}

static int
compare_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

static double
percentile_us (const guint64 *sorted, gsize n, double p)
{
  gsize i = (gsize) (p * (double) (n - 1) + 0.5);

  return (double) sorted[MIN (i, n - 1)] / 1000.0;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "clients", 'n', 0, G_OPTION_ARG_INT, &opt_clients, "Concurrent clients (threads)", "N" },
    { "calls", 'c', 0, G_OPTION_ARG_INT, &opt_calls, "Timed calls per client", "M" },
    { "interval-us", 'i', 0, G_OPTION_ARG_INT, &opt_interval_us,
      "Time between one client's calls (0: back to back)", "US" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Untimed calls per client first", "K" },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &opt_method,
      "list (ListProfiles, default) or ping (Peer.Ping: the transport alone)", "M" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  g_autofree Client *clients = NULL;
  g_autofree guint64 *all = NULL;
  pthread_barrier_t ready;
  guint64 start_ns = 0, t_begin, t_end, sum = 0;
  guint errors = 0;
  gsize n = 0;

  g_option_context_set_summary (ctx, "Measure ListProfiles latency with concurrent D-Bus clients.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || opt_clients < 1 || opt_calls < 1 ||
      opt_interval_us < 0 || opt_warmup < 1)
    {
      g_printerr ("bench-listprofiles: %s\n", error ? error->message : "invalid arguments");
      return 2;
    }
  if (opt_method && !g_str_equal (opt_method, "list") && !g_str_equal (opt_method, "ping"))
    {
      g_printerr ("bench-listprofiles: --method is list or ping\n");
      return 2;
    }
  call = opt_method && g_str_equal (opt_method, "ping") ? ping : list_profiles;
  clients = g_new0 (Client, opt_clients);
  all = g_new0 (guint64, (gsize) opt_clients * (gsize) opt_calls);
  pthread_barrier_init (&ready, NULL, (unsigned) opt_clients);
  for (gint i = 0; i < opt_clients; i++)
    {
      clients[i] = (Client){ .index = (guint) i,
                             .calls = (guint) opt_calls,
                             .interval_ns = (guint64) opt_interval_us * 1000,
                             .ready = &ready,
                             .start_ns = &start_ns,
                             .latency_ns = all + (gsize) i * (gsize) opt_calls };
      g_ptr_array_add (threads, g_thread_new ("client", client_run, &clients[i]));
    }
  t_begin = now_ns ();
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
  t_end = now_ns ();
  pthread_barrier_destroy (&ready);

  for (gint i = 0; i < opt_clients; i++)
    {
      if (clients[i].failure)
        {
          g_printerr ("bench-listprofiles: %s\n", clients[i].failure);
          return 1;
        }
      errors += clients[i].errors;
    }
  n = (gsize) opt_clients * (gsize) opt_calls;
  qsort (all, n, sizeof *all, compare_u64);
  for (gsize i = 0; i < n; i++)
    sum += all[i];
  printf ("{\"method\": \"%s\", \"clients\": %d, \"calls\": %zu, \"errors\": %u, \"interval_us\": "
          "%d, \"profiles\": %d, "
          "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
          "\"mean_us\": %.1f, \"calls_per_s\": %.0f}\n",
          call == ping ? "ping" : "list", opt_clients, n, errors, opt_interval_us,
          clients[0].profiles, percentile_us (all, n, 0.50), percentile_us (all, n, 0.90),
          percentile_us (all, n, 0.99), (double) all[n - 1] / 1000.0,
          (double) sum / (double) n / 1000.0,
          (double) n / ((double) (t_end - MAX (start_ns, t_begin)) / 1e9));
  return errors ? 1 : 0;
}
