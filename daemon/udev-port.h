/* udev-port.h — which udev devices are modem ports esimd may probe, from their udev properties.
 *
 * Pure functions over what udev says of a device (its properties, as `udevadm info` prints
 * them), so that real machines' records are unit-tested byte for byte:
 *   - usbmisc cdc-wdm*: QMI under the qmi_wwan driver, MBIM under cdc_mbim (ID_USB_DRIVER, or
 *     ModemManager's ID_MM_PORT_TYPE_QMI / ID_MM_PORT_TYPE_MBIM tags);
 *   - wwan ports: wwanNqmiM, wwanNmbimM, wwanNatM (the kernel names them by their protocol);
 *   - tty: only when tagged as a modem's AT port, by ModemManager's rules
 *     (ID_MM_PORT_TYPE_AT_PRIMARY / _SECONDARY) or by the administrator (ESIMD_PORT_TYPE=at).
 *     A random tty (a console, a GPS, a microcontroller) is never probed: writing AT commands
 *     to it could do anything.
 * ESIMD_PORT_TYPE=qmi|mbim|at on any of them (a udev rule) says what it is; =none excludes it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *name;       /* the node's name under /dev: cdc-wdm0, wwan0qmi0, ttyUSB2 */
  char *transport;  /* qmi, mbim, at */
  char *uid;        /* the physical modem (/sys/devices/...): the same for all its ports */
  gboolean primary; /* tagged as the primary AT port */
} EsimdUdevPort;

void esimd_udev_port_free (EsimdUdevPort *port);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdUdevPort, esimd_udev_port_free)

/* Whether @name (udev's DEVNAME under /dev, or a port ModemManager names) can only be a node in
 * the device directory: not empty, no "..", which would lead a probe out of it to a file of
 * anyone's choosing. Every source of port names checks it, whoever it trusts. */
gboolean esimd_port_name_ok (const char *name);

/* @props: udev property name -> value (SUBSYSTEM, DEVPATH, DEVNAME, ID_USB_DRIVER, ...). NULL
 * when the device is not a port esimd probes. */
EsimdUdevPort *esimd_udev_port_classify (GHashTable *props);

/* The physical device a port belongs to, from its DEVPATH: the USB device of a USB modem's
 * interface, the PCI device of a wwan (MHI) modem's port; otherwise the port's own path. As
 * ModemManager's Device property names it ("/sys" + path). */
char *esimd_udev_port_uid (const char *devpath);

/* One udev record in `udevadm monitor --property` / `udevadm info --query=property` form:
 * KEY=VALUE lines (others ignored). */
GHashTable *esimd_udev_props_parse (const char *text);

G_END_DECLS
