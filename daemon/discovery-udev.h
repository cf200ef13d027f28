/* discovery-udev.h — udev's modem ports as a discovery source, when ModemManager is not there.
 *
 * sd-device (libsystemd) enumerates the usbmisc, wwan and tty devices and follows their add and
 * remove events (its monitor runs on an sd-event loop attached to GLib's); udev-port.c decides
 * which are ports to probe, and the ports of one physical device are announced as one modem.
 *
 * Test rigs cannot create kernel devices. With ESIMD_TEST_UDEV_EVENTS=PATH (a FIFO or a file),
 * the same records come from PATH instead: udev's own property blocks (`udevadm monitor
 * --property`: KEY=VALUE lines, ACTION=add|change|remove, a blank line after each), which go
 * through the same classification and grouping. The records are remembered as the devices
 * there are: when the source starts (again), that is the enumeration; while it runs, each record
 * is also an event. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* FALSE when udev cannot be followed (no sd-device, no /sys): a warning says why. */
gboolean esimd_discovery_udev_start (void);
void esimd_discovery_udev_stop (void);
/* Stops, and frees what a restart would reuse: at esimd's end. */
void esimd_discovery_udev_shutdown (void);

G_END_DECLS
