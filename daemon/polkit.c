/* polkit.c — org.freedesktop.PolicyKit1.Authority.CheckAuthorization, asynchronously. */
#include "polkit.h"

#include "bus-errors.h"
#include "bus-source.h"
#include "bus-watch.h"

/* The system bus lets esimd wait for at most 128 answers at once (dbus-daemon's
 * max_replies_per_connection); beyond that every question esimd asks on it fails at once, and
 * polkit is slow to answer a flood (or never answers while an authentication agent waits for a
 * password). So one user may have only a few questions waiting, and all users together fewer
 * than the bus allows: one user's flood of calls leaves the others' calls, and esimd's own
 * questions on the bus, their room. */
#define MAX_CHECKS_PER_USER 16
#define MAX_CHECKS          64

static GHashTable *waiting_per_user; /* uid → number of questions waiting for polkit */
static guint64 questions_asked;      /* for each question's cancellation_id */
static guint waiting_total;

struct EsimdPolkitCheck
{
  EsimdPolkitFunc func;
  gpointer user_data;
  char *action;
  GError *error; /* the answer, when known before asking */
  gboolean counted;
  uid_t uid;            /* whose question it is, when counted */
  sd_bus_slot *slot;    /* the question to polkit, while it waits */
  guint idle_id;        /* the answer known before asking, until it is given */
  char *cancel_id;      /* the question's cancellation_id, while it waits */
  EsimdBusWatch *watch; /* the caller, while the question waits */
};
typedef EsimdPolkitCheck Check;

/* Every check not answered yet: esimd_polkit_stop() answers them. */
static GQueue pending = G_QUEUE_INIT;

static void
waiting_add (Check *c, gboolean more)
{
  gpointer key = GUINT_TO_POINTER ((guint) c->uid);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (waiting_per_user, key));

  n = more ? n + 1 : n - 1;
  waiting_total = more ? waiting_total + 1 : waiting_total - 1;
  if (n)
    g_hash_table_insert (waiting_per_user, key, GUINT_TO_POINTER (n));
  else
    g_hash_table_remove (waiting_per_user, key);
}

/* Counts @c as waiting for polkit, unless its user (or everyone together) has too many waiting
 * already: then the call is refused at once. */
static gboolean
waiting_take (Check *c, uid_t uid, GError **error)
{
  guint mine;

  if (!waiting_per_user)
    waiting_per_user = g_hash_table_new (NULL, NULL);
  mine = GPOINTER_TO_UINT (g_hash_table_lookup (waiting_per_user, GUINT_TO_POINTER ((guint) uid)));
  if (mine >= MAX_CHECKS_PER_USER || waiting_total >= MAX_CHECKS)
    {
      if (mine >= MAX_CHECKS_PER_USER)
        g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_BUSY,
                     "%u calls of this user already wait for polkit's answer: try again later",
                     MAX_CHECKS_PER_USER);
      else
        g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_BUSY,
                     "%u calls already wait for polkit's answer: try again later", MAX_CHECKS);
      return FALSE;
    }
  c->uid = uid;
  c->counted = TRUE;
  waiting_add (c, TRUE);
  return TRUE;
}

/* polkit forgets a question it was asked: an authentication agent's password dialog for a
 * caller that left closes, and polkit answers the question with an error, unread. Sent without
 * waiting for an answer: no room among the replies esimd may wait for is taken. (polkit's
 * org.freedesktop.PolicyKit1.Authority: CancelCheckAuthorization(s cancellation_id), for the
 * cancellation_id given to CheckAuthorization by the same connection.) */
static void
cancel_question (Check *c)
{
  g_autoptr (sd_bus_message) call = NULL;

  sd_bus *bus = c->slot ? sd_bus_slot_get_bus (c->slot) : NULL;

  if (!bus || !c->cancel_id)
    return;
  if (sd_bus_message_new_method_call (
          bus, &call, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
          "org.freedesktop.PolicyKit1.Authority", "CancelCheckAuthorization") >= 0 &&
      sd_bus_message_append (call, "s", c->cancel_id) >= 0 &&
      sd_bus_message_set_expect_reply (call, 0) >= 0)
    sd_bus_send (bus, call, NULL);
}

