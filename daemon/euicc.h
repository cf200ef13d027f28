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
#include "notify-backoff.h"

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
  /* Without these the eUICC is unavailable; the others may fail while it is in use. */
  ESIMD_READ_ESSENTIAL = ESIMD_READ_EID | ESIMD_READ_INFO1 | ESIMD_READ_INFO2 | ESIMD_READ_PROFILES,
  /* Functions a card may lack: its refusal is said in ReadErrors and fails nothing else. */
  ESIMD_READ_OPTIONAL = ESIMD_READ_ADDRESSES,
} EsimdRead;

#define ESIMD_READ_PARTS 6

/* The part a bit reads, as ReadErrors names it: "eid", "info", "addresses", "profiles",
 * "notifications" (both EUICCInfo reads are "info"). */
const char *esimd_read_part_name (guint bit);

struct _EsimdEuicc
{
  guint index; /* the Nth [Modem] of the configuration, then discovered ones in order found */
  EsimdModemConfig *config;
  EsimdModem *modem; /* NULL for a discovered eUICC while its modem is away */
  /* On the bus: a configured eUICC always, a discovered one while its modem is there. */
  gboolean present;

  /* Discovery (discovery.c, euicc-modem.c): an eUICC it found rather than a [Modem] section. */
  gboolean discovered;
  char *discovered_eid;         /* the EID it was found with: its identity for esimd's life */
  EsimdModemConfig *own_config; /* a discovered eUICC's settings (config points here) */
  char *mm_path;                /* ModemManager's modem object, or NULL */
  guint slot;                   /* the physical SIM slot it sits in; 0: the modem has one */
  guint active_slot;            /* the slot the modem uses; 0: unknown or a single slot */
  gboolean replacing;           /* its modem is being let go (euicc-modem.c) */
  gboolean replace_stopping;    /* ... and is stopping now */
  EsimdJob *replace_cancelled;  /* the running job that letting it go cancelled (not a ref) */
  gboolean replace_pending;     /* a modem was asked for: next_config (NULL: none) */
  EsimdModemConfig *next_config;
  char *next_reason;
  EsimdJobQueue *queue;

  /* While a job holds the card. */
  LpaEs10 *es10;
  gboolean channel_lost; /* the card was reset: the channel is gone without a close */
  guint reads;           /* EsimdRead bits to refresh when the current job ends */
  guint reads_after;     /* ...that its outcome does not need: read after it is published */
  guint settling;        /* ...being read now: the outcome is out, these parts are not yet */

  gboolean available;       /* the modem is there */
  guint losses;             /* times the modem was lost: a job's channel does not survive one */
  char *unavailable_reason; /* why the eUICC is unavailable (esimd_euicc_state), else NULL */
  char *modem_imei;         /* read from the modem when the configuration has none */
  gboolean imei_stale;      /* the modem (re)appeared: read its IMEI again */
  gboolean cache_valid;     /* ESIMD_READ_ESSENTIAL read since the modem appeared, none failing */
  guint read_once;          /* EsimdRead bits read at least once since the modem appeared */
  guint stale;              /* EsimdRead bits whose last read failed: read again soon */
  GError *read_errors[ESIMD_READ_PARTS]; /* why, per bit (esimd_euicc_read_error) */
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

  GHashTable *announced;              /* sequence numbers NotificationPending was emitted for */
  EsimdNotifyBackoff *notify_backoff; /* per server: notifications and sessions left open */
  guint notify_retry_id;              /* when the next server's back-off ends */
  /* The card refused RetrieveNotificationsList of every notification at once: each is asked for
   * by its sequence number until the next Refresh (job-notify.c). */
  gboolean notify_batch_refused;
  /* Sequence numbers of notifications the card failed to give (or to remove after their server
   * took them): not a server's fault, so no server's back-off grows; esimd's own delivery leaves
   * them until the next Refresh, a caller's SendNotifications still tries (job-notify.c). */
  GHashTable *notify_refused;
  /* The modem failed (not the card's answer) while a notification was retrieved or removed: the
   * card's own back-off (RetryInitial, RetryMax), which no server shares. */
  EsimdNotifyBackoff *notify_card_backoff;

  GTask *stop_task;
  guint stop_timeout_id;
};

/* Fails when the modem's transport is not one this build has. */
EsimdEuicc *esimd_euicc_new (guint index, EsimdModemConfig *config, GError **error);
/* The same with a modem made by @construct (the unit test's scripted one) whatever the
 * configured transport. */
EsimdEuicc *esimd_euicc_new_with_modem (guint index, EsimdModemConfig *config,
                                        EsimdModemConstructor construct);

