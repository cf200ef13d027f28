/* verb-monitor.c — monitor: esimd's signals, one line (or JSON object) each, as they come. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"

#include <stdio.h>
#include <string.h>

/* The argument names of esimd's own signals, as the introspection XML names them. */
static const struct
{
  const char *member;
  const char *const args[6];
} signal_args[] = {
  { "DownloadResult", { "job", "result", "iccid", "error_name", "error_message", NULL } },
  { "NotificationPending", { "seq", "operation", "iccid", "address", NULL } },
  { "Finished", { "state", NULL } },
};

static const char *const *
arg_names (const char *member)
{
  for (gsize i = 0; i < G_N_ELEMENTS (signal_args); i++)
    if (g_str_equal (signal_args[i].member, member))
      return signal_args[i].args;
  return NULL;
}

/* String or object path @i of the tuple @body, borrowed from it. */
static const char *
tuple_str (GVariant *body, gsize i)
{
  const char *s = "";
  g_autoptr (GVariant) child = g_variant_get_child_value (body, i);

  if (g_variant_is_of_type (child, G_VARIANT_TYPE_STRING) ||
      g_variant_is_of_type (child, G_VARIANT_TYPE_OBJECT_PATH))
    g_variant_get_child (body, i, g_variant_is_of_type (child, G_VARIANT_TYPE_STRING) ? "&s" : "&o",
                         &s);
  return s;
}

/* "org.esim.Job" → "Job" */
static const char *
short_iface (const char *iface)
{
  return g_str_has_prefix (iface, "org.esim.") ? iface + strlen ("org.esim.") : iface;
}

static JsonNode *
args_json (const char *member, GVariant *body)
{
  const char *const *names = arg_names (member);
  JsonObject *obj;

  if (g_str_equal (member, "PropertiesChanged") &&
      g_variant_is_of_type (body, G_VARIANT_TYPE ("(sa{sv}as)")))
    {
      g_autoptr (GVariant) changed = g_variant_get_child_value (body, 1);
      g_autoptr (GVariant) invalidated = g_variant_get_child_value (body, 2);

      obj = json_object_new ();
      json_object_set_string_member (obj, "interface", tuple_str (body, 0));
      json_object_set_object_member (obj, "changed", esimctl_json_from_properties (changed));
      json_object_set_member (obj, "invalidated", esimctl_json_from_variant (invalidated));
      return json_node_init_object (json_node_alloc (), obj);
    }
  if (g_str_equal (member, "InterfacesAdded") &&
      g_variant_is_of_type (body, G_VARIANT_TYPE ("(oa{sa{sv}})")))
    {
      g_autoptr (GVariant) ifaces = g_variant_get_child_value (body, 1);
      JsonObject *by_iface = json_object_new ();
      GVariantIter it;
      const char *iface;
      GVariant *props;

      g_variant_iter_init (&it, ifaces);
      while (g_variant_iter_next (&it, "{&s@a{sv}}", &iface, &props))
        {
          json_object_set_object_member (by_iface, iface, esimctl_json_from_properties (props));
          g_variant_unref (props);
        }
      obj = json_object_new ();
      json_object_set_string_member (obj, "object", tuple_str (body, 0));
      json_object_set_object_member (obj, "interfaces", by_iface);
      return json_node_init_object (json_node_alloc (), obj);
    }
  if (g_str_equal (member, "InterfacesRemoved") &&
      g_variant_is_of_type (body, G_VARIANT_TYPE ("(oas)")))
    {
      g_autoptr (GVariant) ifaces = g_variant_get_child_value (body, 1);

      obj = json_object_new ();
      json_object_set_string_member (obj, "object", tuple_str (body, 0));
      json_object_set_member (obj, "interfaces", esimctl_json_from_variant (ifaces));
      return json_node_init_object (json_node_alloc (), obj);
    }
  if (names && g_variant_n_children (body) == g_strv_length ((char **) names))
    {
      obj = json_object_new ();
      for (gsize i = 0; names[i]; i++)
        {
          g_autoptr (GVariant) v = g_variant_get_child_value (body, i);

          json_object_set_member (obj, names[i], esimctl_json_from_variant (v));
        }
      return json_node_init_object (json_node_alloc (), obj);
    }
  return esimctl_json_from_variant (body);
}

