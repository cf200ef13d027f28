/* es9p.c — ES9+ (LPA ↔ SM-DP+) over HTTPS/JSON: requests, responses, status codes. */
#include "es9p.h"

#include <string.h>

#include "der.h"
#include "lpa-error.h"
#include "secret.h"
#include "text.h"

GBytes *
lpa_es9p_serialize (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gsize len;
  char *text;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

void
lpa_es9p_add_base64 (JsonBuilder *builder, const char *member, GBytes *value)
{
  g_autofree char *b64 = lpa_base64_encode (value);

  json_builder_set_member_name (builder, member);
  json_builder_add_string_value (builder, b64);
}

GBytes *
lpa_es9p_initiate_authentication_request (GBytes *euicc_challenge, GBytes *euicc_info1,
                                          const char *smdp_address)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  lpa_es9p_add_base64 (b, "euiccChallenge", euicc_challenge);
  lpa_es9p_add_base64 (b, "euiccInfo1", euicc_info1);
  json_builder_set_member_name (b, "smdpAddress");
  json_builder_add_string_value (b, smdp_address);
  json_builder_end_object (b);
  return lpa_es9p_serialize (b);
}

/* {"transactionId": …, "<member>": base64(…)}: the shape of three ES9+ requests. The value may
 * hold a secret (AuthenticateServer's answer carries ctxParams1 and its matching ID,
 * PrepareDownload's hashCc): the JSON is written here into one block of the exact size, and
 * wiped when freed, rather than through json-glib's copies, which are freed as they are. */
static GBytes *
transaction_request (const char *transaction_id, const char *member, GBytes *value)
{
  gsize value_len;
  const guint8 *data = g_bytes_get_data (value, &value_len);
  gsize tid_len = 0, b64_len = (value_len + 2) / 3 * 4, total, n = 0;
  int state = 0, save = 0;
  char *out;

  /* The transaction ID is the server's text: escaped as JSON wants (\uXXXX: at most 6 bytes). */
  for (const char *p = transaction_id; *p; p++)
    tid_len += ((guchar) *p < 0x20 || *p == '"' || *p == '\\') ? 6 : 1;
  total = strlen ("{\"transactionId\":\"\",\"\":\"\"}") + tid_len + strlen (member) + b64_len;
  out = g_malloc (total + 8); /* g_base64_encode_step() asks for room to spare */
  n += (gsize) g_snprintf (out + n, total + 1 - n, "{\"transactionId\":\"");
  for (const char *p = transaction_id; *p; p++)
    if ((guchar) *p < 0x20 || *p == '"' || *p == '\\')
      n += (gsize) g_snprintf (out + n, total + 1 - n, "\\u%04x", (guchar) *p);
    else
      out[n++] = *p;
  n += (gsize) g_snprintf (out + n, total + 1 - n, "\",\"%s\":\"", member);
  n += g_base64_encode_step (data, value_len, FALSE, out + n, &state, &save);
  n += g_base64_encode_close (FALSE, out + n, &state, &save);
  out[n++] = '"';
  out[n++] = '}';
  out[n] = '\0';
  g_assert (n == total);
  return lpa_secret_bytes_new_take (out, n);
}

GBytes *
lpa_es9p_authenticate_client_request (const char *transaction_id,
                                      GBytes *authenticate_server_response)
{
  return transaction_request (transaction_id, "authenticateServerResponse",
                              authenticate_server_response);
}

GBytes *
lpa_es9p_get_bound_profile_package_request (const char *transaction_id,
                                            GBytes *prepare_download_response)
{
  return transaction_request (transaction_id, "prepareDownloadResponse", prepare_download_response);
}

GBytes *
lpa_es9p_cancel_session_request (const char *transaction_id, GBytes *cancel_session_response)
{
  return transaction_request (transaction_id, "cancelSessionResponse", cancel_session_response);
}

GBytes *
lpa_es9p_handle_notification_request (GBytes *pending_notification)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  lpa_es9p_add_base64 (b, "pendingNotification", pending_notification);
  json_builder_end_object (b);
  return lpa_es9p_serialize (b);
}

