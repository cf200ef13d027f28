/* lpa-error.c — liblpa's error domain and the stable short name of each code. */
#include "lpa-error.h"

G_DEFINE_QUARK (lpa - error - quark, lpa_error)

const char *
lpa_error_code_name (LpaError code)
{
  switch (code)
    {
    case LPA_ERROR_INVALID_ARGUMENT:
      return "invalid-argument";
    case LPA_ERROR_INVALID_ACTIVATION_CODE:
      return "invalid-activation-code";
    case LPA_ERROR_CONFIRMATION_CODE_REQUIRED:
      return "confirmation-code-required";
    case LPA_ERROR_MALFORMED:
      return "malformed";
    case LPA_ERROR_UNEXPECTED:
      return "unexpected";
    case LPA_ERROR_PROFILE_NOT_FOUND:
      return "profile-not-found";
    case LPA_ERROR_WRONG_PROFILE_STATE:
      return "wrong-profile-state";
    case LPA_ERROR_DISALLOWED_BY_POLICY:
      return "disallowed-by-policy";
    case LPA_ERROR_INSUFFICIENT_MEMORY:
      return "insufficient-memory";
    case LPA_ERROR_CAT_BUSY:
      return "cat-busy";
    case LPA_ERROR_PROFILE_EXISTS:
      return "profile-exists";
    case LPA_ERROR_EUICC:
      return "euicc";
    case LPA_ERROR_INSTALL_FAILED:
      return "install-failed";
    case LPA_ERROR_STATUS_WORD:
      return "status-word";
    case LPA_ERROR_SERVER_REJECTED:
      return "server-rejected";
    case LPA_ERROR_MATCHING_ID_REFUSED:
      return "matching-id-refused";
    case LPA_ERROR_CONFIRMATION_CODE_REFUSED:
      return "confirmation-code-refused";
    case LPA_ERROR_HTTP:
      return "http";
    case LPA_ERROR_TLS_VERIFICATION:
      return "tls-verification";
    case LPA_ERROR_NETWORK:
      return "network";
    case LPA_ERROR_TIMEOUT:
      return "timeout";
    case LPA_ERROR_TRANSPORT:
      return "transport";
    case LPA_ERROR_CANCELLED:
      return "cancelled";
    }
  return "unknown";
}
