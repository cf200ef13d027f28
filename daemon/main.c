/* main.c — esimd's entry: options, configuration, the system bus, the eUICCs, shutdown. */
#include "bus.h"
#include "bus-manager.h"
#include "bus-name.h"
#include "bus-source.h"
#include "config-check.h"
#include "daemon.h"
#include "discovery.h"
#include "euicc.h"
#include "log.h"
#include "polkit.h"
#include "service.h"
#include "state-lock.h"

#include <curl/curl.h>
#include <glib-unix.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sysexits.h>
#include <unistd.h>

#define SHUTDOWN_GRACE 30 /* seconds a running job gets to end cleanly on SIGTERM */
/* Seconds after the grace for releasing the modem (each QMI request has a 5 s timeout): a
 * daemon asked to stop must stop, whatever the modem does. */
#define SHUTDOWN_RELEASE 15
/* Seconds a resident esimd waits for the esimd started on demand it took org.esim from to leave
 * the state directory: that one's whole shutdown, and some. */
#define HANDOVER_WAIT (SHUTDOWN_GRACE + SHUTDOWN_RELEASE + 15)

EsimdDaemon *esimd;

static GMainLoop *loop;
static GSource *bus_source;
static guint stopping_left;
static int exit_status = EXIT_SUCCESS;
static guint idle_timeout; /* --idle-timeout: seconds without an eUICC before exiting; 0: never */
static guint idle_id;
static gboolean stopping;
static EsimdStateLock *state_lock;
static pid_t lock_holder; /* the esimd this one waits for, while it leaves the state directory */
static guint holder_watch, holder_timeout;

static void
on_bus_lost (int error, gpointer user_data)
{
  exit_status = EXIT_FAILURE;
  g_main_loop_quit (loop);
}

static void
euicc_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  if (--stopping_left == 0)
    g_main_loop_quit (loop);
}

static gboolean
shutdown_overdue (gpointer data)
{
  g_warning ("the modem did not release esimd's client in time; exiting anyway");
  exit_status = EXIT_FAILURE;
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
discovery_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GPtrArray) euiccs = g_ptr_array_copy (esimd->euiccs, NULL, NULL);

  /* No probe runs any more: the ports are free, and no eUICC can be added now. */
  stopping_left = euiccs->len;
  if (stopping_left == 0)
    {
      g_main_loop_quit (loop);
      return;
    }
  for (guint i = 0; i < euiccs->len; i++)
    esimd_euicc_stop (euiccs->pdata[i], SHUTDOWN_GRACE, euicc_stopped, NULL);
}

static gboolean
shutdown_now (gpointer data)
{
  if (stopping)
    return G_SOURCE_REMOVE;
  stopping = TRUE;
  g_clear_handle_id (&idle_id, g_source_remove);
  g_clear_handle_id (&holder_watch, g_source_remove);
  g_clear_handle_id (&holder_timeout, g_source_remove);
  esimd_service_stopping ();
  esimd_discovery_stop (discovery_stopped, NULL);
  g_timeout_add_seconds (SHUTDOWN_GRACE + SHUTDOWN_RELEASE, shutdown_overdue, NULL);
  return G_SOURCE_REMOVE;
}

/* D-Bus activation on a machine without an eUICC: nothing to serve, so esimd does not stay
 * resident as root. The name goes first, so that a client calling from now on starts a new
 * esimd rather than talking to one that is leaving. */
static gboolean
idle_expired (gpointer data)
{
  idle_id = 0;
  g_info ("no eUICC for %u s: exiting (a client's call starts esimd again)", idle_timeout);
  sd_bus_release_name (esimd_bus, "org.esim");
  shutdown_now (NULL);
  return G_SOURCE_REMOVE;
}

/* Discovery found or lost something, or settled: the status line, and the idle exit. */
static void
idle_check (void)
{
  static guint shown = G_MAXUINT;
  guint present = esimd_discovery_euiccs_present ();
  gboolean idle = esimd_discovery_settled () && present == 0;

  if (present != shown)
    {
      shown = present;
      esimd_service_status (
          "serving org.esim: %u eUICC(s)%s", present,
          esimd->config->discover_mm || esimd->config->discover_udev ? ", looking for others" : "");
    }

  if (!idle_timeout || !idle)
    {
      g_clear_handle_id (&idle_id, g_source_remove);
      return;
    }
  if (!idle_id)
    idle_id = g_timeout_add_seconds (idle_timeout, idle_expired, NULL);
}

static gboolean
on_signal (gpointer data)
{
  g_info ("stopping (signal %d)", GPOINTER_TO_INT (data));
  shutdown_now (NULL);
  /* Keep the handler: once removed, GLib restores the default action and a second SIGTERM
   * would kill esimd in the middle of releasing the modem. */
  return G_SOURCE_CONTINUE;
}

