/* es10b.h — ES10b: the eUICC side of mutual authentication, download and notifications. */
#pragma once

#include <glib.h>

#include "es10-result.h"
#include "euicc-info.h"
#include "profile-info.h"

G_BEGIN_DECLS

/* GetEUICCChallenge: BF2E 00 → BF2E { 80 challenge(16) }; returns the 16 bytes. */
GBytes *lpa_es10b_get_euicc_challenge_request (void);
GBytes *lpa_es10b_parse_euicc_challenge (GBytes *response, GError **error);

/* GetEUICCInfo1 / GetEUICCInfo2: BF20 00 / BF22 00; parse with lpa_euicc_info1_parse() /
 * lpa_euicc_info2_parse() (euicc-info.h). */
GBytes *lpa_es10b_get_euicc_info1_request (void);
GBytes *lpa_es10b_get_euicc_info2_request (void);

/* DeviceCapabilities members, in ASN.1 order (tag 80 + index). */
typedef enum
{
  LPA_DEVCAP_GSM,
  LPA_DEVCAP_UTRAN,
  LPA_DEVCAP_CDMA2000_1X,
  LPA_DEVCAP_CDMA2000_HRPD,
  LPA_DEVCAP_CDMA2000_EHRPD,
  LPA_DEVCAP_EUTRAN_EPC,
  LPA_DEVCAP_CONTACTLESS,
  LPA_DEVCAP_RSP_CRL,
  LPA_DEVCAP_NR_EPC,
  LPA_DEVCAP_NR_5GC,
  LPA_DEVCAP_EUTRAN_5GC,
  LPA_DEVCAP_COUNT
} LpaDeviceCapability;

typedef struct
{
  gboolean present[LPA_DEVCAP_COUNT];
  guint8 release[LPA_DEVCAP_COUNT][3]; /* major, minor, revision */
} LpaDeviceCapabilities;

/* GSM, UTRAN and E-UTRAN/EPC at release 15.0.0: what a current cellular module supports, and
 * what servers that filter on capabilities expect to see. */
void lpa_device_capabilities_init_default (LpaDeviceCapabilities *caps);

/* ctxParams1 input. */
typedef struct
{
  const char *matching_id;           /* NULL: omitted; "" is sent as an empty 80 */
  const char *imei;                  /* NULL or 15 digits */
  const guint8 *tac;                 /* 4 bytes; NULL: the IMEI's first 4 bytes, or 35 29 06 11 */
  const LpaDeviceCapabilities *caps; /* NULL: lpa_device_capabilities_init_default() */
} LpaCtxParams1;

/* The A0 ctxParamsForCommonAuthentication TLV. LPA_ERROR_INVALID_ARGUMENT for a bad IMEI or a
 * matching ID that is not UTF-8. */
GBytes *lpa_es10b_ctx_params1 (const LpaCtxParams1 *params, GError **error);

/* AuthenticateServer: BF38 { serverSigned1, serverSignature1, euiccCiPKIdToBeUsed,
 * serverCertificate, ctxParams1 }. The first four are the TLVs received from the server, copied
 * unchanged; each must be one TLV with the tag 30, 5F37, 04, 30 (LPA_ERROR_MALFORMED). */
GBytes *lpa_es10b_authenticate_server_request (GBytes *server_signed1, GBytes *server_signature1,
                                               GBytes *euicc_ci_pkid, GBytes *server_certificate,
                                               GBytes *ctx_params1, GError **error);

/* The response of AuthenticateServer or PrepareDownload: either the signed ok alternative (A0) or
 * the error alternative (A1 { 80 transactionId, 02 code }). Both are forwarded to the server as
 * @raw, so the error alternative is a result here, not a GError. */
typedef struct
{
  GBytes *raw; /* the whole response TLV, to forward */
  gboolean ok;
  GBytes *transaction_id; /* from euiccSigned1/2, or from the error alternative */
  gint error_code;        /* LpaAuthenticateErrorCode / LpaDownloadErrorCode; -1 when ok */
} LpaSignedResponse;

void lpa_signed_response_free (LpaSignedResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaSignedResponse, lpa_signed_response_free)

LpaSignedResponse *lpa_es10b_parse_authenticate_server (GBytes *response, GError **error);

/* hashCc = SHA-256(SHA-256(@code as UTF-8) ‖ @transaction_id), the binary transaction ID. */
void lpa_hash_cc (const char *code, GBytes *transaction_id, guint8 out[32]);

/* PrepareDownload: BF21 { smdpSigned2, smdpSignature2, [04 hashCc], smdpCertificate }, the three
 * received TLVs copied unchanged (tags 30, 5F37, 30). @hash_cc: 32 bytes or NULL. */
GBytes *lpa_es10b_prepare_download_request (GBytes *smdp_signed2, GBytes *smdp_signature2,
                                            GBytes *smdp_certificate, const guint8 *hash_cc,
                                            GError **error);
LpaSignedResponse *lpa_es10b_parse_prepare_download (GBytes *response, GError **error);

/* FALSE with "<Function>: <name>(<code>)" (LPA_ERROR_EUICC) for an error alternative. */
gboolean lpa_signed_response_check (const LpaSignedResponse *response, LpaEs10Function function,
                                    GError **error);

/* CancelSession: BF41 { 80 transactionId, 81 reason }. */
GBytes *lpa_es10b_cancel_session_request (GBytes *transaction_id, LpaCancelSessionReason reason,
                                          GError **error);

