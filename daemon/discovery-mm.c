/* discovery-mm.c — ModemManager's modems for discovery.c, on esimd's sd-bus connection.
 *
 * sd-bus rather than libmm-glib: esimd already has one bus connection on its GLib loop, and
 * libmm-glib would add GDBus (a second connection, its worker thread, a proxy and property cache
 * per object) to read a handful of properties. Here it is four match rules and a call when
 * ModemManager appears; no timer, no wakeup while nothing changes.
 *
 * Signals are matched without a sender (a well-known sender is resolved by the bus daemon only)
 * and taken only from ModemManager's current unique name. */
#include "discovery-mm.h"

#include "discovery.h"
#include "log.h"
#include "lpa-error.h"
#include "udev-port.h"

#include <string.h>
#include <systemd/sd-bus.h>

#define MM_NAME        "org.freedesktop.ModemManager1"
#define MM_PATH        "/org/freedesktop/ModemManager1"
#define MM_MODEM_IFACE MM_NAME ".Modem"
#define MM_SIM_IFACE   MM_NAME ".Sim"
#define OM_IFACE       "org.freedesktop.DBus.ObjectManager"
#define PROPS_IFACE    "org.freedesktop.DBus.Properties"

/* MMModemPortType (ModemManager-enums.h) and MMSimType. */
#define MM_PORT_TYPE_AT      3
#define MM_PORT_TYPE_QMI     6
#define MM_PORT_TYPE_MBIM    7
#define MM_SIM_TYPE_PHYSICAL 1

typedef struct _MmModem MmModem;

/* The SIM in one of a modem's slots, as its Sim object says. */
typedef struct
{
  MmModem *modem;
  char *path; /* "/" for an empty slot */
  sd_bus_slot *call;
  gboolean active;
  guint32 sim_type;
  char *eid;
} MmSlotSim;

typedef struct
{
  char *name;
  guint32 type;
} MmPort;

struct _MmModem
{
  char *path;
  char *device;  /* Device: the physical device's uid */
  GArray *ports; /* MmPort */
  char *primary_port;
  char **drivers;
  char *equipment_id;
  char *sim;        /* the SIM it uses, "/" for none */
  guint32 sim_type; /* read only for modems reached through AT alone */
  gboolean sim_type_known;
  sd_bus_slot *sim_call;
  char **slot_paths;    /* SimSlots */
  guint32 primary_slot; /* PrimarySimSlot, 1-based; 0: one slot */
  GPtrArray *slot_sims; /* MmSlotSim*, once asked: SimSlots is read when it has 2 or more */
  guint slot_reads;     /* Sim objects still being read */
  gboolean announced;
};

static struct
{
  sd_bus *bus;
  sd_bus_slot *owner_match;
  sd_bus_slot *objects_match;
  sd_bus_slot *props_match;
  sd_bus_slot *sim_props_match;
  sd_bus_slot *owner_call;
  sd_bus_slot *objects_call;
  char *owner;        /* ModemManager's unique name; NULL while it is not on the bus */
  GHashTable *modems; /* path -> MmModem* */
  /* uid -> the unique name of the ModemManager that handed the modem over, while esimd holds it
   * (between InhibitDevice(uid, true) answered and InhibitDevice(uid, false) sent). */
  GHashTable *held;
} mm;

static void retake_held (const MmModem *m);

/* ---- small pure helpers ------------------------------------------------------------------- */

const char *
esimd_mm_port_transport (guint32 type)
{
  switch (type)
    {
    case MM_PORT_TYPE_QMI:
      return "qmi";
    case MM_PORT_TYPE_MBIM:
      return "mbim";
    case MM_PORT_TYPE_AT:
      return "at";
    default:
      return NULL;
    }
}

gboolean
esimd_mm_is_imei (const char *id)
{
  gsize n = 0;

  for (; id && id[n]; n++)
    if (!g_ascii_isdigit (id[n]))
      return FALSE;
  return n == 15;
}

/* ---- the modems --------------------------------------------------------------------------- */

static void
mm_port_clear (gpointer data)
{
  g_free (((MmPort *) data)->name);
}

static MmModem *
mm_modem_new (const char *path)
{
  MmModem *m = g_new0 (MmModem, 1);

  m->path = g_strdup (path);
  m->ports = g_array_new (FALSE, TRUE, sizeof (MmPort));
  g_array_set_clear_func (m->ports, mm_port_clear);
  m->sim = g_strdup ("/");
  return m;
}

