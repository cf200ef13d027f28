/* euicc.h — one managed eUICC: its modem, job queue, cached state and what changes it.
 *
 * The model: it knows nothing of D-Bus. It announces every change through observer.h, and
 * front-ends call it only to start, confirm or cancel work (esimd_euicc_submit and kin) and to
 * read it (the fields below, the cache queries).
 *
 * Its code, by responsibility: euicc.c (life, the modem's availability, the re-read after a
 * switch, the IMEI), euicc-cache.c (the cache and its reads), euicc-queue.c (the queue's
 * begin/end, ES10 for jobs, submitting), euicc-notify.c (between jobs: notifications and
 * sessions left open), euicc-sessions.c (the open-session records). */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "http.h"
#include "job-queue.h"
#include "modem.h"

#include "lpa.h"

G_BEGIN_DECLS

/* What a job may have changed on the card, i.e. what to read again after it. */
typedef enum
{
  ESIMD_READ_EID = 1 << 0,
  ESIMD_READ_INFO1 = 1 << 1,
  ESIMD_READ_INFO2 = 1 << 2,
  ESIMD_READ_ADDRESSES = 1 << 3,
  ESIMD_READ_PROFILES = 1 << 4,
  ESIMD_READ_NOTIFICATIONS = 1 << 5,
  ESIMD_READ_ALL = 0x3f,
} EsimdRead;

struct _EsimdEuicc
{
  guint index; /* the Nth [Modem] of the configuration */
  EsimdModemConfig *config;
  EsimdModem *modem;
  EsimdJobQueue *queue;

  /* While a job holds the card. */
  LpaEs10 *es10;
  gboolean channel_lost; /* the card was reset: the channel is gone without a close */
  guint reads;           /* EsimdRead bits to refresh when the current job ends */
  guint reads_after;     /* ...that its outcome does not need: read after it is published */

  gboolean available;
  char *unavailable_reason;
  char *modem_imei;     /* read from the modem when the configuration has none */
  gboolean imei_stale;  /* the modem (re)appeared: read its IMEI again */
  gboolean cache_valid; /* everything was read at least once since the modem appeared */
  guint stale;          /* EsimdRead bits whose last read failed: read again soon */
  guint stale_retry_id;
  guint stale_backoff; /* seconds */

  /* The cache every read is served from, refreshed after each job. */
  char *eid;
  LpaEuiccInfo1 *info1;
  LpaEuiccInfo2 *info2;
  char *default_smdp;
  char *root_smds;
  GPtrArray *profiles;      /* LpaProfileInfo* */
  GPtrArray *notifications; /* LpaNotificationMetadata*, by sequence number */
  guint segment_size;

  EsimdHttpClient *http; /* trust derived from EUICCInfo1's CI list */

  GHashTable *announced; /* sequence numbers NotificationPending was emitted for */
  guint notify_retry_id;
  guint notify_backoff; /* seconds; 0 = no failure since the last success */

  GTask *stop_task;
  guint stop_timeout_id;
};

/* Fails when the modem's transport is not one this build has. */
EsimdEuicc *esimd_euicc_new (guint index, EsimdModemConfig *config, GError **error);
/* The same with a modem made by @construct (the unit test's scripted one) whatever the
 * configured transport. */
EsimdEuicc *esimd_euicc_new_with_modem (guint index, EsimdModemConfig *config,
                                        EsimdModemConstructor construct);
void esimd_euicc_start (EsimdEuicc *euicc);
/* Fails queued jobs, asks the running one to stop (waiting at most @grace seconds), then
 * closes the channel and releases the modem. */
void esimd_euicc_stop (EsimdEuicc *euicc, guint grace, GAsyncReadyCallback callback,
                       gpointer user_data);
void esimd_euicc_free (EsimdEuicc *euicc);

/* "unavailable", "busy" (a job runs or waits) or "ready". */
const char *esimd_euicc_state (EsimdEuicc *euicc);

/* Queues @job (announced with job_added). Fails with ESIMD_ERROR_UNAVAILABLE or _BUSY. */
gboolean esimd_euicc_submit (EsimdEuicc *euicc, EsimdJob *job, GError **error);
gboolean esimd_euicc_cancel_job (EsimdEuicc *euicc, EsimdJob *job, GError **error);
gboolean esimd_euicc_confirm_job (EsimdEuicc *euicc, EsimdJob *job, GError **error);
/* The front-end lost the job's caller (it left the bus): a job that can still stop is
 * cancelled, as a download postponed rather than rejected. */
