/* es10b.c — ES10b: the eUICC side of mutual authentication, download and notifications. */
#include "es10b.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "der.h"
#include "iccid.h"
#include "lpa-error.h"
#include "secret.h"

static gboolean
malformed (GError **error, const char *what)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s", what);
  return FALSE;
}

static gpointer
malformed_null (GError **error, const char *what)
{
  malformed (error, what);
  return NULL;
}

/* The response must start with one constructed TLV tagged @tag (lpa_der_parse_answer). */
static gboolean
parse_top (GBytes *response, guint32 tag, LpaTlv *tlv, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);

  return lpa_der_parse_answer (data, len, tag, tlv, error) &&
         lpa_der_expect_constructed (tlv, error);
}

/* Checks that @bytes is one TLV tagged @tag, for data received from a server that goes into an
 * ES10 request unchanged. */
static gboolean
check_tlv (GBytes *bytes, guint32 tag, const char *what, GError **error)
{
  gsize len;
  const guint8 *data = bytes ? g_bytes_get_data (bytes, &len) : NULL;
  LpaTlv tlv;

  if (data == NULL || !lpa_der_parse_expect (data, len, tag, &tlv, error))
    {
      g_clear_error (error);
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s is not one TLV with tag %02X", what,
                   tag);
      return FALSE;
    }
  return TRUE;
}

GBytes *
lpa_es10b_get_euicc_challenge_request (void)
{
  return lpa_es10_empty_request (0xBF2E);
}

GBytes *
lpa_es10b_parse_euicc_challenge (GBytes *response, GError **error)
{
  LpaTlv outer, challenge;

  if (!parse_top (response, 0xBF2E, &outer, error) ||
      !lpa_der_get_child (&outer, 0x80, &challenge, error) ||
      !lpa_der_expect_length (&challenge, 16, error))
    {
      g_prefix_error (error, "GetEUICCChallenge response: ");
      return NULL;
    }
  return lpa_der_value_bytes (response, &challenge);
}

GBytes *
lpa_es10b_get_euicc_info1_request (void)
{
  return lpa_es10_empty_request (0xBF20);
}

GBytes *
lpa_es10b_get_euicc_info2_request (void)
{
  return lpa_es10_empty_request (0xBF22);
}

void
lpa_device_capabilities_init_default (LpaDeviceCapabilities *caps)
{
  static const LpaDeviceCapability defaults[] = { LPA_DEVCAP_GSM, LPA_DEVCAP_UTRAN,
                                                  LPA_DEVCAP_EUTRAN_EPC };

  memset (caps, 0, sizeof *caps);
  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    {
      caps->present[defaults[i]] = TRUE;
      caps->release[defaults[i]][0] = 15;
    }
}

GBytes *
lpa_es10b_ctx_params1 (const LpaCtxParams1 *params, GError **error)
{
  static const guint8 default_tac[4] = { 0x35, 0x29, 0x06, 0x11 };
  g_auto (LpaDerWriter) w = { 0 };
  LpaDeviceCapabilities default_caps;
  const LpaDeviceCapabilities *caps = params->caps;
  guint8 imei[8];
  const guint8 *tac = params->tac ? params->tac : default_tac;

  if (params->imei)
    {
      if (!lpa_imei_to_bcd (params->imei, imei, error))
        return NULL;
      if (!params->tac)
        tac = imei; /* the TAC is the IMEI's first 8 digits, coded the same way */
    }
  if (params->matching_id && !g_utf8_validate (params->matching_id, -1, NULL))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "matching ID is not UTF-8");
      return NULL;
    }
  if (caps == NULL)
    {
      lpa_device_capabilities_init_default (&default_caps);
      caps = &default_caps;
    }

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xA0);
  if (params->matching_id)
    lpa_der_write_utf8 (&w, 0x80, params->matching_id);
  lpa_der_writer_begin (&w, 0xA1);
  lpa_der_write (&w, 0x80, tac, 4);
  lpa_der_writer_begin (&w, 0xA1);
  for (guint i = 0; i < LPA_DEVCAP_COUNT; i++)
    if (caps->present[i])
      lpa_der_write (&w, 0x80 + i, caps->release[i], 3);
  lpa_der_writer_end (&w);
  if (params->imei)
    lpa_der_write (&w, 0x82, imei, sizeof imei);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

