/* discovery-mm.h — ModemManager as a discovery source, and the holder of its modems' AT ports.
 *
 * A client of org.freedesktop.ModemManager1 on esimd's own sd-bus connection (no second
 * connection, no GDBus, no thread: a few match rules and calls). It follows ModemManager coming
 * and going, its modems appearing, changing and disappearing, and announces each modem (its
 * Device, Ports, PrimaryPort, Drivers, EquipmentIdentifier, and with several SIM slots SimSlots,
 * PrimarySimSlot and each slot's Sim: Active, SimType, Eid) to discovery.c. It also takes a
 * modem from ModemManager with InhibitDevice for the time esimd needs an AT port ModemManager
 * keeps open, and gives it back. */
#pragma once

#include <gio/gio.h>

#include "modem.h"

G_BEGIN_DECLS

/* FALSE if it could not even start (the bus refused the match rules): udev takes over. */
gboolean esimd_discovery_mm_start (gpointer bus);
void esimd_discovery_mm_stop (void);

/* InhibitDevice, for transport-held.c: the modem whose Device is the given uid. */
const EsimdModemHold *esimd_discovery_mm_hold (void);

/* SetPrimarySimSlot on ModemManager's modem @mm_path: ModemManager switches the slot and probes
 * the modem again (its object goes and a new one comes). */
void esimd_discovery_mm_set_primary_slot (const char *mm_path, guint slot,
                                          GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_discovery_mm_set_primary_slot_finish (GAsyncResult *result, GError **error);

/* What a ModemManager port type (MMModemPortType) is to esimd: "qmi", "mbim", "at" or NULL. */
const char *esimd_mm_port_transport (guint32 type);
/* An EquipmentIdentifier is an IMEI when it is 15 digits (CDMA modems give an ESN or MEID). */
gboolean esimd_mm_is_imei (const char *equipment_identifier);

G_END_DECLS
