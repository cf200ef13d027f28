/* es10-result.h — every ES10 result code by name, and what each means as an LpaError. */
#pragma once

#include <glib.h>

#include "der.h"

G_BEGIN_DECLS

/* The ES10 functions whose responses carry a result or error code. */
typedef enum
{
  LPA_ES10_GET_PROFILES_INFO,
  LPA_ES10_ENABLE_PROFILE,
  LPA_ES10_DISABLE_PROFILE,
  LPA_ES10_DELETE_PROFILE,
  LPA_ES10_EUICC_MEMORY_RESET,
  LPA_ES10_SET_NICKNAME,
  LPA_ES10_SET_DEFAULT_DP_ADDRESS,
  LPA_ES10_AUTHENTICATE_SERVER,
  LPA_ES10_PREPARE_DOWNLOAD,
  LPA_ES10_CANCEL_SESSION,
  LPA_ES10_LIST_NOTIFICATION,
  LPA_ES10_RETRIEVE_NOTIFICATIONS_LIST,
  LPA_ES10_REMOVE_NOTIFICATION_FROM_LIST,
} LpaEs10Function;

/* Result codes, per function, as SGP.22 v2.2.2 numbers them (rsp.asn). */
typedef enum
{
  LPA_PROFILE_INFO_LIST_INCORRECT_INPUT_VALUES = 1,
  LPA_PROFILE_INFO_LIST_UNDEFINED_ERROR = 127,
} LpaProfileInfoListError;

typedef enum
{
  LPA_ENABLE_OK = 0,
  LPA_ENABLE_ICCID_OR_AID_NOT_FOUND = 1,
  LPA_ENABLE_PROFILE_NOT_IN_DISABLED_STATE = 2,
  LPA_ENABLE_DISALLOWED_BY_POLICY = 3,
  LPA_ENABLE_WRONG_PROFILE_REENABLING = 4,
  LPA_ENABLE_CAT_BUSY = 5,
  LPA_ENABLE_UNDEFINED_ERROR = 127,
} LpaEnableProfileResult;

typedef enum
{
  LPA_DISABLE_OK = 0,
  LPA_DISABLE_ICCID_OR_AID_NOT_FOUND = 1,
  LPA_DISABLE_PROFILE_NOT_IN_ENABLED_STATE = 2,
  LPA_DISABLE_DISALLOWED_BY_POLICY = 3,
  LPA_DISABLE_CAT_BUSY = 5,
  LPA_DISABLE_UNDEFINED_ERROR = 127,
} LpaDisableProfileResult;

typedef enum
{
  LPA_DELETE_OK = 0,
  LPA_DELETE_ICCID_OR_AID_NOT_FOUND = 1,
  LPA_DELETE_PROFILE_NOT_IN_DISABLED_STATE = 2,
  LPA_DELETE_DISALLOWED_BY_POLICY = 3,
  LPA_DELETE_UNDEFINED_ERROR = 127,
} LpaDeleteProfileResult;

typedef enum
{
  LPA_MEMORY_RESET_OK = 0,
  LPA_MEMORY_RESET_NOTHING_TO_DELETE = 1,
  LPA_MEMORY_RESET_CAT_BUSY = 5,
  LPA_MEMORY_RESET_UNDEFINED_ERROR = 127,
} LpaMemoryResetResult;

typedef enum
{
  LPA_SET_NICKNAME_OK = 0,
  LPA_SET_NICKNAME_ICCID_NOT_FOUND = 1,
  LPA_SET_NICKNAME_UNDEFINED_ERROR = 127,
} LpaSetNicknameResult;

typedef enum
{
  LPA_SET_DEFAULT_DP_ADDRESS_OK = 0,
  LPA_SET_DEFAULT_DP_ADDRESS_UNDEFINED_ERROR = 127,
} LpaSetDefaultDpAddressResult;