static void
slot_sim_free (gpointer data)
{
  MmSlotSim *sim = data;

  sd_bus_slot_unref (sim->call);
  g_free (sim->path);
  g_free (sim->eid);
  g_free (sim);
}

static void
mm_modem_free (gpointer data)
{
  MmModem *m = data;

  sd_bus_slot_unref (m->sim_call);
  g_clear_pointer (&m->slot_sims, g_ptr_array_unref);
  g_strfreev (m->slot_paths);
  g_free (m->path);
  g_free (m->device);
  g_array_unref (m->ports);
  g_free (m->primary_port);
  g_strfreev (m->drivers);
  g_free (m->equipment_id);
  g_free (m->sim);
  g_free (m);
}

static int
read_string_variant (sd_bus_message *msg, const char *type, char **out)
{
  const char *value;
  int r = sd_bus_message_read (msg, "v", type, &value);

  if (r >= 0)
    {
      g_free (*out);
      *out = g_strdup (value);
    }
  return r;
}

static int
read_ports (sd_bus_message *msg, MmModem *m)
{
  int r;

  if ((r = sd_bus_message_enter_container (msg, 'v', "a(su)")) < 0 ||
      (r = sd_bus_message_enter_container (msg, 'a', "(su)")) < 0)
    return r;
  g_array_set_size (m->ports, 0);
  for (;;)
    {
      const char *name;
      MmPort port;

      r = sd_bus_message_read (msg, "(su)", &name, &port.type);
      if (r <= 0)
        break;
      if (!esimd_port_name_ok (name))
        {
          g_info ("ModemManager: a port of %s is no device name in the device directory; left out",
                  m->path);
          continue;
        }
      port.name = g_strdup (name);
      g_array_append_val (m->ports, port);
    }
  if (r < 0 || (r = sd_bus_message_exit_container (msg)) < 0)
    return r;
  return sd_bus_message_exit_container (msg);
}

/* Reads an a{sv} of the Modem interface into @m. Returns < 0 when a property has the wrong type
 * (not ModemManager's). */
static int
read_modem_props (sd_bus_message *msg, MmModem *m)
{
  int r;

  if ((r = sd_bus_message_enter_container (msg, 'a', "{sv}")) < 0)
    return r;
  while ((r = sd_bus_message_enter_container (msg, 'e', "sv")) > 0)
    {
      const char *name;

      if ((r = sd_bus_message_read (msg, "s", &name)) < 0)
        return r;
      if (g_str_equal (name, "Ports"))
        r = read_ports (msg, m);
      else if (g_str_equal (name, "PrimaryPort"))
        r = read_string_variant (msg, "s", &m->primary_port);
      else if (g_str_equal (name, "Device"))
        r = read_string_variant (msg, "s", &m->device);
      else if (g_str_equal (name, "EquipmentIdentifier"))
        r = read_string_variant (msg, "s", &m->equipment_id);
      else if (g_str_equal (name, "Sim"))
        r = read_string_variant (msg, "o", &m->sim);
      else if (g_str_equal (name, "SimSlots"))
        {
          char **paths = NULL;

          if ((r = sd_bus_message_enter_container (msg, 'v', "ao")) >= 0 &&
              (r = sd_bus_message_read_strv (msg, &paths)) >= 0)
            {
              g_strfreev (m->slot_paths);
              m->slot_paths = paths;
              r = sd_bus_message_exit_container (msg);
            }
        }
      else if (g_str_equal (name, "PrimarySimSlot"))
        r = sd_bus_message_read (msg, "v", "u", &m->primary_slot);
      else if (g_str_equal (name, "Drivers"))
        {
          char **drivers = NULL;

          if ((r = sd_bus_message_enter_container (msg, 'v', "as")) >= 0 &&
              (r = sd_bus_message_read_strv (msg, &drivers)) >= 0)
            {
              g_strfreev (m->drivers);
              m->drivers = drivers;
              r = sd_bus_message_exit_container (msg);
            }
        }
      else
        r = sd_bus_message_skip (msg, "v");
      if (r < 0 || (r = sd_bus_message_exit_container (msg)) < 0)
        return r;
    }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container (msg);
}

static gboolean
reached_through_at_only (MmModem *m)
{
  gboolean at = FALSE;

  for (guint i = 0; i < m->ports->len; i++)
    {
      const char *t = esimd_mm_port_transport (g_array_index (m->ports, MmPort, i).type);

      if (t && !g_str_equal (t, "at"))
        return FALSE;
      at |= t != NULL;
    }
  return at;
}

static void announce (MmModem *m);