GBytes *
lpa_es10b_authenticate_server_request (GBytes *server_signed1, GBytes *server_signature1,
                                       GBytes *euicc_ci_pkid, GBytes *server_certificate,
                                       GBytes *ctx_params1, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  if (!check_tlv (server_signed1, 0x30, "serverSigned1", error) ||
      !check_tlv (server_signature1, 0x5F37, "serverSignature1", error) ||
      !check_tlv (euicc_ci_pkid, 0x04, "euiccCiPKIdToBeUsed", error) ||
      !check_tlv (server_certificate, 0x30, "serverCertificate", error) ||
      !check_tlv (ctx_params1, 0xA0, "ctxParams1", error))
    return NULL;
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF38);
  lpa_der_write_raw_bytes (&w, server_signed1);
  lpa_der_write_raw_bytes (&w, server_signature1);
  lpa_der_write_raw_bytes (&w, euicc_ci_pkid);
  lpa_der_write_raw_bytes (&w, server_certificate);
  lpa_der_write_raw_bytes (&w, ctx_params1);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

void
lpa_signed_response_free (LpaSignedResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->raw, g_bytes_unref);
  g_clear_pointer (&response->transaction_id, g_bytes_unref);
  g_free (response);
}

static gboolean
get_transaction_id (GBytes *base, const LpaTlv *parent, GBytes **out, GError **error)
{
  LpaTlv tid;

  if (!lpa_der_get_child (parent, 0x80, &tid, error) || !lpa_der_expect_primitive (&tid, error))
    return FALSE;
  if (tid.value_len < 1 || tid.value_len > 16)
    return malformed (error, "transaction ID not 1 to 16 bytes");
  *out = lpa_der_value_bytes (base, &tid);
  return TRUE;
}

/* AuthenticateServerResponse and PrepareDownloadResponse share their shape:
 * <tag> { A0 { 30 signed { 80 tid, … }, 5F37 signature, … } | A1 { 80 tid, 02 code } }. */
static LpaSignedResponse *
parse_signed_response (GBytes *response, guint32 tag, LpaEs10Function function, GError **error)
{
  g_autoptr (LpaSignedResponse) out = g_new0 (LpaSignedResponse, 1);
  LpaTlv outer, choice, first, code;
  LpaDerReader reader;
  gboolean found;

  if (!parse_top (response, tag, &outer, error))
    goto fail;
  lpa_der_reader_init_children (&reader, &outer);
  if (!lpa_der_reader_next (&reader, &choice, error))
    goto fail;
  if (!lpa_der_reader_at_end (&reader))
    {
      malformed (error, "more than one alternative");
      goto fail;
    }
  if (choice.tag == 0xA0)
    {
      LpaTlv signature;

      lpa_der_reader_init_children (&reader, &choice);
      if (!lpa_der_reader_next (&reader, &first, error))
        goto fail;
      if (first.tag != 0x30)
        {
          malformed (error, "signed data missing");
          goto fail;
        }
      if (!get_transaction_id (response, &first, &out->transaction_id, error) ||
          !lpa_der_find_child (&choice, 0x5F37, &signature, &found, error))
        goto fail;
      if (!found)
        {
          malformed (error, "signature missing");
          goto fail;
        }
      out->ok = TRUE;
      out->error_code = -1;
    }
  else if (choice.tag == 0xA1)
    {
      if (!get_transaction_id (response, &choice, &out->transaction_id, error) ||
          !lpa_der_get_child (&choice, 0x02, &code, error) ||
          !lpa_es10_get_code (&code, &out->error_code, error))
        goto fail;
      out->ok = FALSE;
    }
  else
    {
      malformed (error, "neither the ok nor the error alternative");
      goto fail;
    }
  out->raw = lpa_der_tlv_bytes (response, &outer);
  return g_steal_pointer (&out);

fail:
  g_prefix_error (error, "%s response: ", lpa_es10_function_name (function));
  return NULL;
}

LpaSignedResponse *
lpa_es10b_parse_authenticate_server (GBytes *response, GError **error)
{
  return parse_signed_response (response, 0xBF38, LPA_ES10_AUTHENTICATE_SERVER, error);
}

