/* notify-backoff.h — when a notification server may be tried again: one back-off per address.
 *
 * A server that cannot be reached says nothing about the others: each notification address
 * (SGP.22's notificationAddress, compared without case or surrounding blanks) has its own wait,
 * RetryInitial after its first failure, doubled after each further one up to RetryMax, and
 * forgotten when a delivery to it succeeds. Times are g_get_monotonic_time() microseconds,
 * passed in, so that the rules are tested without waiting. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EsimdNotifyBackoff EsimdNotifyBackoff;

/* @initial, @max: seconds (@max is raised to @initial when smaller). */
EsimdNotifyBackoff *esimd_notify_backoff_new (guint initial, guint max);
void esimd_notify_backoff_free (EsimdNotifyBackoff *backoff);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdNotifyBackoff, esimd_notify_backoff_free)

/* A delivery to @address failed at @now: it is not due again before the returned number of
 * seconds has passed. */
guint esimd_notify_backoff_failed (EsimdNotifyBackoff *backoff, const char *address, gint64 now);
/* A delivery to @address succeeded: it is due at once, and its next failure waits RetryInitial. */
void esimd_notify_backoff_succeeded (EsimdNotifyBackoff *backoff, const char *address);
/* Someone asked that @address wait (a caller cancelled its delivery): not due before its current
 * wait (at least RetryInitial) from @now, without counting a failure. */
void esimd_notify_backoff_postpone (EsimdNotifyBackoff *backoff, const char *address, gint64 now);
/* Due at once, the failures still counted: a new notification for @address (the server expects
 * it right after the operation), or (@address NULL) for every address (the modem came back:
 * failures while it was away were not the servers'). */
void esimd_notify_backoff_release (EsimdNotifyBackoff *backoff, const char *address);

gboolean esimd_notify_backoff_is_due (EsimdNotifyBackoff *backoff, const char *address, gint64 now);
/* When @address is due: @now or earlier when it is. */
gint64 esimd_notify_backoff_due_time (EsimdNotifyBackoff *backoff, const char *address);
/* The seconds @address waits after a failure now (0 if none since its last success). */
guint esimd_notify_backoff_current (EsimdNotifyBackoff *backoff, const char *address);

/* The key @address is known by: trimmed, lower case, "" for none. */
char *esimd_notify_backoff_key (const char *address);

G_END_DECLS
