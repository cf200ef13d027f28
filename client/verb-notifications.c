/* verb-notifications.c — notifications list, send and remove: the eUICC's pending notifications. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"
#include "prompt.h"

#include "iccid.h"
#include "profile-info.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char *operation;
  char *iccid;
  char *seq; /* NULL: any */
} Filter;

static void
filter_clear (Filter *f)
{
  g_clear_pointer (&f->operation, g_free);
  g_clear_pointer (&f->iccid, g_free);
  g_clear_pointer (&f->seq, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Filter, filter_clear)

#define N_FILTER_ENTRIES 3

/* The options both list and send take, pointing into @f; @out ends with a terminator. */
static void
filter_entries (Filter *f, GOptionEntry out[N_FILTER_ENTRIES + 1])
{
  const GOptionEntry e[N_FILTER_ENTRIES + 1] = {
    { "operation", 'o', 0, G_OPTION_ARG_STRING, &f->operation,
      "Only notifications of this operation: install, enable, disable, delete, or SGP.22 v3's "
      "rpm-enable, rpm-disable, rpm-delete, rpm-package-result; unknown: in no bit SGP.22 names",
      "OP" },
    { "iccid", 'i', 0, G_OPTION_ARG_STRING, &f->iccid, "Only notifications about this profile",
      "ICCID" },
    { "seq", 's', 0, G_OPTION_ARG_STRING, &f->seq,
      "Only the notification with this sequence number", "SEQ" },
    { NULL },
  };

  memcpy (out, e, sizeof e);
}

/* The a{sv} filter ListNotifications and SendNotifications take. */
static GVariant *
filter_variant (const Filter *f, GError **error)
{
  GVariantDict d;
  g_autofree char *iccid = NULL;
  guint64 seq = 0;

  /* 0 to 4294967295 and nothing else: a negative number used to mean "every notification". */
  if (f->seq && !g_ascii_string_to_unsigned (f->seq, 10, 0, G_MAXUINT32, &seq, NULL))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "--seq: expected a sequence number from 0 to %u", G_MAXUINT32);
      return NULL;
    }
  if (f->operation && !g_strv_contains (lpa_notification_operation_names, f->operation))
    {
      g_autofree char *names = g_strjoinv (", ", (char **) lpa_notification_operation_names);

      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "--operation: expected one of %s",
                   names);
      return NULL;
    }
  if (f->iccid && !(iccid = lpa_iccid_canonical (f->iccid)))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "--iccid: \"%s\" is not an ICCID (" LPA_ICCID_FORMS ")", f->iccid);
      return NULL;
    }
  g_variant_dict_init (&d, NULL);
  if (f->operation)
    g_variant_dict_insert (&d, "operation", "s", f->operation);
  if (iccid)
    g_variant_dict_insert (&d, "iccid", "s", iccid);
  if (f->seq)
    g_variant_dict_insert (&d, "seq", "u", (guint32) seq);
  return g_variant_ref_sink (g_variant_dict_end (&d));
}

/* Calls @member of the chosen eUICC with the filter @f describes; *@euicc names the eUICC. */
static GVariant *
call_with_filter (Esimctl *ctl, const Filter *f, const char *member, const char *reply_type,
                  EsimctlCallFlags flags, char **euicc, GError **error)
{
  g_autoptr (GVariant) filter = filter_variant (f, error);

  if (!filter)
    return NULL;
  *euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!*euicc)
    return NULL;
  return esimctl_call (ctl, *euicc, ESIMD_MANAGER_IFACE, member, g_variant_new ("(@a{sv})", filter),
                       reply_type, flags, error);
}