LpaSignedResponse *
lpa_es10b_parse_prepare_download (GBytes *response, GError **error)
{
  return parse_signed_response (response, 0xBF21, LPA_ES10_PREPARE_DOWNLOAD, error);
}

gboolean
lpa_signed_response_check (const LpaSignedResponse *response, LpaEs10Function function,
                           GError **error)
{
  if (response->ok)
    return TRUE;
  return lpa_es10_result_check (function, response->error_code, error);
}

void
lpa_hash_cc (const char *code, GBytes *transaction_id, guint8 out[32])
{
  gsize tid_len;
  const guint8 *tid = g_bytes_get_data (transaction_id, &tid_len);
  /* SHA-256(code) ‖ transaction ID: what the code hashes into, wiped like the code. GChecksum is
   * not used: g_checksum_free() leaves the code in the freed context's block buffer. GnuTLS's
   * one-shot hash keeps its context on its own stack. */
  gsize len = 32 + tid_len;
  guint8 *inner = g_malloc (len);

  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, code, strlen (code), inner) < 0)
    g_error ("SHA-256 is not available");
  if (tid_len)
    memcpy (inner + 32, tid, tid_len);
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, inner, len, out) < 0)
    g_error ("SHA-256 is not available");
  lpa_secret_wipe (inner, len);
  g_free (inner);
}

GBytes *
lpa_es10b_prepare_download_request (GBytes *smdp_signed2, GBytes *smdp_signature2,
                                    GBytes *smdp_certificate, const guint8 *hash_cc, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  if (!check_tlv (smdp_signed2, 0x30, "smdpSigned2", error) ||
      !check_tlv (smdp_signature2, 0x5F37, "smdpSignature2", error) ||
      !check_tlv (smdp_certificate, 0x30, "smdpCertificate", error))
    return NULL;
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF21);
  lpa_der_write_raw_bytes (&w, smdp_signed2);
  lpa_der_write_raw_bytes (&w, smdp_signature2);
  if (hash_cc)
    lpa_der_write (&w, 0x04, hash_cc, 32);
  lpa_der_write_raw_bytes (&w, smdp_certificate);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

GBytes *
lpa_es10b_cancel_session_request (GBytes *transaction_id, LpaCancelSessionReason reason,
                                  GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };
  gsize len = transaction_id ? g_bytes_get_size (transaction_id) : 0;

  if (len < 1 || len > 16)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "transaction ID must be 1 to 16 bytes");
      return NULL;
    }
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF41);
  lpa_der_write_bytes (&w, 0x80, transaction_id);
  lpa_der_write_uint (&w, 0x81, (guint32) reason);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

void
lpa_cancel_session_response_free (LpaCancelSessionResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->raw, g_bytes_unref);
  g_clear_pointer (&response->transaction_id, g_bytes_unref);
  g_free (response->smdp_oid);
  g_free (response);
}

LpaCancelSessionResponse *
lpa_es10b_parse_cancel_session (GBytes *response, GError **error)
{
  g_autoptr (LpaCancelSessionResponse) out = g_new0 (LpaCancelSessionResponse, 1);
  LpaTlv outer, choice, signed_part, oid, reason, signature;
  LpaDerReader reader;
  gint32 value;

  if (!parse_top (response, 0xBF41, &outer, error))
    goto fail;
  lpa_der_reader_init_children (&reader, &outer);
  if (!lpa_der_reader_next (&reader, &choice, error))
    goto fail;
  if (choice.tag == 0x81)
    {
      if (!lpa_es10_get_code (&choice, &out->error_code, error))
        goto fail;
    }
  else if (choice.tag == 0xA0)
    {
      if (!lpa_der_get_child (&choice, 0x30, &signed_part, error) ||
          !lpa_der_get_child (&choice, 0x5F37, &signature, error) ||
          !get_transaction_id (response, &signed_part, &out->transaction_id, error) ||
          !lpa_der_get_child (&signed_part, 0x81, &oid, error) ||
          !(out->smdp_oid = lpa_der_get_oid (&oid, error)) ||
          !lpa_der_get_child (&signed_part, 0x82, &reason, error) ||
          !lpa_der_get_int (&reason, &value, error))
        goto fail;
      out->ok = TRUE;
      out->error_code = -1;
      out->reason = value;
    }
  else
    {
      malformed (error, "neither the ok nor the error alternative");
      goto fail;
    }
  out->raw = lpa_der_tlv_bytes (response, &outer);
  return g_steal_pointer (&out);

fail:
  g_prefix_error (error, "CancelSession response: ");
  return NULL;
}

