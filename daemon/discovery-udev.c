/* discovery-udev.c — udev's modem ports for discovery.c (see discovery-udev.h). */
#include "discovery-udev.h"

#include "discovery.h"
#include "udev-port.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <systemd/sd-device.h>
#include <systemd/sd-event.h>
#include <unistd.h>

/* The ports of a modem appear one by one as its driver binds: announce it once they are quiet
 * for this long, rather than probe a half-known modem. */
#define SETTLE_MS 500

static const char *const subsystems[] = { "usbmisc", "wwan", "tty" };

typedef struct
{
  char *uid;
  GPtrArray *ports; /* EsimdUdevPort* */
  gboolean announced;
  guint settle_id;
} UdevModem;

static struct
{
  gboolean running;
  GHashTable *modems; /* uid -> UdevModem* */
  /* sd-device */
  sd_event *event;
  GSource *event_source;
  sd_device_monitor *monitor;
  /* the test seam */
  int replay_fd;
  guint replay_watch;
  GString *replay_buf;
  /* The devices the records say are there now (DEVNAME -> properties): what an enumeration
   * finds when the source starts again, as sd-device would find them in /sys. */
  GHashTable *replay_db;
} u = { .replay_fd = -1 };

/* ---- modems ------------------------------------------------------------------------------ */

static void
udev_modem_free (gpointer data)
{
  UdevModem *m = data;

  g_clear_handle_id (&m->settle_id, g_source_remove);
  g_ptr_array_unref (m->ports);
  g_free (m->uid);
  g_free (m);
}

static void
announce (UdevModem *m)
{
  EsimdFoundModem *found = esimd_found_modem_new (m->uid);

  for (guint i = 0; i < m->ports->len; i++)
    {
      EsimdUdevPort *p = m->ports->pdata[i];

      esimd_found_modem_add_port (found, p->name, p->transport, p->primary);
    }
  m->announced = TRUE;
  esimd_discovery_modem_found (ESIMD_SOURCE_UDEV, found);
}

static gboolean
settled_cb (gpointer data)
{
  UdevModem *m = data;

  m->settle_id = 0;
  announce (m);
  return G_SOURCE_REMOVE;
}

static guint
find_port (UdevModem *m, const char *name)
{
  for (guint i = 0; i < m->ports->len; i++)
    if (g_str_equal (((EsimdUdevPort *) m->ports->pdata[i])->name, name))
      return i;
  return G_MAXUINT;
}

/* An added or changed port (@now: during enumeration, announced at once). */
static void
port_added (EsimdUdevPort *port, gboolean now)
{
  UdevModem *m = g_hash_table_lookup (u.modems, port->uid);
  guint i;

  if (!m)
    {
      m = g_new0 (UdevModem, 1);
      m->uid = g_strdup (port->uid);
      m->ports = g_ptr_array_new_with_free_func ((GDestroyNotify) esimd_udev_port_free);
      g_hash_table_insert (u.modems, m->uid, m);
    }
  if ((i = find_port (m, port->name)) != G_MAXUINT)
    g_ptr_array_remove_index (m->ports, i);
  g_debug ("udev: %s port %s of %s", port->transport, port->name, port->uid);
  g_ptr_array_add (m->ports, port);
  if (now)
    return;
  g_clear_handle_id (&m->settle_id, g_source_remove);
  m->settle_id = g_timeout_add (SETTLE_MS, settled_cb, m);
}

/* A port that went away, or that is no port of ours any more (a change of its tags). */
static void
port_removed (const char *name)
{
  GHashTableIter it;
  UdevModem *m;

  g_hash_table_iter_init (&it, u.modems);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &m))
    {
      guint i = find_port (m, name);

      if (i == G_MAXUINT)
        continue;
      g_ptr_array_remove_index (m->ports, i);
      if (m->ports->len == 0)
        {
          g_autofree char *uid = g_strdup (m->uid);
          gboolean announced = m->announced;

          g_hash_table_iter_remove (&it);
          if (announced)
            esimd_discovery_modem_gone (ESIMD_SOURCE_UDEV, uid);
        }
      else
        {
          g_clear_handle_id (&m->settle_id, g_source_remove);
          m->settle_id = g_timeout_add (SETTLE_MS, settled_cb, m);
        }
      return;
    }
}

/* One record: an action and udev's properties of the device. */
static void
record (const char *action, GHashTable *props, gboolean enumerating)
{
  const char *devname = g_hash_table_lookup (props, "DEVNAME");
  EsimdUdevPort *port;

