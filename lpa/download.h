/* download.h — the SGP.22 profile download (digest §6) as a state machine over LpaEs10 and
 * LpaHttpOps, with Common Cancel Session on every failure path. */
#pragma once

#include <glib.h>

#include "apdu.h"
#include "es10b.h"
#include "profile-info.h"
#include "transport.h"

G_BEGIN_DECLS

typedef enum
{
  LPA_DOWNLOAD_STAGE_AUTHENTICATING,
  LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION,
  LPA_DOWNLOAD_STAGE_AWAITING_CONFIRMATION_CODE,
  LPA_DOWNLOAD_STAGE_DOWNLOADING,
  LPA_DOWNLOAD_STAGE_INSTALLING,
  LPA_DOWNLOAD_STAGE_CANCELLING,
  LPA_DOWNLOAD_STAGE_DONE,
} LpaDownloadStage;

const char *lpa_download_stage_name (LpaDownloadStage stage);

/* The longest confirmation code accepted. SGP.22 hashes the code as entered and gives it no
 * length field; operators hand out codes of 4 to 8 characters. The bound keeps a caller from
 * making esimd hold and hash megabytes, with room to spare. */
#define LPA_CONFIRMATION_CODE_MAX 32

/* The rule for a confirmation code (esimd's Download, esimctl): one line of valid UTF-8 without
 * control characters, 1 to LPA_CONFIRMATION_CODE_MAX bytes. NULL when @cc follows it, else why
 * not (never quoting the code: it is a secret). */
const char *lpa_confirmation_code_problem (const char *cc);

typedef struct
{
  const char *smdp_address;      /* FQDN */
  const char *matching_id;       /* NULL or "" = none (omitted from ctxParams1) */
  const char *confirmation_code; /* NULL = none */
  const char *imei;              /* NULL or 15 digits */
  const char *expected_smdp_oid; /* from the activation code, NULL = don't check */
  gboolean confirm;              /* stop after authenticateClient until lpa_download_confirm() */
  GBytes *euicc_info1;           /* cached BF20 TLV, NULL = read it */
  const LpaDeviceCapabilities *device_capabilities; /* NULL = the default set */
} LpaDownloadParams;

typedef struct
{
  char *iccid;
  GBytes *isdp_aid;
  LpaProfileInfo *metadata;            /* the profileMetadata of authenticateClient */
  GBytes *stored_metadata;             /* the BPP's StoreMetadataRequest (BF25 TLV): what the
                                        * eUICC keeps of the profile and lists in its ProfileInfo */
  guint32 notification_seq;            /* the PIR's seqNumber: deliver it with notification.h */
  char *notification_address;          /* where that notification goes */
  char *smdp_oid;                      /* from the PIR, NULL if absent */
  GBytes *profile_installation_result; /* the signed BF37 as received */
} LpaDownloadResult;

void lpa_download_result_free (LpaDownloadResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaDownloadResult, lpa_download_result_free)

typedef struct
{
  /* Each stage change, and progress while installing (by BPP bytes sent). Optional. */
  void (*stage) (gpointer user_data, LpaDownloadStage stage, double progress);
  /* The download waits for lpa_download_confirm(): when @confirm was set, and also without it
   * when the profile's policy rules need the user's consent (lpa_download_consent_required()). */
  void (*awaiting_confirmation) (gpointer user_data, const LpaProfileInfo *metadata);
  /* Exactly once, never from inside an lpa_download_* call. @result is only borrowed. @error is
   * the failure that ended the download (not the cancel that followed it): LPA_ERROR_CANCELLED
   * after lpa_download_cancel() or a rejected confirmation, LPA_ERROR_CONFIRMATION_CODE_REQUIRED,
   * LPA_ERROR_DISALLOWED_BY_POLICY (pprNotAllowed), LPA_ERROR_UNEXPECTED for a failed check
   * (metadata mismatch included), the ES10/ES9+ errors, LPA_ERROR_INSTALL_FAILED and kin for a
   * ProfileInstallationResult errorResult. */
  void (*finished) (gpointer user_data, const LpaDownloadResult *result, const GError *error);
  /* The SM-DP+ requires a confirmation code (smdpSigned2's ccRequiredFlag) and none was given:
   * the download waits for lpa_download_supply_confirmation_code() (after the confirmation
   * step, if any, as SGP.22 orders them). Optional: without it the download fails with
   * LPA_ERROR_CONFIRMATION_CODE_REQUIRED after Common Cancel Session (postponed). */
  void (*confirmation_code_needed) (gpointer user_data, const LpaProfileInfo *metadata);
} LpaDownloadCallbacks;

