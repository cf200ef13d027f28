/* fuzz-es10-responses.c — libFuzzer harness of every ES10a/b/c response parser of liblpa. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

/* A GetProfilesInfo with icons is tens of KiB; 64 KiB covers every real response. */
#define INPUT_CAP (64 * 1024)

static void
check_optional_iccid (const char *iccid)
{
  FUZZ_CHECK (iccid == NULL || lpa_iccid_is_valid (iccid));
}

static void
check_operator (const LpaOperatorId *op)
{
  FUZZ_CHECK (op->mcc_mnc && g_bytes_get_size (op->mcc_mnc) == 3);
  FUZZ_CHECK (op->mcc && strlen (op->mcc) == 3);
  FUZZ_CHECK (op->mnc && (strlen (op->mnc) == 2 || strlen (op->mnc) == 3));
}

static void
check_profile_info (const LpaProfileInfo *info)
{
  check_optional_iccid (info->iccid);
  if (info->isdp_aid)
    FUZZ_CHECK (g_bytes_get_size (info->isdp_aid) >= 5 && g_bytes_get_size (info->isdp_aid) <= 16);
  if (!info->has_profile_class)
    FUZZ_CHECK (info->profile_class == LPA_PROFILE_CLASS_OPERATIONAL);
  for (guint i = 0; info->notification_configs && i < info->notification_configs->len; i++)
    {
      const LpaNotificationConfig *c = g_ptr_array_index (info->notification_configs, i);
      FUZZ_CHECK ((c->events & ~0xFu) == 0 && c->address != NULL);
      /* Stripped of surrounding whitespace. */
      FUZZ_CHECK (c->address[0] == '\0' || !g_ascii_isspace (c->address[0]));
    }
  if (info->owner)
    check_operator (info->owner);
  for (guint i = 0; info->ref_ar_do && i < info->ref_ar_do->len; i++)
    FUZZ_CHECK (((LpaRefArDo *) g_ptr_array_index (info->ref_ar_do, i))->device_app_id != NULL);
  if (info->dp_oid)
    FUZZ_CHECK (info->dp_proprietary_data != NULL);
  g_free (g_strdup (lpa_profile_class_name (info->profile_class)));
  g_free (g_strdup (lpa_profile_state_name (info->state)));
  g_strfreev (lpa_ppr_names (info->ppr));
}

static void
check_metadata (const LpaNotificationMetadata *m)
{
  /* Bits 0 to 3, and SGP.22 v3's RPM events 4 to 7; none (only later bits, or none at all):
   * operation 0, listed as "unknown" and delivered like any other. */
  FUZZ_CHECK ((m->events & ~0xFFu) == 0);
  if (m->events == 0)
    {
      FUZZ_CHECK (m->operation == 0);
      FUZZ_CHECK (strcmp (lpa_notification_event_name (m->operation), "unknown") == 0);
      FUZZ_CHECK (m->address != NULL);
      check_optional_iccid (m->iccid);
      return;
    }
  /* The operation is the lowest event bit. */
  FUZZ_CHECK ((m->events & (guint) m->operation) == (guint) m->operation);
  FUZZ_CHECK (((guint) m->operation & ((guint) m->operation - 1)) == 0);
  FUZZ_CHECK ((m->events & ((guint) m->operation - 1)) == 0);
  FUZZ_CHECK (m->address != NULL);
  check_optional_iccid (m->iccid);
  /* The D-Bus API names every event SGP.22 v3 defines, so every one set. */
  FUZZ_CHECK (strcmp (lpa_notification_event_name (m->events), "unknown") != 0);
}

static void
check_transaction_id (GBytes *tid)
{
  FUZZ_CHECK (tid != NULL);
  FUZZ_CHECK (g_bytes_get_size (tid) >= 1 && g_bytes_get_size (tid) <= 16);
}

/* What is kept of an eUICC's answer and sent on: the answer's first TLV, whole, without the
 * bytes a card may pad it with (lpa_der_parse_answer). */