void
lpa_notification_metadata_free (LpaNotificationMetadata *metadata)
{
  if (metadata == NULL)
    return;
  g_free (metadata->address);
  g_free (metadata->iccid);
  g_free (metadata);
}

LpaNotificationMetadata *
lpa_notification_metadata_parse (const LpaTlv *bf2f, GError **error)
{
  g_autoptr (LpaNotificationMetadata) out = g_new0 (LpaNotificationMetadata, 1);
  LpaTlv seq, pmo, address, iccid;
  gboolean has_iccid;
  guint64 events;

  if (bf2f->tag != 0xBF2F || !bf2f->constructed)
    return malformed_null (error, "NotificationMetadata expected");
  if (!lpa_der_get_child (bf2f, 0x80, &seq, error) || !lpa_der_get_uint (&seq, &out->seq, error) ||
      !lpa_der_get_child (bf2f, 0x81, &pmo, error) || !lpa_der_get_bits (&pmo, &events, error) ||
      !lpa_der_get_child (bf2f, 0x0C, &address, error) ||
      !(out->address = lpa_der_get_display_text (&address, error)) ||
      !lpa_der_find_child (bf2f, 0x5A, &iccid, &has_iccid, error))
    return NULL;
  /* SGP.22 v3 adds events 4 to 7 (notificationRpmEnable, -Disable, -Delete,
   * loadRpmPackageResult): such a notification is pending like any other and goes to its
   * server; taking it for a malformed one failed the whole list, and with it every other
   * notification's delivery. An operation only in bits no SGP.22 version names (8 on), or in
   * no bit at all, is still the card's signed notification for its server: it is listed as
   * "unknown" (operation 0) and delivered unchanged, as lpac lists and sends it (its
   * es10b_list_notification: ES10B_PROFILE_MANAGEMENT_OPERATION_UNDEFINED, "unknown").
   * Skipping it left it on the card, unlisted and undelivered, for good. What delivering
   * needs stays strict: the sequence number and the address. */
  out->events = (guint) (events & 0xFF);
  out->operation = (LpaNotificationEvent) (out->events & -out->events);
  /* The address was read as display text: one that is not UTF-8 (U+FFFD in it now) is then
   * no host name, which fails this notification's delivery alone, not every list it is in. */
  g_strstrip (out->address);
  /* The ICCID only describes the notification (the server reads its own from the signed
   * data): one that does not decode is left out (NULL, listed as ""), not the reason to leave
   * the notification on the card, unlisted and undelivered, for good. */
  if (has_iccid)
    out->iccid = lpa_iccid_from_bcd (iccid.value, iccid.value_len);
  return g_steal_pointer (&out);
}

GBytes *
lpa_es10b_list_notification_request (guint events)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF28);
  if (events)
    lpa_der_write_bits (&w, 0x81, events);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

static gpointer
parse_metadata_item (GBytes *base, const LpaTlv *item, GError **error)
{
  /* An item that is not a NotificationMetadata (BF2F), or one that does not decode, is skipped:
   * each item is a whole TLV, so the others are still read right, and failing the list left
   * every notification undelivered. Such an item is one esimd cannot deliver anyway: no
   * address, a sequence number out of range, an operation that is no BIT STRING. It stays on
   * the eUICC. (An operation in no bit SGP.22 names is listed, "unknown"; an ICCID that does
   * not decode is left out of the listing.) */
  if (item->tag != 0xBF2F)
    return NULL;
  return lpa_notification_metadata_parse (item, NULL);
}

GPtrArray *
lpa_es10b_parse_list_notification (GBytes *response, GError **error)
{
  return lpa_es10_parse_list (response, 0xBF28, LPA_ES10_LIST_NOTIFICATION, -1, parse_metadata_item,
                              (GDestroyNotify) lpa_notification_metadata_free, error);
}

GBytes *
lpa_es10b_retrieve_notifications_request (void)
{
  return lpa_es10_empty_request (0xBF2B);
}