/* Subject and reason codes of SGP.22 (digest §5.4): composed into "<subject> <reason>". */
static const struct
{
  const char *code;
  const char *meaning;
} subjects[] = {
  { "1.1", "function requester" },
  { "1.2", "function provider" },
  { "1.3", "function" },
  { "8.1", "eUICC" },
  { "8.1.1", "EID" },
  { "8.1.2", "EUM certificate" },
  { "8.1.3", "eUICC certificate" },
  { "8.1.4", "EID range" },
  { "8.2", "profile" },
  { "8.2.1", "profile ICCID" },
  { "8.2.5", "profile type" },
  { "8.2.6", "matching ID" },
  { "8.2.7", "confirmation code" },
  { "8.8", "SM-DP+" },
  { "8.8.1", "SM-DP+ address" },
  { "8.8.2", "security configuration (CI public keys)" },
  { "8.8.3", "specification version number" },
  { "8.8.4", "SM-DP+ certificate" },
  { "8.8.5", "download order" },
  { "8.9", "SM-DS" },
  { "8.9.1", "SM-DS address" },
  { "8.9.2", "security configuration (CI public keys)" },
  { "8.9.3", "specification version number" },
  { "8.9.4", "SM-DS certificate" },
  { "8.9.5", "event" },
  { "8.10.1", "transaction ID" },
  { "8.11.1", "CI public key" },
};

static const struct
{
  const char *code;
  const char *meaning;
} reasons[] = {
  { "1.1", "not authorised" },
  { "1.2", "not allowed" },
  { "2.1", "invalid" },
  { "2.2", "missing" },
  { "2.3", "conditional parameter missing" },
  { "3.1", "not supported" },
  { "3.3", "already in use" },
  { "3.4", "insufficient" },
  { "3.7", "unavailable" },
  { "3.8", "refused" },
  { "3.9", "unknown" },
  { "3.10", "invalid association" },
  { "4.1", "expired" },
  { "4.2", "execution error" },
  { "4.3", "no eligible profile" },
  { "4.8", "insufficient memory" },
  { "5.1", "inaccessible" },
  { "6.1", "verification failed" },
  { "6.3", "expired" },
  { "6.4", "maximum number of retries exceeded" },
};

char *
lpa_server_status_meaning (const char *subject_code, const char *reason_code)
{
  const char *subject = "unknown subject";
  const char *reason = "unknown reason";

  for (guint i = 0; subject_code && i < G_N_ELEMENTS (subjects); i++)
    if (strcmp (subjects[i].code, subject_code) == 0)
      subject = subjects[i].meaning;
  for (guint i = 0; reason_code && i < G_N_ELEMENTS (reasons); i++)
    if (strcmp (reasons[i].code, reason_code) == 0)
      reason = reasons[i].meaning;
  return g_strdup_printf ("%s %s", subject, reason);
}

static LpaError
status_error_code (const char *subject, const char *reason)
{
  if (g_strcmp0 (subject, "8.2.6") == 0 || g_strcmp0 (subject, "8.9.5") == 0)
    return LPA_ERROR_MATCHING_ID_REFUSED;
  if (g_strcmp0 (subject, "8.2.7") == 0)
    {
      if (g_strcmp0 (reason, "3.8") == 0 || g_strcmp0 (reason, "6.4") == 0)
        return LPA_ERROR_CONFIRMATION_CODE_REFUSED;
      if (g_strcmp0 (reason, "2.2") == 0)
        return LPA_ERROR_CONFIRMATION_CODE_REQUIRED;
    }
  return LPA_ERROR_SERVER_REJECTED;
}

gboolean
lpa_server_error_codes (const GError *error, char **subject_code, char **reason_code)
{
  const char *p;
  g_auto (GStrv) words = NULL;

  if (error == NULL || error->domain != LPA_ERROR || !(p = strstr (error->message, "subjectCode ")))
    return FALSE;
  words = g_strsplit_set (p, " :", 5);
  if (g_strv_length (words) < 4 || strcmp (words[2], "reasonCode") != 0)
    return FALSE;
  *subject_code = g_strdup (words[1]);
  *reason_code = g_strdup (words[3]);
  return TRUE;
}

static gboolean
field_error (GError **error, const char *function, const char *member, const char *problem)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: %s %s", function, member, problem);
  return FALSE;
}