static int
sim_type_read (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  MmModem *m = userdata;
  guint32 type = 0;

  m->sim_call = sd_bus_slot_unref (m->sim_call);
  /* An older ModemManager has no SimType: unknown, as if it could be an eSIM. */
  if (!sd_bus_message_is_method_error (reply, NULL) &&
      sd_bus_message_read (reply, "v", "u", &type) < 0)
    type = 0;
  m->sim_type = type;
  m->sim_type_known = TRUE;
  announce (m);
  return 0;
}

/* Reads the a{sv} of a Sim object's GetAll. */
static void
read_slot_sim (sd_bus_message *msg, MmSlotSim *sim)
{
  if (sd_bus_message_enter_container (msg, 'a', "{sv}") < 0)
    return;
  while (sd_bus_message_enter_container (msg, 'e', "sv") > 0)
    {
      const char *name;
      int r;

      if (sd_bus_message_read (msg, "s", &name) < 0)
        return;
      if (g_str_equal (name, "Active"))
        {
          int active = 0;

          r = sd_bus_message_read (msg, "v", "b", &active);
          sim->active = active;
        }
      else if (g_str_equal (name, "SimType"))
        r = sd_bus_message_read (msg, "v", "u", &sim->sim_type);
      else if (g_str_equal (name, "Eid"))
        r = read_string_variant (msg, "s", &sim->eid);
      else
        r = sd_bus_message_skip (msg, "v");
      if (r < 0 || sd_bus_message_exit_container (msg) < 0)
        return;
    }
}

static int
slot_sim_read (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  MmSlotSim *sim = userdata;
  MmModem *m = sim->modem;

  sim->call = sd_bus_slot_unref (sim->call);
  /* An older ModemManager has no SimType or Eid: the slot is then known only as occupied. */
  if (!sd_bus_message_is_method_error (reply, NULL))
    read_slot_sim (reply, sim);
  if (--m->slot_reads == 0)
    announce (m);
  return 0;
}

/* Forgets what the slots' Sim objects said (and cancels the reads): asked again at the next
 * announcement. */
static void
forget_slots (MmModem *m)
{
  g_clear_pointer (&m->slot_sims, g_ptr_array_unref);
  m->slot_reads = 0;
}

/* A modem with several SIM slots: each slot's Sim object is read (Active, SimType, Eid) before
 * the modem is announced. FALSE while reads are under way. */
static gboolean
slots_known (MmModem *m)
{
  if (!m->slot_paths || g_strv_length (m->slot_paths) < 2)
    {
      forget_slots (m);
      return TRUE;
    }
  if (m->slot_sims)
    return m->slot_reads == 0;
  m->slot_sims = g_ptr_array_new_with_free_func (slot_sim_free);
  for (char **p = m->slot_paths; *p; p++)
    {
      MmSlotSim *sim = g_new0 (MmSlotSim, 1);

      sim->modem = m;
      sim->path = g_strdup (*p);
      g_ptr_array_add (m->slot_sims, sim);
      if (g_str_equal (*p, "/"))
        continue;
      if (sd_bus_call_method_async (mm.bus, &sim->call, MM_NAME, *p, PROPS_IFACE, "GetAll",
                                    slot_sim_read, sim, "s", MM_SIM_IFACE) >= 0)
        m->slot_reads++;
    }
  return m->slot_reads == 0;
}