typedef struct _LpaDownload LpaDownload;

/* Checks @params (LPA_ERROR_INVALID_ARGUMENT for a bad address or IMEI) and copies them.
 * @callbacks must outlive the download. */
LpaDownload *lpa_download_new (const LpaDownloadParams *params, LpaEs10 *es10,
                               const LpaHttpOps *http, gpointer http_self,
                               const LpaDownloadCallbacks *callbacks, gpointer user_data,
                               GError **error);
void lpa_download_start (LpaDownload *self);

/* Answers awaiting_confirmation: accept continues with PrepareDownload; reject cancels the
 * session with endUserRejection(0). */
void lpa_download_confirm (LpaDownload *self, gboolean accept);

/* Answers confirmation_code_needed: the code (lpa_confirmation_code_problem() must accept it) is
 * hashed with the transaction ID into PrepareDownload. Whether it is right, only the SM-DP+
 * says, at getBoundProfilePackage (LPA_ERROR_CONFIRMATION_CODE_REFUSED, 8.2.7). */
void lpa_download_supply_confirmation_code (LpaDownload *self, const char *code);
gboolean lpa_download_awaiting_confirmation_code (LpaDownload *self);

/* Requests a cancel, effective at the next step: before the eUICC has a session the download just
 * stops; from a successful AuthenticateServer until the load starts, Common Cancel Session runs
 * with @reason (ES10b, then ES9+). Ignored once the load has started or after finished. */
void lpa_download_cancel (LpaDownload *self, LpaCancelSessionReason reason);

/* TRUE once the first BPP segment went to the eUICC: from then on the download completes. */
gboolean lpa_download_loading_started (LpaDownload *self);
/* After finished with an error: TRUE when the eUICC received the whole last segment of the BPP
 * but its answer was lost (LPA_ERROR_TRANSPORT, or an answer the transport could not read) and
 * no later CancelSession showed the session still open. The eUICC may have installed the profile
 * (its ProfileInstallationResult then waits in its notification list): only reading its profile
 * list tells. liblpa does no such read; the caller does, once the eUICC can be reached. */
gboolean lpa_download_install_unknown (LpaDownload *self);
/* The profile's metadata (authenticateClient's profileMetadata, which the BPP's StoreMetadata was
 * checked against) once known; NULL before that, and after a successful finish (it moved to the
 * result). */
const LpaProfileInfo *lpa_download_metadata (LpaDownload *self);
/* TRUE while awaiting_confirmation waits for lpa_download_confirm(); FALSE again once a cancel
 * (or the answer) was given. */
gboolean lpa_download_awaiting_confirmation (LpaDownload *self);

/* What the eUICC may still hold of this download's transaction (final once finished ran). */
typedef enum
{
  LPA_DOWNLOAD_EUICC_SESSION_CLOSED,    /* none: never opened, ended by its ProfileInstallation-
                                         * Result, or CancelSession found none to cancel */
  LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, /* cancelled: the signed answer is for the server */
  LPA_DOWNLOAD_EUICC_SESSION_OPEN,      /* open, or unknown (the cancel got no answer) */
} LpaDownloadEuiccSession;

LpaDownloadEuiccSession lpa_download_euicc_session (LpaDownload *self);
/* TRUE when the SM-DP+ answered Failed or Expired: it closed its side, and no ES9+ cancelSession
 * may follow (SGP.22 §3.0.2). */
gboolean lpa_download_server_ended_session (LpaDownload *self);
/* TRUE if the RAT made the confirmation step mandatory for this profile. */
gboolean lpa_download_consent_required (LpaDownload *self);

/* Drops the caller's reference; no callback runs afterwards and no new operation starts. An
 * operation in flight completes unseen. Cancel first (and wait for finished) to end cleanly. */
void lpa_download_free (LpaDownload *self);

G_END_DECLS