  if (!devname)
    return;
  if (g_strcmp0 (action, "remove") == 0)
    {
      port_removed (g_str_has_prefix (devname, "/dev/") ? devname + 5 : devname);
      return;
    }
  if (action && !g_str_equal (action, "add") && !g_str_equal (action, "change") &&
      !g_str_equal (action, "bind"))
    return;
  port = esimd_udev_port_classify (props);
  if (port)
    port_added (port, enumerating);
  else if (g_strcmp0 (action, "change") == 0)
    port_removed (g_str_has_prefix (devname, "/dev/") ? devname + 5 : devname);
}

static void
announce_all (void)
{
  GHashTableIter it;
  UdevModem *m;

  g_hash_table_iter_init (&it, u.modems);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &m))
    if (!m->announced)
      announce (m);
}

/* ---- sd-device --------------------------------------------------------------------------- */

static GHashTable *
device_props (sd_device *dev)
{
  GHashTable *props = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *key, *value;
  sd_device *iface = NULL;

  for (key = sd_device_get_property_first (dev, &value); key;
       key = sd_device_get_property_next (dev, &value))
    g_hash_table_insert (props, g_strdup (key), g_strdup (value));
  /* udev's usb_id gives ID_USB_DRIVER to some ports only: the interface's driver is the same. */
  if (!g_hash_table_contains (props, "ID_USB_DRIVER") &&
      sd_device_get_parent_with_subsystem_devtype (dev, "usb", "usb_interface", &iface) >= 0 &&
      sd_device_get_driver (iface, &value) >= 0)
    g_hash_table_insert (props, g_strdup ("ID_USB_DRIVER"), g_strdup (value));
  return props;
}

static int
on_device (sd_device_monitor *monitor, sd_device *dev, void *userdata)
{
  g_autoptr (GHashTable) props = device_props (dev);
  sd_device_action_t action;
  static const char *const names[] = {
    [SD_DEVICE_ADD] = "add",   [SD_DEVICE_REMOVE] = "remove", [SD_DEVICE_CHANGE] = "change",
    [SD_DEVICE_MOVE] = "move", [SD_DEVICE_ONLINE] = "online", [SD_DEVICE_OFFLINE] = "offline",
    [SD_DEVICE_BIND] = "bind", [SD_DEVICE_UNBIND] = "unbind"
  };

  if (sd_device_get_action (dev, &action) < 0 || action < 0 ||
      (gsize) action >= G_N_ELEMENTS (names))
    return 0;
  record (names[action], props, FALSE);
  return 0;
}

/* sd-event on GLib's loop, as systemd's glib-event-glue.c does it. */
typedef struct
{
  GSource source;
  sd_event *event;
} EventSource;

static gboolean
event_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return sd_event_prepare (((EventSource *) source)->event) > 0;
}

static gboolean
event_check (GSource *source)
{
  return sd_event_wait (((EventSource *) source)->event, 0) > 0;
}

static gboolean
event_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return sd_event_dispatch (((EventSource *) source)->event) >= 0;
}

static void
event_finalize (GSource *source)
{
  sd_event_unref (((EventSource *) source)->event);
}

static GSourceFuncs event_funcs = { event_prepare, event_check, event_dispatch, event_finalize };

static gboolean
start_sd_device (void)
{
  sd_device_enumerator *e = NULL;
  EventSource *es;
  int r;

  if ((r = sd_event_new (&u.event)) < 0 || (r = sd_device_monitor_new (&u.monitor)) < 0)
    goto fail;
  for (gsize i = 0; i < G_N_ELEMENTS (subsystems); i++)
    if ((r = sd_device_monitor_filter_add_match_subsystem_devtype (u.monitor, subsystems[i],
                                                                   NULL)) < 0)
      goto fail;
  if ((r = sd_device_monitor_attach_event (u.monitor, u.event)) < 0 ||
      (r = sd_device_monitor_start (u.monitor, on_device, NULL)) < 0)
    goto fail;
  es = (EventSource *) g_source_new (&event_funcs, sizeof (EventSource));
  es->event = sd_event_ref (u.event);
  g_source_add_unix_fd (&es->source, sd_event_get_fd (u.event), G_IO_IN);
  g_source_set_name (&es->source, "sd-event");
  g_source_attach (&es->source, NULL);
  u.event_source = &es->source;

  /* The monitor listens first: a port that appears during the enumeration is not missed (at
   * worst seen twice, which changes nothing). */
  if ((r = sd_device_enumerator_new (&e)) < 0)
    goto fail;
  for (gsize i = 0; i < G_N_ELEMENTS (subsystems); i++)
    if ((r = sd_device_enumerator_add_match_subsystem (e, subsystems[i], TRUE)) < 0)
      goto fail;
  for (sd_device *dev = sd_device_enumerator_get_device_first (e); dev;
       dev = sd_device_enumerator_get_device_next (e))
    {
      g_autoptr (GHashTable) props = device_props (dev);

      record (NULL, props, TRUE);
    }
  sd_device_enumerator_unref (e);
  return TRUE;

fail:
  g_warning ("cannot follow udev's devices: %s", g_strerror (-r));
  if (e)
    sd_device_enumerator_unref (e);
  return FALSE;
}

