/* es9p.h — ES9+ (LPA ↔ SM-DP+) over HTTPS/JSON: requests, responses, status codes. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Request paths. */
#define LPA_ES9P_INITIATE_AUTHENTICATION   "/gsma/rsp2/es9plus/initiateAuthentication"
#define LPA_ES9P_AUTHENTICATE_CLIENT       "/gsma/rsp2/es9plus/authenticateClient"
#define LPA_ES9P_GET_BOUND_PROFILE_PACKAGE "/gsma/rsp2/es9plus/getBoundProfilePackage"
#define LPA_ES9P_HANDLE_NOTIFICATION       "/gsma/rsp2/es9plus/handleNotification"
#define LPA_ES9P_CANCEL_SESSION            "/gsma/rsp2/es9plus/cancelSession"

/* Requests: JSON objects as UTF-8 bytes, binary values as standard base64 of the complete TLV
 * (euiccChallenge: of the raw 16 bytes). No "header" object: LPAs send none. */
GBytes *lpa_es9p_initiate_authentication_request (GBytes *euicc_challenge, GBytes *euicc_info1,
                                                  const char *smdp_address);
GBytes *lpa_es9p_authenticate_client_request (const char *transaction_id,
                                              GBytes *authenticate_server_response);
GBytes *lpa_es9p_get_bound_profile_package_request (const char *transaction_id,
                                                    GBytes *prepare_download_response);
GBytes *lpa_es9p_handle_notification_request (GBytes *pending_notification);
GBytes *lpa_es9p_cancel_session_request (const char *transaction_id,
                                         GBytes *cancel_session_response);

/* Response errors.
 * - HTTP status not 2xx: LPA_ERROR_HTTP, "<function>: HTTP <status>"; but when the body is a
 *   header with status "Failed" or "Expired", the error that header gives below, its message
 *   ending " (HTTP <status>)" (for every function, handleNotification and cancelSession too).
 * - Body not a JSON object, a mandatory field missing or of the wrong type, base64 invalid, a
 *   binary field that is not one TLV of the expected tag, a transactionId that is not 1-16 bytes
 *   of hex: LPA_ERROR_MALFORMED naming the field.
 * - header.functionExecutionStatus.status "Failed" or "Expired": the message is
 *     "<function>: subjectCode <s> reasonCode <r>: <meaning>[; <server message>]"
 *   (or "<function>: <status>" without statusCodeData); the code is
 *   LPA_ERROR_MATCHING_ID_REFUSED for subject 8.2.6 (and ES11's 8.9.5),
 *   LPA_ERROR_CONFIRMATION_CODE_REFUSED for 8.2.7 with reason 3.8 or 6.4,
 *   LPA_ERROR_CONFIRMATION_CODE_REQUIRED for 8.2.7 with 2.2, otherwise LPA_ERROR_SERVER_REJECTED.
 *   lpa_server_error_codes() gives back subject and reason. "Executed-WithWarning" is success.
 * Unknown fields are ignored. */

/* Extracts subject and reason codes from an error produced as above; FALSE if it has none. */
gboolean lpa_server_error_codes (const GError *error, char **subject_code, char **reason_code);

/* "<subject meaning> <reason meaning>", e.g. "matching ID refused". */
char *lpa_server_status_meaning (const char *subject_code, const char *reason_code);

typedef struct
{
  char *transaction_id; /* hex, as the server sent it */
  GBytes *transaction_id_bin;
  GBytes *server_signed1;     /* 30 TLV */
  GBytes *server_signature1;  /* 5F37 TLV */
  GBytes *euicc_ci_pkid;      /* 04 TLV */
  GBytes *server_certificate; /* 30 TLV */
} LpaInitiateAuthenticationResponse;

void lpa_initiate_authentication_response_free (LpaInitiateAuthenticationResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaInitiateAuthenticationResponse,
                               lpa_initiate_authentication_response_free)
/* Also used for ES11 initiateAuthentication, which answers the same way (@function names the
 * function in error messages). */
LpaInitiateAuthenticationResponse *lpa_es9p_parse_initiate_authentication (const char *function,
                                                                           guint status,
                                                                           GBytes *body,
                                                                           GError **error);