/* A member that is an object; NULL without error if absent, FALSE-ish with error if not an
 * object. */
static JsonObject *
get_object (JsonObject *object, const char *member, gboolean *ok)
{
  JsonNode *node = json_object_get_member (object, member);

  *ok = TRUE;
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      *ok = FALSE;
      return NULL;
    }
  return json_node_get_object (node);
}

static const char *
get_optional_string (JsonObject *object, const char *member)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* header.functionExecutionStatus: success, or the error described in es9p.h. */
static gboolean
check_header (JsonObject *root, const char *function, GError **error)
{
  JsonObject *header, *status_obj, *data;
  const char *status;
  g_autofree char *subject = NULL, *reason = NULL, *message = NULL, *meaning = NULL;
  gboolean ok;

  header = get_object (root, "header", &ok);
  if (!ok || header == NULL)
    return field_error (error, function, "header", "missing");
  status_obj = get_object (header, "functionExecutionStatus", &ok);
  if (!ok || status_obj == NULL)
    return field_error (error, function, "functionExecutionStatus", "missing");
  status = get_optional_string (status_obj, "status");
  if (status == NULL)
    return field_error (error, function, "functionExecutionStatus.status", "missing");
  if (strcmp (status, "Executed-Success") == 0 || strcmp (status, "Executed-WithWarning") == 0)
    return TRUE;
  if (strcmp (status, "Failed") != 0 && strcmp (status, "Expired") != 0)
    return field_error (error, function, "functionExecutionStatus.status", "unknown");

  data = get_object (status_obj, "statusCodeData", &ok);
  /* The server's words go into the error, and so to D-Bus and the log: a JSON escape such as
   * \udc80 decodes to invalid UTF-8, a newline would forge a log line, and a 64 KiB message
   * helps nobody. Codes are a few digits and dots. */
  subject =
      lpa_text_sanitize (get_optional_string (data, "subjectCode"), -1, 16, LPA_TEXT_ONE_LINE);
  reason = lpa_text_sanitize (get_optional_string (data, "reasonCode"), -1, 16, LPA_TEXT_ONE_LINE);
  message = lpa_text_sanitize (get_optional_string (data, "message"), -1, 256, LPA_TEXT_ONE_LINE);
  if (subject == NULL || reason == NULL)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_SERVER_REJECTED, "%s: %s", function, status);
      return FALSE;
    }
  meaning = lpa_server_status_meaning (subject, reason);
  g_set_error (error, LPA_ERROR, status_error_code (subject, reason),
               "%s: subjectCode %s reasonCode %s: %s%s%s", function, subject, reason, meaning,
               message && *message ? "; " : "", message && *message ? message : "");
  return FALSE;
}

static gboolean
check_http_status (const char *function, guint status, GError **error)
{
  if (status >= 200 && status < 300)
    return TRUE;
  g_set_error (error, LPA_ERROR, LPA_ERROR_HTTP, "%s: HTTP %u", function, status);
  return FALSE;
}

/* json-glib parses recursively, several stack frames per nesting level, with no depth limit: a
 * body of 200 000 '[' overflows the daemon's stack. Every array or object opens with one of these
 * two bytes, so their count bounds the depth whatever json-glib takes for a string or a comment
 * (it accepts single quotes and C comments). ES9+/ES11 answers hold a handful of containers. */
#define MAX_JSON_CONTAINERS 4096

static gboolean
few_containers (const char *data, gsize len)
{
  gsize n = 0;

  for (gsize i = 0; i < len; i++)
    if ((data[i] == '[' || data[i] == '{') && ++n > MAX_JSON_CONTAINERS)
      return FALSE;
  return TRUE;
}

static JsonNode *
parse_json (const char *function, GBytes *body, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len = 0;
  const char *data = body ? g_bytes_get_data (body, &len) : NULL;
  g_autoptr (GError) local = NULL;

  if (!few_containers (data, len))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "%s: response has more than %d arrays and objects", function,
                   MAX_JSON_CONTAINERS);
      return NULL;
    }
  if (len == 0)
    {
      /* A 2xx with nothing in it, where the function's answer carries data. */
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: empty response", function);
      return NULL;
    }
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      /* json-glib's message quotes the offending bytes as they are. */
      g_autofree char *why =
          local ? lpa_text_sanitize (local->message, -1, 256, LPA_TEXT_ONE_LINE) : NULL;

      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: response is not JSON%s%s", function,
                   why ? ": " : "", why ? why : "");
      return NULL;
    }
  /* A body of whitespace loads without error and without a root node. */
  if (json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: response is not a JSON object",
                   function);
      return NULL;
    }
  return json_parser_steal_root (parser);
}