static void
announce (MmModem *m)
{
  g_autoptr (EsimdFoundModem) found = NULL;

  if (!m->device || !*m->device)
    return; /* not fully exported yet */
  if (!slots_known (m))
    return;
  /* Whether ModemManager's SIM is physical matters only when the modem would have to be taken
   * from it (an AT port alone): ask first. */
  if (reached_through_at_only (m) && !m->sim_type_known && g_strcmp0 (m->sim, "/") != 0)
    {
      if (!m->sim_call &&
          sd_bus_call_method_async (mm.bus, &m->sim_call, MM_NAME, m->sim, PROPS_IFACE, "Get",
                                    sim_type_read, m, "ss", MM_SIM_IFACE, "SimType") < 0)
        m->sim_type_known = TRUE;
      else
        return;
    }
  found = esimd_found_modem_new (m->device);
  for (guint i = 0; i < m->ports->len; i++)
    {
      MmPort *p = &g_array_index (m->ports, MmPort, i);
      const char *transport = esimd_mm_port_transport (p->type);

      if (transport)
        esimd_found_modem_add_port (found, p->name, transport,
                                    g_strcmp0 (p->name, m->primary_port) == 0);
    }
  found->mm_path = g_strdup (m->path);
  found->mm_sim = g_strdup (m->sim);
  if (esimd_mm_is_imei (m->equipment_id))
    {
      /* Never in the log unless asked (LogPersonalData). */
      esimd_log_add_personal (m->equipment_id);
      found->imei = g_strdup (m->equipment_id);
    }
  found->drivers = g_strdupv (m->drivers);
  found->held = TRUE;
  found->physical_sim = m->sim_type == MM_SIM_TYPE_PHYSICAL;
  for (guint i = 0; m->slot_sims && i < m->slot_sims->len; i++)
    {
      MmSlotSim *sim = m->slot_sims->pdata[i];

      if (!g_str_equal (sim->path, "/"))
        esimd_found_modem_add_mm_slot (found, i + 1, i + 1 == m->primary_slot || sim->active,
                                       sim->sim_type, sim->eid);
    }
  if (m->slot_sims)
    {
      found->mm_slot_count = m->slot_sims->len;
      found->mm_primary_slot = m->primary_slot;
    }
  m->announced = TRUE;
  esimd_discovery_modem_found (ESIMD_SOURCE_MM, g_steal_pointer (&found));
}

/* @msg is at an a{sa{sv}} of the object at @path. */
static void
object_interfaces (const char *path, sd_bus_message *msg)
{
  int r;

  if (sd_bus_message_enter_container (msg, 'a', "{sa{sv}}") < 0)
    return;
  while ((r = sd_bus_message_enter_container (msg, 'e', "sa{sv}")) > 0)
    {
      const char *iface;

      if (sd_bus_message_read (msg, "s", &iface) < 0)
        return;
      if (g_str_equal (iface, MM_MODEM_IFACE) && g_str_has_prefix (path, MM_PATH "/Modem/"))
        {
          MmModem *m = g_hash_table_lookup (mm.modems, path);
          gboolean is_new = m == NULL;

          if (is_new)
            m = mm_modem_new (path);
          if (read_modem_props (msg, m) < 0)
            {
              g_warning ("ModemManager's modem %s: properties of unexpected types; ignored", path);
              if (is_new)
                mm_modem_free (m);
              return;
            }
          if (is_new)
            g_hash_table_insert (mm.modems, m->path, m);
          retake_held (m);
          announce (m);
        }
      else if (sd_bus_message_skip (msg, "a{sv}") < 0)
        return;
      if (sd_bus_message_exit_container (msg) < 0)
        return;
    }
  sd_bus_message_exit_container (msg);
}

/* Another of ModemManager's modem objects with @m's Device @device. ModemManager exports one
 * object per device, but esimd does not rely on the order of its signals: an old object that
 * goes after its successor came is no unplug (the eUICC and the job on it stay), and the device
 * goes only with its last object. */
static MmModem *
other_with_device (MmModem *m, const char *device)
{
  GHashTableIter it;
  MmModem *o;

  g_hash_table_iter_init (&it, mm.modems);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &o))
    if (o != m && device && g_strcmp0 (o->device, device) == 0)
      return o;
  return NULL;
}

/* @m no longer stands for the device @device: it is gone, unless another object does. */
static void
device_left (MmModem *m, const char *device)
{
  MmModem *other = other_with_device (m, device);

  if (!other)
    {
      esimd_discovery_modem_gone (ESIMD_SOURCE_MM, device);
      return;
    }
  g_debug ("ModemManager: modem %s went, %s stays for device %s", m->path, other->path, device);
  announce (other);
}

static gboolean
from_mm (sd_bus_message *msg)
{
  return mm.owner && g_strcmp0 (sd_bus_message_get_sender (msg), mm.owner) == 0;
}

static int
on_objects_signal (sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
  const char *path;

  if (!from_mm (msg) || sd_bus_message_read (msg, "o", &path) < 0)
    return 0;
  if (sd_bus_message_is_signal (msg, OM_IFACE, "InterfacesAdded"))
    object_interfaces (path, msg);
  else if (sd_bus_message_is_signal (msg, OM_IFACE, "InterfacesRemoved"))
    {
      g_auto (GStrv) ifaces = NULL;
      MmModem *m = g_hash_table_lookup (mm.modems, path);

      if (sd_bus_message_read_strv (msg, &ifaces) < 0 || !m ||
          !g_strv_contains ((const char *const *) ifaces, MM_MODEM_IFACE))
        return 0;
      g_hash_table_steal (mm.modems, path);
      if (m->announced)
        device_left (m, m->device);
      mm_modem_free (m);
    }
  return 0;
}