typedef enum
{
  LPA_AUTHENTICATE_INVALID_CERTIFICATE = 1,
  LPA_AUTHENTICATE_INVALID_SIGNATURE = 2,
  LPA_AUTHENTICATE_UNSUPPORTED_CURVE = 3,
  LPA_AUTHENTICATE_NO_SESSION_CONTEXT = 4,
  LPA_AUTHENTICATE_INVALID_OID = 5,
  LPA_AUTHENTICATE_EUICC_CHALLENGE_MISMATCH = 6,
  LPA_AUTHENTICATE_CI_PK_UNKNOWN = 7,
  LPA_AUTHENTICATE_UNDEFINED_ERROR = 127,
} LpaAuthenticateErrorCode;

typedef enum
{
  LPA_DOWNLOAD_INVALID_CERTIFICATE = 1,
  LPA_DOWNLOAD_INVALID_SIGNATURE = 2,
  LPA_DOWNLOAD_UNSUPPORTED_CURVE = 3,
  LPA_DOWNLOAD_NO_SESSION_CONTEXT = 4,
  LPA_DOWNLOAD_INVALID_TRANSACTION_ID = 5,
  LPA_DOWNLOAD_UNDEFINED_ERROR = 127,
} LpaDownloadErrorCode;

typedef enum
{
  LPA_CANCEL_SESSION_INVALID_TRANSACTION_ID = 5,
  LPA_CANCEL_SESSION_UNDEFINED_ERROR = 127,
} LpaCancelSessionError;

typedef enum
{
  LPA_LIST_NOTIFICATION_UNDEFINED_ERROR = 127,
} LpaListNotificationError;

typedef enum
{
  LPA_RETRIEVE_NOTIFICATIONS_NO_RESULT_AVAILABLE = 1,
  LPA_RETRIEVE_NOTIFICATIONS_UNDEFINED_ERROR = 127,
} LpaRetrieveNotificationsError;

typedef enum
{
  LPA_NOTIFICATION_SENT_OK = 0,
  LPA_NOTIFICATION_SENT_NOTHING_TO_DELETE = 1,
  LPA_NOTIFICATION_SENT_UNDEFINED_ERROR = 127,
} LpaNotificationSentResult;

/* CancelSessionReason (ES10b.CancelSession, and what the SM-DP+ is told). */
typedef enum
{
  LPA_CANCEL_END_USER_REJECTION = 0,
  LPA_CANCEL_POSTPONED = 1,
  LPA_CANCEL_TIMEOUT = 2,
  LPA_CANCEL_PPR_NOT_ALLOWED = 3,
  LPA_CANCEL_METADATA_MISMATCH = 4,
  LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR = 5,
  LPA_CANCEL_UNDEFINED_REASON = 127,
} LpaCancelSessionReason;

/* bppCommandId of a ProfileInstallationResult errorResult. */
typedef enum
{
  LPA_BPP_COMMAND_INITIALISE_SECURE_CHANNEL = 0,
  LPA_BPP_COMMAND_CONFIGURE_ISDP = 1,
  LPA_BPP_COMMAND_STORE_METADATA = 2,
  LPA_BPP_COMMAND_STORE_METADATA2 = 3,
  LPA_BPP_COMMAND_REPLACE_SESSION_KEYS = 4,
  LPA_BPP_COMMAND_LOAD_PROFILE_ELEMENTS = 5,
} LpaBppCommandId;

/* errorReason of a ProfileInstallationResult errorResult (v2.2.2 plus the later v2.x 31, 32). */
typedef enum
{
  LPA_INSTALL_INCORRECT_INPUT_VALUES = 1,
  LPA_INSTALL_INVALID_SIGNATURE = 2,
  LPA_INSTALL_INVALID_TRANSACTION_ID = 3,
  LPA_INSTALL_UNSUPPORTED_CRT_VALUES = 4,
  LPA_INSTALL_UNSUPPORTED_REMOTE_OPERATION_TYPE = 5,
  LPA_INSTALL_UNSUPPORTED_PROFILE_CLASS = 6,
  LPA_INSTALL_SCP03T_STRUCTURE_ERROR = 7,
  LPA_INSTALL_SCP03T_SECURITY_ERROR = 8,
  LPA_INSTALL_ICCID_ALREADY_EXISTS_ON_EUICC = 9,
  LPA_INSTALL_INSUFFICIENT_MEMORY_FOR_PROFILE = 10,
  LPA_INSTALL_INTERRUPTION = 11,
  LPA_INSTALL_PE_PROCESSING_ERROR = 12,
  LPA_INSTALL_DATA_MISMATCH = 13,
  LPA_INSTALL_TEST_PROFILE_INVALID_NAA_KEY = 14,
  LPA_INSTALL_PPR_NOT_ALLOWED = 15,
  LPA_INSTALL_INSUFFICIENT_MINIMUM_SECURITY_LEVEL = 31,
  LPA_INSTALL_SERVER_ADDRESS_ABSENT_IN_ALLOW_LIST = 32,
  LPA_INSTALL_UNKNOWN_ERROR = 127,
} LpaInstallErrorReason;