/* An esimd started on demand gives way to a resident one (esimd.service started). */
static void
name_lost (void)
{
  g_info ("another esimd took over org.esim: leaving it the modems");
  shutdown_now (NULL);
}

/* The system bus as sd_bus_open_system() connects to it (the address from
 * DBUS_SYSTEM_BUS_ADDRESS, else the standard socket; per-method access checks; the callers'
 * credentials), except that esimd takes no file descriptors: no method of it has one, yet the
 * bus delivered those a caller attached to any call, and esimd held them as long as the call
 * (while polkit is asked, up to 300 s): a user's few calls took hundreds of esimd's
 * descriptors. Without fd passing negotiated, dbus-daemon refuses such a call to its sender
 * (org.freedesktop.DBus.Error.NotSupported). */
static int
open_system_bus (sd_bus **ret)
{
  g_autoptr (sd_bus) bus = NULL;
  const char *address = g_getenv ("DBUS_SYSTEM_BUS_ADDRESS");
  int r;

  if ((r = sd_bus_new (&bus)) < 0 || (r = sd_bus_set_description (bus, "esimd")) < 0 ||
      (r = sd_bus_set_address (
           bus, address && *address ? address : "unix:path=/run/dbus/system_bus_socket")) < 0 ||
      (r = sd_bus_set_bus_client (bus, 1)) < 0 || (r = sd_bus_set_trusted (bus, 0)) < 0 ||
      (r = sd_bus_negotiate_creds (
           bus, 1, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_EFFECTIVE_CAPS)) < 0 ||
      (r = sd_bus_negotiate_fds (bus, 0)) < 0 || (r = sd_bus_start (bus)) < 0)
    return r;
  *ret = g_steal_pointer (&bus);
  return 0;
}

/* @locked: FALSE when the state directory is lock_holder's. */
static int
setup_bus (gboolean locked, GError **error)
{
  g_autoptr (sd_bus) bus = NULL;
  GSource *source;
  int r;

  r = open_system_bus (&bus);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                   "cannot connect to the system bus: %s", g_strerror (-r));
      return r;
    }
  if ((r = esimd_bus_init (bus)) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot register D-Bus objects: %s",
                   g_strerror (-r));
      return r;
    }
  /* Another esimd has the state directory. When it is the one owning org.esim on this bus, the
   * name decides: a resident esimd takes it from one started on demand, which then leaves (and
   * this one waits for it), and is refused it by another resident one. Any other esimd is not
   * this one's to displace. */
  if (!locked && (lock_holder == 0 || esimd_bus_name_owner_pid (bus) != lock_holder))
    {
      esimd_state_lock_set_held_error (state_lock, lock_holder, error);
      return -EBUSY;
    }
  r = esimd_bus_request_name (bus, idle_timeout > 0, error);
  if (r < 0)
    return r;
  if (idle_timeout > 0 && (r = esimd_bus_watch_name_lost (bus, name_lost)) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r), "cannot watch org.esim: %s",
                   g_strerror (-r));
      return r;
    }
  source = esimd_bus_source_new (bus, on_bus_lost, NULL);
  g_source_attach (source, NULL);
  bus_source = source;
  esimd_bus = g_steal_pointer (&bus);
  return 0;
}

static void
close_fd (gpointer data)
{
  close (GPOINTER_TO_INT (data));
}

/* The eUICCs configured and discovered: what esimd does once the state directory is its own. */
static gboolean
serve (GError **error)
{
  EsimdConfig *config = esimd->config;

  for (guint i = 0; i < config->modems->len; i++)
    {
      EsimdEuicc *euicc = esimd_euicc_new (i, config->modems->pdata[i], error);

      if (!euicc)
        return FALSE;
      g_ptr_array_add (esimd->euiccs, euicc);
    }
  for (guint i = 0; i < esimd->euiccs->len; i++)
    esimd_euicc_start (esimd->euiccs->pdata[i]);
  esimd_discovery_set_idle_hook (idle_check);
  esimd_discovery_start (esimd_bus);

  esimd_service_watchdog_start ();
  idle_check ();
  esimd_service_ready ();
  g_info ("esimd %s ready: %u configured eUICC(s)%s", PACKAGE_VERSION, config->modems->len,
          config->discover_mm || config->discover_udev ? "; looking for others" : "");
  return TRUE;
}

static void
serve_or_quit (void)
{
  g_autoptr (GError) error = NULL;

  if (!serve (&error))
    {
      g_printerr ("esimd: %s\n", error->message);
      exit_status = EXIT_FAILURE;
      g_main_loop_quit (loop);
    }
}