static gboolean
is_leading_tlv (GBytes *raw, GBytes *input)
{
  gsize len, in_len;
  const guint8 *data = raw ? g_bytes_get_data (raw, &len) : NULL;
  const guint8 *in = g_bytes_get_data (input, &in_len);
  LpaTlv tlv;

  return data && len <= in_len && memcmp (data, in, len) == 0 &&
         lpa_der_parse (data, len, &tlv, NULL);
}

/* The signed AuthenticateServer/PrepareDownload response goes to the server unchanged. */
static void
check_signed (GBytes *input, LpaSignedResponse *r, LpaEs10Function function)
{
  g_autoptr (GError) error = NULL;

  FUZZ_CHECK (is_leading_tlv (r->raw, input));
  check_transaction_id (r->transaction_id);
  FUZZ_CHECK (r->ok == (r->error_code == -1));
  if (lpa_signed_response_check (r, function, &error))
    FUZZ_CHECK (r->ok);
  else
    {
      fuzz_check_error (error);
      FUZZ_CHECK (!r->ok);
    }
}

static void
check_installation_result (GBytes *input, LpaProfileInstallationResult *pir)
{
  g_autoptr (GError) error = NULL;

  if (input)
    FUZZ_CHECK (is_leading_tlv (pir->raw, input));
  check_transaction_id (pir->transaction_id);
  check_metadata (pir->metadata);
  if (pir->success)
    FUZZ_CHECK (pir->isdp_aid && g_bytes_get_size (pir->isdp_aid) >= 5);
  if (lpa_profile_installation_result_check (pir, &error))
    FUZZ_CHECK (pir->success);
  else
    {
      fuzz_check_error (error);
      FUZZ_CHECK (!pir->success);
    }
}

/* Every operator a rule lists must be allowed, by that rule, the PPRs the rule names. */
static void
check_rat (GPtrArray *rat)
{
  for (guint i = 0; i < rat->len; i++)
    {
      const LpaPprRule *rule = g_ptr_array_index (rat, i);
      guint64 pprs = rule->ppr_ids & (LPA_PPR1 | LPA_PPR2);

      FUZZ_CHECK (rule->allowed_operators != NULL);
      for (guint j = 0; j < rule->allowed_operators->len; j++)
        {
          const LpaOperatorId *op = g_ptr_array_index (rule->allowed_operators, j);
          gboolean consent = FALSE;

          check_operator (op);
          FUZZ_CHECK (lpa_rat_allows (rat, pprs, op, &consent));
        }
    }
}

/* The result-only responses: TRUE means success, which is code 0, or nothingToDelete where that
 * reaches the goal as well. */
static void
check_result (gboolean ok, gint code, const GError *error, gboolean nothing_is_fine)
{
  if (ok)
    FUZZ_CHECK (code == 0 || (nothing_is_fine && code == 1));
  else
    {
      fuzz_check_error (error);
      FUZZ_CHECK (code != 0);
    }
}

typedef gboolean (*ResultParser) (GBytes *response, gint *code, GError **error);

static void
run_result (ResultParser parse, GBytes *input, gboolean nothing_is_fine)
{
  g_autoptr (GError) error = NULL;
  gint code = 0;
  gboolean ok = parse (input, &code, &error);

  check_result (ok, code, error, nothing_is_fine);
  /* Without a code pointer the answer is the same. */
  FUZZ_CHECK (parse (input, NULL, NULL) == ok);
}

static void
run_profiles_info (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (input, &error);

  if (!list)
    return fuzz_check_error (error);
  for (guint i = 0; i < list->len; i++)
    check_profile_info (g_ptr_array_index (list, i));
}

static void
run_list_notification (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10b_parse_list_notification (input, &error);

  if (!list)
    return fuzz_check_error (error);
  for (guint i = 0; i < list->len; i++)
    check_metadata (g_ptr_array_index (list, i));
}