/* "EnableProfile", "AuthenticateServer", … */
const char *lpa_es10_function_name (LpaEs10Function function);

/* The ASN.1 name of @code for @function ("profileNotInDisabledState"), or NULL if @code is not
 * one SGP.22 defines for it. */
const char *lpa_es10_result_name (LpaEs10Function function, gint code);

/* TRUE if @code means the function did what was asked (ok; also nothingToDelete for
 * RemoveNotificationFromList and eUICCMemoryReset, whose goal is then already reached). Otherwise
 * FALSE with @error set: the LpaError the code maps to, and the message
 * "<Function>: <name>(<code>)", e.g. "EnableProfile: profileNotInDisabledState(2)"; an unknown
 * code reads "<Function>: unknown result(<code>)" and maps to LPA_ERROR_EUICC. */
gboolean lpa_es10_result_check (LpaEs10Function function, gint code, GError **error);

/* @error, naming the ES10 function @function whose answer a status word was: "6D00 instruction
 * not supported (the eUICC's answer to GetRAT)". The status word stays first, for
 * lpa_status_word_from_error(); any other error is copied unchanged. NULL for NULL. */
GError *lpa_es10_name_status_word (const GError *error, const char *function);

const char *lpa_cancel_session_reason_name (LpaCancelSessionReason reason);
const char *lpa_bpp_command_name (LpaBppCommandId command);
const char *lpa_install_error_reason_name (LpaInstallErrorReason reason);

/* An ES10 result or error code (INTEGER). SGP.22 numbers every code from 0, and the structs of
 * this library use -1 for "no code" (and "ok"): a negative code would read as success, so it is
 * LPA_ERROR_MALFORMED. */
gboolean lpa_es10_get_code (const LpaTlv *tlv, gint *code, GError **error);

/* Decodes the many ES10 responses shaped `<tag> { 80 result }` (EnableProfile,
 * SetNickname, RemoveNotificationFromList…): TRUE if the response decodes and the code means
 * success; FALSE with the error lpa_es10_result_check() gives for a failure code, or
 * LPA_ERROR_MALFORMED. *@code (may be NULL) gets the code, or -1 if there was none. */
gboolean lpa_es10_parse_result (GBytes *response, guint32 tag, LpaEs10Function function, gint *code,
                                GError **error);

/* Decodes the ES10 responses shaped `<tag> { A0 { items… } | 81 error }` (GetProfilesInfo,
 * ListNotification, RetrieveNotificationsList): the items through @parse, or NULL with the error
 * result mapped by lpa_es10_result_check() or LPA_ERROR_MALFORMED (prefixed with the function).
 * The error code @empty_code (-1 for none) reads as an empty list. More than
 * LPA_ES10_MAX_LIST_ITEMS items is malformed: a real eUICC holds a few dozen profiles or
 * notifications, and a runaway list would otherwise be kept in memory and sent over D-Bus. */
#define LPA_ES10_MAX_LIST_ITEMS 1024
GPtrArray *lpa_es10_parse_list (GBytes *response, guint32 tag, LpaEs10Function function,
                                gint empty_code, LpaDerItemParser parse, GDestroyNotify free_item,
                                GError **error);

/* The request `<tag> 00` of the ES10 functions without parameters. */
GBytes *lpa_es10_empty_request (guint32 tag);

G_END_DECLS
