/* polkit.c — org.freedesktop.PolicyKit1.Authority.CheckAuthorization, asynchronously. */
#include "polkit.h"

#include "bus-errors.h"
#include "bus-source.h"

typedef struct
{
  EsimdPolkitFunc func;
  gpointer user_data;
  char *action;
  GError *error; /* the answer, when known before asking */
} Check;

static void
check_finish (Check *c, GError *error)
{
  c->func (error, c->user_data);
  g_clear_error (&error);
  g_free (c->action);
  g_free (c);
}

static gboolean
answer_later (gpointer data)
{
  Check *c = data;

  check_finish (c, g_steal_pointer (&c->error));
  return G_SOURCE_REMOVE;
}

static int
on_reply (sd_bus_message *reply, void *data, sd_bus_error *ret_error)
{
  Check *c = data;
  const sd_bus_error *e = sd_bus_message_get_error (reply);
  int authorized = 0, challenge = 0;

  if (e)
    {
      if (sd_bus_error_has_names (e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
        check_finish (c,
                      g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED,
                                   "%s needs authorization and polkit is not running", c->action));
      else
        check_finish (c, g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED,
                                      "%s: polkit failed: %s", c->action, e->message));
      return 0;
    }
  if (sd_bus_message_enter_container (reply, 'r', "bba{ss}") < 0 ||
      sd_bus_message_read (reply, "bb", &authorized, &challenge) < 0)
    {
      check_finish (c, g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED,
                                    "%s: unreadable answer from polkit", c->action));
      return 0;
    }
  if (authorized)
    check_finish (c, NULL);
  else
    check_finish (c, g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED,
                                  challenge ? "%s needs authentication (none was possible)"
                                            : "%s is not allowed for this caller",
                                  c->action));
  return 0;
}

void
esimd_polkit_check (sd_bus_message *request, const char *action, EsimdPolkitFunc func,
                    gpointer user_data)
{
  Check *c = g_new0 (Check, 1);
  g_autoptr (sd_bus_creds) creds = NULL;
  g_autoptr (sd_bus_message) call = NULL;
  sd_bus *bus = sd_bus_message_get_bus (request);
  const char *sender = sd_bus_message_get_sender (request);
  uid_t euid = (uid_t) -1;
  /* Interaction may mean a password prompt: allow the user time to type it. */
  uint64_t timeout = sd_bus_message_get_allow_interactive_authorization (request)
                         ? 300 * G_USEC_PER_SEC
                         : 25 * G_USEC_PER_SEC;
  int r;

  c->func = func;
  c->user_data = user_data;
  c->action = g_strdup (action);

  if (sd_bus_query_sender_creds (request, SD_BUS_CREDS_EUID, &creds) >= 0 &&
      sd_bus_creds_get_euid (creds, &euid) >= 0 && euid == 0)
    {
      g_idle_add (answer_later, c);
      return;
    }

  r = sd_bus_message_new_method_call (bus, &call, "org.freedesktop.PolicyKit1",
                                      "/org/freedesktop/PolicyKit1/Authority",
                                      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  if (r >= 0)
    r = sd_bus_message_append (
        call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender, action, 0,
        sd_bus_message_get_allow_interactive_authorization (request) ? 1u : 0u, "");
  if (r >= 0)
    r = sd_bus_call_async (bus, NULL, call, on_reply, c, timeout);
  if (r < 0)
    {
      c->error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED, "%s: cannot ask polkit: %s",
                              action, g_strerror (-r));
      g_idle_add (answer_later, c);
    }
}