static int
on_props_changed (sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
  MmModem *m = g_hash_table_lookup (mm.modems, sd_bus_message_get_path (msg));
  g_autofree char *old_device = NULL;
  g_autofree char *old_sim = NULL;
  g_auto (GStrv) old_slots = NULL;
  guint32 old_primary;
  const char *iface;

  if (!m || !from_mm (msg) || sd_bus_message_read (msg, "s", &iface) < 0 ||
      !g_str_equal (iface, MM_MODEM_IFACE))
    return 0;
  old_device = g_strdup (m->device);
  old_sim = g_strdup (m->sim);
  old_slots = g_strdupv (m->slot_paths);
  old_primary = m->primary_slot;
  if (read_modem_props (msg, m) < 0)
    return 0;
  if (g_strcmp0 (old_sim, m->sim) != 0)
    m->sim_type_known = FALSE;
  if (old_primary != m->primary_slot || !old_slots != !m->slot_paths ||
      (old_slots &&
       !g_strv_equal ((const char *const *) old_slots, (const char *const *) m->slot_paths)))
    forget_slots (m); /* read again */
  if (m->announced && g_strcmp0 (old_device, m->device) != 0)
    device_left (m, old_device);
  announce (m);
  return 0;
}

/* What a Sim object's PropertiesChanged says of the properties esimd reads. */
typedef struct
{
  gboolean has_active, has_type, has_eid;
  gboolean active;
  guint32 sim_type;
  char *eid;
} SimChange;

static gboolean
read_sim_change (sd_bus_message *msg, SimChange *c)
{
  if (sd_bus_message_enter_container (msg, 'a', "{sv}") < 0)
    return FALSE;
  while (sd_bus_message_enter_container (msg, 'e', "sv") > 0)
    {
      const char *name;
      int r;

      if (sd_bus_message_read (msg, "s", &name) < 0)
        return FALSE;
      if (g_str_equal (name, "Active"))
        {
          int active = 0;

          r = sd_bus_message_read (msg, "v", "b", &active);
          c->active = active;
          c->has_active = r >= 0;
        }
      else if (g_str_equal (name, "SimType"))
        c->has_type = (r = sd_bus_message_read (msg, "v", "u", &c->sim_type)) >= 0;
      else if (g_str_equal (name, "Eid"))
        c->has_eid = (r = read_string_variant (msg, "s", &c->eid)) >= 0;
      else
        r = sd_bus_message_skip (msg, "v");
      if (r < 0 || sd_bus_message_exit_container (msg) < 0)
        return FALSE;
    }
  return TRUE;
}

/* Applies @c to the SIM in a slot; TRUE when something esimd uses changed. */
static gboolean
apply_sim_change (MmSlotSim *sim, const SimChange *c)
{
  gboolean changed = FALSE;

  if (c->has_active && !c->active != !sim->active)
    {
      sim->active = c->active;
      changed = TRUE;
    }
  if (c->has_type && c->sim_type != sim->sim_type)
    {
      sim->sim_type = c->sim_type;
      changed = TRUE;
    }
  /* ModemManager gives "" for a SIM without an EID. */
  if (c->has_eid && g_strcmp0 (*c->eid ? c->eid : NULL, sim->eid && *sim->eid ? sim->eid : NULL))
    {
      g_free (sim->eid);
      sim->eid = g_strdup (c->eid);
      changed = TRUE;
    }
  return changed;
}

/* A Sim object changed without its modem changing: ModemManager read the EID late, or an eSIM
 * became active or inactive in its slot (a switch the modem reported by itself). What changed
 * is announced again; discovery compares it with what it knew and probes again only for a real
 * change. A change while the slots are being read is in the answers already. */
