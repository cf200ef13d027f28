/* pcsc-unplug-shim.c — LD_PRELOADed into esimd by test_pcsc.py: the real libpcsclite talking to
 * the real pcscd, except that one reader can be unplugged while pcscd keeps running, which
 * vsmartcard's vpcd cannot do (its readers live as long as pcscd). The reader named in the file
 * ESIMD_TEST_PCSC_UNPLUGGED (first line), while the file exists, is answered for the way
 * pcsc-lite 1.9.9 answers for a reader that was removed (src/winscard_clnt.c, winscard.c):
 *
 *   - SCardListReaders leaves it out (SCARD_E_NO_READERS_AVAILABLE when it was the only one);
 *   - SCardGetStatusChange fails with SCARD_E_UNKNOWN_READER for an entry naming it when the call
 *     begins; a call already waiting answers, as the removal wakes it, with that entry
 *     SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED and the PnP entry
 *     SCARD_STATE_CHANGED (the reader count changed); the reader coming back wakes it the same
 *     way (PnP changed);
 *   - SCardConnect to it fails with SCARD_E_UNKNOWN_READER; a card handle of it answers
 *     SCardTransmit, SCardReconnect, SCardBeginTransaction and SCardEndTransaction with
 *     SCARD_E_READER_UNAVAILABLE.
 *
 * To see the file change during a wait, the shim waits in slices of 50 ms: this wakeup is the
 * test's, not esimd's. (_GNU_SOURCE, for RTLD_NEXT, comes from the build.) */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#define SLICE_MS   50
#define PNP_READER "\\\\?PnP?\\Notification"
#define MAX_CARDS  16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct
{
  SCARDHANDLE card;
  char reader[128];
} cards[MAX_CARDS];

#define REAL(name) ((__typeof__ (&name)) dlsym (RTLD_NEXT, #name))

/* The unplugged reader's name into @name, or "" when none is. */
static void
unplugged (char *name, size_t size)
{
  const char *path = getenv ("ESIMD_TEST_PCSC_UNPLUGGED");
  FILE *f = path ? fopen (path, "r") : NULL;

  name[0] = '\0';
  if (!f)
    return;
  if (fgets (name, (int) size, f))
    name[strcspn (name, "\n")] = '\0';
  fclose (f);
}

static int
is_unplugged (const char *reader)
{
  char name[128];

  unplugged (name, sizeof name);
  return name[0] && reader && strcmp (name, reader) == 0;
}

static int
card_unplugged (SCARDHANDLE card)
{
  int gone = 0;

  pthread_mutex_lock (&lock);
  for (int i = 0; i < MAX_CARDS; i++)
    if (cards[i].card == card && cards[i].reader[0])
      gone = is_unplugged (cards[i].reader);
  pthread_mutex_unlock (&lock);
  return gone;
}

LONG
SCardListReaders (SCARDCONTEXT ctx, LPCSTR groups, LPSTR out, LPDWORD out_len)
{
  char name[128];
  DWORD len = 0;
  char *all;
  LONG rv;
  size_t kept = 0;

  unplugged (name, sizeof name);
  if (!name[0] || *out_len == SCARD_AUTOALLOCATE)
    return REAL (SCardListReaders) (ctx, groups, out, out_len);
  rv = REAL (SCardListReaders) (ctx, groups, NULL, &len);
  if (rv != SCARD_S_SUCCESS)
    return rv;
  all = calloc (1, len + 1);
  rv = REAL (SCardListReaders) (ctx, groups, all, &len);
  if (rv != SCARD_S_SUCCESS)
    {
      free (all);
      return rv;
    }
  /* The multi-string without the unplugged reader, in place. */
  for (const char *r = all; r < all + len && *r; r += strlen (r) + 1)
    if (strcmp (r, name) != 0)
      {
        memmove (all + kept, r, strlen (r) + 1);
        kept += strlen (all + kept) + 1;
      }
  if (kept == 0)
    {
      free (all);
      return SCARD_E_NO_READERS_AVAILABLE;
    }
  all[kept++] = '\0';
  if (out && *out_len < kept)
    rv = SCARD_E_INSUFFICIENT_BUFFER;
  else if (out)
    memcpy (out, all, kept);
  *out_len = kept;
  free (all);
  return rv;
}