GBytes *
lpa_es10b_retrieve_notification_request (guint32 seq)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2B);
  lpa_der_writer_begin (&w, 0xA0);
  lpa_der_write_uint (&w, 0x80, seq);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

GBytes *
lpa_es10b_retrieve_notifications_by_event_request (guint events)
{
  g_auto (LpaDerWriter) w = { 0 };

  if (events == 0)
    return lpa_es10b_retrieve_notifications_request ();
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2B);
  lpa_der_writer_begin (&w, 0xA0);
  lpa_der_write_bits (&w, 0x81, events);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

void
lpa_pending_notification_free (LpaPendingNotification *notification)
{
  if (notification == NULL)
    return;
  g_clear_pointer (&notification->raw, g_bytes_unref);
  lpa_notification_metadata_free (notification->metadata);
  g_free (notification);
}

static gpointer
parse_pending_notification (GBytes *base, const LpaTlv *tlv, GError **error)
{
  g_autoptr (LpaPendingNotification) out = g_new0 (LpaPendingNotification, 1);
  LpaTlv data, metadata;

  if (tlv->tag == 0xBF37 && tlv->constructed)
    {
      /* ProfileInstallationResult: the metadata is inside ProfileInstallationResultData. */
      if (!lpa_der_get_child (tlv, 0xBF27, &data, error) ||
          !lpa_der_get_child (&data, 0xBF2F, &metadata, error))
        return NULL;
      out->is_install_result = TRUE;
    }
  else if (tlv->tag == 0x30 && tlv->constructed)
    {
      /* OtherSignedNotification: tbsOtherNotification comes first. */
      if (!lpa_der_get_child (tlv, 0xBF2F, &metadata, error))
        return NULL;
    }
  else if (tlv->tag == 0xA1 && tlv->constructed)
    {
      /* SGP.22 v3's loadRpmPackageResultSigned [1]: the metadata is inside the signed data that
       * comes first. It goes to its server like the others; refusing it failed the whole list,
       * and with it the delivery of every other notification. */
      LpaDerReader reader;
      LpaTlv signed_data;

      lpa_der_reader_init_children (&reader, tlv);
      if (!lpa_der_reader_next (&reader, &signed_data, error) ||
          !lpa_der_expect_constructed (&signed_data, error) ||
          !lpa_der_get_child (&signed_data, 0xBF2F, &metadata, error))
        return NULL;
    }
  else
    return malformed_null (error, "pending notification is neither BF37, 30 nor A1");
  if (!(out->metadata = lpa_notification_metadata_parse (&metadata, error)))
    return NULL;
  out->raw = lpa_der_tlv_bytes (base, tlv);
  return g_steal_pointer (&out);
}

/* A pending notification that does not decode is skipped, as in ListNotification: the batch
 * delivery retrieves every pending notification at once, and one unreadable item failed it for
 * all the others, for good. The one skipped reads as not returned (its delivery fails, the list
 * is read again), as it did when the eUICC did not return it. */
static gpointer
parse_pending_item (GBytes *base, const LpaTlv *item, GError **error)
{
  return parse_pending_notification (base, item, NULL);
}

GPtrArray *
lpa_es10b_parse_retrieve_notifications (GBytes *response, GError **error)
{
  /* noResultAvailable is an empty list, as AOSP reads it. */
  return lpa_es10_parse_list (response, 0xBF2B, LPA_ES10_RETRIEVE_NOTIFICATIONS_LIST,
                              LPA_RETRIEVE_NOTIFICATIONS_NO_RESULT_AVAILABLE, parse_pending_item,
                              (GDestroyNotify) lpa_pending_notification_free, error);
}

GBytes *
lpa_es10b_remove_notification_request (guint32 seq)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF30);
  lpa_der_write_uint (&w, 0x80, seq);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

gboolean
lpa_es10b_parse_remove_notification (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF30, LPA_ES10_REMOVE_NOTIFICATION_FROM_LIST, code,
                                error);
}

void
lpa_profile_installation_result_free (LpaProfileInstallationResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->raw, g_bytes_unref);
  g_clear_pointer (&result->transaction_id, g_bytes_unref);
  lpa_notification_metadata_free (result->metadata);
  g_free (result->smdp_oid);
  g_clear_pointer (&result->isdp_aid, g_bytes_unref);
  g_clear_pointer (&result->sima_response, g_bytes_unref);
  g_free (result);
}

