/* es10-result.c — every ES10 result code by name, and what each means as an LpaError. */
#include "es10-result.h"

#include "der.h"
#include "lpa-error.h"

typedef struct
{
  gint code;
  const char *name;
  gint error; /* an LpaError, or -1: the code means success */
} ResultName;

#define OK (-1)
#define END                                                                                        \
  {                                                                                                \
    0, NULL, 0                                                                                     \
  }

static const ResultName profile_info_list[] = {
  { 1, "incorrectInputValues", LPA_ERROR_EUICC },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName enable_profile[] = {
  { 0, "ok", OK },
  { 1, "iccidOrAidNotFound", LPA_ERROR_PROFILE_NOT_FOUND },
  { 2, "profileNotInDisabledState", LPA_ERROR_WRONG_PROFILE_STATE },
  { 3, "disallowedByPolicy", LPA_ERROR_DISALLOWED_BY_POLICY },
  { 4, "wrongProfileReenabling", LPA_ERROR_WRONG_PROFILE_STATE },
  { 5, "catBusy", LPA_ERROR_CAT_BUSY },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName disable_profile[] = {
  { 0, "ok", OK },
  { 1, "iccidOrAidNotFound", LPA_ERROR_PROFILE_NOT_FOUND },
  { 2, "profileNotInEnabledState", LPA_ERROR_WRONG_PROFILE_STATE },
  { 3, "disallowedByPolicy", LPA_ERROR_DISALLOWED_BY_POLICY },
  { 5, "catBusy", LPA_ERROR_CAT_BUSY },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName delete_profile[] = {
  { 0, "ok", OK },
  { 1, "iccidOrAidNotFound", LPA_ERROR_PROFILE_NOT_FOUND },
  { 2, "profileNotInDisabledState", LPA_ERROR_WRONG_PROFILE_STATE },
  { 3, "disallowedByPolicy", LPA_ERROR_DISALLOWED_BY_POLICY },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName memory_reset[] = {
  { 0, "ok", OK },
  { 1, "nothingToDelete", OK },
  { 5, "catBusy", LPA_ERROR_CAT_BUSY },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName set_nickname[] = {
  { 0, "ok", OK },
  { 1, "iccidNotFound", LPA_ERROR_PROFILE_NOT_FOUND },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName set_default_dp_address[] = {
  { 0, "ok", OK },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName authenticate_server[] = {
  { 1, "invalidCertificate", LPA_ERROR_EUICC },
  { 2, "invalidSignature", LPA_ERROR_EUICC },
  { 3, "unsupportedCurve", LPA_ERROR_EUICC },
  { 4, "noSessionContext", LPA_ERROR_EUICC },
  { 5, "invalidOid", LPA_ERROR_EUICC },
  { 6, "euiccChallengeMismatch", LPA_ERROR_EUICC },
  { 7, "ciPKUnknown", LPA_ERROR_EUICC },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName prepare_download[] = {
  { 1, "invalidCertificate", LPA_ERROR_EUICC },
  { 2, "invalidSignature", LPA_ERROR_EUICC },
  { 3, "unsupportedCurve", LPA_ERROR_EUICC },
  { 4, "noSessionContext", LPA_ERROR_EUICC },
  { 5, "invalidTransactionId", LPA_ERROR_EUICC },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName cancel_session[] = {
  { 5, "invalidTransactionId", LPA_ERROR_EUICC },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName list_notification[] = {
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName retrieve_notifications_list[] = {
  /* The parser turns noResultAvailable into an empty list (as AOSP does); named for logs. */
  { 1, "noResultAvailable", OK },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const ResultName remove_notification[] = {
  { 0, "ok", OK },
  { 1, "nothingToDelete", OK },
  { 127, "undefinedError", LPA_ERROR_EUICC },
  END,
};

static const struct
{
  const char *name;
  const ResultName *results;
} functions[] = {
  [LPA_ES10_GET_PROFILES_INFO] = { "GetProfilesInfo", profile_info_list },
  [LPA_ES10_ENABLE_PROFILE] = { "EnableProfile", enable_profile },
  [LPA_ES10_DISABLE_PROFILE] = { "DisableProfile", disable_profile },
  [LPA_ES10_DELETE_PROFILE] = { "DeleteProfile", delete_profile },
  [LPA_ES10_EUICC_MEMORY_RESET] = { "eUICCMemoryReset", memory_reset },
  [LPA_ES10_SET_NICKNAME] = { "SetNickname", set_nickname },
  [LPA_ES10_SET_DEFAULT_DP_ADDRESS] = { "SetDefaultDpAddress", set_default_dp_address },
  [LPA_ES10_AUTHENTICATE_SERVER] = { "AuthenticateServer", authenticate_server },
  [LPA_ES10_PREPARE_DOWNLOAD] = { "PrepareDownload", prepare_download },
  [LPA_ES10_CANCEL_SESSION] = { "CancelSession", cancel_session },
  [LPA_ES10_LIST_NOTIFICATION] = { "ListNotification", list_notification },
  [LPA_ES10_RETRIEVE_NOTIFICATIONS_LIST] = { "RetrieveNotificationsList",
                                             retrieve_notifications_list },
  [LPA_ES10_REMOVE_NOTIFICATION_FROM_LIST] = { "RemoveNotificationFromList", remove_notification },
};

static const ResultName *
lookup (LpaEs10Function function, gint code)
{
  if ((guint) function >= G_N_ELEMENTS (functions))
    return NULL;
  for (const ResultName *r = functions[function].results; r->name; r++)
    if (r->code == code)
      return r;
  return NULL;
}

const char *
lpa_es10_function_name (LpaEs10Function function)
{
  if ((guint) function >= G_N_ELEMENTS (functions))
    return "ES10";
  return functions[function].name;
}

const char *
lpa_es10_result_name (LpaEs10Function function, gint code)
{
  const ResultName *r = lookup (function, code);

  return r ? r->name : NULL;
}

gboolean
lpa_es10_result_check (LpaEs10Function function, gint code, GError **error)
{
  const ResultName *r = lookup (function, code);

  if (r && r->error == OK)
    return TRUE;
  if (r)
    g_set_error (error, LPA_ERROR, r->error, "%s: %s(%d)", lpa_es10_function_name (function),
                 r->name, code);
  else
    g_set_error (error, LPA_ERROR, LPA_ERROR_EUICC, "%s: unknown result(%d)",
                 lpa_es10_function_name (function), code);
  return FALSE;
}

GError *
lpa_es10_name_status_word (const GError *error, const char *function)
{
  if (error == NULL)
    return NULL;
  if (g_error_matches (error, LPA_ERROR, LPA_ERROR_STATUS_WORD))
    return g_error_new (LPA_ERROR, LPA_ERROR_STATUS_WORD, "%s (the eUICC's answer to %s)",
                        error->message, function);
  return g_error_copy (error);
}

const char *
lpa_cancel_session_reason_name (LpaCancelSessionReason reason)
{
  switch (reason)
    {
    case LPA_CANCEL_END_USER_REJECTION:
      return "endUserRejection";
    case LPA_CANCEL_POSTPONED:
      return "postponed";
    case LPA_CANCEL_TIMEOUT:
      return "timeout";
    case LPA_CANCEL_PPR_NOT_ALLOWED:
      return "pprNotAllowed";
    case LPA_CANCEL_METADATA_MISMATCH:
      return "metadataMismatch";
    case LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR:
      return "loadBppExecutionError";
    case LPA_CANCEL_UNDEFINED_REASON:
      return "undefinedReason";
    }
  return "unknown";
}

const char *
lpa_bpp_command_name (LpaBppCommandId command)
{
  switch (command)
    {
    case LPA_BPP_COMMAND_INITIALISE_SECURE_CHANNEL:
      return "initialiseSecureChannel";
    case LPA_BPP_COMMAND_CONFIGURE_ISDP:
      return "configureISDP";
    case LPA_BPP_COMMAND_STORE_METADATA:
      return "storeMetadata";
    case LPA_BPP_COMMAND_STORE_METADATA2:
      return "storeMetadata2";
    case LPA_BPP_COMMAND_REPLACE_SESSION_KEYS:
      return "replaceSessionKeys";
    case LPA_BPP_COMMAND_LOAD_PROFILE_ELEMENTS:
      return "loadProfileElements";
    }
  return "unknown";
}

const char *
lpa_install_error_reason_name (LpaInstallErrorReason reason)
{
  switch (reason)
    {
    case LPA_INSTALL_INCORRECT_INPUT_VALUES:
      return "incorrectInputValues";
    case LPA_INSTALL_INVALID_SIGNATURE:
      return "invalidSignature";
    case LPA_INSTALL_INVALID_TRANSACTION_ID:
      return "invalidTransactionId";
    case LPA_INSTALL_UNSUPPORTED_CRT_VALUES:
      return "unsupportedCrtValues";
    case LPA_INSTALL_UNSUPPORTED_REMOTE_OPERATION_TYPE:
      return "unsupportedRemoteOperationType";
    case LPA_INSTALL_UNSUPPORTED_PROFILE_CLASS:
      return "unsupportedProfileClass";
    case LPA_INSTALL_SCP03T_STRUCTURE_ERROR:
      return "scp03tStructureError";
    case LPA_INSTALL_SCP03T_SECURITY_ERROR:
      return "scp03tSecurityError";
    case LPA_INSTALL_ICCID_ALREADY_EXISTS_ON_EUICC:
      return "installFailedDueToIccidAlreadyExistsOnEuicc";
    case LPA_INSTALL_INSUFFICIENT_MEMORY_FOR_PROFILE:
      return "installFailedDueToInsufficientMemoryForProfile";
    case LPA_INSTALL_INTERRUPTION:
      return "installFailedDueToInterruption";
    case LPA_INSTALL_PE_PROCESSING_ERROR:
      return "installFailedDueToPEProcessingError";
    case LPA_INSTALL_DATA_MISMATCH:
      return "installFailedDueToDataMismatch";
    case LPA_INSTALL_TEST_PROFILE_INVALID_NAA_KEY:
      return "testProfileInstallFailedDueToInvalidNaaKey";
    case LPA_INSTALL_PPR_NOT_ALLOWED:
      return "pprNotAllowed";
    case LPA_INSTALL_INSUFFICIENT_MINIMUM_SECURITY_LEVEL:
      return "installFailedDueToInsufficientMinimumSecurityLevel";
    case LPA_INSTALL_SERVER_ADDRESS_ABSENT_IN_ALLOW_LIST:
      return "installFailedDueToServerAddressAbsentInEuiccAllowList";
    case LPA_INSTALL_UNKNOWN_ERROR:
      return "installFailedDueToUnknownError";
    }
  return "unknown";
}

gboolean
lpa_es10_get_code (const LpaTlv *tlv, gint *code, GError **error)
{
  gint32 value;

  if (!lpa_der_get_int (tlv, &value, error))
    return FALSE;
  if (value < 0)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "negative result code %d in tag %02X",
                   value, tlv->tag);
      return FALSE;
    }
  *code = value;
  return TRUE;
}

gboolean
lpa_es10_parse_result (GBytes *response, guint32 tag, LpaEs10Function function, gint *code,
                       GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);
  LpaTlv outer, result;
  gint value;

  if (code)
    *code = -1;
  if (!lpa_der_parse_answer (data, len, tag, &outer, error) ||
      !lpa_der_expect_constructed (&outer, error) ||
      !lpa_der_get_child (&outer, 0x80, &result, error) ||
      !lpa_es10_get_code (&result, &value, error))
    {
      g_prefix_error (error, "%s response: ", lpa_es10_function_name (function));
      return FALSE;
    }
  if (code)
    *code = value;
  return lpa_es10_result_check (function, value, error);
}

GPtrArray *
lpa_es10_parse_list (GBytes *response, guint32 tag, LpaEs10Function function, gint empty_code,
                     LpaDerItemParser parse, GDestroyNotify free_item, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);
  LpaTlv outer, choice;
  LpaDerReader reader;
  GPtrArray *items;
  gint code;

  if (!lpa_der_parse_answer (data, len, tag, &outer, error) ||
      !lpa_der_expect_constructed (&outer, error))
    goto malformed;
  lpa_der_reader_init_children (&reader, &outer);
  if (!lpa_der_reader_next (&reader, &choice, error))
    goto malformed;
  if (choice.tag == 0x81)
    {
      if (!lpa_es10_get_code (&choice, &code, error))
        goto malformed;
      if (code == empty_code)
        return g_ptr_array_new_with_free_func (free_item);
      lpa_es10_result_check (function, code, error);
      return NULL;
    }
  if (choice.tag != 0xA0)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "neither a list nor an error (%02X)",
                   choice.tag);
      goto malformed;
    }
  if ((items = lpa_der_parse_list (response, &choice, parse, free_item, error)))
    {
      if (items->len <= LPA_ES10_MAX_LIST_ITEMS)
        return items;
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%u entries, more than the %u allowed",
                   items->len, LPA_ES10_MAX_LIST_ITEMS);
      g_ptr_array_unref (items);
    }

malformed:
  g_prefix_error (error, "%s response: ", lpa_es10_function_name (function));
  return NULL;
}

GBytes *
lpa_es10_empty_request (guint32 tag)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_write (&w, tag, NULL, 0);
  return lpa_der_writer_finish (&w);
}