static char *
args_text (const char *member, GVariant *body)
{
  const char *const *names = arg_names (member);
  GString *s = g_string_new (NULL);

  if (g_str_equal (member, "PropertiesChanged") &&
      g_variant_is_of_type (body, G_VARIANT_TYPE ("(sa{sv}as)")))
    {
      g_autoptr (GVariant) changed = g_variant_get_child_value (body, 1);
      g_autoptr (GVariant) invalidated = g_variant_get_child_value (body, 2);
      g_autofree const char **gone = g_variant_get_strv (invalidated, NULL);
      GVariantIter it;
      const char *name;
      GVariant *value;

      g_string_append (s, short_iface (tuple_str (body, 0)));
      g_variant_iter_init (&it, changed);
      while (g_variant_iter_next (&it, "{&sv}", &name, &value))
        {
          g_autofree char *text = esimctl_format_value (value);

          g_string_append_printf (s, " %s=%s", name, text);
          g_variant_unref (value);
        }
      for (gsize i = 0; gone[i]; i++)
        g_string_append_printf (s, " %s=?", gone[i]);
    }
  else if (g_str_equal (member, "InterfacesAdded") &&
           g_variant_is_of_type (body, G_VARIANT_TYPE ("(oa{sa{sv}})")))
    {
      g_autoptr (GVariant) ifaces = g_variant_get_child_value (body, 1);
      GVariantIter it;
      const char *iface;

      g_string_append (s, tuple_str (body, 0));
      g_variant_iter_init (&it, ifaces);
      while (g_variant_iter_next (&it, "{&s@a{sv}}", &iface, NULL))
        if (!g_str_has_prefix (iface, "org.freedesktop.DBus."))
          g_string_append_printf (s, " %s", short_iface (iface));
    }
  else if (g_str_equal (member, "InterfacesRemoved") &&
           g_variant_is_of_type (body, G_VARIANT_TYPE ("(oas)")))
    {
      g_autoptr (GVariant) ifaces = g_variant_get_child_value (body, 1);
      g_autofree const char **list = g_variant_get_strv (ifaces, NULL);

      g_string_append (s, tuple_str (body, 0));
      for (gsize i = 0; list[i]; i++)
        if (!g_str_has_prefix (list[i], "org.freedesktop.DBus."))
          g_string_append_printf (s, " %s", short_iface (list[i]));
    }
  else
    for (gsize i = 0; i < g_variant_n_children (body); i++)
      {
        g_autoptr (GVariant) v = g_variant_get_child_value (body, i);
        g_autofree char *text = esimctl_format_value (v);

        if (names && i < g_strv_length ((char **) names))
          g_string_append_printf (s, "%s%s=%s", i ? " " : "", names[i], text);
        else
          g_string_append_printf (s, "%s%s", i ? " " : "", text);
      }
  return g_string_free (s, FALSE);
}

/* One line: JSON {time, path, interface, signal, args}, or time, path, signal and @text. */
static void
print_event (Esimctl *ctl, const char *path, const char *iface, const char *member, JsonNode *args,
             const char *text)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  if (ctl->json)
    {
      g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
      JsonObject *obj = json_object_new ();
      g_autofree char *time = g_date_time_format_iso8601 (now);

      json_object_set_string_member (obj, "time", time);
      json_object_set_string_member (obj, "path", path);
      json_object_set_string_member (obj, "interface", iface);
      json_object_set_string_member (obj, "signal", member);
      json_object_set_member (obj, "args", args);
      json_node_take_object (root, obj);
      esimctl_json_print (root, TRUE, stdout);
      return;
    }
  {
    g_autofree char *time = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");

    json_node_unref (args);
    g_print ("%s.%03d  %s  %s  %s\n", time, g_date_time_get_microsecond (now) / 1000, path, member,
             text);
    fflush (stdout);
  }
}

