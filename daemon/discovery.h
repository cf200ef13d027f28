/* discovery.h — finding every eUICC with no configuration (not SM-DS discovery: job-discover.c).
 *
 * Sources announce modems: ModemManager's (discovery-mm.c) while it is on the bus, udev's modem
 * ports (discovery-udev.c) while it is not. For each modem the core picks the port to ask (QMI,
 * then MBIM, then AT), leaves out ports a [Modem] section names or [Discovery] DenyPorts= denies,
 * probes it (discovery-probe.c) and gives every eUICC found an EsimdEuicc. An eUICC keeps its
 * object, and so its index and object path, for the daemon's lifetime: the same EID found again
 * (re-plugged, another port, after ModemManager restarted) is the same object. A modem that goes
 * away takes its eUICCs off the bus; they come back when it does.
 *
 * The core lives in the model: it never calls the bus layer, and learns nothing from it. */
#pragma once

#include <gio/gio.h>

#include "euicc.h"

G_BEGIN_DECLS

typedef enum
{
  ESIMD_SOURCE_MM,
  ESIMD_SOURCE_UDEV,
  ESIMD_SOURCE_PCSC, /* pcscd's readers: beside the others, whichever of them runs */
  ESIMD_N_SOURCES,
} EsimdSource;

/* One port of a modem, as a source names it. */
typedef struct
{
  char *name;      /* the kernel's name: cdc-wdm0, wwan0mbim0, ttyUSB2 */
  char *transport; /* qmi, mbim, at, pcsc (name is then the reader's) */
  gboolean primary;
} EsimdFoundPort;

/* What ModemManager says of one SIM slot (its Modem's SimSlots, PrimarySimSlot and the slot's
 * Sim object). */
typedef struct
{
  guint slot;       /* 1-based, as ModemManager and QMI count */
  gboolean active;  /* the slot the modem uses (PrimarySimSlot) */
  guint32 sim_type; /* MMSimType: 0 unknown, 1 physical, 2 eSIM */
  char *eid;        /* the Sim's Eid, NULL when it gives none */
} EsimdMmSlot;

/* A modem a source found. */
typedef struct
{
  /* The physical device (a sysfs path): the same modem whichever source names it. */
  char *uid;
  GPtrArray *ports; /* EsimdFoundPort* */
  char *mm_path;    /* ModemManager's object for it, or NULL */
  /* ModemManager's Sim object for the SIM the modem uses ("/" for none, NULL without
   * ModemManager): another one on the same modem object is another card (hot-swapped). */
  char *mm_sim;
  char *imei; /* ModemManager's EquipmentIdentifier, when it is an IMEI */
  char **drivers;
  /* ModemManager keeps the AT ports open: a probe or job over one takes the modem with
   * InhibitDevice and gives it back. */
  gboolean held;
  /* ModemManager says the SIM it uses is a physical one (not an eSIM): an AT-only modem that
   * would have to be taken from it is not probed. */
  gboolean physical_sim;
  /* ModemManager's SIM slots (EsimdMmSlot*, slot order; empty slots left out) when it reports
   * more than one: an eUICC in a slot the transport cannot look at (AT, MBIM while another slot
   * is active) is known from its Sim object's Eid. NULL otherwise. */
  GPtrArray *mm_slots;
  guint mm_slot_count;
  guint mm_primary_slot;
} EsimdFoundModem;

EsimdFoundModem *esimd_found_modem_new (const char *uid);
void esimd_found_modem_add_port (EsimdFoundModem *modem, const char *name, const char *transport,
                                 gboolean primary);
void esimd_found_modem_add_mm_slot (EsimdFoundModem *modem, guint slot, gboolean active,
                                    guint32 sim_type, const char *eid);
void esimd_found_modem_free (EsimdFoundModem *modem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdFoundModem, esimd_found_modem_free)

/* The port discovery asks for @modem: the first of QMI, MBIM, AT (a primary port before the
 * others of its kind) that DenyPorts= does not deny; NULL when none is left. */
const EsimdFoundPort *esimd_discovery_pick_port (const EsimdFoundModem *modem,
                                                 char *const *deny_ports, const char *device_dir);
/* TRUE when a DenyPorts= pattern matches the port's name or its path under @device_dir. */
gboolean esimd_discovery_port_denied (const char *name, char *const *deny_ports,
                                      const char *device_dir);

/* ---- for main.c -------------------------------------------------------------------------- */

/* Starts the sources [Discovery] turns on. @bus_connection is the daemon's sd_bus (for
 * ModemManager), NULL when there is none. Configured eUICCs are esimd->euiccs already. */
void esimd_discovery_start (gpointer bus_connection);
/* Stops the sources and cuts running probes short; answers once none runs. */
void esimd_discovery_stop (GAsyncReadyCallback callback, gpointer user_data);
/* Nothing is being probed and every source said what it knows at start (an idle daemon can tell
 * that it has no eUICC). */
gboolean esimd_discovery_settled (void);
/* Called whenever esimd_discovery_settled() or the number of eUICCs on the bus may have changed. */
void esimd_discovery_set_idle_hook (void (*hook) (void));
/* How many eUICCs are on the bus now. */
guint esimd_discovery_euiccs_present (void);

/* ---- for the sources --------------------------------------------------------------------- */

/* @modem is taken. Announcing a modem again replaces what was known of it. */
void esimd_discovery_modem_found (EsimdSource source, EsimdFoundModem *modem);
void esimd_discovery_modem_gone (EsimdSource source, const char *uid);
/* The source told everything it knew at start (its enumeration is done). */
void esimd_discovery_source_settled (EsimdSource source);
/* The source ended (ModemManager left the bus): its modems stay until another source has
 * settled without them. */
void esimd_discovery_source_ended (EsimdSource source);
/* ModemManager came or went: udev is the source while it is away. */
void esimd_discovery_mm_present (gboolean present);
/* TRUE while esimd holds the modem @uid with InhibitDevice: ModemManager's removal of it is
 * esimd's own doing, not an unplug. */
gboolean esimd_discovery_inhibiting (const char *uid);
/* discovery-mm.c: esimd took (TRUE) or gave back (FALSE) the modem @uid. */
void esimd_discovery_note_inhibited (const char *uid, gboolean inhibited);

/* ---- for the model and front-ends -------------------------------------------------------- */

/* The eUICC on whose queue a slot switch of @euicc's modem runs: the one in the active slot when
 * esimd manages it (its card is the one taken away), else @euicc itself. */
EsimdEuicc *esimd_discovery_switch_queue (EsimdEuicc *euicc);
/* Makes physical slot @slot the active one on the modem of @euicc, then finds again what the
 * modem holds. */
void esimd_discovery_switch_slot (EsimdEuicc *euicc, guint slot, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean esimd_discovery_switch_slot_finish (GAsyncResult *result, GError **error);

G_END_DECLS
