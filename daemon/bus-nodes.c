/* bus-nodes.c — a node enumerator's answer, shaped for the call that asked (bus-nodes.h). */
#include "bus-nodes.h"

#include <stdlib.h>
#include <string.h>

/* The direct child of @prefix on the way to @path, or NULL when @path is not below @prefix. */
static char *
child_of (const char *prefix, const char *path)
{
  gsize n = strlen (prefix);
  const char *rest, *slash;

  if (g_str_equal (prefix, "/"))
    n = 0;
  else if (strncmp (path, prefix, n) != 0 || path[n] != '/')
    return NULL;
  rest = path + n + 1;
  if (!*rest)
    return NULL;
  slash = strchr (rest, '/');
  return g_strndup (path, slash ? (gsize) (slash - path) : strlen (path));
}

char **
esimd_bus_nodes_answer (sd_bus *bus, const char *prefix, const char *const *paths, gsize n_paths)
{
  sd_bus_message *call = sd_bus_get_current_message (bus);
  gboolean introspect = call && sd_bus_message_is_method_call (
                                    call, "org.freedesktop.DBus.Introspectable", "Introspect") > 0;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  char **out = calloc (n_paths + 1, sizeof (char *));
  gsize n = 0;

  if (!out)
    return NULL;
  for (gsize i = 0; i < n_paths; i++)
    {
      char *node = introspect ? child_of (prefix, paths[i]) : g_strdup (paths[i]);

      if (!node)
        continue;
      if (!g_hash_table_add (seen, node))
        continue; /* already there: the set owned and freed the duplicate */
      if (!(out[n++] = strdup (node)))
        {
          for (gsize j = 0; j < n; j++)
            free (out[j]);
          free (out);
          return NULL;
        }
    }
  return out;
}