static int
on_signal (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  Esimctl *ctl = data;
  const char *member = sd_bus_message_get_member (m);
  const char *iface = sd_bus_message_get_interface (m);
  const char *path = sd_bus_message_get_path (m);
  g_autoptr (GVariant) body = esimctl_message_read (m, NULL);
  g_autofree char *text = NULL;

  if (!body || !member || !iface || !path)
    return 0;
  text = ctl->json ? NULL : args_text (member, body);
  print_event (ctl, path, iface, member, args_json (member, body), text);
  return 0;
}

/* esimd starting or stopping is worth a line too; it comes from the bus, not from esimd. */
static int
on_owner_changed (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  const char *name, *old_owner, *new_owner;
  JsonObject *args;

  /* Only the bus itself says who owns a name (a look-alike addressed to esimctl is not it). */
  if (g_strcmp0 (sd_bus_message_get_sender (m), "org.freedesktop.DBus") != 0 ||
      sd_bus_message_read (m, "sss", &name, &old_owner, &new_owner) < 0 ||
      !g_str_equal (name, ESIMD_BUS_NAME))
    return 0;
  args = json_object_new ();
  json_object_set_string_member (args, "name", name);
  json_object_set_string_member (args, "old_owner", old_owner);
  json_object_set_string_member (args, "new_owner", new_owner);
  print_event (data, sd_bus_message_get_path (m), sd_bus_message_get_interface (m),
               sd_bus_message_get_member (m), json_node_init_object (json_node_alloc (), args),
               *new_owner ? "esimd started" : "esimd stopped");
  json_object_unref (args);
  return 0;
}

gboolean
esimctl_verb_monitor (Esimctl *ctl, int argc, char **argv, GError **error)
{
  static const char *const rules[] = {
    "interface='" ESIMD_MANAGER_IFACE "',member='DownloadResult'",
    "interface='" ESIMD_MANAGER_IFACE "',member='NotificationPending'",
    "interface='" ESIMD_JOB_IFACE "',member='Finished'",
    "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
    "path_namespace='" ESIMD_ROOT_PATH "'",
    "interface='org.freedesktop.DBus.ObjectManager',path='" ESIMD_ROOT_PATH "'",
  };
  g_autoptr (sd_bus_slot) owner_slot = NULL;
  sd_bus_slot *slots[G_N_ELEMENTS (rules)] = { NULL };
  gboolean never = FALSE;
  gboolean ok = FALSE;
  int ret;

  if (!esimctl_parse_verb (
          ctl, "monitor", NULL, "Prints esimd's signals as they come, until interrupted.",
          "One line per signal: time, object path, signal and its arguments:\n"
          "DownloadResult, NotificationPending, Job Finished, PropertiesChanged of\n"
          "eUICCs, profiles and jobs, InterfacesAdded/Removed as profiles and jobs\n"
          "come and go, and esimd starting or stopping. With --json, one JSON\n"
          "object per line.",
          NULL, &argc, &argv, 0, 0, error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    if (!esimctl_bus_match (ctl, rules[i], on_signal, ctl, &slots[i], error))
      goto out;
  ret = sd_bus_match_signal (ctl->bus, &owner_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, ctl);
  if (ret < 0)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE,
                   "cannot subscribe to the bus's signals: %s", g_strerror (-ret));
      goto out;
    }
  /* Interrupting is the normal way to stop, so it is a success. */
  esimctl_catch_interrupt (TRUE);
  ok = esimctl_bus_wait (ctl, &never, 0, error) == ESIMCTL_WAIT_INTERRUPTED;
  esimctl_catch_interrupt (FALSE);

out:
  for (gsize i = 0; i < G_N_ELEMENTS (slots); i++)
    sd_bus_slot_unref (slots[i]);
  return ok;
}