typedef struct
{
  GBytes *raw; /* forwarded to ES9+ cancelSession when ok (an error cancelled nothing) */
  gboolean ok;
  gint error_code;        /* LpaCancelSessionError; -1 when ok */
  GBytes *transaction_id; /* ok: from euiccCancelSessionSigned */
  char *smdp_oid;
  gint reason;
} LpaCancelSessionResponse;

void lpa_cancel_session_response_free (LpaCancelSessionResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaCancelSessionResponse, lpa_cancel_session_response_free)

LpaCancelSessionResponse *lpa_es10b_parse_cancel_session (GBytes *response, GError **error);

/* NotificationMetadata (BF2F). */
typedef struct
{
  guint32 seq;  /* 0 is a valid sequence number */
  guint events; /* NotificationEvent bits 0 to 7 as received (exactly one should be set): the
                 * LpaNotificationEvent ones, and SGP.22 v3's RPM events 4 to 7; 0 when the
                 * card set none of them (only later bits, or none) */
  LpaNotificationEvent operation; /* the lowest set bit; 0 for none: "unknown" */
  char *address;                  /* notificationAddress, surrounding whitespace trimmed */
  char *iccid;                    /* NULL if absent or if it does not decode */
} LpaNotificationMetadata;

void lpa_notification_metadata_free (LpaNotificationMetadata *metadata);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaNotificationMetadata, lpa_notification_metadata_free)
LpaNotificationMetadata *lpa_notification_metadata_parse (const LpaTlv *bf2f, GError **error);

/* ListNotification: BF28 00, or BF28 { 81 events } to filter (@events 0 = all). */
GBytes *lpa_es10b_list_notification_request (guint events);
/* → GPtrArray of LpaNotificationMetadata, or NULL with the mapped error result. */
GPtrArray *lpa_es10b_parse_list_notification (GBytes *response, GError **error);

/* RetrieveNotificationsList: all (BF2B 00), one sequence number, or by events. */
GBytes *lpa_es10b_retrieve_notifications_request (void);
GBytes *lpa_es10b_retrieve_notification_request (guint32 seq);
GBytes *lpa_es10b_retrieve_notifications_by_event_request (guint events);

/* A signed pending notification: BF37 ProfileInstallationResult or 30 OtherSignedNotification. */
typedef struct
{
  GBytes *raw; /* the whole TLV: what handleNotification carries, unchanged */
  gboolean is_install_result;
  LpaNotificationMetadata *metadata;
} LpaPendingNotification;

void lpa_pending_notification_free (LpaPendingNotification *notification);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaPendingNotification, lpa_pending_notification_free)

/* → GPtrArray of LpaPendingNotification (empty for noResultAvailable), or NULL with the mapped
 * error result or LPA_ERROR_MALFORMED. */
GPtrArray *lpa_es10b_parse_retrieve_notifications (GBytes *response, GError **error);

/* RemoveNotificationFromList (NotificationSent): BF30 { 80 seq } → BF30 { 80 status }. TRUE for
 * ok and nothingToDelete: either way the notification is gone. */
GBytes *lpa_es10b_remove_notification_request (guint32 seq);
gboolean lpa_es10b_parse_remove_notification (GBytes *response, gint *code, GError **error);

/* ProfileInstallationResult (BF37). */
typedef struct
{
  GBytes *raw;
  GBytes *transaction_id;
  LpaNotificationMetadata *metadata;
  char *smdp_oid; /* NULL if absent (pre-2.2 eUICCs) */
  gboolean success;
  GBytes *isdp_aid;      /* success */
  GBytes *sima_response; /* success (and optionally error) */
  gint bpp_command_id;   /* error: LpaBppCommandId */
  gint error_reason;     /* error: LpaInstallErrorReason */
} LpaProfileInstallationResult;

void lpa_profile_installation_result_free (LpaProfileInstallationResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaProfileInstallationResult, lpa_profile_installation_result_free)

LpaProfileInstallationResult *lpa_es10b_parse_profile_installation_result (GBytes *response,
                                                                           GError **error);
/* TRUE for a successResult. Otherwise FALSE with LPA_ERROR_INSUFFICIENT_MEMORY (reason 10),
 * LPA_ERROR_PROFILE_EXISTS (9), LPA_ERROR_DISALLOWED_BY_POLICY (15) or LPA_ERROR_INSTALL_FAILED,
 * message "ProfileInstallationResult: <command>(<id>) failed: <reason>(<code>)". */
gboolean lpa_profile_installation_result_check (const LpaProfileInstallationResult *result,
                                                GError **error);

/* GetRAT: BF43 00 → the Rules Authorisation Table. */
typedef struct
{
  guint64 ppr_ids;              /* LpaPprIds bits this rule authorises */
  GPtrArray *allowed_operators; /* LpaOperatorId */
  guint64 flags;                /* bit 0: consentRequired */
} LpaPprRule;

#define LPA_PPR_FLAG_CONSENT_REQUIRED 1

void lpa_ppr_rule_free (LpaPprRule *rule);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaPprRule, lpa_ppr_rule_free)
GBytes *lpa_es10b_get_rat_request (void);
/* → GPtrArray of LpaPprRule. */
GPtrArray *lpa_es10b_parse_rat (GBytes *response, GError **error);

/* Whether a profile with @pprs (LpaPprIds bits) owned by @owner may be installed under @rat:
 * each of PPR1 and PPR2 that is set needs a rule listing it whose allowedOperators match the
 * owner (MCC/MNC digit by digit with E as wildcard, GID1/GID2 equal when the rule gives them).
 * *@consent_required is set when a matching rule asks for the user's consent. */
gboolean lpa_rat_allows (GPtrArray *rat, guint64 pprs, const LpaOperatorId *owner,
                         gboolean *consent_required);

G_END_DECLS