/* SGP.22 answers a function's failure with HTTP 200 and header.functionExecutionStatus "Failed",
 * but some servers send that header with an HTTP error status (400, 403, 500). Its codes (8.2.6
 * 3.8: the matching ID refused) tell the user and the caller's code more than the status does, so
 * they are reported when the error's body is such a header; the status alone otherwise. */
static gboolean
check_http_status_and_body (const char *function, guint status, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) failed = NULL;

  if (check_http_status (function, status, error))
    return TRUE;
  if (body == NULL || g_bytes_get_size (body) == 0 || !(root = parse_json (function, body, NULL)) ||
      check_header (json_node_get_object (root), function, &failed) ||
      g_error_matches (failed, LPA_ERROR, LPA_ERROR_MALFORMED))
    return FALSE;
  g_clear_error (error);
  g_set_error (error, failed->domain, failed->code, "%s (HTTP %u)", failed->message, status);
  return FALSE;
}

JsonObject *
lpa_es9p_response_object (const char *function, guint status, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;

  if (!check_http_status_and_body (function, status, body, error))
    return NULL;
  if (!(root = parse_json (function, body, error)))
    return NULL;
  object = json_node_get_object (root);
  if (!check_header (object, function, error))
    return NULL;
  return json_object_ref (object);
}

const char *
lpa_es9p_get_string (JsonObject *object, const char *function, const char *member, GError **error)
{
  const char *value = get_optional_string (object, member);

  if (value == NULL)
    field_error (error, function, member, "missing or not a string");
  return value;
}

GBytes *
lpa_es9p_get_tlv (JsonObject *object, const char *function, const char *member, guint32 tag,
                  GError **error)
{
  const char *text = lpa_es9p_get_string (object, function, member, error);
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *what = g_strdup_printf ("%s: %s", function, member);
  LpaTlv tlv;

  if (text == NULL || !(bytes = lpa_base64_decode (text, what, error)))
    return NULL;
  if (!lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, NULL) ||
      (tag != 0 && tlv.tag != tag))
    {
      field_error (error, function, member, "is not one TLV of the expected tag");
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

char *
lpa_es9p_get_transaction_id (JsonObject *object, const char *function, GBytes **bin, GError **error)
{
  const char *text = lpa_es9p_get_string (object, function, "transactionId", error);
  g_autoptr (GBytes) bytes = NULL;

  if (text == NULL)
    return NULL;
  bytes = lpa_hex_decode (text, NULL);
  if (bytes == NULL || g_bytes_get_size (bytes) < 1 || g_bytes_get_size (bytes) > 16)
    {
      field_error (error, function, "transactionId", "is not 1 to 16 bytes of hex");
      return NULL;
    }
  *bin = g_steal_pointer (&bytes);
  return g_strdup (text);
}

void
lpa_initiate_authentication_response_free (LpaInitiateAuthenticationResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->transaction_id);
  g_clear_pointer (&response->transaction_id_bin, g_bytes_unref);
  g_clear_pointer (&response->server_signed1, g_bytes_unref);
  g_clear_pointer (&response->server_signature1, g_bytes_unref);
  g_clear_pointer (&response->euicc_ci_pkid, g_bytes_unref);
  g_clear_pointer (&response->server_certificate, g_bytes_unref);
  g_free (response);
}