/* euicc-modem.c, for discovery: an eUICC found with EID @eid, with no modem yet (not present). */
EsimdEuicc *esimd_euicc_new_discovered (guint index, const char *eid);
/* The modem the eUICC is reached through from now on: @config (taken) with the transport it
 * names, or NULL when there is none (the modem went away: the eUICC leaves the bus, its object
 * stays for its EID to come back to, at the same index). The current modem is let go first: its
 * queued jobs fail with @reason (ESIMD_ERROR_UNAVAILABLE), the running one is asked to stop and
 * ends first. The last request wins. */
void esimd_euicc_set_modem (EsimdEuicc *euicc, EsimdModemConfig *config, const char *reason);
/* What front-ends show of where it is: ModemManager's modem (NULL: none), its slot and the
 * modem's active slot, and ModemManager's IMEI for the modem (NULL: unchanged). */
void esimd_euicc_set_location (EsimdEuicc *euicc, const char *mm_path, guint slot,
                               guint active_slot, const char *imei);
void esimd_euicc_start (EsimdEuicc *euicc);
/* Fails queued jobs, asks the running one to stop (waiting at most @grace seconds), then
 * closes the channel and releases the modem. */
void esimd_euicc_stop (EsimdEuicc *euicc, guint grace, GAsyncReadyCallback callback,
                       gpointer user_data);
void esimd_euicc_free (EsimdEuicc *euicc);

/* "unavailable", "busy" (a job runs or waits) or "ready". */
const char *esimd_euicc_state (EsimdEuicc *euicc);
/* Why the state is "unavailable" (the modem's reason, or the read of the card that fails), ""
 * when it is not. */
const char *esimd_euicc_unavailable_reason (EsimdEuicc *euicc);
/* For the model: sets why it is unavailable (NULL: it is not); returns
 * ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON if that changed (for the caller to announce with what
 * else changed), else 0. A @failure is logged at warning level once per change (a retry that
 * fails the same way is not news). */
guint esimd_euicc_update_unavailable_reason (EsimdEuicc *euicc, const char *reason,
                                             gboolean failure);

/* Queues @job (announced with job_added). Fails with ESIMD_ERROR_UNAVAILABLE or _BUSY. */
gboolean esimd_euicc_submit (EsimdEuicc *euicc, EsimdJob *job, GError **error);
gboolean esimd_euicc_cancel_job (EsimdEuicc *euicc, EsimdJob *job, GError **error);
gboolean esimd_euicc_confirm_job (EsimdEuicc *euicc, EsimdJob *job, GError **error);
/* Gives the confirmation code a job in awaiting-confirmation-code asks for (WrongJobState
 * otherwise); @code must pass lpa_confirmation_code_problem(). */
gboolean esimd_euicc_supply_confirmation_code (EsimdEuicc *euicc, EsimdJob *job, const char *code,
                                               GError **error);
/* The front-end lost the job's caller (it left the bus): a job that can still stop is
 * cancelled, as a download postponed rather than rejected. */
void esimd_euicc_caller_gone (EsimdEuicc *euicc, EsimdJob *job);

/* For jobs: one ES10 command on the card the job holds. */
typedef void (*EsimdEs10Func) (GBytes *response, const GError *error, gpointer user_data);
void esimd_euicc_es10 (EsimdEuicc *euicc, GBytes *request, EsimdEs10Func func, gpointer user_data);

/* For jobs: the modem was lost and came back while the job held the queue (EsimdJobOps'
 * modem_returned): the job's channel is gone; open a new one for the rest of the job. */