static gboolean
holder_gone (gpointer data)
{
  g_autoptr (GError) error = NULL;
  pid_t holder = 0;

  holder_watch = 0;
  g_clear_handle_id (&holder_timeout, g_source_remove);
  if (stopping)
    return G_SOURCE_REMOVE;
  if (!esimd_state_lock_try (state_lock, &holder))
    {
      esimd_state_lock_set_held_error (state_lock, holder, &error);
      g_printerr ("esimd: %s\n", error->message);
      exit_status = EXIT_FAILURE;
      g_main_loop_quit (loop);
      return G_SOURCE_REMOVE;
    }
  g_info ("the esimd that was leaving the state directory is gone");
  serve_or_quit ();
  return G_SOURCE_REMOVE;
}

static gboolean
retry_lock (gpointer data)
{
  pid_t holder = 0;

  if (!esimd_state_lock_try (state_lock, &holder))
    return G_SOURCE_CONTINUE;
  holder_watch = 0;
  g_clear_handle_id (&holder_timeout, g_source_remove);
  if (!stopping)
    serve_or_quit ();
  return G_SOURCE_REMOVE;
}

static gboolean
holder_exited (int fd, GIOCondition condition, gpointer data)
{
  return holder_gone (NULL);
}

static gboolean
holder_overdue (gpointer data)
{
  g_autoptr (GError) error = NULL;

  holder_timeout = 0;
  g_clear_handle_id (&holder_watch, g_source_remove);
  esimd_state_lock_set_held_error (state_lock, lock_holder, &error);
  g_printerr ("esimd: %s (it did not leave within %u s of giving up org.esim)\n", error->message,
              HANDOVER_WAIT);
  exit_status = EXIT_FAILURE;
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* This esimd took org.esim from the esimd started on demand that holds the state directory: it
 * is leaving (NameLost), and its lock goes when its process does. */
static void
wait_for_holder (void)
{
  int fd = pidfd_open (lock_holder, 0);

  g_info ("waiting for the esimd started on demand (pid %d) to leave the state directory",
          (int) lock_holder);
  holder_timeout = g_timeout_add_seconds (HANDOVER_WAIT, holder_overdue, NULL);
  if (fd >= 0)
    holder_watch = g_unix_fd_add_full (G_PRIORITY_DEFAULT, fd, G_IO_IN, holder_exited,
                                       GINT_TO_POINTER (fd), (GDestroyNotify) close_fd);
  else if (errno == ESRCH)
    holder_watch = g_idle_add (holder_gone, NULL);
  else /* a kernel without pidfds (before 5.3): ask again every second */
    holder_watch = g_timeout_add_seconds (1, retry_lock, NULL);
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  gboolean debug = FALSE, personal = FALSE, version = FALSE, check = FALSE;
  gint idle_seconds = 0;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read the configuration from FILE (default " ESIMD_DEFAULT_CONFIG_FILE ")", "FILE" },
    { "debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "Log debug messages", NULL },
    { "log-personal-data", 0, 0, G_OPTION_ARG_NONE, &personal,
      "Show EIDs and ICCIDs in the log (matching IDs and confirmation codes never are)", NULL },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check,
      "Check the configuration, print what it configures, and exit", NULL },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_seconds,
      "Exit after SECONDS without any eUICC to manage (for D-Bus activation; default 0: never)",
      "SECONDS" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdConfig) config = NULL;
  EsimdDaemon daemon = { 0 };
  gboolean locked;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (ctx, "The eSIM manager: an SGP.22 Local Profile Assistant that "
                                     "serves the org.esim API on the system bus.");
  g_option_context_set_description (ctx, "See esimd(8), esimd.conf(5) and esimctl(1).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("esimd: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("esimd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (idle_seconds < 0 || idle_seconds > 86400)
    {
      g_printerr ("esimd: --idle-timeout: 0 to 86400 seconds, got %d\n", idle_seconds);
      return 2;
    }
  idle_timeout = (guint) idle_seconds;
  esimd_log_init (debug);

  /* TLS trust is set through libcurl's GnuTLS backend; the build could only ask libcurl.pc. */
  {
    const char *tls = curl_version_info (CURLVERSION_NOW)->ssl_version;

    if (!tls || !g_str_has_prefix (tls, "GnuTLS"))
      {
        g_printerr ("esimd: this libcurl uses %s for TLS; esimd needs libcurl built with GnuTLS "
                    "(Debian: libcurl3-gnutls)\n",
                    tls ? tls : "no TLS library");
        return 1;
      }
  }
  if (check)
    return esimd_config_check_run (config_path);
  if (config_path)
    config = esimd_config_load (config_path, &error);
  else if (g_file_test (ESIMD_DEFAULT_CONFIG_FILE, G_FILE_TEST_EXISTS))
    config = esimd_config_load (ESIMD_DEFAULT_CONFIG_FILE, &error);
  else
    {
      g_info ("%s is not present: using the defaults", ESIMD_DEFAULT_CONFIG_FILE);
      config = esimd_config_load_data ("", &error);
    }
  if (!config)
    {
      g_auto (GStrv) lines = g_strsplit (error->message, "\n", -1);

      for (char **l = lines; *l; l++)
        g_printerr ("esimd: %s\n", *l);
      /* Not 1 (which a lost bus also gives, and a restart mends): esimd.service does not restart
       * an esimd whose configuration is refused (RestartPreventExitStatus=), as starting it again
       * every few seconds would only say the same again until someone edits the file. */
      return EX_CONFIG;
    }
  esimd_log_set_personal_data (personal || config->log_personal_data);
  if (config->modems->len == 0 && !config->discover_mm && !config->discover_udev)
    g_warning ("no modem is configured and discovery is off: add a [Modem NAME] section to %s, "
               "or turn on discovery ([Discovery] ModemManager=true or Udev=true)",
               config_path ? config_path : ESIMD_DEFAULT_CONFIG_FILE);

  curl_global_init (CURL_GLOBAL_DEFAULT);
  esimd = &daemon;
  daemon.config = config;
  daemon.euiccs = g_ptr_array_new ();
  daemon.trust = esimd_trust_load (config->ci_dirs, &error);
  {
    g_autoptr (GPtrArray) problems = esimd_config_problems_new ();

    esimd_config_check_trust (config, daemon.trust, problems);
    if (problems->len)
      {
        g_autofree char *text = esimd_config_problems_to_string (
            problems, config_path ? config_path : ESIMD_DEFAULT_CONFIG_FILE);

        g_printerr ("esimd: %s\n", text);
        exit_status = EX_CONFIG;
        goto out;
      }
  }
  daemon.http = esimd_http_new (config);
  g_info ("%u eSIM CI certificate(s) trusted for TLS%s", esimd_trust_count (daemon.trust),
          config->trust_system_cas ? ", plus the system CA store" : " (strict: CI only)");

  /* Before the bus: an esimd that would share its state directory with another one must not
   * take org.esim from anyone (setup_bus() says when it may). */
  state_lock = esimd_state_lock_open (config->state_dir);
  /* After esimd_state_lock_open() made it (or found it made, by anyone, in the meantime). */
  {
    g_autoptr (GError) unsafe = NULL;

    if (!esimd_state_dir_check (config->state_dir, &unsafe))
      {
        g_printerr ("esimd: %s\n", unsafe->message);
        exit_status = EX_CONFIG;
        goto out;
      }
  }
  locked = !state_lock || esimd_state_lock_try (state_lock, &lock_holder);

  loop = g_main_loop_new (NULL, FALSE);
  /* Before anything can announce that esimd serves, org.esim included: a stop asked right then
   * is a clean stop (it was the default action, in the moment after the name was taken). */
  g_unix_signal_add (SIGTERM, on_signal, GINT_TO_POINTER (SIGTERM));
  g_unix_signal_add (SIGINT, on_signal, GINT_TO_POINTER (SIGINT));
  if (setup_bus (locked, &error) < 0)
    {
      g_printerr ("esimd: %s\n", error->message);
      exit_status = 1;
      goto out;
    }
  if (!locked)
    wait_for_holder ();
  else if (!serve (&error))
    {
      g_printerr ("esimd: %s\n", error->message);
      exit_status = 1;
      goto out;
    }
  g_main_loop_run (loop);

out:
  /* Also the way out when the bus or a modem could not be set up: LeakSanitizer checks every
   * exit, and an early return left the HTTP client and the trust store behind. */
  esimd_polkit_stop ();
  esimd_bus_manager_stop ();
  for (guint i = 0; i < daemon.euiccs->len; i++)
    esimd_euicc_free (daemon.euiccs->pdata[i]);
  g_ptr_array_unref (daemon.euiccs);
  esimd_http_free (daemon.http);
  esimd_trust_free (daemon.trust);
  /* The source holds the bus: take it off the loop before the connection goes. */
  if (bus_source)
    {
      g_source_destroy (bus_source);
      g_source_unref (bus_source);
    }
  sd_bus_flush_close_unref (esimd_bus);
  esimd_bus = NULL;
  g_clear_handle_id (&holder_watch, g_source_remove);
  g_clear_handle_id (&holder_timeout, g_source_remove);
  g_clear_pointer (&state_lock, esimd_state_lock_free);
  g_clear_pointer (&loop, g_main_loop_unref);
  curl_global_cleanup ();
  esimd = NULL;
  return exit_status;
}
