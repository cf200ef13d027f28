/* bus-watch.c — notices callers leaving the bus, every caller through one match rule. */
#include "bus-watch.h"

struct EsimdBusWatch
{
  char *owner;
  EsimdBusWatchFunc func;
  gpointer user_data;
  gboolean gone;     /* the owner left the bus */
  gboolean notified; /* func was called for it */
  guint idle_id;     /* func, for a watch given one after its owner left */
};

/* owner → GPtrArray of the EsimdBusWatch watching it (not owned). Freed once empty. */
static GHashTable *watches;

/* Calls the func of one watch of @owner that has one and was not told yet; FALSE when none is
 * left. Looked up anew each time: a func may free any watch, its own or another's. */
static gboolean
notify_one (const char *owner)
{
  GPtrArray *list = watches ? g_hash_table_lookup (watches, owner) : NULL;

  for (guint i = 0; list && i < list->len; i++)
    {
      EsimdBusWatch *w = list->pdata[i];

      if (w->gone && w->func && !w->notified)
        {
          w->notified = TRUE;
          w->func (w, w->user_data);
          return TRUE;
        }
    }
  return FALSE;
}

static int
on_name_owner_changed (sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  const char *name = NULL, *old_owner = NULL, *new_owner = NULL;
  GPtrArray *list;

  if (sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 || *new_owner ||
      name[0] != ':' || !watches || !(list = g_hash_table_lookup (watches, name)))
    return 0;
  for (guint i = 0; i < list->len; i++)
    ((EsimdBusWatch *) list->pdata[i])->gone = TRUE;
  while (notify_one (name))
    ;
  return 0;
}

int
esimd_bus_watch_init (sd_bus *bus)
{
  /* arg2='': the name has no owner any more. Unique names (":1.42") are never reused, so "left"
   * is final. A floating slot: the rule lasts as long as the connection. */
  return sd_bus_add_match_async (bus, NULL,
                                 "type='signal',sender='org.freedesktop.DBus',"
                                 "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
                                 "member='NameOwnerChanged',arg2=''",
                                 on_name_owner_changed, NULL, NULL);
}

EsimdBusWatch *
esimd_bus_watch_new (const char *owner, EsimdBusWatchFunc func, gpointer user_data)
{
  EsimdBusWatch *w = g_new0 (EsimdBusWatch, 1);
  GPtrArray *list;

  w->owner = g_strdup (owner ? owner : "");
  w->func = func;
  w->user_data = user_data;
  if (!watches)
    watches =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  if (!(list = g_hash_table_lookup (watches, w->owner)))
    {
      list = g_ptr_array_new ();
      g_hash_table_insert (watches, g_strdup (w->owner), list);
    }
  g_ptr_array_add (list, w);
  return w;
}

static gboolean
notify_later (gpointer data)
{
  EsimdBusWatch *w = data;

  w->idle_id = 0;
  if (w->func && !w->notified)
    {
      w->notified = TRUE;
      w->func (w, w->user_data);
    }
  return G_SOURCE_REMOVE;
}

void
esimd_bus_watch_set_func (EsimdBusWatch *watch, EsimdBusWatchFunc func, gpointer user_data)
{
  watch->func = func;
  watch->user_data = user_data;
  watch->notified = FALSE;
  g_clear_handle_id (&watch->idle_id, g_source_remove);
  if (watch->gone && func)
    watch->idle_id = g_idle_add (notify_later, watch);
}

gboolean
esimd_bus_watch_gone (const EsimdBusWatch *watch)
{
  return watch->gone;
}

const char *
esimd_bus_watch_owner (const EsimdBusWatch *watch)
{
  return watch->owner;
}

void
esimd_bus_watch_free (EsimdBusWatch *watch)
{
  GPtrArray *list;

  if (!watch)
    return;
  g_clear_handle_id (&watch->idle_id, g_source_remove);
  if (watches && (list = g_hash_table_lookup (watches, watch->owner)))
    {
      g_ptr_array_remove_fast (list, watch);
      if (list->len == 0)
        g_hash_table_remove (watches, watch->owner);
    }
  if (watches && g_hash_table_size (watches) == 0)
    g_clear_pointer (&watches, g_hash_table_unref);
  g_free (watch->owner);
  g_free (watch);
}