static int
on_sim_props_changed (sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
  const char *path = sd_bus_message_get_path (msg);
  SimChange change = { 0 };
  g_autoptr (GPtrArray) touched = g_ptr_array_new ();
  GHashTableIter it;
  const char *iface;
  MmModem *m;

  if (!from_mm (msg) || sd_bus_message_read (msg, "s", &iface) < 0 ||
      !g_str_equal (iface, MM_SIM_IFACE) || !read_sim_change (msg, &change))
    {
      g_free (change.eid);
      return 0;
    }
  g_hash_table_iter_init (&it, mm.modems);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &m))
    {
      gboolean changed = FALSE;

      for (guint i = 0; m->slot_sims && i < m->slot_sims->len; i++)
        {
          MmSlotSim *sim = m->slot_sims->pdata[i];

          if (g_str_equal (sim->path, path) && !sim->call)
            changed |= apply_sim_change (sim, &change);
        }
      /* The SIM a modem reached through AT alone uses: whether it is physical decides whether
       * the modem is taken from ModemManager to probe it. */
      if (change.has_type && m->sim_type_known && g_strcmp0 (m->sim, path) == 0 &&
          m->sim_type != change.sim_type)
        {
          m->sim_type = change.sim_type;
          changed = TRUE;
        }
      if (changed && m->announced)
        g_ptr_array_add (touched, m);
    }
  g_free (change.eid);
  for (guint i = 0; i < touched->len; i++)
    {
      m = touched->pdata[i];
      g_debug ("ModemManager: a SIM of modem %s changed (%s)", m->path, path);
      announce (m);
    }
  return 0;
}

/* ---- ModemManager coming and going -------------------------------------------------------- */

static int
objects_listed (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  int r;

  mm.objects_call = sd_bus_slot_unref (mm.objects_call);
  if (sd_bus_message_is_method_error (reply, NULL))
    g_warning ("ModemManager did not list its modems: %s",
               sd_bus_message_get_error (reply)->message);
  else if (sd_bus_message_enter_container (reply, 'a', "{oa{sa{sv}}}") >= 0)
    {
      while ((r = sd_bus_message_enter_container (reply, 'e', "oa{sa{sv}}")) > 0)
        {
          const char *path;

          if (sd_bus_message_read (reply, "o", &path) < 0)
            break;
          object_interfaces (path, reply);
          if (sd_bus_message_exit_container (reply) < 0)
            break;
        }
    }
  esimd_discovery_source_settled (ESIMD_SOURCE_MM);
  return 0;
}

static void
appeared (const char *owner)
{
  g_free (mm.owner);
  mm.owner = g_strdup (owner);
  g_hash_table_remove_all (mm.modems);
  esimd_discovery_mm_present (TRUE);
  mm.objects_call = sd_bus_slot_unref (mm.objects_call);
  if (sd_bus_call_method_async (mm.bus, &mm.objects_call, owner, MM_PATH, OM_IFACE,
                                "GetManagedObjects", objects_listed, NULL, "") < 0)
    esimd_discovery_source_settled (ESIMD_SOURCE_MM);
}

static void
vanished (void)
{
  g_clear_pointer (&mm.owner, g_free);
  mm.objects_call = sd_bus_slot_unref (mm.objects_call);
  g_hash_table_remove_all (mm.modems);
  esimd_discovery_mm_present (FALSE);
}

static int
on_owner_changed (sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
  const char *name, *old_owner, *new_owner;

  if (sd_bus_message_read (msg, "sss", &name, &old_owner, &new_owner) < 0 ||
      !g_str_equal (name, MM_NAME))
    return 0;
  if (*new_owner)
    {
      g_info ("ModemManager %s the bus", mm.owner ? "restarted on" : "came on");
      appeared (new_owner);
    }
  else if (mm.owner)
    {
      g_info ("ModemManager left the bus");
      vanished ();
    }
  return 0;
}

static int
owner_got (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  const char *owner;

  mm.owner_call = sd_bus_slot_unref (mm.owner_call);
  if (mm.owner)
    return 0; /* NameOwnerChanged came first */
  if (!sd_bus_message_is_method_error (reply, NULL) &&
      sd_bus_message_read (reply, "s", &owner) >= 0)
    appeared (owner);
  else
    esimd_discovery_mm_present (FALSE);
  return 0;
}

