/* fuzz-es9p.c — libFuzzer harness of every ES9+ response parser and of what the LPA decodes from
 * the answers (serverSigned1, smdpSigned2, profile metadata, certificates, the BPP). */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

/* A bound profile package in base64 inside JSON: TS.48 profiles are a few tens of KiB. */
#define INPUT_CAP (256 * 1024)

/* The first input byte picks the function (low 3 bits) and the HTTP status (the rest); the body
 * follows. Most statuses are 200 so that most inputs reach the JSON. */
static const guint statuses[] = { 200, 200, 200, 200, 200, 200, 204, 201,
                                  299, 300, 199, 400, 404, 500, 0,   999 };

enum
{
  FN_INITIATE_AUTHENTICATION,
  FN_ES11_INITIATE_AUTHENTICATION,
  FN_AUTHENTICATE_CLIENT,
  FN_GET_BOUND_PROFILE_PACKAGE,
  FN_CANCEL_SESSION,
  FN_HANDLE_NOTIFICATION,
  FN_COUNT
};

static void
check_tlv (GBytes *bytes, guint32 tag)
{
  LpaTlv tlv;

  FUZZ_CHECK (bytes != NULL);
  FUZZ_CHECK (lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, NULL));
  FUZZ_CHECK (tlv.tag == tag);
}

/* transactionId: the hex text as sent, and the bytes it spells. */
static void
check_transaction_id (const char *text, GBytes *bin)
{
  g_autofree char *hex = NULL;

  FUZZ_CHECK (text != NULL && bin != NULL);
  FUZZ_CHECK (g_bytes_get_size (bin) >= 1 && g_bytes_get_size (bin) <= 16);
  hex = lpa_hex_encode_bytes (bin);
  FUZZ_CHECK (g_ascii_strcasecmp (hex, text) == 0);
}

/* What a Failed or Expired header gives, whatever the HTTP status it came with. */
static gboolean
is_header_error (const GError *error)
{
  return error->code == LPA_ERROR_SERVER_REJECTED || error->code == LPA_ERROR_MATCHING_ID_REFUSED ||
         error->code == LPA_ERROR_CONFIRMATION_CODE_REFUSED ||
         error->code == LPA_ERROR_CONFIRMATION_CODE_REQUIRED;
}

/* A failure from a server: LPA_ERROR, and the codes of a Failed header can be read back. A
 * non-2xx status is LPA_ERROR_HTTP, unless the body is a Failed header (469b958, some servers
 * send it with 400, 403 or 500): then the header's error, its message ending in the status. */
static void
check_server_error (const GError *error, guint status)
{
  g_autofree char *subject = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *with_status = g_strdup_printf (" (HTTP %u)", status);

  fuzz_check_error (error);
  if (status < 200 || status >= 300)
    FUZZ_CHECK (error->code == LPA_ERROR_HTTP ||
                (is_header_error (error) && g_str_has_suffix (error->message, with_status)));
  else
    FUZZ_CHECK (error->code != LPA_ERROR_HTTP);
  if (lpa_server_error_codes (error, &subject, &reason))
    {
      g_autofree char *meaning = lpa_server_status_meaning (subject, reason);
      FUZZ_CHECK (subject != NULL && reason != NULL && meaning != NULL);
    }
  if (error->code == LPA_ERROR_MATCHING_ID_REFUSED ||
      error->code == LPA_ERROR_CONFIRMATION_CODE_REFUSED ||
      error->code == LPA_ERROR_CONFIRMATION_CODE_REQUIRED)
    FUZZ_CHECK (subject != NULL);
}

