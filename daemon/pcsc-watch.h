/* pcsc-watch.h — pcscd's readers and their cards, followed from a thread of their own.
 *
 * pcsc-lite only blocks, so a thread sits in SCardGetStatusChange() over every reader plus the
 * "\\?PnP?\Notification" pseudo-reader and posts a snapshot to the main context at each change:
 * a card in or out, a reader plugged or unplugged, pcscd gone or back. The PC/SC transport
 * (transport-pcsc.c) and discovery's reader source (discovery-pcsc.c) both follow pcscd through
 * it, so that both stop the same, reliable way: SCardCancel() interrupts only a wait already
 * begun (pcsc-lite ignores it at any other moment), so the watch cancels again until the thread
 * is out rather than once. With pcsc-lite before 2.3, which misses a reader plugged just before
 * a wait begins, a second thread lists the readers again once each wait has begun (pcsc-watch.c). */
#pragma once

#include <gio/gio.h>
#include <winscard.h>

G_BEGIN_DECLS

/* One reader as the thread saw it. */
typedef struct
{
  char *name;
  /* SCARD_STATE_* without SCARD_STATE_CHANGED; the reader's card-event count (each insertion
   * and removal) in the high 16 bits, so a card swapped between two looks shows. */
  DWORD state;
  /* A card that answers is in it: present, not mute, the reader usable. */
  gboolean card;
} EsimdPcscReader;

typedef struct
{
  /* SCARD_S_SUCCESS, or why pcscd cannot be reached (service_lost FALSE) or went away while it
   * was followed (service_lost TRUE); readers is then empty. */
  LONG service_rv;
  gboolean service_lost;
  GPtrArray *readers; /* EsimdPcscReader*, in pcscd's order */
} EsimdPcscSnapshot;

void esimd_pcsc_snapshot_free (EsimdPcscSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdPcscSnapshot, esimd_pcsc_snapshot_free)
const EsimdPcscReader *esimd_pcsc_snapshot_find (const EsimdPcscSnapshot *snapshot,
                                                 const char *name);

/* Called on the main context with each new look (@snapshot is the callee's). */
typedef void (*EsimdPcscWatchFunc) (EsimdPcscSnapshot *snapshot, gpointer user_data);

typedef struct _EsimdPcscWatch EsimdPcscWatch;

/* Starts following pcscd; @func is called in the thread-default main context of the caller.
 * While pcscd cannot be reached and its socket does not exist, the thread waits for the socket to
 * be created (inotify: no wakeups); while a socket is there that refuses, it asks again after
 * @retry_first seconds, then twice as long each time up to @retry_max. The first look is posted at
 * once, whatever it finds (no reader at all included), so a caller can tell when it knows the
 * readers. */
EsimdPcscWatch *esimd_pcsc_watch_new (const char *name, guint retry_first, guint retry_max,
                                      EsimdPcscWatchFunc func, gpointer user_data);
/* Ends the thread; @stopped runs (from the main context, directly: never after the watch is
 * freed) once it is out, and @func is not called again from now on. */
void esimd_pcsc_watch_stop (EsimdPcscWatch *watch, void (*stopped) (gpointer user_data),
                            gpointer user_data);
/* Frees the watch; a thread still running is ended first, blocking (at teardown). */
void esimd_pcsc_watch_free (EsimdPcscWatch *watch);

G_END_DECLS