static void
run_retrieve_notifications (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10b_parse_retrieve_notifications (input, &error);

  if (!list)
    return fuzz_check_error (error);
  for (guint i = 0; i < list->len; i++)
    {
      LpaPendingNotification *n = g_ptr_array_index (list, i);
      g_autoptr (LpaProfileInstallationResult) pir = NULL;
      g_autoptr (GError) pir_error = NULL;
      g_autoptr (GBytes) request = NULL;
      LpaTlv tlv;

      /* raw is one whole TLV of the response, forwarded as handleNotification's payload. */
      FUZZ_CHECK (n->raw != NULL);
      FUZZ_CHECK (
          lpa_der_parse (g_bytes_get_data (n->raw, NULL), g_bytes_get_size (n->raw), &tlv, NULL));
      FUZZ_CHECK (n->is_install_result ? tlv.tag == 0xBF37u
                                       : (tlv.tag == 0x30u || tlv.tag == 0xA1u));
      check_metadata (n->metadata);
      request = lpa_es9p_handle_notification_request (n->raw);
      FUZZ_CHECK (request != NULL && g_bytes_get_size (request) > 0);
      if (!n->is_install_result)
        continue;
      /* A pending PIR also goes through the ProfileInstallationResult parser. */
      if ((pir = lpa_es10b_parse_profile_installation_result (n->raw, &pir_error)))
        {
          check_installation_result (n->raw, pir);
          FUZZ_CHECK (pir->metadata->seq == n->metadata->seq);
        }
      else
        fuzz_check_error (pir_error);
    }
}

static void
run_installation_result (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaProfileInstallationResult) pir =
      lpa_es10b_parse_profile_installation_result (input, &error);

  if (!pir)
    return fuzz_check_error (error);
  check_installation_result (input, pir);
}

static void
check_pkids (GPtrArray *list)
{
  FUZZ_CHECK (list != NULL);
  for (guint i = 0; i < list->len; i++)
    {
      FUZZ_CHECK (g_bytes_get_size (g_ptr_array_index (list, i)) > 0);
      FUZZ_CHECK (lpa_pkid_list_contains (list, g_ptr_array_index (list, i)));
    }
}

static void
run_info1 (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo1) info = lpa_euicc_info1_parse (input, &error);

  if (!info)
    return fuzz_check_error (error);
  FUZZ_CHECK (info->svn && is_leading_tlv (info->raw, input));
  check_pkids (info->ci_pkids_verification);
  check_pkids (info->ci_pkids_signing);
}

static void
run_info2 (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo2) info = lpa_euicc_info2_parse (input, &error);

  if (!info)
    return fuzz_check_error (error);
  FUZZ_CHECK (info->svn && is_leading_tlv (info->raw, input));
  check_pkids (info->ci_pkids_verification);
  check_pkids (info->ci_pkids_signing);
  g_strfreev (lpa_uicc_capability_names (info->uicc_capability));
  g_strfreev (lpa_rsp_capability_names (info->rsp_capability));
  g_strfreev (lpa_ppr_names (info->forbidden_ppr));
  FUZZ_CHECK (lpa_euicc_category_name (info->euicc_category) != NULL);
}

static void
run_authenticate_server (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaSignedResponse) r = lpa_es10b_parse_authenticate_server (input, &error);

  if (!r)
    return fuzz_check_error (error);
  check_signed (input, r, LPA_ES10_AUTHENTICATE_SERVER);
}

static void
run_prepare_download (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaSignedResponse) r = lpa_es10b_parse_prepare_download (input, &error);

  if (!r)
    return fuzz_check_error (error);
  check_signed (input, r, LPA_ES10_PREPARE_DOWNLOAD);
}

static void
run_cancel_session (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaCancelSessionResponse) r = lpa_es10b_parse_cancel_session (input, &error);

  if (!r)
    return fuzz_check_error (error);
  FUZZ_CHECK (is_leading_tlv (r->raw, input));
  FUZZ_CHECK (r->ok == (r->error_code == -1));
  if (r->ok)
    {
      check_transaction_id (r->transaction_id);
      FUZZ_CHECK (r->smdp_oid != NULL);
    }
}

