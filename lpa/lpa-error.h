/* lpa-error.h — liblpa's one error domain: every way an eSIM operation can end badly has a name. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LPA_ERROR (lpa_error_quark ())
GQuark lpa_error_quark (void);

/* The daemon maps each code to exactly one org.esim.Error.* name (daemon/bus-errors.c), so a
 * code is added here only when a caller could act differently on it. Details (which ES10
 * function, which result code, which ES9+ subject/reason) go into the message. */
typedef enum
{
  /* Input from the local caller. */
  LPA_ERROR_INVALID_ARGUMENT,           /* bad ICCID, nickname too long, unknown option… */
  LPA_ERROR_INVALID_ACTIVATION_CODE,    /* rejected before any server is contacted */
  LPA_ERROR_CONFIRMATION_CODE_REQUIRED, /* the SM-DP+ asks for one and none was given */

  /* Bytes from a peer (eUICC or server) that cannot be accepted. */
  LPA_ERROR_MALFORMED,  /* DER, JSON or base64 that does not decode, or violates the shape */
  LPA_ERROR_UNEXPECTED, /* decodes, but is not what this step allows (transaction ID,
                         * challenge, server address or SM-DP+ OID mismatch, metadata mismatch,
                         * unknown tag where one is required) */

  /* Results the eUICC reported inside an ES10 response. */
  LPA_ERROR_PROFILE_NOT_FOUND,    /* iccidOrAidNotFound */
  LPA_ERROR_WRONG_PROFILE_STATE,  /* profileNotIn{Enabled,Disabled}State, wrongProfileReenabling */
  LPA_ERROR_DISALLOWED_BY_POLICY, /* disallowedByPolicy, pprNotAllowed */
  LPA_ERROR_INSUFFICIENT_MEMORY,  /* installFailedDueToInsufficientMemoryForProfile and kin */
  LPA_ERROR_CAT_BUSY,             /* catBusy: retry later */
  LPA_ERROR_PROFILE_EXISTS,       /* iccidAlreadyExistsOnEuicc */
  LPA_ERROR_EUICC,                /* any other ES10 error result: function and code in message */
  LPA_ERROR_INSTALL_FAILED,       /* ProfileInstallationResult errorResult: command + reason */
  LPA_ERROR_STATUS_WORD,          /* an APDU status word that is an error (6A80, 6985, …) */

  /* Results from an SM-DP+ / SM-DS (ES9+ / ES11). */
  LPA_ERROR_SERVER_REJECTED, /* functionExecutionStatus Failed/Expired: subject.reason in message */
  LPA_ERROR_MATCHING_ID_REFUSED, /* 8.2.6 / 8.9.5 family: activation code or event unknown/used */
  LPA_ERROR_CONFIRMATION_CODE_REFUSED, /* 8.2.7 / 3.8 or 6.4: wrong confirmation code */

  /* Reaching the server. Set by the HTTP transport. */
  LPA_ERROR_HTTP,             /* a status other than the one the function answers with */
  LPA_ERROR_TLS_VERIFICATION, /* certificate not trusted, wrong host name, expired */
  LPA_ERROR_NETWORK,          /* name resolution, refused, reset, unreachable */
  LPA_ERROR_TIMEOUT,

  /* Reaching the eUICC. Set by the APDU transport. */
  LPA_ERROR_TRANSPORT, /* modem gone, QMI failure, logical channel lost */

  LPA_ERROR_CANCELLED, /* the caller or the daemon stopped the operation */
} LpaError;

/* A short stable name for @code ("profile-not-found"), for logs and tests. */
const char *lpa_error_code_name (LpaError code);

G_END_DECLS