void esimd_euicc_reopen_channel (EsimdEuicc *euicc, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean esimd_euicc_reopen_channel_finish (EsimdEuicc *euicc, GAsyncResult *result,
                                            GError **error);

/* For jobs: a command the card may have acted on was not answered with its result (6F00: the
 * card was reset by what it did, or an answer without data). Reads @what (EsimdRead bits) as
 * esimd_euicc_read() does; a read that fails as the lost channel of a reset card does (a
 * transport error, 68xx) is made once more on a new channel. The job then judges by the cache
 * whether its command was done. */
void esimd_euicc_read_after_reset (EsimdEuicc *euicc, guint what, GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean esimd_euicc_read_after_reset_finish (EsimdEuicc *euicc, GAsyncResult *result,
                                              GError **error);

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

/* For the download job: the card installed a profile (its ProfileInstallationResult said so,
 * with @isdp_aid) from a BPP whose StoreMetadataRequest was @stored_metadata (BF25). The cache
 * lists it as the card does (ProfileInfo holds what StoreMetadata stored, the ISD-P, the
 * Disabled state) and announces it; the card's own list, the notifications and the free memory
 * are read after the outcome is published. FALSE, and nothing changed, when the cache cannot
 * take it (no list read yet, the metadata does not decode, the ICCID already listed): the list
 * is then read before the outcome, as after any job. */
gboolean esimd_euicc_cache_profile_installed (EsimdEuicc *euicc, GBytes *stored_metadata,
                                              GBytes *isdp_aid);

/* For jobs: of what the current job reads back when it ends, @parts (EsimdRead bits) are not
 * needed for its outcome: they are read after the outcome is published. */
void esimd_euicc_read_after_outcome (EsimdEuicc *euicc, guint parts);

/* For the delivery job: notification @seq is no longer on the card (delivered and removed, or
 * gone); and, once every notification it handled is accounted for so, that the notification
 * list need not be read back after it. */
void esimd_euicc_cache_notification_removed (EsimdEuicc *euicc, guint32 seq);
void esimd_euicc_cache_notifications_known (EsimdEuicc *euicc);

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

/* Why the last read of @bit (one EsimdRead bit) failed: NULL when it was read, or never tried.
 * A part whose read failed is unknown: the cache must not answer for it (a failed read is not
 * an empty list). */
const GError *esimd_euicc_read_error (EsimdEuicc *euicc, guint bit);
/* The notification list is unknown: its last read failed, or it was never read. */
gboolean esimd_euicc_notifications_unknown (EsimdEuicc *euicc);

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
  GBytes *cancel_response; /* the eUICC's signed BF41 once it cancelled, else NULL */
  gboolean server_ended;   /* the server answered Failed/Expired: it is never told */
  guint attempts;          /* times the server was told and did not acknowledge */
  gint64 opened;           /* wall-clock seconds (0: not known) */
} EsimdOpenSession;

/* The retries end: a session whose server did not acknowledge this many cancelSession calls,
 * or that is this old, is given up (logged); the server's own timeout closes it then. */
#define ESIMD_OPEN_SESSION_MAX_ATTEMPTS 10
#define ESIMD_OPEN_SESSION_MAX_AGE      (24 * 60 * 60)

void esimd_open_session_free (EsimdOpenSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdOpenSession, esimd_open_session_free)

/* Whether a download's record could be written now (the state directory is writable and has
 * room): a download must not start without it (ESIMD_ERROR_STATE_NOT_WRITABLE). */
gboolean esimd_euicc_sessions_writable (EsimdEuicc *euicc, GError **error);
gboolean esimd_euicc_session_opened (EsimdEuicc *euicc, const char *transaction_id,
                                     const char *server, GError **error);
void esimd_euicc_session_bpp_requested (EsimdEuicc *euicc, const char *transaction_id);
void esimd_euicc_session_cancelled_on_euicc (EsimdEuicc *euicc, const char *transaction_id,
                                             GBytes *cancel_response);
void esimd_euicc_session_closed (EsimdEuicc *euicc, const char *transaction_id);
/* The server ended its side: only the eUICC's is cancelled later. */
void esimd_euicc_session_server_ended (EsimdEuicc *euicc, const char *transaction_id);
/* The server did not acknowledge a cancelSession: FALSE when this was the last attempt (or the
 * session is too old), the record then removed and the giving up logged. */
gboolean esimd_euicc_session_attempt_failed (EsimdEuicc *euicc, const char *transaction_id,
                                             const GError *why);
/* TRUE when the server processed an ES9+ cancelSession (cancelled it, or refused it with a
 * status); FALSE when it must be sent again (no answer, an HTTP error, a garbled answer). */
gboolean esimd_cancel_session_heard (guint status, GBytes *body, const GError *error, GError **why);
/* EsimdOpenSession*, oldest first. */
GPtrArray *esimd_euicc_open_sessions (EsimdEuicc *euicc);

/* Delivering to a server (a notification's address, or the SM-DP+ of a session left open):
 * each has its own back-off (notify-backoff.h). esimd's own delivery sends only to servers that
 * are due; a failure returns the seconds that server now waits. */
gboolean esimd_euicc_notify_server_due (EsimdEuicc *euicc, const char *address);
guint esimd_euicc_notify_server_failed (EsimdEuicc *euicc, const char *address);
void esimd_euicc_notify_server_succeeded (EsimdEuicc *euicc, const char *address);
/* A caller cancelled esimd's delivery to @address: not again before its back-off. */
void esimd_euicc_notify_server_postponed (EsimdEuicc *euicc, const char *address);
/* The card failed its part of delivering notification @seq (euicc->notify_refused): esimd's own
 * delivery does not send it again before esimd_euicc_notify_card_retry() (a Refresh). */
void esimd_euicc_notify_card_refused (EsimdEuicc *euicc, guint32 seq);
gboolean esimd_euicc_notify_card_refuses (EsimdEuicc *euicc, guint32 seq);
void esimd_euicc_notify_card_retry (EsimdEuicc *euicc);
/* The modem failed while the card gave or removed a notification: esimd's own delivery waits
 * for the card's back-off (the returned seconds), no server's. */
guint esimd_euicc_notify_card_failed (EsimdEuicc *euicc);
void esimd_euicc_notify_card_succeeded (EsimdEuicc *euicc);
gboolean esimd_euicc_notify_card_due (EsimdEuicc *euicc);

G_END_DECLS
