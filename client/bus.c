/* bus.c — esimctl's D-Bus client: sd-bus calls with GVariant values, object lookup, waiting. */
#include "bus.h"

#include "bus-gvariant.h"
#include "errors.h"
#include "output.h"
#include "polkit-agent.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define WAIT_SLICE_US (250 * 1000) /* an interrupt is noticed within this */

gboolean
esimctl_bus_connect (Esimctl *ctl, GError **error)
{
  int r;

  if (ctl->bus)
    return TRUE;
  r = sd_bus_open_system_with_description (&ctl->bus, "esimctl");
  if (r < 0)
    {
      ctl->bus = NULL;
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE,
                   "cannot connect to the system bus: %s", g_strerror (-r));
      return FALSE;
    }
  /* Lets polkit ask for a password (through the agent started before such calls) rather than
   * refusing outright. */
  sd_bus_set_allow_interactive_authorization (ctl->bus, ctl->interactive);
  return TRUE;
}

GError *
esimctl_error_from_sd_bus (const sd_bus_error *e, int r)
{
  if (e && sd_bus_error_is_set (e))
    return esimctl_error_new_remote (e->name, e->message);
  return g_error_new (ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE, "D-Bus: %s", g_strerror (-r));
}

/* Length of the first complete type in @sig, 0 if there is none. */
static gsize
first_type_len (const char *sig)
{
  const char *end = NULL;

  if (!*sig || !g_variant_type_string_scan (sig, NULL, &end))
    return 0;
  return (gsize) (end - sig);
}

GVariant *
esimctl_message_read (sd_bus_message *m, GError **error)
{
  const char *sig = sd_bus_message_get_signature (m, TRUE);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_TUPLE);
  for (const char *p = sig ? sig : ""; *p;)
    {
      gsize len = first_type_len (p);
      g_autofree char *type = g_strndup (p, len);
      GVariant *value = NULL;
      int r = len ? esimd_bus_read_gvariant (m, type, &value) : -EBADMSG;

      if (r < 0)
        {
          g_variant_builder_clear (&b);
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_FAILED,
                       "unreadable message from esimd (%s.%s): %s",
                       sd_bus_message_get_interface (m), sd_bus_message_get_member (m),
                       g_strerror (-r));
          return NULL;
        }
      g_variant_builder_add_value (&b, value);
      g_variant_unref (value);
      p += len;
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

GVariant *
esimctl_call (Esimctl *ctl, const char *path, const char *iface, const char *member, GVariant *args,
              const char *reply_type, EsimctlCallFlags flags, GError **error)
{
  g_autoptr (GVariant) owned = args ? g_variant_ref_sink (args) : NULL;
  g_autoptr (sd_bus_message) m = NULL;
  g_autoptr (sd_bus_message) reply = NULL;
  g_autoptr (GVariant) values = NULL;
  g_auto (sd_bus_error) e = SD_BUS_ERROR_NULL;
  uint64_t timeout = 0; /* sd-bus's default, 25 s */
  int r;

  if (!esimctl_bus_connect (ctl, error))
    return NULL;
  r = sd_bus_message_new_method_call (ctl->bus, &m, ESIMD_BUS_NAME, path, iface, member);
  for (gsize i = 0, n = owned ? g_variant_n_children (owned) : 0; r >= 0 && i < n; i++)
    {
      g_autoptr (GVariant) arg = g_variant_get_child_value (owned, i);

      r = esimd_bus_append_gvariant (m, arg);
    }
  if (r < 0)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_FAILED, "cannot build the call %s.%s: %s",
                   iface, member, g_strerror (-r));
      return NULL;
    }
  if ((flags & ESIMCTL_CALL_AUTH) && ctl->interactive)
    esimctl_polkit_agent_open ();
  if (flags & ESIMCTL_CALL_JOB)
    timeout = (uint64_t) ctl->timeout * G_USEC_PER_SEC;

  r = sd_bus_call (ctl->bus, m, timeout, &e, &reply);
  if (r < 0)
    {
      if (r == -ETIMEDOUT)
        {
          g_autofree char *msg =
              g_strdup_printf ("esimd did not answer %s within %u s", member,
                               (guint) ((timeout ?: 25 * G_USEC_PER_SEC) / G_USEC_PER_SEC));

          g_propagate_error (error, esimctl_error_new_remote (SD_BUS_ERROR_NO_REPLY, msg));
          return NULL;
        }
      g_propagate_error (error, esimctl_error_from_sd_bus (&e, r));
      return NULL;
    }
  values = esimctl_message_read (reply, error);
  /* Whoever owns org.esim (another version of esimd, a broken one, a look-alike) may answer
   * with other types: that is said, never read as if it were what was asked for. */
  if (values && !g_variant_is_of_type (values, G_VARIANT_TYPE (reply_type)))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_FAILED,
                   "unexpected answer from esimd to %s: %s instead of %s", member,
                   g_variant_get_type_string (values), reply_type);
      return NULL;
    }
  return g_steal_pointer (&values);
}