LpaInitiateAuthenticationResponse *
lpa_es9p_parse_initiate_authentication (const char *function, guint status, GBytes *body,
                                        GError **error)
{
  g_autoptr (JsonObject) o = lpa_es9p_response_object (function, status, body, error);
  g_autoptr (LpaInitiateAuthenticationResponse) r = NULL;

  if (o == NULL)
    return NULL;
  r = g_new0 (LpaInitiateAuthenticationResponse, 1);
  if (!(r->transaction_id =
            lpa_es9p_get_transaction_id (o, function, &r->transaction_id_bin, error)) ||
      !(r->server_signed1 = lpa_es9p_get_tlv (o, function, "serverSigned1", 0x30, error)) ||
      !(r->server_signature1 = lpa_es9p_get_tlv (o, function, "serverSignature1", 0x5F37, error)) ||
      !(r->euicc_ci_pkid = lpa_es9p_get_tlv (o, function, "euiccCiPKIdToBeUsed", 0x04, error)) ||
      !(r->server_certificate = lpa_es9p_get_tlv (o, function, "serverCertificate", 0x30, error)))
    return NULL;
  return g_steal_pointer (&r);
}

void
lpa_authenticate_client_response_free (LpaAuthenticateClientResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->transaction_id);
  g_clear_pointer (&response->transaction_id_bin, g_bytes_unref);
  g_clear_pointer (&response->profile_metadata, g_bytes_unref);
  g_clear_pointer (&response->smdp_signed2, g_bytes_unref);
  g_clear_pointer (&response->smdp_signature2, g_bytes_unref);
  g_clear_pointer (&response->smdp_certificate, g_bytes_unref);
  g_free (response);
}

LpaAuthenticateClientResponse *
lpa_es9p_parse_authenticate_client (guint status, GBytes *body, GError **error)
{
  const char *function = "authenticateClient";
  g_autoptr (JsonObject) o = lpa_es9p_response_object (function, status, body, error);
  g_autoptr (LpaAuthenticateClientResponse) r = NULL;

  if (o == NULL)
    return NULL;
  r = g_new0 (LpaAuthenticateClientResponse, 1);
  if (!(r->transaction_id =
            lpa_es9p_get_transaction_id (o, function, &r->transaction_id_bin, error)) ||
      !(r->profile_metadata = lpa_es9p_get_tlv (o, function, "profileMetadata", 0xBF25, error)) ||
      !(r->smdp_signed2 = lpa_es9p_get_tlv (o, function, "smdpSigned2", 0x30, error)) ||
      !(r->smdp_signature2 = lpa_es9p_get_tlv (o, function, "smdpSignature2", 0x5F37, error)) ||
      !(r->smdp_certificate = lpa_es9p_get_tlv (o, function, "smdpCertificate", 0x30, error)))
    return NULL;
  return g_steal_pointer (&r);
}

void
lpa_bound_profile_package_response_free (LpaBoundProfilePackageResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->transaction_id);
  g_clear_pointer (&response->transaction_id_bin, g_bytes_unref);
  g_clear_pointer (&response->bound_profile_package, g_bytes_unref);
  g_free (response);
}

LpaBoundProfilePackageResponse *
lpa_es9p_parse_get_bound_profile_package (guint status, GBytes *body, GError **error)
{
  const char *function = "getBoundProfilePackage";
  g_autoptr (JsonObject) o = lpa_es9p_response_object (function, status, body, error);
  g_autoptr (LpaBoundProfilePackageResponse) r = NULL;

  if (o == NULL)
    return NULL;
  r = g_new0 (LpaBoundProfilePackageResponse, 1);
  if (!(r->transaction_id =
            lpa_es9p_get_transaction_id (o, function, &r->transaction_id_bin, error)) ||
      !(r->bound_profile_package =
            lpa_es9p_get_tlv (o, function, "boundProfilePackage", 0xBF36, error)))
    return NULL;
  return g_steal_pointer (&r);
}

/* The functions whose success carries no data (handleNotification, cancelSession): a 2xx with
 * no body is the server's word that it executed the function. SGP.22 answers handleNotification
 * with 204 No Content; osmo-smdpp answers any function whose handler returns nothing (its
 * cancelSession for the eUICC's error alternative, its handleNotification) with 200 and an
 * empty body. A JSON body without a header says the same; only a JSON header saying Failed or
 * Expired is a failure. A 2xx body that is not JSON at all (a captive portal's page, a cut
 * answer, only whitespace) is no sign that the server processed anything: the request must be
 * sent again. */