void esimd_euicc_caller_gone (EsimdEuicc *euicc, EsimdJob *job);

/* For jobs: one ES10 command on the card the job holds. */
typedef void (*EsimdEs10Func) (GBytes *response, const GError *error, gpointer user_data);
void esimd_euicc_es10 (EsimdEuicc *euicc, GBytes *request, EsimdEs10Func func, gpointer user_data);

/* For jobs: reads @what (EsimdRead bits) from the card into the cache. */
void esimd_euicc_read (EsimdEuicc *euicc, guint what, GAsyncReadyCallback callback,
                       gpointer user_data);
gboolean esimd_euicc_read_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error);

/* For jobs: the card accepted an enable (@enabled TRUE) or disable of @iccid, a delete of it,
 * or its new nickname. The cache takes the state SGP.22 says follows (enabling one profile
 * disables the one that was enabled) without reading the profile list again, and announces it;
 * what the operation changed besides (its notifications, free memory) is read after the job's
 * outcome is published: the caller is answered at the operation's APDU floor. */
void esimd_euicc_cache_profile_switched (EsimdEuicc *euicc, const char *iccid, gboolean enabled);
void esimd_euicc_cache_profile_deleted (EsimdEuicc *euicc, const char *iccid);
void esimd_euicc_cache_nickname_set (EsimdEuicc *euicc, const char *iccid, const char *nickname);

/* For jobs: make the modem re-read the card after an enable or disable, as configured. Marks
 * the channel lost where the card resets. */
void esimd_euicc_refresh_modem (EsimdEuicc *euicc, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean esimd_euicc_refresh_modem_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error);

/* The IMEI sent to servers (ctxParams1): the configured one, else the one read from the modem,
 * else NULL (a generic TAC only). */
const char *esimd_euicc_get_imei (EsimdEuicc *euicc);
/* For the refresh job: reads the modem's IMEI when the configuration has none and the modem
 * (re)appeared since the last read. Never fails: without it downloads send no IMEI. */
void esimd_euicc_update_imei (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data);
void esimd_euicc_update_imei_finish (EsimdEuicc *euicc, GAsyncResult *result);

/* Cache queries. */
LpaProfileInfo *esimd_euicc_find_profile (EsimdEuicc *euicc, const char *iccid);
LpaProfileInfo *esimd_euicc_active_profile (EsimdEuicc *euicc);
LpaNotificationMetadata *esimd_euicc_find_notification (EsimdEuicc *euicc, guint32 seq);

/* Transactions a download opened that may still need Common Cancel Session (SGP.22 §3.0.2) on
 * the eUICC and the SM-DP+: kept in the state directory, so that neither a vanished modem nor a
 * crash leaves a session open or an order used up by a profile that never arrived. */
typedef struct
{
  char *transaction_id;    /* hex, as the server sent it */
  char *server;            /* the SM-DP+ address */
  gboolean bpp_requested;  /* getBoundProfilePackage was sent: the load may have started */
  GBytes *cancel_response; /* the eUICC's BF41 once it answered CancelSession, else NULL */
} EsimdOpenSession;

void esimd_open_session_free (EsimdOpenSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdOpenSession, esimd_open_session_free)

void esimd_euicc_session_opened (EsimdEuicc *euicc, const char *transaction_id, const char *server);
void esimd_euicc_session_bpp_requested (EsimdEuicc *euicc, const char *transaction_id);
void esimd_euicc_session_cancelled_on_euicc (EsimdEuicc *euicc, const char *transaction_id,
                                             GBytes *cancel_response);
void esimd_euicc_session_closed (EsimdEuicc *euicc, const char *transaction_id);
/* TRUE when the server processed an ES9+ cancelSession (cancelled it, or refused it with a
 * status); FALSE when it must be sent again (no answer, an HTTP error, a garbled answer). */
gboolean esimd_cancel_session_heard (guint status, GBytes *body, const GError *error, GError **why);
/* EsimdOpenSession*, oldest first. */
GPtrArray *esimd_euicc_open_sessions (EsimdEuicc *euicc);

/* A delivery attempt failed: retry all pending notifications later, with back-off. */
void esimd_euicc_notifications_failed (EsimdEuicc *euicc);
void esimd_euicc_notifications_succeeded (EsimdEuicc *euicc);

G_END_DECLS