GVariant *
esimctl_get_properties (Esimctl *ctl, const char *path, const char *iface, GError **error)
{
  g_autoptr (GVariant) reply =
      esimctl_call (ctl, path, "org.freedesktop.DBus.Properties", "GetAll",
                    g_variant_new ("(s)", iface), "(a{sv})", ESIMCTL_CALL_READ, error);

  if (!reply)
    return NULL;
  return g_variant_get_child_value (reply, 0);
}

GVariant *
esimctl_get_objects (Esimctl *ctl, GError **error)
{
  g_autoptr (GVariant) reply =
      esimctl_call (ctl, ESIMD_ROOT_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                    NULL, "(a{oa{sa{sv}}})", ESIMCTL_CALL_READ, error);

  if (!reply)
    return NULL;
  return g_variant_get_child_value (reply, 0);
}

GVariant *
esimctl_get_objects_for (Esimctl *ctl, char **only, GError **error)
{
  g_autoptr (GVariant) objects = esimctl_get_objects (ctl, error);

  *only = NULL;
  if (!objects)
    return NULL;
  if (ctl->euicc)
    {
      *only = esimctl_euicc_select (objects, ctl->euicc, NULL, error);
      if (!*only)
        return NULL;
    }
  return g_steal_pointer (&objects);
}

int
esimctl_path_compare (const char *a, const char *b)
{
  const char *la = strrchr (a, '/'), *lb = strrchr (b, '/');
  guint64 na, nb;

  if (la && lb && la - a == lb - b && strncmp (a, b, (gsize) (la - a)) == 0 &&
      g_ascii_string_to_unsigned (la + 1, 10, 0, G_MAXUINT64, &na, NULL) &&
      g_ascii_string_to_unsigned (lb + 1, 10, 0, G_MAXUINT64, &nb, NULL))
    return na < nb ? -1 : na > nb;
  return strcmp (a, b);
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return esimctl_path_compare (*(const char *const *) a, *(const char *const *) b);
}

GVariant *
esimctl_objects_with (GVariant *objects, const char *iface)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  GVariantBuilder b;
  GVariantIter it;
  const char *path;
  GVariant *ifaces;

  g_variant_iter_init (&it, objects);
  while (g_variant_iter_next (&it, "{&o@a{sa{sv}}}", &path, &ifaces))
    {
      if (g_variant_lookup_value (ifaces, iface, NULL))
        g_ptr_array_add (paths, (gpointer) path);
      g_variant_unref (ifaces);
    }
  g_ptr_array_sort (paths, compare_paths);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{oa{sv}}"));
  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GVariant) all = g_variant_lookup_value (objects, paths->pdata[i], NULL);
      g_autoptr (GVariant) props = g_variant_lookup_value (all, iface, G_VARIANT_TYPE_VARDICT);

      g_variant_builder_add (&b, "{o@a{sv}}", paths->pdata[i], props);
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* "0 (wwan0, EID 89…)" for each eUICC: what to choose from. */
static char *
describe_choices (GVariant *managers)
{
  GString *s = g_string_new (NULL);
  GVariantIter it;
  const char *path;
  GVariant *props;

  g_variant_iter_init (&it, managers);
  while (g_variant_iter_next (&it, "{&o@a{sv}}", &path, &props))
    {
      const char *name = esimctl_dict_str (props, "Name");
      const char *eid = esimctl_dict_str (props, "Eid");

      g_string_append_printf (s, "%s%s (%s%s%s)", s->len ? ", " : "",
                              path + strlen (ESIMD_EUICC_PREFIX), *name ? name : "?",
                              *eid ? ", EID " : "", eid);
      g_variant_unref (props);
    }
  return g_string_free (s, FALSE);
}

