/* bus-name.c — owning org.esim. "Permission denied" alone sends people the wrong way (it is not
 * another esimd, and running as root does not help): the bus refuses because no policy it has
 * read lets root own the name. */
#include "bus-name.h"

#include "build-config.h"
#include "bus-source.h" /* the sd-bus autoptr cleanups */

#include <errno.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <unistd.h>

#define BUS_NAME    "org.esim"
#define POLICY_FILE DBUS_POLICY_DIR "/org.esim.conf"

static void
name_taken (sd_bus *bus, GError **error)
{
  g_autoptr (sd_bus_creds) creds = NULL;
  g_autofree char *who = NULL;
  g_autofree char *comm = NULL;
  pid_t pid = 0;

  /* The bus gives the owner's pid; its name comes from /proc, when the sandbox lets us see it. */
  if (sd_bus_get_name_creds (bus, BUS_NAME, SD_BUS_CREDS_PID, &creds) >= 0 &&
      sd_bus_creds_get_pid (creds, &pid) >= 0 && pid > 0)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/comm", (int) pid);

      if (g_file_get_contents (path, &comm, NULL, NULL))
        g_strchomp (comm);
      who = g_strdup_printf (" (pid %d%s%s)", (int) pid, comm ? ", " : "", comm ? comm : "");
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "cannot own the name " BUS_NAME ": another process owns it%s; is esimd already "
               "running (systemctl status esimd)?",
               who ? who : "");
}

static void
access_denied (GError **error)
{
  const char *address = g_getenv ("DBUS_SYSTEM_BUS_ADDRESS");

  if (geteuid () != 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "cannot own the name " BUS_NAME ": the bus lets only root own it, and esimd runs "
                 "as uid %u",
                 (unsigned) geteuid ());
  else if (address && *address)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "cannot own the name " BUS_NAME ": the bus at %s (DBUS_SYSTEM_BUS_ADDRESS) has no "
                 "policy letting root own it; give that bus esimd's policy (org.esim.conf)",
                 address);
  else if (!g_file_test (POLICY_FILE, G_FILE_TEST_EXISTS))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "cannot own the name " BUS_NAME ": the system bus has no policy letting root own "
                 "it, because esimd's bus policy is not installed: %s is missing (install esimd "
                 "again, or copy dbus/org.esim.conf there)",
                 POLICY_FILE);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "cannot own the name " BUS_NAME ": the system bus has no policy letting root own "
                 "it, although %s is installed: the bus has not read it yet (systemctl reload "
                 "dbus), or it does not read that directory (see the <includedir> elements of its "
                 "configuration)",
                 POLICY_FILE);
}

int
esimd_bus_request_name (sd_bus *bus, gboolean on_demand, GError **error)
{
  /* An esimd started on demand lets a resident one (esimd.service) take the name over, and one
   * that is resident takes it from an esimd started on demand; never from a resident one. */
  int r = sd_bus_request_name (
      bus, BUS_NAME, on_demand ? SD_BUS_NAME_ALLOW_REPLACEMENT : SD_BUS_NAME_REPLACE_EXISTING);

  if (r >= 0)
    return r;
  if (r == -EEXIST || r == -EALREADY)
    name_taken (bus, error);
  else if (r == -EACCES || r == -EPERM)
    access_denied (error);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                 "cannot own the name " BUS_NAME ": %s", g_strerror (-r));
  return r;
}

pid_t
esimd_bus_name_owner_pid (sd_bus *bus)
{
  g_autoptr (sd_bus_creds) creds = NULL;
  pid_t pid = 0;

  if (sd_bus_get_name_creds (bus, BUS_NAME, SD_BUS_CREDS_PID, &creds) < 0 ||
      sd_bus_creds_get_pid (creds, &pid) < 0)
    return 0;
  return pid;
}

static int
on_name_lost (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  void (*lost) (void) = userdata;
  const char *name = NULL;

  if (sd_bus_message_read (m, "s", &name) >= 0 && g_strcmp0 (name, BUS_NAME) == 0)
    lost ();
  return 0;
}

int
esimd_bus_watch_name_lost (sd_bus *bus, void (*lost) (void))
{
  /* The bus sends NameLost to the owner alone: no sender check beyond the bus's own. */
  return sd_bus_match_signal_async (bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "NameLost", on_name_lost, NULL,
                                    (void *) lost);
}
