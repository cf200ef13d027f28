/* fuzz-udev.c — libFuzzer harness of which udev devices esimd takes for modem ports
 * (daemon/udev-port.c): a udev record in `udevadm` property form (the discovery's test seam reads
 * that, the daemon gets the same KEY=VALUE pairs from sd-device), classified as a port or not,
 * and the physical modem named from its DEVPATH. */
#include "fuzz.h"

#include <string.h>

#include "udev-port.h"

/* A udev record is a few dozen properties of a few dozen bytes. */
#define INPUT_CAP (16 * 1024)

static void
check_props (GHashTable *props)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, props);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *k = key;

      /* A name up to the first '=' of one line, never empty. */
      FUZZ_CHECK (*k != '\0' && !strchr (k, '=') && !strchr (k, '\n'));
      FUZZ_CHECK (value != NULL && !strchr (value, '\n'));
    }
}

/* The modem a port belongs to is its DEVPATH or a leading part of it, under /sys. */
static void
check_uid (const char *devpath)
{
  g_autofree char *uid = esimd_udev_port_uid (devpath);
  g_autofree char *full = g_strconcat ("/sys", devpath, NULL);

  FUZZ_CHECK (uid != NULL && g_str_has_prefix (full, uid));
  /* Whole path components: cut at a '/' or not at all. */
  FUZZ_CHECK (full[strlen (uid)] == '\0' || full[strlen (uid)] == '/');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GHashTable) props = NULL;
  g_autoptr (EsimdUdevPort) port = NULL;
  const char *devpath;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  text = g_strndup ((const char *) data, size);
  props = esimd_udev_props_parse (text);
  check_props (props);
  if ((devpath = g_hash_table_lookup (props, "DEVPATH")))
    check_uid (devpath);
  if (!(port = esimd_udev_port_classify (props)))
    return 0;
  /* A port esimd opens: a transport it speaks and a node under the device directory. */
  FUZZ_CHECK (g_strcmp0 (port->transport, "qmi") == 0 || g_strcmp0 (port->transport, "mbim") == 0 ||
              g_strcmp0 (port->transport, "at") == 0);
  FUZZ_CHECK (port->name && *port->name && !strstr (port->name, ".."));
  FUZZ_CHECK (port->uid && g_str_has_prefix (port->uid, "/sys"));
  return 0;
}