char *
esimctl_euicc_select (GVariant *objects, const char *selector, GVariant **properties,
                      GError **error)
{
  g_autoptr (GVariant) managers = esimctl_objects_with (objects, ESIMD_MANAGER_IFACE);
  g_autofree char *wanted_path = NULL;
  g_autofree char *choices = NULL;
  gsize n = g_variant_n_children (managers);
  GVariantIter it;
  const char *path;
  GVariant *props;

  if (properties)
    *properties = NULL;
  if (n == 0)
    {
      g_propagate_error (
          error, esimctl_error_new_remote ("org.esim.Error.NoEuicc",
                                           "esimd manages no eUICC (none found, and esimd.conf "
                                           "names none in a [Modem NAME] section)"));
      return NULL;
    }
  if (!selector && n > 1)
    {
      choices = describe_choices (managers);
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "esimd manages several eUICCs; choose one with --euicc: %s", choices);
      return NULL;
    }
  if (selector && g_ascii_isdigit (selector[0]))
    wanted_path = g_strconcat (ESIMD_EUICC_PREFIX, selector, NULL);

  g_variant_iter_init (&it, managers);
  while (g_variant_iter_next (&it, "{&o@a{sv}}", &path, &props))
    {
      gboolean match = !selector || g_strcmp0 (path, wanted_path) == 0 ||
                       g_str_equal (path, selector) ||
                       g_str_equal (esimctl_dict_str (props, "Name"), selector) ||
                       g_str_equal (esimctl_dict_str (props, "Eid"), selector);

      if (match)
        {
          if (properties)
            *properties = props;
          else
            g_variant_unref (props);
          return g_strdup (path);
        }
      g_variant_unref (props);
    }
  choices = describe_choices (managers);
  g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "no eUICC \"%s\"; esimd manages: %s",
               selector, choices);
  return NULL;
}

char *
esimctl_choose_euicc (Esimctl *ctl, GVariant **properties, GError **error)
{
  g_autoptr (GVariant) objects = esimctl_get_objects (ctl, error);

  if (!objects)
    return NULL;
  return esimctl_euicc_select (objects, ctl->euicc, properties, error);
}

const char *
esimctl_short_id (const char *path)
{
  const char *slash = strrchr (path, '/');

  return slash ? slash + 1 : path;
}

char *
esimctl_job_path (const char *id, GError **error)
{
  guint64 n;

  if (g_ascii_string_to_unsigned (id, 10, 0, G_MAXUINT32, &n, NULL))
    return g_strdup_printf (ESIMD_JOB_PREFIX "%" G_GUINT64_FORMAT, n);
  if (g_str_has_prefix (id, ESIMD_JOB_PREFIX) && g_variant_is_object_path (id))
    return g_strdup (id);
  g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
               "\"%s\" is not a job: give its number or its path (%sN)", id, ESIMD_JOB_PREFIX);
  return NULL;
}

/* Whether @m comes from the owner of org.esim. The bus applies a match's sender= only to the
 * signals it broadcasts: a signal addressed to esimctl itself reaches every match whatever its
 * sender, so anyone on the bus could otherwise make a job look finished, or failed. The owner
 * is asked again when a signal comes from another name (esimd started by the call, or
 * restarted since). */
