/* bus-props.c — PropertiesChanged carries a property only when its value differs from the one
 * clients were last told. */
#include "bus-props.h"

#include "bus.h"
#include "bus-gvariant.h"
#include "bus-source.h"

#include <errno.h>

struct _EsimdBusProps
{
  const sd_bus_vtable *vtable;
  char *iface;
  GHashTable *sent; /* property name (static, the vtable's) → GVariant last sent */
};

EsimdBusProps *
esimd_bus_props_new (const sd_bus_vtable *vtable, const char *iface)
{
  EsimdBusProps *props = g_new0 (EsimdBusProps, 1);

  props->vtable = vtable;
  props->iface = g_strdup (iface);
  props->sent =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_variant_unref);
  return props;
}

void
esimd_bus_props_free (EsimdBusProps *props)
{
  if (!props)
    return;
  g_hash_table_unref (props->sent);
  g_free (props->iface);
  g_free (props);
}

static const sd_bus_vtable *
find_property (const EsimdBusProps *props, const char *name)
{
  for (const sd_bus_vtable *v = props->vtable; v->type != _SD_BUS_VTABLE_END; v++)
    if ((v->type == _SD_BUS_VTABLE_PROPERTY || v->type == _SD_BUS_VTABLE_WRITABLE_PROPERTY) &&
        g_str_equal (v->x.property.member, name))
      return v;
  return NULL;
}

/* The value Get would return now: the getter writes into a scratch message, read back. */
static GVariant *
current_value (EsimdBusProps *props, const sd_bus_vtable *v, const char *path, void *userdata)
{
  g_autoptr (sd_bus_message) m = NULL;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  GVariant *value = NULL;
  int r;

  if (!v->x.property.get)
    return NULL;
  r = sd_bus_message_new_signal (esimd_bus, &m, path, props->iface, "Scratch");
  if (r >= 0)
    r = v->x.property.get (esimd_bus, path, props->iface, v->x.property.member, m, userdata,
                           &error);
  if (r >= 0)
    r = sd_bus_message_seal (m, 1, 0);
  if (r >= 0)
    r = sd_bus_message_rewind (m, TRUE);
  if (r >= 0)
    r = esimd_bus_read_gvariant (m, v->x.property.signature, &value);
  sd_bus_error_free (&error);
  return r >= 0 ? value : NULL;
}

void
esimd_bus_props_seen (EsimdBusProps *props, const char *path, void *userdata)
{
  g_hash_table_remove_all (props->sent);
  for (const sd_bus_vtable *v = props->vtable; v->type != _SD_BUS_VTABLE_END; v++)
    {
      GVariant *value;

      if (v->type != _SD_BUS_VTABLE_PROPERTY || !(v->flags & SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE))
        continue;
      if ((value = current_value (props, v, path, userdata)))
        g_hash_table_insert (props->sent, (gpointer) v->x.property.member, value);
    }
}

int
esimd_bus_props_changed (EsimdBusProps *props, const char *path, void *userdata,
                         const char *const *names)
{
  g_autoptr (GPtrArray) changed = g_ptr_array_new ();
  int r;

  for (const char *const *n = names; n && *n; n++)
    {
      const sd_bus_vtable *v = find_property (props, *n);
      GVariant *before, *now;

      if (!v || g_ptr_array_find_with_equal_func (changed, v->x.property.member, g_str_equal, NULL))
        continue;
      now = current_value (props, v, path, userdata);
      before = g_hash_table_lookup (props->sent, v->x.property.member);
      if (now && before && g_variant_equal (now, before))
        {
          g_variant_unref (now);
          continue;
        }
      /* A value that cannot be read now is sent anyway: the signal then carries what Get
       * says, and the next read is compared afresh. */
      if (now)
        g_hash_table_insert (props->sent, (gpointer) v->x.property.member, now);
      else
        g_hash_table_remove (props->sent, v->x.property.member);
      g_ptr_array_add (changed, (gpointer) v->x.property.member);
    }
  if (changed->len == 0)
    return 0;
  g_ptr_array_add (changed, NULL);
  r = sd_bus_emit_properties_changed_strv (esimd_bus, path, props->iface, (char **) changed->pdata);
  return r < 0 ? r : (int) changed->len - 1;
}