static void
check_finish (Check *c, GError *error)
{
  g_queue_remove (&pending, c);
  /* From on_reply, sd-bus is done with the question; otherwise this forgets it. */
  g_clear_pointer (&c->slot, sd_bus_slot_unref);
  g_clear_pointer (&c->watch, esimd_bus_watch_free);
  g_clear_pointer (&c->cancel_id, g_free);
  g_clear_handle_id (&c->idle_id, g_source_remove);
  if (c->counted)
    waiting_add (c, FALSE);
  c->func (error, c->user_data);
  g_clear_error (&error);
  g_free (c->action);
  g_free (c);
}

static gboolean
answer_later (gpointer data)
{
  Check *c = data;

  c->idle_id = 0;
  check_finish (c, g_steal_pointer (&c->error));
  return G_SOURCE_REMOVE;
}

/* A question is answered by polkit, or later from the main loop when the answer is known. */
static void
answer_later_add (Check *c)
{
  c->idle_id = g_idle_add (answer_later, c);
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
esimd_polkit_cancel (EsimdPolkitCheck *check, GError *error)
{
  cancel_question (check);
  check_finish (check, error);
}

/* The caller left while polkit was asked: polkit forgets the question (and closes the password
 * dialog it may show), and the call ends now, not when polkit's timeout ends it (up to 300 s
 * with interaction), so it holds neither the caller's share of questions nor its job. */
static void
on_caller_gone (EsimdBusWatch *watch, gpointer data)
{
  Check *c = data;

  esimd_polkit_cancel (c, g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED,
                                       "%s: the caller left the bus before polkit answered",
                                       c->action));
}

EsimdPolkitCheck *
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
  g_queue_push_tail (&pending, c);

  if (sd_bus_query_sender_creds (request, SD_BUS_CREDS_EUID, &creds) >= 0 &&
      sd_bus_creds_get_euid (creds, &euid) >= 0 && euid == 0)
    {
      answer_later_add (c);
      return c;
    }
  /* A caller whose user is unknown (it left the bus) counts as the user -1. */
  if (!waiting_take (c, euid, &c->error))
    {
      answer_later_add (c);
      return c;
    }

  r = sd_bus_message_new_method_call (bus, &call, "org.freedesktop.PolicyKit1",
                                      "/org/freedesktop/PolicyKit1/Authority",
                                      "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
  /* Unique among this connection's questions, as polkit requires of a cancellation_id. */
  c->cancel_id = g_strdup_printf ("esimd-%" G_GUINT64_FORMAT, ++questions_asked);
  if (r >= 0)
    r = sd_bus_message_append (
        call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender, action, 0,
        sd_bus_message_get_allow_interactive_authorization (request) ? 1u : 0u, c->cancel_id);
  if (r >= 0)
    r = sd_bus_call_async (bus, &c->slot, call, on_reply, c, timeout);
  /* Made while the call is handled: its caller's leaving cannot come before the watch. */
  if (r >= 0)
    c->watch = esimd_bus_watch_new (sender, on_caller_gone, c);
  if (r < 0)
    {
      c->error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_NOT_AUTHORIZED, "%s: cannot ask polkit: %s",
                              action, g_strerror (-r));
      answer_later_add (c);
    }
  return c;
}

void
esimd_polkit_stop (void)
{
  Check *c;

  /* Each caller hears that esimd stops, before the bus goes: no call is left unanswered, and
   * nothing the check holds (the call, its job) outlives esimd. */
  while ((c = g_queue_peek_head (&pending)))
    esimd_polkit_cancel (c,
                         g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "esimd is stopping"));
  g_clear_pointer (&waiting_per_user, g_hash_table_unref);
}