/* What the download does with an initiateAuthentication answer before AuthenticateServer. */
static void
decode_initiate_authentication (LpaInitiateAuthenticationResponse *r)
{
  g_autoptr (LpaServerSigned1) signed1 = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *oid = NULL;
  g_autoptr (GBytes) ctx = NULL;
  g_autoptr (GBytes) request = NULL;
  LpaCtxParams1 params = { .matching_id = "ABC-123" };

  check_transaction_id (r->transaction_id, r->transaction_id_bin);
  check_tlv (r->server_signed1, 0x30);
  check_tlv (r->server_signature1, 0x5F37);
  check_tlv (r->euicc_ci_pkid, 0x04);
  check_tlv (r->server_certificate, 0x30);

  if ((signed1 = lpa_server_signed1_parse (r->server_signed1, &error)))
    {
      FUZZ_CHECK (g_bytes_get_size (signed1->transaction_id) >= 1 &&
                  g_bytes_get_size (signed1->transaction_id) <= 16);
      FUZZ_CHECK (g_bytes_get_size (signed1->euicc_challenge) == 16);
      FUZZ_CHECK (g_bytes_get_size (signed1->server_challenge) == 16);
      FUZZ_CHECK (signed1->server_address != NULL);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if (!(oid = lpa_certificate_registered_id (r->server_certificate, &error)))
    fuzz_check_error (error);
  g_clear_error (&error);

  /* Everything received goes into the AuthenticateServer request unchanged. */
  ctx = lpa_es10b_ctx_params1 (&params, NULL);
  FUZZ_CHECK (ctx != NULL);
  request =
      lpa_es10b_authenticate_server_request (r->server_signed1, r->server_signature1,
                                             r->euicc_ci_pkid, r->server_certificate, ctx, &error);
  FUZZ_CHECK (request != NULL);
  check_tlv (request, 0xBF38);
}

static void
decode_authenticate_client (LpaAuthenticateClientResponse *r)
{
  g_autoptr (LpaSmdpSigned2) signed2 = NULL;
  g_autoptr (LpaProfileInfo) metadata = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *oid = NULL;
  g_autoptr (GBytes) request = NULL;
  guint8 hash[32];

  check_transaction_id (r->transaction_id, r->transaction_id_bin);
  check_tlv (r->profile_metadata, 0xBF25);
  check_tlv (r->smdp_signed2, 0x30);
  check_tlv (r->smdp_signature2, 0x5F37);
  check_tlv (r->smdp_certificate, 0x30);

  if ((signed2 = lpa_smdp_signed2_parse (r->smdp_signed2, &error)))
    {
      FUZZ_CHECK (g_bytes_get_size (signed2->transaction_id) >= 1);
      lpa_hash_cc ("12345678", signed2->transaction_id, hash);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((metadata = lpa_profile_metadata_parse (r->profile_metadata, &error)))
    FUZZ_CHECK (metadata->iccid && lpa_iccid_is_valid (metadata->iccid));
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if (!(oid = lpa_certificate_registered_id (r->smdp_certificate, &error)))
    fuzz_check_error (error);
  g_clear_error (&error);

  request = lpa_es10b_prepare_download_request (r->smdp_signed2, r->smdp_signature2,
                                                r->smdp_certificate, signed2 ? hash : NULL, &error);
  FUZZ_CHECK (request != NULL);
  check_tlv (request, 0xBF21);
}

static void
decode_bound_profile_package (LpaBoundProfilePackageResponse *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (GBytes) bf25 = NULL;

  check_transaction_id (r->transaction_id, r->transaction_id_bin);
  check_tlv (r->bound_profile_package, 0xBF36);
  if ((segments = lpa_bpp_segments (r->bound_profile_package, &error)))
    FUZZ_CHECK (segments->len >= 5);
  else
    fuzz_check_error (error);
  g_clear_error (&error);
  if ((bf25 = lpa_bpp_metadata (r->bound_profile_package, &error)))
    check_tlv (bf25, 0xBF25);
  else
    fuzz_check_error (error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  guint function, status;

  fuzz_setup ();
  if (size < 1 || size > INPUT_CAP)
    return 0;
  function = (data[0] & 0x07) % FN_COUNT;
  status = statuses[(data[0] >> 3) % G_N_ELEMENTS (statuses)];
  body = fuzz_bytes (data + 1, size - 1);

  switch (function)
    {
    case FN_INITIATE_AUTHENTICATION:
    case FN_ES11_INITIATE_AUTHENTICATION:
      {
        g_autoptr (LpaInitiateAuthenticationResponse) r = lpa_es9p_parse_initiate_authentication (
            function == FN_ES11_INITIATE_AUTHENTICATION ? "ES11 initiateAuthentication"
                                                        : "initiateAuthentication",
            status, body, &error);
        if (r)
          decode_initiate_authentication (r);
        else
          check_server_error (error, status);
        break;
      }
    case FN_AUTHENTICATE_CLIENT:
      {
        g_autoptr (LpaAuthenticateClientResponse) r =
            lpa_es9p_parse_authenticate_client (status, body, &error);
        if (r)
          decode_authenticate_client (r);
        else
          check_server_error (error, status);
        break;
      }
    case FN_GET_BOUND_PROFILE_PACKAGE:
      {
        g_autoptr (LpaBoundProfilePackageResponse) r =
            lpa_es9p_parse_get_bound_profile_package (status, body, &error);
        if (r)
          decode_bound_profile_package (r);
        else
          check_server_error (error, status);
        break;
      }
    case FN_CANCEL_SESSION:
      if (lpa_es9p_parse_cancel_session (status, body, &error))
        FUZZ_CHECK (status >= 200 && status < 300);
      else
        check_server_error (error, status);
      break;
    case FN_HANDLE_NOTIFICATION:
      if (lpa_es9p_parse_handle_notification (status, body, &error))
        FUZZ_CHECK (status >= 200 && status < 300);
      else
        check_server_error (error, status);
      break;
    default:
      g_assert_not_reached ();
    }
  return 0;
}