typedef struct
{
  char *transaction_id;
  GBytes *transaction_id_bin;
  GBytes *profile_metadata; /* BF25 TLV */
  GBytes *smdp_signed2;     /* 30 TLV */
  GBytes *smdp_signature2;  /* 5F37 TLV */
  GBytes *smdp_certificate; /* 30 TLV */
} LpaAuthenticateClientResponse;

void lpa_authenticate_client_response_free (LpaAuthenticateClientResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaAuthenticateClientResponse, lpa_authenticate_client_response_free)
LpaAuthenticateClientResponse *lpa_es9p_parse_authenticate_client (guint status, GBytes *body,
                                                                   GError **error);

typedef struct
{
  char *transaction_id;
  GBytes *transaction_id_bin;
  GBytes *bound_profile_package; /* BF36 TLV */
} LpaBoundProfilePackageResponse;

void lpa_bound_profile_package_response_free (LpaBoundProfilePackageResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaBoundProfilePackageResponse,
                               lpa_bound_profile_package_response_free)
LpaBoundProfilePackageResponse *
lpa_es9p_parse_get_bound_profile_package (guint status, GBytes *body, GError **error);

/* cancelSession answers with a header only; handleNotification with 204 and no body. For both,
 * any 2xx with no body at all, or with JSON and no header, is the function
 * executed; a JSON body may still carry a Failed or Expired header (the server's decision, an
 * error of its codes); a body that is not JSON is LPA_ERROR_MALFORMED (nothing is known to
 * have been done), an HTTP error LPA_ERROR_HTTP (or the codes of the Failed header it carries). */
gboolean lpa_es9p_parse_cancel_session (guint status, GBytes *body, GError **error);
gboolean lpa_es9p_parse_handle_notification (guint status, GBytes *body, GError **error);

/* serverSigned1 = 30 { 80 transactionId, 81 euiccChallenge, 83 serverAddress,
 * 84 serverChallenge }, decoded for the LPA's checks (it is forwarded unchanged). */
typedef struct
{
  GBytes *transaction_id;
  GBytes *euicc_challenge;
  char *server_address;
  GBytes *server_challenge;
} LpaServerSigned1;

void lpa_server_signed1_free (LpaServerSigned1 *signed1);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaServerSigned1, lpa_server_signed1_free)
LpaServerSigned1 *lpa_server_signed1_parse (GBytes *tlv, GError **error);

/* smdpSigned2 = 30 { 80 transactionId, 01 ccRequiredFlag, [5F49 bppEuiccOtpk] }. */
typedef struct
{
  GBytes *transaction_id;
  gboolean cc_required;
  GBytes *bpp_euicc_otpk; /* NULL if absent */
} LpaSmdpSigned2;

void lpa_smdp_signed2_free (LpaSmdpSigned2 *signed2);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaSmdpSigned2, lpa_smdp_signed2_free)
LpaSmdpSigned2 *lpa_smdp_signed2_parse (GBytes *tlv, GError **error);

/* Shared with es11.c: the JSON response object after the HTTP status and header checks, or NULL
 * with the error described above. */
JsonObject *lpa_es9p_response_object (const char *function, guint status, GBytes *body,
                                      GError **error);
/* A mandatory string member; NULL with LPA_ERROR_MALFORMED if missing or not a string. */
const char *lpa_es9p_get_string (JsonObject *object, const char *function, const char *member,
                                 GError **error);
/* A mandatory base64 member holding one TLV with @tag (0: any single TLV). */
GBytes *lpa_es9p_get_tlv (JsonObject *object, const char *function, const char *member, guint32 tag,
                          GError **error);
/* The transactionId member, checked as 1-16 bytes of hex; @bin receives the bytes. */
char *lpa_es9p_get_transaction_id (JsonObject *object, const char *function, GBytes **bin,
                                   GError **error);
/* A request object serialised compactly. */
GBytes *lpa_es9p_serialize (JsonBuilder *builder);
/* Adds "@member": base64(@value) to the object being built. */
void lpa_es9p_add_base64 (JsonBuilder *builder, const char *member, GBytes *value);

G_END_DECLS