static gboolean
from_esimd (Esimctl *ctl, sd_bus_message *m)
{
  const char *sender = sd_bus_message_get_sender (m);
  g_autoptr (sd_bus_creds) creds = NULL;
  const char *owner = NULL;

  if (!sender)
    return FALSE;
  if (g_strcmp0 (ctl->esimd_owner, sender) == 0)
    return TRUE;
  if (sd_bus_get_name_creds (ctl->bus, ESIMD_BUS_NAME, SD_BUS_CREDS_UNIQUE_NAME, &creds) < 0 ||
      sd_bus_creds_get_unique_name (creds, &owner) < 0)
    return FALSE;
  g_free (ctl->esimd_owner);
  ctl->esimd_owner = g_strdup (owner);
  return g_str_equal (owner, sender);
}

typedef struct
{
  Esimctl *ctl;
  sd_bus_message_handler_t callback;
  void *userdata;
} Match;

static int
on_match (sd_bus_message *m, void *data, sd_bus_error *ret_error)
{
  Match *match = data;

  if (!from_esimd (match->ctl, m))
    return 0;
  return match->callback (m, match->userdata, ret_error);
}

gboolean
esimctl_bus_match (Esimctl *ctl, const char *rule, sd_bus_message_handler_t callback,
                   void *userdata, sd_bus_slot **slot, GError **error)
{
  g_autofree char *full = g_strdup_printf ("type='signal',sender='" ESIMD_BUS_NAME "',%s", rule);
  Match *match;
  int r;

  g_return_val_if_fail (slot != NULL, FALSE);
  if (!esimctl_bus_connect (ctl, error))
    return FALSE;
  match = g_new0 (Match, 1);
  match->ctl = ctl;
  match->callback = callback;
  match->userdata = userdata;
  r = sd_bus_add_match (ctl->bus, slot, full, on_match, match);
  if (r < 0)
    {
      g_free (match);
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE,
                   "cannot subscribe to esimd's signals: %s", g_strerror (-r));
      return FALSE;
    }
  sd_bus_slot_set_destroy_callback (*slot, g_free);
  return TRUE;
}

static volatile sig_atomic_t interrupts;
static sig_atomic_t interrupts_seen; /* each interrupt ends one wait */

static void
on_interrupt (int sig)
{
  if (++interrupts > 1)
    {
      signal (sig, SIG_DFL);
      raise (sig);
    }
}

void
esimctl_catch_interrupt (gboolean catch)
{
  /* No SA_RESTART: the signal must end the poll() inside sd_bus_wait(). */
  struct sigaction sa = { .sa_handler = catch ? on_interrupt : SIG_DFL };

  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

gboolean
esimctl_interrupted (void)
{
  return interrupts > 0;
}

EsimctlWait
esimctl_bus_wait (Esimctl *ctl, const gboolean *done, gint64 deadline_us, GError **error)
{
  int r;

  if (!esimctl_bus_connect (ctl, error))
    return ESIMCTL_WAIT_FAILED;
  while (!*done)
    {
      gint64 now;
      uint64_t slice = WAIT_SLICE_US;

      r = sd_bus_process (ctl->bus, NULL);
      if (r < 0)
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE,
                       "lost the connection to the system bus: %s", g_strerror (-r));
          return ESIMCTL_WAIT_FAILED;
        }
      if (r > 0)
        continue;
      if (interrupts != interrupts_seen)
        {
          interrupts_seen = interrupts;
          return ESIMCTL_WAIT_INTERRUPTED;
        }
      now = g_get_monotonic_time ();
      if (deadline_us && now >= deadline_us)
        return ESIMCTL_WAIT_TIMEOUT;
      if (deadline_us)
        slice = MIN (slice, (uint64_t) (deadline_us - now));
      r = sd_bus_wait (ctl->bus, slice);
      if (r < 0 && r != -EINTR)
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_UNAVAILABLE,
                       "lost the connection to the system bus: %s", g_strerror (-r));
          return ESIMCTL_WAIT_FAILED;
        }
    }
  return ESIMCTL_WAIT_DONE;
}