static gboolean
parse_no_data (const char *function, guint status, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = NULL;

  if (!check_http_status_and_body (function, status, body, error))
    return FALSE;
  if (body == NULL || g_bytes_get_size (body) == 0)
    return TRUE;
  if (!(root = parse_json (function, body, error)))
    return FALSE;
  if (json_object_get_member (json_node_get_object (root), "header") == NULL)
    return TRUE;
  return check_header (json_node_get_object (root), function, error);
}

gboolean
lpa_es9p_parse_cancel_session (guint status, GBytes *body, GError **error)
{
  return parse_no_data ("cancelSession", status, body, error);
}

gboolean
lpa_es9p_parse_handle_notification (guint status, GBytes *body, GError **error)
{
  return parse_no_data ("handleNotification", status, body, error);
}

void
lpa_server_signed1_free (LpaServerSigned1 *signed1)
{
  if (signed1 == NULL)
    return;
  g_clear_pointer (&signed1->transaction_id, g_bytes_unref);
  g_clear_pointer (&signed1->euicc_challenge, g_bytes_unref);
  g_free (signed1->server_address);
  g_clear_pointer (&signed1->server_challenge, g_bytes_unref);
  g_free (signed1);
}

LpaServerSigned1 *
lpa_server_signed1_parse (GBytes *tlv, GError **error)
{
  g_autoptr (LpaServerSigned1) out = g_new0 (LpaServerSigned1, 1);
  LpaTlv outer, tid, challenge, address, server_challenge;

  if (!lpa_der_parse_expect (g_bytes_get_data (tlv, NULL), g_bytes_get_size (tlv), 0x30, &outer,
                             error) ||
      !lpa_der_expect_constructed (&outer, error) ||
      !lpa_der_get_child (&outer, 0x80, &tid, error) ||
      !lpa_der_get_child (&outer, 0x81, &challenge, error) ||
      !lpa_der_expect_length (&challenge, 16, error) ||
      !lpa_der_get_child (&outer, 0x83, &address, error) ||
      !(out->server_address = lpa_der_get_utf8 (&address, error)) ||
      !lpa_der_get_child (&outer, 0x84, &server_challenge, error) ||
      !lpa_der_expect_length (&server_challenge, 16, error))
    {
      g_prefix_error (error, "serverSigned1: ");
      return NULL;
    }
  if (tid.value_len < 1 || tid.value_len > 16)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "serverSigned1: transaction ID not 1 to 16 bytes");
      return NULL;
    }
  out->transaction_id = lpa_der_value_bytes (tlv, &tid);
  out->euicc_challenge = lpa_der_value_bytes (tlv, &challenge);
  out->server_challenge = lpa_der_value_bytes (tlv, &server_challenge);
  return g_steal_pointer (&out);
}

void
lpa_smdp_signed2_free (LpaSmdpSigned2 *signed2)
{
  if (signed2 == NULL)
    return;
  g_clear_pointer (&signed2->transaction_id, g_bytes_unref);
  g_clear_pointer (&signed2->bpp_euicc_otpk, g_bytes_unref);
  g_free (signed2);
}

LpaSmdpSigned2 *
lpa_smdp_signed2_parse (GBytes *tlv, GError **error)
{
  g_autoptr (LpaSmdpSigned2) out = g_new0 (LpaSmdpSigned2, 1);
  LpaTlv outer, tid, flag, otpk;
  gboolean has_otpk;

  if (!lpa_der_parse_expect (g_bytes_get_data (tlv, NULL), g_bytes_get_size (tlv), 0x30, &outer,
                             error) ||
      !lpa_der_expect_constructed (&outer, error) ||
      !lpa_der_get_child (&outer, 0x80, &tid, error) ||
      !lpa_der_get_child (&outer, 0x01, &flag, error) ||
      !lpa_der_get_bool (&flag, &out->cc_required, error) ||
      !lpa_der_find_child (&outer, 0x5F49, &otpk, &has_otpk, error))
    {
      g_prefix_error (error, "smdpSigned2: ");
      return NULL;
    }
  if (tid.value_len < 1 || tid.value_len > 16)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "smdpSigned2: transaction ID not 1 to 16 bytes");
      return NULL;
    }
  out->transaction_id = lpa_der_value_bytes (tlv, &tid);
  if (has_otpk)
    out->bpp_euicc_otpk = lpa_der_value_bytes (tlv, &otpk);
  return g_steal_pointer (&out);
}
