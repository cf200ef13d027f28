/* udev-port.c — modem ports among udev's devices (see udev-port.h). */
#include "udev-port.h"

#include <string.h>

void
esimd_udev_port_free (EsimdUdevPort *port)
{
  if (!port)
    return;
  g_free (port->name);
  g_free (port->transport);
  g_free (port->uid);
  g_free (port);
}

static gboolean
flag (GHashTable *props, const char *key)
{
  return g_strcmp0 (g_hash_table_lookup (props, key), "1") == 0;
}

/* "1-2", "2-1.4.3": a USB device's name (bus-port[.port...]). */
static gboolean
is_usb_device (const char *c)
{
  const char *dash = strchr (c, '-');

  if (!dash || dash == c || !dash[1] || strchr (c, ':'))
    return FALSE;
  for (const char *p = c; p < dash; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  for (const char *p = dash + 1; *p; p++)
    if (!g_ascii_isdigit (*p) && *p != '.')
      return FALSE;
  return TRUE;
}

/* "1-2:1.4": an interface of USB device 1-2. */
static gboolean
is_usb_interface (const char *c)
{
  const char *colon = strchr (c, ':');
  g_autofree char *device = colon ? g_strndup (c, (gsize) (colon - c)) : NULL;

  return device && is_usb_device (device);
}

char *
esimd_udev_port_uid (const char *devpath)
{
  g_auto (GStrv) parts = g_strsplit (devpath, "/", -1);
  guint n = g_strv_length (parts);
  gint end = -1;

  /* The USB device whose interface the port hangs under (the last such, for hubs). */
  for (guint i = 1; i < n; i++)
    if (is_usb_interface (parts[i]) && is_usb_device (parts[i - 1]))
      end = (gint) i - 1;
  /* A wwan port: .../<device>[/mhiN]/wwan/wwanN/<port>. */
  if (end < 0)
    for (guint i = 1; i < n; i++)
      if (g_str_equal (parts[i], "wwan"))
        {
          end = (gint) i - 1;
          while (end > 0 && g_str_has_prefix (parts[end], "mhi"))
            end--;
          break;
        }
  if (end <= 0)
    return g_strconcat ("/sys", devpath, NULL);
  {
    g_autofree char *joined = NULL;
    char *saved = parts[end + 1];

    parts[end + 1] = NULL;
    joined = g_strjoinv ("/", parts);
    parts[end + 1] = saved;
    return g_strconcat ("/sys", joined, NULL);
  }
}

/* wwan0qmi0 → "qmi": the kernel's wwan core names a port after its protocol. */
static const char *
wwan_transport (const char *name)
{
  static const char *const kinds[] = { "qmi", "mbim", "at" };
  const char *p = name + strlen ("wwan");

  if (!g_str_has_prefix (name, "wwan") || !g_ascii_isdigit (*p))
    return NULL;
  while (g_ascii_isdigit (*p))
    p++;
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (g_str_has_prefix (p, kinds[i]))
      {
        const char *q = p + strlen (kinds[i]);

        if (!*q)
          return NULL;
        for (; *q; q++)
          if (!g_ascii_isdigit (*q))
            return NULL;
        return kinds[i];
      }
  return NULL;
}

gboolean
esimd_port_name_ok (const char *name)
{
  return name && *name && !strstr (name, "..");
}

EsimdUdevPort *
esimd_udev_port_classify (GHashTable *props)
{
  const char *subsystem = g_hash_table_lookup (props, "SUBSYSTEM");
  const char *devpath = g_hash_table_lookup (props, "DEVPATH");
  const char *devname = g_hash_table_lookup (props, "DEVNAME");
  const char *driver = g_hash_table_lookup (props, "ID_USB_DRIVER");
  const char *tag = g_hash_table_lookup (props, "ESIMD_PORT_TYPE");
  const char *transport = NULL;
  const char *name;
  gboolean primary = FALSE;
  EsimdUdevPort *port;

  if (!subsystem || !devpath || !devname)
    return NULL;
  name = g_str_has_prefix (devname, "/dev/") ? devname + strlen ("/dev/") : devname;
  if (!esimd_port_name_ok (name))
    return NULL;
  if (tag)
    {
      if (g_str_equal (tag, "qmi") || g_str_equal (tag, "mbim") || g_str_equal (tag, "at"))
        transport = tag;
      else
        return NULL; /* "none", or something esimd does not speak */
      primary = TRUE;
    }
  else if (g_str_equal (subsystem, "usbmisc") && g_str_has_prefix (name, "cdc-wdm"))
    {
      if (flag (props, "ID_MM_PORT_TYPE_QMI") || g_strcmp0 (driver, "qmi_wwan") == 0)
        transport = "qmi";
      else if (flag (props, "ID_MM_PORT_TYPE_MBIM") || g_strcmp0 (driver, "cdc_mbim") == 0)
        transport = "mbim";
    }
  else if (g_str_equal (subsystem, "wwan"))
    transport = wwan_transport (name);
  else if (g_str_equal (subsystem, "tty"))
    {
      primary = flag (props, "ID_MM_PORT_TYPE_AT_PRIMARY");
      if (primary || flag (props, "ID_MM_PORT_TYPE_AT_SECONDARY"))
        transport = "at";
    }
  if (!transport)
    return NULL;
  port = g_new0 (EsimdUdevPort, 1);
  port->name = g_strdup (name);
  port->transport = g_strdup (transport);
  port->uid = esimd_udev_port_uid (devpath);
  port->primary = primary;
  return port;
}

GHashTable *
esimd_udev_props_parse (const char *text)
{
  GHashTable *props = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (char **l = lines; *l; l++)
    {
      char *line = g_strstrip (*l);
      char *eq = strchr (line, '=');

      /* `udevadm info` prefixes properties with "E: "; monitor output has none. */
      if (g_str_has_prefix (line, "E: "))
        line += 3;
      eq = strchr (line, '=');
      if (!eq || eq == line)
        continue;
      g_hash_table_insert (props, g_strndup (line, (gsize) (eq - line)), g_strdup (eq + 1));
    }
  return props;
}