/* ---- the test seam: udev records from a file --------------------------------------------- */

/* Records read are remembered as the devices there are; while the source runs they are also
 * events. */
static void
replay_records (gboolean events)
{
  char *end;

  /* A record ends with an empty line. */
  while ((end = strstr (u.replay_buf->str, "\n\n")))
    {
      g_autofree char *text = g_strndup (u.replay_buf->str, (gsize) (end - u.replay_buf->str));
      GHashTable *props = esimd_udev_props_parse (text);
      const char *action = g_hash_table_lookup (props, "ACTION");
      const char *devname = g_hash_table_lookup (props, "DEVNAME");

      g_string_erase (u.replay_buf, 0, (gssize) (end - u.replay_buf->str) + 2);
      if (events)
        record (action, props, FALSE);
      if (!devname)
        g_hash_table_unref (props);
      else if (g_strcmp0 (action, "remove") == 0)
        {
          g_hash_table_remove (u.replay_db, devname);
          g_hash_table_unref (props);
        }
      else
        g_hash_table_insert (u.replay_db, g_strdup (devname), props);
    }
}

static gboolean
replay_read (gboolean events)
{
  char buf[4096];
  ssize_t n;
  int saved;

  while ((n = read (u.replay_fd, buf, sizeof buf)) > 0)
    g_string_append_len (u.replay_buf, buf, n);
  saved = errno;
  replay_records (events);
  errno = saved;
  return n == 0 || saved == EAGAIN || saved == EINTR;
}

static gboolean
on_replay (gint fd, GIOCondition condition, gpointer data)
{
  if (!replay_read (TRUE))
    {
      g_warning ("udev test records: %s; no more are read", g_strerror (errno));
      u.replay_watch = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_replay (const char *path)
{
  GHashTableIter it;
  GHashTable *props;

  if (u.replay_fd < 0)
    {
      /* Read-write: a FIFO opened so never ends (EOF) when its writer closes. */
      u.replay_fd = open (path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (u.replay_fd < 0)
        {
          g_warning ("ESIMD_TEST_UDEV_EVENTS=%s: %s", path, g_strerror (errno));
          return FALSE;
        }
      g_warning ("udev records are read from %s (ESIMD_TEST_UDEV_EVENTS, for test rigs), not "
                 "from udev",
                 path);
      u.replay_buf = g_string_new (NULL);
      u.replay_db = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_hash_table_unref);
    }
  /* The enumeration: every device the records said is there, those written while the source
   * was stopped included. */
  replay_read (FALSE);
  g_hash_table_iter_init (&it, u.replay_db);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &props))
    record (NULL, props, TRUE);
  u.replay_watch = g_unix_fd_add (u.replay_fd, G_IO_IN, on_replay, NULL);
  return TRUE;
}

/* ---- life -------------------------------------------------------------------------------- */

gboolean
esimd_discovery_udev_start (void)
{
  const char *replay = g_getenv ("ESIMD_TEST_UDEV_EVENTS");
  gboolean ok;

  u.modems = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, udev_modem_free);
  u.running = TRUE;
  ok = replay && *replay ? start_replay (replay) : start_sd_device ();
  if (!ok)
    {
      esimd_discovery_udev_stop ();
      return FALSE;
    }
  announce_all ();
  esimd_discovery_source_settled (ESIMD_SOURCE_UDEV);
  return TRUE;
}

void
esimd_discovery_udev_stop (void)
{
  if (!u.running)
    return;
  u.running = FALSE;
  if (u.event_source)
    {
      g_source_destroy (u.event_source);
      g_source_unref (u.event_source);
      u.event_source = NULL;
    }
  if (u.monitor)
    u.monitor = sd_device_monitor_unref (u.monitor);
  if (u.event)
    {
      /* The GSource held a reference of its own. */
      sd_event_unref (u.event);
      u.event = NULL;
    }
  /* The test records' file stays open: what is written while the source is stopped is what
   * the next enumeration finds. */
  g_clear_handle_id (&u.replay_watch, g_source_remove);
  g_clear_pointer (&u.modems, g_hash_table_unref);
}

void
esimd_discovery_udev_shutdown (void)
{
  esimd_discovery_udev_stop ();
  if (u.replay_fd >= 0)
    close (u.replay_fd);
  u.replay_fd = -1;
  if (u.replay_buf)
    g_string_free (u.replay_buf, TRUE);
  u.replay_buf = NULL;
  g_clear_pointer (&u.replay_db, g_hash_table_unref);
}