LONG
SCardGetStatusChange (SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *states, DWORD n)
{
  char at_start[128], now[128];
  DWORD left = timeout;

  unplugged (at_start, sizeof at_start);
  for (DWORD i = 0; i < n; i++)
    if (at_start[0] && strcmp (states[i].szReader, at_start) == 0)
      return SCARD_E_UNKNOWN_READER;
  for (;;)
    {
      DWORD slice = timeout == INFINITE || left > SLICE_MS ? SLICE_MS : left;
      LONG rv = REAL (SCardGetStatusChange) (ctx, slice, states, n);

      if (rv != SCARD_E_TIMEOUT)
        return rv;
      if (timeout != INFINITE && (left -= slice) == 0)
        return rv;
      unplugged (now, sizeof now);
      if (strcmp (now, at_start) == 0)
        continue;
      /* Unplugged (or back) during the wait: what pcsc-lite answers when the reader count
       * changes, the gone reader's entry included. */
      for (DWORD i = 0; i < n; i++)
        {
          if (strcmp (states[i].szReader, PNP_READER) == 0)
            states[i].dwEventState = SCARD_STATE_CHANGED;
          else if (now[0] && strcmp (states[i].szReader, now) == 0)
            states[i].dwEventState =
                SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED;
          else
            states[i].dwEventState = states[i].dwCurrentState;
        }
      return SCARD_S_SUCCESS;
    }
}

LONG
SCardConnect (SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protocols, LPSCARDHANDLE card,
              LPDWORD protocol)
{
  LONG rv;

  if (is_unplugged (reader))
    return SCARD_E_UNKNOWN_READER;
  rv = REAL (SCardConnect) (ctx, reader, share, protocols, card, protocol);
  if (rv == SCARD_S_SUCCESS)
    {
      pthread_mutex_lock (&lock);
      for (int i = 0; i < MAX_CARDS; i++)
        if (!cards[i].reader[0])
          {
            cards[i].card = *card;
            snprintf (cards[i].reader, sizeof cards[i].reader, "%s", reader);
            break;
          }
      pthread_mutex_unlock (&lock);
    }
  return rv;
}

LONG
SCardDisconnect (SCARDHANDLE card, DWORD disposition)
{
  pthread_mutex_lock (&lock);
  for (int i = 0; i < MAX_CARDS; i++)
    if (cards[i].card == card)
      cards[i].reader[0] = '\0';
  pthread_mutex_unlock (&lock);
  return REAL (SCardDisconnect) (card, disposition);
}

LONG
SCardTransmit (SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE send, DWORD send_len,
               SCARD_IO_REQUEST *recv_pci, LPBYTE recv, LPDWORD recv_len)
{
  if (card_unplugged (card))
    return SCARD_E_READER_UNAVAILABLE;
  return REAL (SCardTransmit) (card, send_pci, send, send_len, recv_pci, recv, recv_len);
}

LONG
SCardReconnect (SCARDHANDLE card, DWORD share, DWORD protocols, DWORD init, LPDWORD protocol)
{
  if (card_unplugged (card))
    return SCARD_E_READER_UNAVAILABLE;
  return REAL (SCardReconnect) (card, share, protocols, init, protocol);
}

LONG
SCardBeginTransaction (SCARDHANDLE card)
{
  if (card_unplugged (card))
    return SCARD_E_READER_UNAVAILABLE;
  return REAL (SCardBeginTransaction) (card);
}

LONG
SCardEndTransaction (SCARDHANDLE card, DWORD disposition)
{
  if (card_unplugged (card))
    return SCARD_E_READER_UNAVAILABLE;
  return REAL (SCardEndTransaction) (card, disposition);
}