static gboolean
parse_final_result (LpaProfileInstallationResult *out, GBytes *base, const LpaTlv *a2,
                    GError **error)
{
  LpaTlv choice, f;
  LpaDerReader reader;
  gboolean found;

  lpa_der_reader_init_children (&reader, a2);
  if (!lpa_der_reader_next (&reader, &choice, error))
    return FALSE;
  if (choice.tag == 0xA0)
    {
      if (!lpa_der_get_child (&choice, 0x4F, &f, error) || !lpa_der_expect_primitive (&f, error))
        return FALSE;
      if (f.value_len < 5 || f.value_len > 16)
        return malformed (error, "ISD-P AID of bad length");
      out->isdp_aid = lpa_der_value_bytes (base, &f);
      if (!lpa_der_find_child (&choice, 0x04, &f, &found, error))
        return FALSE;
      if (found)
        out->sima_response = lpa_der_value_bytes (base, &f);
      out->success = TRUE;
      return TRUE;
    }
  if (choice.tag == 0xA1)
    {
      gint32 command, reason;

      if (!lpa_der_get_child (&choice, 0x80, &f, error) || !lpa_der_get_int (&f, &command, error) ||
          !lpa_der_get_child (&choice, 0x81, &f, error) || !lpa_der_get_int (&f, &reason, error) ||
          !lpa_der_find_child (&choice, 0x82, &f, &found, error))
        return FALSE;
      if (found)
        out->sima_response = lpa_der_value_bytes (base, &f);
      out->bpp_command_id = command;
      out->error_reason = reason;
      out->success = FALSE;
      return TRUE;
    }
  return malformed (error, "finalResult is neither success nor error");
}

LpaProfileInstallationResult *
lpa_es10b_parse_profile_installation_result (GBytes *response, GError **error)
{
  g_autoptr (LpaProfileInstallationResult) out = g_new0 (LpaProfileInstallationResult, 1);
  LpaTlv outer, data, metadata, oid, final;
  gboolean has_oid;

  if (!parse_top (response, 0xBF37, &outer, error) ||
      !lpa_der_get_child (&outer, 0xBF27, &data, error) ||
      !lpa_der_expect_constructed (&data, error) ||
      !get_transaction_id (response, &data, &out->transaction_id, error) ||
      !lpa_der_get_child (&data, 0xBF2F, &metadata, error) ||
      !(out->metadata = lpa_notification_metadata_parse (&metadata, error)) ||
      !lpa_der_find_child (&data, 0x06, &oid, &has_oid, error) ||
      (has_oid && !(out->smdp_oid = lpa_der_get_oid (&oid, error))) ||
      !lpa_der_get_child (&data, 0xA2, &final, error) ||
      !lpa_der_expect_constructed (&final, error) ||
      !parse_final_result (out, response, &final, error))
    {
      g_prefix_error (error, "ProfileInstallationResult: ");
      return NULL;
    }
  out->raw = lpa_der_tlv_bytes (response, &outer);
  return g_steal_pointer (&out);
}

gboolean
lpa_profile_installation_result_check (const LpaProfileInstallationResult *result, GError **error)
{
  LpaError code;

  if (result->success)
    return TRUE;
  switch (result->error_reason)
    {
    case LPA_INSTALL_INSUFFICIENT_MEMORY_FOR_PROFILE:
      code = LPA_ERROR_INSUFFICIENT_MEMORY;
      break;
    case LPA_INSTALL_ICCID_ALREADY_EXISTS_ON_EUICC:
      code = LPA_ERROR_PROFILE_EXISTS;
      break;
    case LPA_INSTALL_PPR_NOT_ALLOWED:
      code = LPA_ERROR_DISALLOWED_BY_POLICY;
      break;
    default:
      code = LPA_ERROR_INSTALL_FAILED;
      break;
    }
  g_set_error (error, LPA_ERROR, code, "ProfileInstallationResult: %s(%d) failed: %s(%d)",
               lpa_bpp_command_name ((LpaBppCommandId) result->bpp_command_id),
               result->bpp_command_id,
               lpa_install_error_reason_name ((LpaInstallErrorReason) result->error_reason),
               result->error_reason);
  return FALSE;
}