static void
run_rat (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rat = lpa_es10b_parse_rat (input, &error);

  if (!rat)
    return fuzz_check_error (error);
  check_rat (rat);
}

static void
run_addresses (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaConfiguredAddresses) a = lpa_es10a_parse_configured_addresses (input, &error);

  if (!a)
    return fuzz_check_error (error);
  FUZZ_CHECK (a->root_ds_address != NULL);
  FUZZ_CHECK (a->default_dp_address == NULL || a->default_dp_address[0] != '\0');
}

static void
run_eid (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *eid = lpa_es10c_parse_eid (input, &error);

  if (!eid)
    return fuzz_check_error (error);
  FUZZ_CHECK (strlen (eid) == 32);
}

static void
run_challenge (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) challenge = lpa_es10b_parse_euicc_challenge (input, &error);

  if (!challenge)
    return fuzz_check_error (error);
  FUZZ_CHECK (g_bytes_get_size (challenge) == 16);
}

static void
run_metadata (GBytes *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaProfileInfo) info = lpa_profile_metadata_parse (input, &error);

  if (!info)
    return fuzz_check_error (error);
  /* StoreMetadataRequest's mandatory fields. */
  FUZZ_CHECK (info->iccid && info->service_provider_name && info->profile_name);
  check_profile_info (info);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) input = NULL;
  LpaDerReader reader;
  LpaTlv outer;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  input = fuzz_bytes (data, size);

  /* Dispatch on the outer tag, as the response to each request is read; a response whose header
   * does not decode goes to every parser (each must refuse it). */
  lpa_der_reader_init (&reader, data, size);
  if (!lpa_der_reader_next (&reader, &outer, NULL))
    outer.tag = 0;
  switch (outer.tag)
    {
    case 0xBF2D:
      run_profiles_info (input);
      break;
    case 0xBF28:
      run_list_notification (input);
      break;
    case 0xBF2B:
      run_retrieve_notifications (input);
      break;
    case 0xBF37:
      run_installation_result (input);
      break;
    case 0xBF20:
      run_info1 (input);
      break;
    case 0xBF22:
      run_info2 (input);
      break;
    case 0xBF38:
      run_authenticate_server (input);
      break;
    case 0xBF21:
      run_prepare_download (input);
      break;
    case 0xBF41:
      run_cancel_session (input);
      break;
    case 0xBF43:
      run_rat (input);
      break;
    case 0xBF3C:
      run_addresses (input);
      break;
    case 0xBF3E:
      run_eid (input);
      break;
    case 0xBF2E:
      run_challenge (input);
      break;
    case 0xBF25:
      run_metadata (input);
      break;
    case 0xBF30:
      run_result (lpa_es10b_parse_remove_notification, input, TRUE);
      break;
    case 0xBF31:
      run_result (lpa_es10c_parse_enable_profile, input, FALSE);
      break;
    case 0xBF32:
      run_result (lpa_es10c_parse_disable_profile, input, FALSE);
      break;
    case 0xBF33:
      run_result (lpa_es10c_parse_delete_profile, input, FALSE);
      break;
    case 0xBF34:
      run_result (lpa_es10c_parse_memory_reset, input, TRUE);
      break;
    case 0xBF29:
      run_result (lpa_es10c_parse_set_nickname, input, FALSE);
      break;
    case 0xBF3F:
      run_result (lpa_es10a_parse_set_default_dp_address, input, FALSE);
      break;
    default:
      run_profiles_info (input);
      run_list_notification (input);
      run_retrieve_notifications (input);
      run_installation_result (input);
      run_info1 (input);
      run_info2 (input);
      run_authenticate_server (input);
      run_prepare_download (input);
      run_cancel_session (input);
      run_rat (input);
      run_addresses (input);
      run_eid (input);
      run_challenge (input);
      run_metadata (input);
      run_result (lpa_es10c_parse_enable_profile, input, FALSE);
      break;
    }
  return 0;
}