static gboolean
notifications_list (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_auto (Filter) f = { 0 };
  GOptionEntry entries[N_FILTER_ENTRIES + 1];
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) list = NULL;
  GVariantIter it;
  GVariant *n;

  filter_entries (&f, entries);
  if (!esimctl_parse_verb (
          ctl, "notifications list", NULL,
          "Lists the notifications waiting on the eUICC for delivery.",
          "Columns: SEQ (sequence number), OPERATION, ICCID and ADDRESS (the server\n"
          "the notification is for). The filters combine with AND.\n"
          "\n"
          "Other commands: esimctl notifications send [FILTER…] delivers them now,\n"
          "esimctl notifications remove SEQ discards one.",
          entries, &argc, &argv, 0, 0, error))
    return FALSE;
  reply =
      call_with_filter (ctl, &f, "ListNotifications", "(aa{sv})", ESIMCTL_CALL_READ, &euicc, error);
  if (!reply)
    return FALSE;
  list = g_variant_get_child_value (reply, 0);
  if (ctl->json)
    {
      esimctl_output_list (ctl, euicc, "notifications", list);
      return TRUE;
    }
  if (g_variant_n_children (list) == 0)
    {
      g_print ("No notification is pending.\n");
      return TRUE;
    }
  {
    const char *headers[] = { "SEQ", "OPERATION", "ICCID", "ADDRESS" };
    g_autoptr (EsimctlTable) table = esimctl_table_new (G_N_ELEMENTS (headers), headers);

    g_variant_iter_init (&it, list);
    while ((n = g_variant_iter_next_value (&it)))
      {
        guint32 seq = 0;
        g_autofree char *seq_text = NULL;

        g_variant_lookup (n, "seq", "u", &seq);
        seq_text = g_strdup_printf ("%u", seq);
        esimctl_table_add (table, seq_text, esimctl_dict_str (n, "operation"),
                           esimctl_dict_str (n, "iccid"), esimctl_dict_str (n, "address"));
        g_variant_unref (n);
      }
    esimctl_table_print (table, stdout);
  }
  return TRUE;
}

static gboolean
notifications_send (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_auto (Filter) f = { 0 };
  GOptionEntry entries[N_FILTER_ENTRIES + 1];
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  guint32 delivered = 0;

  filter_entries (&f, entries);
  if (!esimctl_parse_verb (ctl, "notifications send", NULL,
                           "Delivers pending notifications to their servers now.",
                           "Without filters, sends every pending notification, in sequence order.\n"
                           "Each is removed from the eUICC only once its server accepted it; the\n"
                           "others stay pending and esimd retries them later.",
                           entries, &argc, &argv, 0, 0, error))
    return FALSE;
  reply = call_with_filter (ctl, &f, "SendNotifications", "(u)",
                            ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, &euicc, error);
  if (!reply)
    return FALSE;
  g_variant_get (reply, "(u)", &delivered);
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_int_member (obj, "delivered", delivered);
      esimctl_output_json (ctl, obj);
    }
  else
    esimctl_done (ctl, "Delivered %u notification%s.", delivered, delivered == 1 ? "" : "s");
  return TRUE;
}

static gboolean
notifications_remove (Esimctl *ctl, int argc, char **argv, GError **error)
{
  gboolean yes = FALSE;
  const GOptionEntry entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, "Do not ask for confirmation", NULL },
    { NULL },
  };
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  guint64 seq;

  if (!esimctl_parse_verb (ctl, "notifications remove", "SEQ",
                           "Discards a pending notification without delivering it.",
                           "For a notification whose server is gone for good: the server never\n"
                           "learns of the operation. Asks for confirmation on a terminal;\n"
                           "elsewhere --yes is required.",
                           entries, &argc, &argv, 1, 1, error))
    return FALSE;
  if (!g_ascii_string_to_unsigned (argv[1], 10, 0, G_MAXUINT32, &seq, NULL))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "\"%s\" is not a sequence number (see esimctl notifications)", argv[1]);
      return FALSE;
    }
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  /* As delete and reset: what cannot be undone is done without a question only when told. */
  if (!yes && !isatty (STDIN_FILENO))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "remove discards the notification for good: add --yes to do it without a "
                   "terminal to ask on");
      return FALSE;
    }
  if (!yes)
    {
      g_autofree char *question = g_strdup_printf (
          "Discard notification %" G_GUINT64_FORMAT " without telling its server?", seq);

      if (!esimctl_prompt_yes_no (question))
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "not removed");
          return FALSE;
        }
    }
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "RemoveNotification",
                        g_variant_new ("(u)", (guint32) seq), "()",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_int_member (obj, "seq", (gint64) seq);
      esimctl_output_json (ctl, obj);
    }
  else
    esimctl_done (ctl, "Removed notification %" G_GUINT64_FORMAT ".", seq);
  return TRUE;
}

gboolean
esimctl_verb_notifications (Esimctl *ctl, int argc, char **argv, GError **error)
{
  static const EsimctlSubverb subs[] = {
    { "list", "[FILTER…]", "List pending notifications", notifications_list },
    { "send", "[FILTER…]", "Deliver them now", notifications_send },
    { "remove", "SEQ", "Discard one without delivering it", notifications_remove },
  };

  /* "notifications" alone, or followed by options, lists. */
  return esimctl_run_subverb (ctl, "notifications", subs, G_N_ELEMENTS (subs), notifications_list,
                              argc, argv, error);
}