gboolean
esimd_discovery_mm_start (gpointer bus)
{
  int r;

  mm.bus = sd_bus_ref (bus);
  mm.modems = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, mm_modem_free);
  mm.held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* The matches reach the bus before the question: no change between the two is missed. */
  r = sd_bus_add_match_async (mm.bus, &mm.owner_match,
                              "type='signal',sender='org.freedesktop.DBus',"
                              "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                              "member='NameOwnerChanged',arg0='" MM_NAME "'",
                              on_owner_changed, NULL, NULL);
  if (r >= 0)
    r = sd_bus_add_match_async (mm.bus, &mm.objects_match,
                                "type='signal',path='" MM_PATH "',interface='" OM_IFACE "'",
                                on_objects_signal, NULL, NULL);
  if (r >= 0)
    r = sd_bus_add_match_async (mm.bus, &mm.props_match,
                                "type='signal',interface='" PROPS_IFACE "',"
                                "member='PropertiesChanged',path_namespace='" MM_PATH "/Modem',"
                                "arg0='" MM_MODEM_IFACE "'",
                                on_props_changed, NULL, NULL);
  if (r >= 0)
    r = sd_bus_add_match_async (mm.bus, &mm.sim_props_match,
                                "type='signal',interface='" PROPS_IFACE "',"
                                "member='PropertiesChanged',path_namespace='" MM_PATH "/SIM',"
                                "arg0='" MM_SIM_IFACE "'",
                                on_sim_props_changed, NULL, NULL);
  if (r >= 0)
    r = sd_bus_call_method_async (mm.bus, &mm.owner_call, "org.freedesktop.DBus",
                                  "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                  owner_got, NULL, "s", MM_NAME);
  if (r < 0)
    {
      g_warning ("cannot follow ModemManager on the bus: %s", g_strerror (-r));
      esimd_discovery_mm_stop ();
      return FALSE;
    }
  return TRUE;
}

void
esimd_discovery_mm_stop (void)
{
  if (!mm.bus)
    return;
  mm.owner_match = sd_bus_slot_unref (mm.owner_match);
  mm.objects_match = sd_bus_slot_unref (mm.objects_match);
  mm.props_match = sd_bus_slot_unref (mm.props_match);
  mm.sim_props_match = sd_bus_slot_unref (mm.sim_props_match);
  mm.owner_call = sd_bus_slot_unref (mm.owner_call);
  mm.objects_call = sd_bus_slot_unref (mm.objects_call);
  g_clear_pointer (&mm.modems, g_hash_table_unref);
  g_clear_pointer (&mm.held, g_hash_table_unref);
  g_clear_pointer (&mm.owner, g_free);
  mm.bus = sd_bus_unref (mm.bus);
}

/* ---- InhibitDevice ------------------------------------------------------------------------ */

typedef struct
{
  GTask *task; /* NULL: taken again from a restarted ModemManager (retake_held()) */
  char *uid;
  char *owner; /* the ModemManager asked */
} InhibitCall;

static void
inhibit_call_free (InhibitCall *c)
{
  g_clear_object (&c->task);
  g_free (c->uid);
  g_free (c->owner);
  g_free (c);
}

static int
inhibited (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  InhibitCall *c = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);

  if (e)
    {
      esimd_discovery_note_inhibited (c->uid, FALSE);
      g_task_return_new_error (c->task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "ModemManager did not hand over modem %s: %s", c->uid, e->message);
    }
  else
    {
      g_debug ("ModemManager handed over modem %s", c->uid);
      if (mm.held)
        g_hash_table_replace (mm.held, g_strdup (c->uid), g_strdup (c->owner));
      g_task_return_boolean (c->task, TRUE);
    }
  inhibit_call_free (c);
  return 0;
}

static int
given_back_again (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  const sd_bus_error *e = sd_bus_message_get_error (reply);

  if (e)
    g_warning ("ModemManager did not take back modem %s: %s", (char *) userdata, e->message);
  g_free (userdata);
  return 0;
}

static int
retaken (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  InhibitCall *c = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  const char *holder = mm.held ? g_hash_table_lookup (mm.held, c->uid) : NULL;

  if (e)
    g_warning ("modem %s: ModemManager restarted while esimd used it, and did not hand it over "
               "again: %s; both may talk to it until esimd's job ends",
               c->uid, e->message);
  else if (g_strcmp0 (holder, c->owner) != 0)
    {
      /* The job ended while ModemManager was being asked: give it back at once. */
      char *copy = g_strdup (c->uid);

      if (sd_bus_call_method_async (mm.bus, NULL, c->owner, MM_PATH, MM_NAME, "InhibitDevice",
                                    given_back_again, copy, "sb", c->uid, 0) < 0)
        g_free (copy);
    }
  else
    g_info ("modem %s: taken again from the restarted ModemManager for the job under way", c->uid);
  inhibit_call_free (c);
  return 0;
}

/* ModemManager keeps the modems it handed over in its own memory, for as long as the caller is on
 * the bus: one that restarted while esimd held a modem knows nothing of it, probes the modem again
 * (AT commands on the very port esimd is using) and exports it. Take it again from the new one as
 * soon as it exports the modem (InhibitDevice names only a modem on the bus), and give it back to
 * that one when the job ends (hold_give()). */