void
lpa_ppr_rule_free (LpaPprRule *rule)
{
  if (rule == NULL)
    return;
  g_clear_pointer (&rule->allowed_operators, g_ptr_array_unref);
  g_free (rule);
}

GBytes *
lpa_es10b_get_rat_request (void)
{
  return lpa_es10_empty_request (0xBF43);
}

static gpointer
parse_operator_item (GBytes *base, const LpaTlv *item, GError **error)
{
  if (item->tag != 0x30)
    return malformed_null (error, "OperatorId expected");
  return lpa_operator_id_parse (base, item, error);
}

static gpointer
parse_ppr_rule (GBytes *base, const LpaTlv *tlv, GError **error)
{
  g_autoptr (LpaPprRule) rule = g_new0 (LpaPprRule, 1);
  LpaTlv ids, operators, flags;

  if (tlv->tag != 0x30 || !tlv->constructed)
    return malformed_null (error, "ProfilePolicyAuthorisationRule expected");
  if (!lpa_der_get_child (tlv, 0x80, &ids, error) ||
      !lpa_der_get_bits (&ids, &rule->ppr_ids, error) ||
      !lpa_der_get_child (tlv, 0xA1, &operators, error) ||
      !lpa_der_get_child (tlv, 0x82, &flags, error) ||
      !lpa_der_get_bits (&flags, &rule->flags, error) ||
      !(rule->allowed_operators = lpa_der_parse_list (
            base, &operators, parse_operator_item, (GDestroyNotify) lpa_operator_id_free, error)))
    return NULL;
  return g_steal_pointer (&rule);
}

GPtrArray *
lpa_es10b_parse_rat (GBytes *response, GError **error)
{
  GPtrArray *rat;
  LpaTlv outer, table;
  gboolean found;

  if (!parse_top (response, 0xBF43, &outer, error) ||
      !lpa_der_find_child (&outer, 0xA0, &table, &found, error))
    goto fail;
  /* An eUICC without rules may leave the table out altogether. */
  if (!found)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_ppr_rule_free);
  if ((rat = lpa_der_parse_list (response, &table, parse_ppr_rule,
                                 (GDestroyNotify) lpa_ppr_rule_free, error)))
    return rat;

fail:
  g_prefix_error (error, "GetRAT response: ");
  return NULL;
}

/* RAT digit strings: "E" in the rule matches any digit (AOSP EuiccRulesAuthTable does the same). */
static gboolean
digits_match (const char *rule, const char *value)
{
  gsize n = strlen (rule);

  if (n < strlen (value))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (rule[i] != 'E' && (i >= strlen (value) || rule[i] != value[i]))
      return FALSE;
  return TRUE;
}

static gboolean
gid_matches (GBytes *rule, GBytes *value)
{
  return rule == NULL || g_bytes_get_size (rule) == 0 || (value && g_bytes_equal (rule, value));
}

static gboolean
operator_matches (const LpaOperatorId *rule, const LpaOperatorId *owner)
{
  return digits_match (rule->mcc, owner->mcc) && digits_match (rule->mnc, owner->mnc) &&
         gid_matches (rule->gid1, owner->gid1) && gid_matches (rule->gid2, owner->gid2);
}

gboolean
lpa_rat_allows (GPtrArray *rat, guint64 pprs, const LpaOperatorId *owner,
                gboolean *consent_required)
{
  static const guint64 checked[] = { LPA_PPR1, LPA_PPR2 };

  *consent_required = FALSE;
  for (guint c = 0; c < G_N_ELEMENTS (checked); c++)
    {
      gboolean allowed = FALSE;

      if (!(pprs & checked[c]))
        continue;
      for (guint i = 0; owner && rat && i < rat->len && !allowed; i++)
        {
          const LpaPprRule *rule = g_ptr_array_index (rat, i);

          if (!(rule->ppr_ids & checked[c]))
            continue;
          for (guint j = 0; j < rule->allowed_operators->len && !allowed; j++)
            if (operator_matches (g_ptr_array_index (rule->allowed_operators, j), owner))
              {
                allowed = TRUE;
                if (rule->flags & LPA_PPR_FLAG_CONSENT_REQUIRED)
                  *consent_required = TRUE;
              }
        }
      if (!allowed)
        return FALSE;
    }
  return TRUE;
}
