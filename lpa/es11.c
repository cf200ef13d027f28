/* es11.c — ES11 (LPA ↔ SM-DS) over HTTPS/JSON: event discovery requests and responses. */
#include "es11.h"

#include "activation-code.h"
#include "lpa-error.h"
#include "secret.h"

GBytes *
lpa_es11_initiate_authentication_request (GBytes *euicc_challenge, GBytes *euicc_info1,
                                          const char *smds_address, gboolean es11_member)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  lpa_es9p_add_base64 (b, "euiccChallenge", euicc_challenge);
  lpa_es9p_add_base64 (b, "euiccInfo1", euicc_info1);
  json_builder_set_member_name (b, es11_member ? "smdsAddress" : "smdpAddress");
  json_builder_add_string_value (b, smds_address);
  json_builder_end_object (b);
  return lpa_es9p_serialize (b);
}

GBytes *
lpa_es11_authenticate_client_request (const char *transaction_id,
                                      GBytes *authenticate_server_response)
{
  return lpa_es9p_authenticate_client_request (transaction_id, authenticate_server_response);
}

void
lpa_event_entry_free (LpaEventEntry *entry)
{
  if (entry == NULL)
    return;
  lpa_secret_free (entry->event_id); /* a later download's matching ID */
  g_free (entry->rsp_server_address);
  g_free (entry);
}

void
lpa_es11_authenticate_client_response_free (LpaEs11AuthenticateClientResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->transaction_id);
  g_clear_pointer (&response->transaction_id_bin, g_bytes_unref);
  g_clear_pointer (&response->events, g_ptr_array_unref);
  g_free (response);
}

/* A string member of an event entry, or NULL with the first problem kept in @first. */
static const char *
entry_string (const char *function, JsonNode *node, const char *member, GError **first)
{
  g_autoptr (GError) local = NULL;
  const char *value;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      if (!*first)
        g_set_error (first, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: event entry is not an object",
                     function);
      return NULL;
    }
  if (!(value = lpa_es9p_get_string (json_node_get_object (node), function, member, &local)) &&
      !*first)
    g_propagate_error (first, g_steal_pointer (&local));
  return value;
}

LpaEs11AuthenticateClientResponse *
lpa_es11_parse_authenticate_client (guint status, GBytes *body, GError **error)
{
  const char *function = "ES11 authenticateClient";
  g_autoptr (JsonObject) o = lpa_es9p_response_object (function, status, body, error);
  g_autoptr (LpaEs11AuthenticateClientResponse) r = NULL;
  g_autoptr (GError) first_problem = NULL;
  JsonNode *entries;

  if (o == NULL)
    return NULL;
  r = g_new0 (LpaEs11AuthenticateClientResponse, 1);
  r->events = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_event_entry_free);
  if (!(r->transaction_id =
            lpa_es9p_get_transaction_id (o, function, &r->transaction_id_bin, error)))
    return NULL;
  entries = json_object_get_member (o, "eventEntries");
  if (entries == NULL || JSON_NODE_HOLDS_NULL (entries))
    return g_steal_pointer (&r);
  if (!JSON_NODE_HOLDS_ARRAY (entries))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: eventEntries is not an array",
                   function);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (json_node_get_array (entries)); i++)
    {
      JsonNode *node = json_array_get_element (json_node_get_array (entries), i);
      const char *event_id, *address;
      LpaEventEntry *entry;

      /* Each is returned to the caller and listed in the Job's Result: a bounded number. */
      if (r->events->len == LPA_ES11_MAX_EVENTS)
        {
          r->skipped += json_array_get_length (json_node_get_array (entries)) - i;
          break;
        }

      /* Each entry is an event of its own: one the SM-DS got wrong (or a third party's entry
       * in a form we do not know) is left out, and the others can still be downloaded. */
      if (!(event_id = entry_string (function, node, "eventId", &first_problem)) ||
          !(address = entry_string (function, node, "rspServerAddress", &first_problem)))
        {
          r->skipped++;
          continue;
        }
      if (!lpa_host_name_is_valid (address))
        {
          if (!first_problem)
            g_set_error (&first_problem, LPA_ERROR, LPA_ERROR_MALFORMED,
                         "%s: rspServerAddress is not a host name", function);
          r->skipped++;
          continue;
        }
      /* An event ID is the matching ID of the event's download, which refuses any other
       * (lpa_download_new()): text that is not UTF-8 or holds a control character, an ID of
       * thousands of characters, none at all. The problem is named without the ID (a secret). */
      if (!*event_id || lpa_matching_id_problem (event_id))
        {
          if (!first_problem)
            g_set_error (&first_problem, LPA_ERROR, LPA_ERROR_MALFORMED,
                         "%s: eventId cannot be a matching ID: %s", function,
                         *event_id ? lpa_matching_id_problem (event_id) : "it is empty");
          r->skipped++;
          continue;
        }
      entry = g_new0 (LpaEventEntry, 1);
      entry->event_id = g_strdup (event_id);
      entry->rsp_server_address = g_strdup (address);
      g_ptr_array_add (r->events, entry);
    }
  if (r->events->len == 0 && r->skipped > 0)
    {
      g_propagate_prefixed_error (
          error, g_steal_pointer (&first_problem),
          "no event entry can be used (%u left out); the first: ", r->skipped);
      return NULL;
    }
  return g_steal_pointer (&r);
}