static void
retake_held (const MmModem *m)
{
  const char *holder;
  InhibitCall *c;

  if (!m->device || !mm.owner || !mm.held)
    return;
  holder = g_hash_table_lookup (mm.held, m->device);
  if (!holder || g_str_equal (holder, mm.owner))
    return;
  g_info ("modem %s: ModemManager restarted while esimd used it; taking it again", m->device);
  /* Asked once: later announcements of the same modem do not ask again. */
  g_hash_table_replace (mm.held, g_strdup (m->device), g_strdup (mm.owner));
  c = g_new0 (InhibitCall, 1);
  c->uid = g_strdup (m->device);
  c->owner = g_strdup (mm.owner);
  if (sd_bus_call_method_async (mm.bus, NULL, mm.owner, MM_PATH, MM_NAME, "InhibitDevice", retaken,
                                c, "sb", c->uid, 1) < 0)
    inhibit_call_free (c);
}

static void
hold_take (const char *uid, GAsyncReadyCallback callback, gpointer user_data)
{
  InhibitCall *c = g_new0 (InhibitCall, 1);
  int r;

  c->task = g_task_new (NULL, NULL, callback, user_data);
  c->uid = g_strdup (uid);
  c->owner = g_strdup (mm.owner);
  if (!mm.bus || !mm.owner)
    {
      /* ModemManager left (stopped, or restarting): nobody holds the port, and its inhibitions
       * went with it. The modem is esimd's; a ModemManager that comes back and exports it is
       * asked for it then (retake_held()). */
      g_debug ("modem %s: ModemManager is not on the bus; used without asking it", uid);
      esimd_discovery_note_inhibited (uid, TRUE);
      if (mm.held)
        g_hash_table_replace (mm.held, g_strdup (uid), g_strdup (""));
      g_task_return_boolean (c->task, TRUE);
      inhibit_call_free (c);
      return;
    }
  /* Before the call: ModemManager takes the modem off the bus before it answers. */
  esimd_discovery_note_inhibited (uid, TRUE);
  r = sd_bus_call_method_async (mm.bus, NULL, mm.owner, MM_PATH, MM_NAME, "InhibitDevice",
                                inhibited, c, "sb", uid, 1);
  if (r < 0)
    {
      esimd_discovery_note_inhibited (uid, FALSE);
      g_task_return_new_error (c->task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: cannot ask ModemManager for it: %s", uid,
                               g_strerror (-r));
      inhibit_call_free (c);
    }
}

static gboolean
hold_take_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static int
uninhibited (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  char *uid = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);

  if (e)
    g_warning ("ModemManager did not take back modem %s: %s", uid, e->message);
  else
    g_debug ("ModemManager took back modem %s", uid);
  esimd_discovery_note_inhibited (uid, FALSE);
  g_free (uid);
  return 0;
}

static void
hold_give (const char *uid)
{
  char *copy = g_strdup (uid);

  if (mm.held)
    g_hash_table_remove (mm.held, uid);
  /* The inhibition ends with esimd's presence on the bus anyway: nothing more to do when
   * ModemManager is gone or the call cannot be sent. */
  if (!mm.bus || !mm.owner ||
      sd_bus_call_method_async (mm.bus, NULL, mm.owner, MM_PATH, MM_NAME, "InhibitDevice",
                                uninhibited, copy, "sb", uid, 0) < 0)
    {
      esimd_discovery_note_inhibited (uid, FALSE);
      g_free (copy);
    }
}

static const EsimdModemHold mm_hold = {
  .take = hold_take,
  .take_finish = hold_take_finish,
  .give = hold_give,
};

const EsimdModemHold *
esimd_discovery_mm_hold (void)
{
  return &mm_hold;
}

/* ---- SetPrimarySimSlot -------------------------------------------------------------------- */

static int
primary_slot_set (sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
  GTask *task = userdata;
  const sd_bus_error *e = sd_bus_message_get_error (reply);

  if (e)
    g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                             "ModemManager did not switch the slot: %s", e->message);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
  return 0;
}

void
esimd_discovery_mm_set_primary_slot (const char *mm_path, guint slot, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  int r;

  if (!mm.bus || !mm.owner)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "ModemManager, which manages the modem, is not on the bus");
      g_object_unref (task);
      return;
    }
  r = sd_bus_call_method_async (mm.bus, NULL, mm.owner, mm_path, MM_MODEM_IFACE,
                                "SetPrimarySimSlot", primary_slot_set, task, "u", slot);
  if (r < 0)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "cannot ask ModemManager to switch the slot: %s", g_strerror (-r));
      g_object_unref (task);
    }
}

gboolean
esimd_discovery_mm_set_primary_slot_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
