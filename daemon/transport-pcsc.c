/* transport-pcsc.c — an eUICC in a PC/SC smart-card reader (Transport=pcsc).
 *
 * Every PC/SC call blocks until pcscd answers, and a card may take seconds over one APDU, so none
 * is made on the GLib main loop. Three threads share the work:
 *
 *   - the main thread owns every decision and all state: which reader, whether the eUICC is
 *     available, the open channel, the callers waiting. It hands work to the I/O thread as
 *     Request structures and gets them back, filled in, through an idle source on the context
 *     esimd_modem_pcsc_new() ran in;
 *   - the I/O thread (one per modem) owns one SCARDCONTEXT and the card handle and runs one
 *     request at a time from a GAsyncQueue: probe the readers for an ISD-R, open and close the
 *     channel (MANAGE CHANNEL, SELECT), transmit (resolving 61xx/6Cxx, pcsc-apdu.c), reset the
 *     card (SCardReconnect with SCARD_RESET_CARD), drop the handle;
 *   - the watch thread (pcsc-watch.c, shared with discovery) owns a second SCARDCONTEXT and
 *     sits in SCardGetStatusChange() over every reader plus "\\?PnP?\Notification", posting a
 *     snapshot of the readers to the main thread at each change: card inserted or removed,
 *     reader plugged or unplugged, pcscd gone or back. pcsc-lite serialises the calls made on
 *     one context, which is why the two threads have a context each.
 *
 * Loss is decided on the main thread, from a snapshot (card gone, reader gone, pcscd gone) or
 * from a request that failed in a way that leaves the handle useless. The callers in flight are
 * answered there and then, and the generation number goes up: when the I/O thread later returns
 * a request of an older generation, its answer is dropped. A request that takes longer than
 * CommandTimeout is answered with an error the same way and counts as a loss, even though the
 * I/O thread may still be blocked in pcscd; what comes after queues behind it.
 *
 * The card is shared (SCARD_SHARE_SHARED): other applications may use other channels of it. One
 * PC/SC transaction covers one command with its GET RESPONSEs, so nobody else's APDU lands
 * between a 61xx and the GET RESPONSE that collects it. A reader has no IMEI: read_imei is NULL
 * and the SM-DP+ gets the generic TAC unless Imei= is set.
 */
#include "modem.h"

#include "apdu.h"
#include "log.h"
#include "lpa-error.h"
#include "pcsc-apdu.h"
#include "secret.h"
#include "pcsc-watch.h"

#include <string.h>
#include <winscard.h>

#define RETRY_FIRST       1 /* seconds before probing a reader again after a transient failure */
#define RETRY_MAX         30
#define SERVICE_RETRY_MAX 5 /* pcscd's return is noticed by trying: a local socket, so often */

typedef enum
{
  REQ_PROBE,    /* connect to the first of @readers whose card has the ISD-R */
  REQ_OPEN,     /* MANAGE CHANNEL open + SELECT @aid */
  REQ_CLOSE,    /* MANAGE CHANNEL close @channel */
  REQ_TRANSMIT, /* @command, with 61xx/6Cxx resolved */
  REQ_RESET,    /* SCardReconnect, SCARD_RESET_CARD */
  REQ_DROP,     /* disconnect and release the context: the handle is of no use any more */
  REQ_QUIT,     /* REQ_DROP, stop the watch, end the thread */
} RequestKind;

typedef struct _EsimdPcsc EsimdPcsc;

/* Lets late posts from the threads find out that the modem is gone. */
typedef struct
{
  EsimdPcsc *pcsc; /* main thread only; NULL after free */
} Anchor;

/* One piece of work for the I/O thread. The main thread fills the inputs, the I/O thread the
 * outputs; ownership passes with the request, so neither touches it while the other has it. */
typedef struct
{
  RequestKind kind;
  Anchor *anchor; /* a reference */
  guint generation;

  /* inputs */
  GStrv readers; /* REQ_PROBE */
  GBytes *aid;   /* REQ_PROBE, REQ_OPEN */
  GBytes *command;
  guint8 channel;

  /* outputs */
  GBytes *response;
  guint8 out_channel;
  char *out_reader;        /* REQ_PROBE: the reader chosen */
  GHashTable *out_refused; /* REQ_PROBE: reader → why its card is not the eUICC (no ISD-R...) */
  guint out_events;        /* REQ_PROBE: its card's event count when connected */
  gboolean transient;      /* REQ_PROBE without a result: try again later */
  gboolean lost;           /* the handle (or pcscd) is gone: the main thread decides what follows */
  GError *error;

  /* main thread: the caller */
  GTask *task;
  LpaApduCallback callback;
  gpointer user_data;
  gsize sent;
  gboolean answered;
  guint timeout_id;
} Request;

/* Why the card in a reader is not the eUICC, until that card changes. */
typedef struct
{
  guint events; /* the card's event count when probed */
  char *why;    /* the probe's finding, e.g. no ISD-R (SELECT answered 6A82) */
} Verdict;

static void
verdict_free (Verdict *v)
{
  g_free (v->why);
  g_free (v);
}

typedef enum
{
  STATE_IDLE,
  STATE_PROBING,
  STATE_READY,
  STATE_STOPPING,
  STATE_STOPPED,
} State;

struct _EsimdPcsc
{
  EsimdModem parent;
  const char *name; /* the modem's, for messages */
  Anchor *anchor;
  GMainContext *context;

  GThread *io_thread;
  GAsyncQueue *queue; /* Request* for the I/O thread */
  EsimdPcscWatch *watch;

  /* Main thread only. */
  State state;
  guint generation;
  GPtrArray *pending;      /* Request* sent to the I/O thread and not yet back */
  EsimdPcscSnapshot *last; /* the watch's newest look */
  char *reader;            /* connected to this reader (STATE_READY) */
  guint reader_events;     /* its card's event count when connected */
  gboolean open;           /* a channel to the ISD-R is open: */
  guint8 channel;       /* its number; 0 is the basic channel (a card without logical channels) */
  GHashTable *no_isdr;  /* reader name → Verdict: a card probed and found not to be the eUICC */
  char *waiting_reason; /* why not available, as last logged */
  guint retry_id;
  guint retry_delay;
  GTask *stop_task;
  gboolean io_exited;
  gboolean watch_exited;
};

static void evaluate (EsimdPcsc *pcsc);
static gboolean request_timed_out (gpointer data);

/* ---- small helpers ------------------------------------------------------------------------ */

static Anchor *
anchor_ref (Anchor *anchor)
{
  return g_atomic_rc_box_acquire (anchor);
}

static void
anchor_unref (Anchor *anchor)
{
  g_atomic_rc_box_release (anchor);
}

static GError *
pcsc_error (const char *modem, const char *what, LONG rv)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s (0x%08lX)", modem, what,
                      pcsc_stringify_error (rv), (unsigned long) rv);
}

/* The PC/SC results after which the handle is of no use: the card, the reader or pcscd is gone,
 * or the card was reset under us (its channels are gone with it). */
static gboolean
rv_means_lost (LONG rv)
{
  switch (rv)
    {
    case SCARD_E_INVALID_PARAMETER:
    case SCARD_E_INSUFFICIENT_BUFFER:
      return FALSE;
    default:
      return TRUE;
    }
}

static char *
hex_of (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GString *s = g_string_sized_new (2 * len);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02X", data[i]);
  return g_string_free (s, FALSE);
}

static void
request_free (Request *req)
{
  if (req->anchor)
    anchor_unref (req->anchor);
  g_strfreev (req->readers);
  g_clear_pointer (&req->aid, g_bytes_unref);
  g_clear_pointer (&req->command, g_bytes_unref);
  g_clear_pointer (&req->response, g_bytes_unref);
  g_free (req->out_reader);
  g_clear_pointer (&req->out_refused, g_hash_table_unref);
  g_clear_error (&req->error);
  g_clear_object (&req->task);
  g_free (req);
}

/* ==== the I/O thread ========================================================================= */

typedef struct
{
  const char *modem; /* the modem's name, for messages; outlives the thread */
  SCARDCONTEXT context;
  gboolean has_context;
  SCARDHANDLE card;
  gboolean has_card;
  DWORD protocol;
  char *reader;
  /* The ISD-R is selected on the basic channel, which others sharing the card may use too: a
   * transaction is held from its SELECT until the channel is closed (pcsc-lite nests the
   * per-command ones inside it), so nobody selects something else between two commands. */
  gboolean basic;
} Io;

/* A failed operation on the card names its reader: the main thread may hear of the failure
 * before the watch reports the reader gone, and the caller's error must say where it was. */
static GError *
io_error (const Io *io, const char *what, LONG rv)
{
  g_autofree char *where =
      g_strdup_printf ("reader \"%s\": %s", io->reader ? io->reader : "?", what);

  return pcsc_error (io->modem, where, rv);
}

static void
io_drop (Io *io)
{
  if (io->has_card)
    SCardDisconnect (io->card, SCARD_LEAVE_CARD);
  io->has_card = FALSE;
  io->basic = FALSE; /* the disconnect ended its transaction */
  g_clear_pointer (&io->reader, g_free);
  if (io->has_context)
    SCardReleaseContext (io->context);
  io->has_context = FALSE;
}

static LONG
io_ensure_context (Io *io)
{
  LONG rv;

  if (io->has_context)
    return SCARD_S_SUCCESS;
  rv = SCardEstablishContext (SCARD_SCOPE_SYSTEM, NULL, NULL, &io->context);
  io->has_context = rv == SCARD_S_SUCCESS;
  return rv;
}

/* One command through the T=0 machine, inside one transaction. On a PC/SC failure *rv_out says
 * which; on a card that cannot be understood the error is LPA_ERROR_TRANSPORT with rv success. */
static GBytes *
io_exchange (Io *io, GBytes *command, LONG *rv_out, GError **error)
{
  g_autoptr (EsimdT0) t0 = NULL;
  g_autoptr (GError) local = NULL;
  const SCARD_IO_REQUEST *pci = io->protocol == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
  /* A short response is at most 256 data bytes + SW; a reader may add nothing to it. */
  guint8 rbuf[258];
  EsimdT0Step step = ESIMD_T0_SEND;
  LONG rv;

  *rv_out = SCARD_S_SUCCESS;
  t0 = esimd_t0_new (g_bytes_get_data (command, NULL), g_bytes_get_size (command), &local);
  if (!t0)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s", io->modem,
                   local->message);
      return NULL;
    }
  rv = SCardBeginTransaction (io->card);
  if (rv != SCARD_S_SUCCESS)
    {
      *rv_out = rv;
      g_propagate_error (error, io_error (io, "SCardBeginTransaction", rv));
      return NULL;
    }
  while (step == ESIMD_T0_SEND)
    {
      gsize len;
      const guint8 *cmd = esimd_t0_command (t0, &len);
      DWORD rlen = sizeof rbuf;

      rv = SCardTransmit (io->card, pci, cmd, (DWORD) len, NULL, rbuf, &rlen);
      if (rv != SCARD_S_SUCCESS)
        break;
      g_debug ("modem %s: APDU %02X %02X %02X %02X (%" G_GSIZE_FORMAT " bytes) → SW %02X%02X",
               io->modem, cmd[0], cmd[1], cmd[2], cmd[3], len, rlen >= 2 ? rbuf[rlen - 2] : 0,
               rlen >= 2 ? rbuf[rlen - 1] : 0);
      step = esimd_t0_feed (t0, rbuf, rlen, &local);
    }
  lpa_secret_wipe (rbuf, sizeof rbuf); /* an answer may hold a secret (pcsc-apdu.c) */
  /* A transaction ends with the exchange, even a failed one, so the card is free for others. */
  SCardEndTransaction (io->card, SCARD_LEAVE_CARD);
  if (rv != SCARD_S_SUCCESS)
    {
      *rv_out = rv;
      g_propagate_error (error, io_error (io, "SCardTransmit", rv));
      return NULL;
    }
  if (step == ESIMD_T0_ERROR)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s", io->modem,
                   local->message);
      return NULL;
    }
  return g_bytes_ref (esimd_t0_response (t0));
}

static void
io_end_basic (Io *io)
{
  if (io->basic)
    SCardEndTransaction (io->card, SCARD_LEAVE_CARD);
  io->basic = FALSE;
}

static gboolean
io_select_failed (Io *io, GBytes *aid, guint16 sw, GError **error)
{
  g_autofree char *aid_hex = hex_of (aid);

  g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
               "modem %s: no ISD-R %s on the card (SELECT answered %04X, %s)", io->modem, aid_hex,
               sw, lpa_status_word_name (sw));
  return FALSE;
}

/* SELECT @aid on the basic channel, for a card that refused MANAGE CHANNEL with @refused. */
static gboolean
io_open_basic (Io *io, GBytes *aid, guint16 refused, LONG *rv, GError **error)
{
  g_autoptr (GBytes) select = esimd_select_aid_command (0, aid);
  g_autoptr (GBytes) selected = NULL;
  gsize len;
  const guint8 *data;
  guint16 sw;

  if (!io->basic)
    {
      *rv = SCardBeginTransaction (io->card);
      if (*rv != SCARD_S_SUCCESS)
        {
          g_propagate_error (error, io_error (io, "SCardBeginTransaction", *rv));
          return FALSE;
        }
      io->basic = TRUE;
    }
  g_debug ("modem %s: MANAGE CHANNEL refused (%04X, %s): the basic channel", io->modem, refused,
           lpa_status_word_name (refused));
  selected = io_exchange (io, select, rv, error);
  if (!selected)
    {
      io_end_basic (io);
      return FALSE;
    }
  data = g_bytes_get_data (selected, &len);
  esimd_apdu_status_word (data, len, &sw);
  if (!lpa_status_word_is_normal (sw))
    {
      io_end_basic (io);
      return io_select_failed (io, aid, sw, error);
    }
  return TRUE;
}

/* MANAGE CHANNEL open + SELECT @aid on it; on a refused SELECT the channel is closed again. A card
 * that has no logical channel for us gets the SELECT on the basic channel (*channel 0) instead. */
static gboolean
io_open_channel (Io *io, GBytes *aid, guint8 *channel, LONG *rv, GError **error)
{
  g_autoptr (GBytes) open = esimd_manage_channel_open_command ();
  g_autoptr (GBytes) opened = NULL;
  g_autoptr (GBytes) select = NULL;
  g_autoptr (GBytes) selected = NULL;
  g_autoptr (GError) local = NULL;
  gsize len;
  const guint8 *data;
  guint16 sw;

  opened = io_exchange (io, open, rv, error);
  if (!opened)
    return FALSE;
  data = g_bytes_get_data (opened, &len);
  if (esimd_apdu_status_word (data, len, &sw) && esimd_manage_channel_unsupported (sw))
    {
      *channel = 0;
      return io_open_basic (io, aid, sw, rv, error);
    }
  if (!esimd_manage_channel_open_parse (data, len, channel, &local))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "modem %s: the card opened no logical channel: %s", io->modem, local->message);
      return FALSE;
    }
  select = esimd_select_aid_command (*channel, aid);
  selected = io_exchange (io, select, rv, error);
  if (!selected)
    return FALSE;
  data = g_bytes_get_data (selected, &len);
  esimd_apdu_status_word (data, len, &sw);
  if (!lpa_status_word_is_normal (sw))
    {
      g_autoptr (GBytes) close = esimd_manage_channel_close_command (*channel);
      g_autoptr (GBytes) closed = NULL;
      LONG close_rv;

      /* Leave the card as it was; a failure here changes nothing for the caller. */
      closed = io_exchange (io, close, &close_rv, NULL);
      return io_select_failed (io, aid, sw, error);
    }
  return TRUE;
}

static gboolean
io_close_channel (Io *io, guint8 channel, LONG *rv, GError **error)
{
  g_autoptr (GBytes) close = NULL;
  g_autoptr (GBytes) closed = NULL;
  gsize len;
  const guint8 *data;
  guint16 sw;

  *rv = SCARD_S_SUCCESS;
  if (channel == 0)
    {
      /* The basic channel cannot be closed: let the others have the card again. */
      io_end_basic (io);
      return TRUE;
    }
  close = esimd_manage_channel_close_command (channel);
  closed = io_exchange (io, close, rv, error);
  if (!closed)
    return FALSE;
  data = g_bytes_get_data (closed, &len);
  esimd_apdu_status_word (data, len, &sw);
  if (!lpa_status_word_is_normal (sw))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "modem %s: closing logical channel %u: %04X (%s)", io->modem, channel, sw,
                   lpa_status_word_name (sw));
      return FALSE;
    }
  return TRUE;
}

/* The current event count of @reader's card (high 16 bits of its state), 0 if unknown. */
static guint
io_card_events (Io *io, const char *reader)
{
  SCARD_READERSTATE st = { .szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE };

  if (SCardGetStatusChange (io->context, 0, &st, 1) != SCARD_S_SUCCESS)
    return 0;
  return st.dwEventState >> 16;
}

static void
probe_refused (Io *io, Request *req, const char *reader, const char *message)
{
  /* Kept without the "modem NAME: " of the message, for the reason naming the reader. */
  g_autofree char *prefix = g_strdup_printf ("modem %s: ", io->modem);

  if (g_str_has_prefix (message, prefix))
    message += strlen (prefix);
  if (!req->out_refused)
    req->out_refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (req->out_refused, g_strdup (reader), g_strdup (message));
}

/* Connects to each candidate in turn and keeps the first whose card has the ISD-R. */
static void
io_probe (Io *io, Request *req)
{
  g_autoptr (GString) why = g_string_new (NULL);
  LONG rv;

  io_drop (io);
  rv = io_ensure_context (io);
  if (rv != SCARD_S_SUCCESS)
    {
      req->transient = TRUE;
      req->error = pcsc_error (io->modem, "cannot reach pcscd", rv);
      return;
    }
  for (char **r = req->readers; *r; r++)
    {
      g_autoptr (GError) local = NULL;
      guint8 channel;

      rv = SCardConnect (io->context, *r, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                         &io->card, &io->protocol);
      if (rv != SCARD_S_SUCCESS)
        {
          g_string_append_printf (why, "%s%s: %s", why->len ? "; " : "", *r,
                                  pcsc_stringify_error (rv));
          probe_refused (io, req, *r, pcsc_stringify_error (rv));
          if (rv != SCARD_E_NO_SMARTCARD && rv != SCARD_W_REMOVED_CARD &&
              rv != SCARD_E_UNKNOWN_READER)
            req->transient = TRUE;
          if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ||
              rv == SCARD_E_INVALID_HANDLE)
            break;
          continue;
        }
      io->has_card = TRUE;
      if (io_open_channel (io, req->aid, &channel, &rv, &local))
        {
          g_autoptr (GError) close_error = NULL;

          if (io_close_channel (io, channel, &rv, &close_error))
            {
              io->reader = g_strdup (*r);
              req->out_reader = g_strdup (*r);
              req->out_events = io_card_events (io, *r);
              return;
            }
          g_clear_error (&local);
          local = g_steal_pointer (&close_error);
        }
      if (rv != SCARD_S_SUCCESS)
        req->transient = TRUE;
      g_string_append_printf (why, "%s%s: %s", why->len ? "; " : "", *r, local->message);
      probe_refused (io, req, *r, local->message);
      SCardDisconnect (io->card, SCARD_LEAVE_CARD);
      io->has_card = FALSE;
    }
  if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED || rv == SCARD_E_INVALID_HANDLE)
    io_drop (io);
  req->error = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: no eUICC found (%s)",
                            io->modem, why->len ? why->str : "no reader with a card");
}

static void
io_run (Io *io, Request *req)
{
  LONG rv = SCARD_S_SUCCESS;

  if (req->kind == REQ_PROBE)
    {
      io_probe (io, req);
      return;
    }
  if (req->kind == REQ_DROP || req->kind == REQ_QUIT)
    {
      io_drop (io);
      return;
    }
  if (!io->has_card)
    {
      req->lost = TRUE;
      req->error =
          g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: no card connected", io->modem);
      return;
    }
  switch (req->kind)
    {
    case REQ_OPEN:
      io_open_channel (io, req->aid, &req->out_channel, &rv, &req->error);
      break;
    case REQ_CLOSE:
      io_close_channel (io, req->channel, &rv, &req->error);
      break;
    case REQ_TRANSMIT:
      req->response = io_exchange (io, req->command, &rv, &req->error);
      break;
    case REQ_RESET:
      rv = SCardReconnect (io->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           SCARD_RESET_CARD, &io->protocol);
      /* The reset took the basic channel's selection with it: the card is free again. */
      io_end_basic (io);
      if (rv != SCARD_S_SUCCESS)
        req->error = io_error (io, "resetting the card", rv);
      break;
    default:
      g_assert_not_reached ();
    }
  if (rv != SCARD_S_SUCCESS && rv_means_lost (rv))
    {
      req->lost = TRUE;
      io_drop (io);
    }
}

static gboolean io_done_main (gpointer data);

typedef struct
{
  Io io;
  GAsyncQueue *queue;
  GMainContext *context;
} IoThread;

/* Hands @req back to the main thread through its context: never g_main_context_invoke(), which
 * runs the function in the calling thread when nobody holds the context at that instant. */
static void
io_post (GMainContext *context, Request *req)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_callback (source, io_done_main, req, NULL);
  g_source_set_static_name (source, "pcsc-io answer");
  g_source_attach (source, context);
}

static gpointer
io_thread_main (gpointer data)
{
  IoThread *t = data;
  gboolean quit = FALSE;

  while (!quit)
    {
      Request *req = g_async_queue_pop (t->queue);

      io_run (&t->io, req);
      quit = req->kind == REQ_QUIT;
      io_post (t->context, req);
    }
  g_async_queue_unref (t->queue);
  g_main_context_unref (t->context);
  g_free (t);
  return NULL;
}

/* ==== the main thread ======================================================================== */

static GError *
not_available_error (EsimdPcsc *pcsc)
{
  if (pcsc->waiting_reason)
    return g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, pcsc->waiting_reason);
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s is not available", pcsc->name);
}

/* Answers the caller of @req (once); @error NULL means success with the request's outputs. */
static void
answer (EsimdPcsc *pcsc, Request *req, const GError *error)
{
  if (req->answered)
    return;
  req->answered = TRUE;
  g_clear_handle_id (&req->timeout_id, g_source_remove);
  if (req->callback)
    {
      if (error)
        req->callback (NULL, error, req->user_data);
      else
        {
          esimd_modem_count_apdu (&pcsc->parent, req->sent, g_bytes_get_size (req->response));
          req->callback (req->response, NULL, req->user_data);
        }
      return;
    }
  if (!req->task)
    return;
  if (error)
    g_task_return_error (req->task, g_error_copy (error));
  else if (req->kind == REQ_OPEN)
    g_task_return_int (req->task, req->out_channel);
  else
    g_task_return_boolean (req->task, TRUE);
  g_clear_object (&req->task);
}

/* Why there is no eUICC to use now (NULL: there is one). Every reason starts with "modem NAME: "
 * as the errors do; while the modem is not available it becomes its UnavailableReason at once,
 * so a client sees "no smart-card reader" or "cannot reach pcscd", never a vague "not connected
 * yet", from the first look at pcscd on. */
static void
set_waiting (EsimdPcsc *pcsc, const char *reason)
{
  g_autofree char *prefix = NULL;
  g_autoptr (GError) error = NULL;

  if (g_strcmp0 (pcsc->waiting_reason, reason) == 0)
    return;
  g_free (pcsc->waiting_reason);
  pcsc->waiting_reason = g_strdup (reason);
  if (!reason)
    return;
  prefix = g_strdup_printf ("modem %s: ", pcsc->name);
  g_info ("modem %s: waiting for an eUICC: %s", pcsc->name,
          g_str_has_prefix (reason, prefix) ? reason + strlen (prefix) : reason);
  /* What the eUICC's UnavailableReason says while there is none (no-op once reported). */
  error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, reason);
  if (pcsc->state != STATE_READY)
    esimd_modem_set_available (&pcsc->parent, FALSE, error);
}

static void
send_request (EsimdPcsc *pcsc, Request *req)
{
  req->anchor = anchor_ref (pcsc->anchor);
  req->generation = pcsc->generation;
  g_ptr_array_add (pcsc->pending, req);
  g_async_queue_push (pcsc->queue, req);
}

/* The card, the reader or pcscd is gone: answer everyone, forget the channel and the handle. */
static void
lose (EsimdPcsc *pcsc, const GError *reason)
{
  gboolean was_ready = pcsc->state == STATE_READY;
  g_autoptr (GPtrArray) pending = g_ptr_array_copy (pcsc->pending, NULL, NULL);

  /* State first: callers answered below may call in again, and must find no card. */
  pcsc->generation++;
  pcsc->open = FALSE;
  g_clear_pointer (&pcsc->reader, g_free);
  if (pcsc->state == STATE_READY || pcsc->state == STATE_PROBING)
    {
      Request *drop = g_new0 (Request, 1);

      drop->kind = REQ_DROP;
      send_request (pcsc, drop);
      pcsc->state = STATE_IDLE;
    }
  for (guint i = 0; i < pending->len; i++)
    answer (pcsc, pending->pdata[i], reason);
  if (was_ready)
    g_warning ("modem %s: lost: %s", pcsc->name, reason->message);
  /* Reports it unavailable, with the reason, after everything in flight was answered. */
  set_waiting (pcsc, reason->message);
}

static gboolean
retry_cb (gpointer data)
{
  EsimdPcsc *pcsc = data;

  pcsc->retry_id = 0;
  evaluate (pcsc);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (EsimdPcsc *pcsc)
{
  if (pcsc->retry_id)
    return;
  pcsc->retry_delay = pcsc->retry_delay ? MIN (pcsc->retry_delay * 2, RETRY_MAX) : RETRY_FIRST;
  pcsc->retry_id = g_timeout_add_seconds (pcsc->retry_delay, retry_cb, pcsc);
}

static void
probe_done (EsimdPcsc *pcsc, Request *req)
{
  const EsimdPcscReader *now;

  if (req->out_reader)
    {
      now = esimd_pcsc_snapshot_find (pcsc->last, req->out_reader);
      pcsc->state = STATE_READY;
      pcsc->reader = g_strdup (req->out_reader);
      pcsc->reader_events = req->out_events;
      pcsc->retry_delay = 0;
      g_clear_handle_id (&pcsc->retry_id, g_source_remove);
      set_waiting (pcsc, NULL);
      g_info ("modem %s: eUICC in reader \"%s\"", pcsc->name, pcsc->reader);
      esimd_modem_set_available (&pcsc->parent, TRUE, NULL);
      /* A snapshot newer than the probe may already say the card went away again. */
      if (now && pcsc->state == STATE_READY)
        evaluate (pcsc);
      return;
    }
  pcsc->state = STATE_IDLE;
  set_waiting (pcsc, req->error->message); /* a probe without a reader always says why */
  /* Remember the cards that have no ISD-R, so they are not probed again until they change. */
  if (!req->transient && pcsc->last)
    for (char **r = req->readers; *r; r++)
      {
        const EsimdPcscReader *st = esimd_pcsc_snapshot_find (pcsc->last, *r);
        const char *finding = req->out_refused ? g_hash_table_lookup (req->out_refused, *r) : NULL;

        if (st && st->card && finding)
          {
            Verdict *v = g_new0 (Verdict, 1);

            v->events = st->state >> 16;
            v->why = g_strdup (finding);
            g_hash_table_insert (pcsc->no_isdr, g_strdup (*r), v);
          }
      }
  if (req->transient)
    schedule_retry (pcsc);
  else
    evaluate (pcsc);
}

static gboolean
io_done_main (gpointer data)
{
  Request *req = data;
  EsimdPcsc *pcsc = req->anchor->pcsc;

  if (!pcsc)
    {
      request_free (req);
      return G_SOURCE_REMOVE;
    }
  g_ptr_array_remove (pcsc->pending, req);
  g_clear_handle_id (&req->timeout_id, g_source_remove);

  if (req->kind == REQ_QUIT)
    {
      pcsc->io_exited = TRUE;
      if (pcsc->stop_task && pcsc->watch_exited)
        {
          g_autoptr (GTask) task = g_steal_pointer (&pcsc->stop_task);

          pcsc->state = STATE_STOPPED;
          /* Its callback may free the modem (a probe does): nothing of pcsc is touched after. */
          g_task_return_boolean (task, TRUE);
        }
      request_free (req);
      return G_SOURCE_REMOVE;
    }
  if (req->generation != pcsc->generation || req->answered)
    {
      /* Answered already, when the device was lost or the request timed out. */
      request_free (req);
      return G_SOURCE_REMOVE;
    }

  switch (req->kind)
    {
    case REQ_PROBE:
      probe_done (pcsc, req);
      break;
    case REQ_OPEN:
      if (!req->error)
        {
          pcsc->open = TRUE;
          pcsc->channel = req->out_channel;
          if (pcsc->channel == 0)
            g_info ("modem %s: the card in reader \"%s\" has no logical channel for esimd: "
                    "using the ISD-R on the basic channel",
                    pcsc->name, pcsc->reader);
          else
            g_debug ("modem %s: logical channel %u open to the ISD-R", pcsc->name, pcsc->channel);
        }
      answer (pcsc, req, req->error);
      break;
    case REQ_CLOSE:
      pcsc->open = FALSE;
      answer (pcsc, req, req->error);
      break;
    case REQ_RESET:
      if (!req->error)
        {
          pcsc->open = FALSE;
          /* Our own reset counts as a card event: expect the new count. */
          pcsc->reader_events = G_MAXUINT;
        }
      answer (pcsc, req, req->error);
      break;
    default:
      answer (pcsc, req, req->error);
      break;
    }
  if (req->lost && req->kind != REQ_PROBE && pcsc->state == STATE_READY)
    {
      lose (pcsc, req->error);
      evaluate (pcsc);
    }
  request_free (req);
  return G_SOURCE_REMOVE;
}

static void
watch_look (EsimdPcscSnapshot *s, gpointer data)
{
  EsimdPcsc *pcsc = data;

  esimd_pcsc_snapshot_free (pcsc->last);
  pcsc->last = s;
  evaluate (pcsc);
}

static void
watch_stopped (gpointer data)
{
  EsimdPcsc *pcsc = data;

  pcsc->watch_exited = TRUE;
  if (pcsc->stop_task && pcsc->io_exited)
    {
      g_autoptr (GTask) task = g_steal_pointer (&pcsc->stop_task);

      pcsc->state = STATE_STOPPED;
      /* Its callback may free the modem (a probe does): nothing of pcsc is touched after. */
      g_task_return_boolean (task, TRUE);
    }
}

/* Decides from the newest snapshot: keep the reader, lose it, or look for the eUICC. */
static void
evaluate (EsimdPcsc *pcsc)
{
  const EsimdPcscSnapshot *s = pcsc->last;
  const EsimdModemConfig *config = pcsc->parent.config;
  g_auto (GStrv) names = NULL;
  g_auto (GStrv) matching = NULL;
  g_autoptr (GStrvBuilder) candidates = NULL;
  g_autoptr (GString) why = NULL;
  Request *probe;

  if (pcsc->state == STATE_STOPPING || pcsc->state == STATE_STOPPED || !s)
    return;

  if (s->service_rv != SCARD_S_SUCCESS)
    {
      g_autoptr (GError) error = pcsc_error (
          pcsc->name, s->service_lost ? "pcscd went away" : "cannot reach pcscd", s->service_rv);

      if (pcsc->state == STATE_READY || pcsc->state == STATE_PROBING)
        lose (pcsc, error);
      else
        set_waiting (pcsc, error->message);
      g_hash_table_remove_all (pcsc->no_isdr);
      return;
    }

  if (pcsc->state == STATE_READY)
    {
      const EsimdPcscReader *r = esimd_pcsc_snapshot_find (s, pcsc->reader);
      g_autoptr (GError) reason = NULL;

      if (!r)
        reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: reader \"%s\" is gone",
                              pcsc->name, pcsc->reader);
      else if (!r->card)
        reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                              "modem %s: the card was removed from reader \"%s\"", pcsc->name,
                              pcsc->reader);
      else if (pcsc->reader_events == G_MAXUINT)
        pcsc->reader_events = r->state >> 16; /* after our own reset */
      else if ((r->state >> 16) != pcsc->reader_events && !pcsc->open)
        /* Another card (or the same one, out and in again) between two looks: start over. The
         * count also moves when someone else resets the card; with no channel open nothing of
         * ours is lost, so only a moved count with a channel open needs the transmit's error. */
        reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                              "modem %s: the card in reader \"%s\" was changed", pcsc->name,
                              pcsc->reader);
      if (!reason)
        return;
      lose (pcsc, reason);
    }
  if (pcsc->state != STATE_IDLE)
    return;

  /* Forget "no ISD-R" verdicts for cards that are not there any more. */
  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, pcsc->no_isdr);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        const EsimdPcscReader *r = esimd_pcsc_snapshot_find (s, key);

        if (!r || !r->card || (r->state >> 16) != ((Verdict *) value)->events)
          g_hash_table_iter_remove (&iter);
      }
  }

  names = g_new0 (char *, s->readers->len + 1);
  for (guint i = 0; i < s->readers->len; i++)
    names[i] = g_strdup (((EsimdPcscReader *) s->readers->pdata[i])->name);
  matching = esimd_pcsc_match_readers ((const char *const *) names, config->device);
  candidates = g_strv_builder_new ();
  why = g_string_new (NULL);
  for (char **m = matching; *m; m++)
    {
      const EsimdPcscReader *r = esimd_pcsc_snapshot_find (s, *m);
      const Verdict *v = g_hash_table_lookup (pcsc->no_isdr, *m);

      if (!r->card)
        g_string_append_printf (why, "%sno card in \"%s\"", why->len ? "; " : "", *m);
      else if (v)
        g_string_append_printf (why, "%sthe card in \"%s\": %s", why->len ? "; " : "", *m, v->why);
      else
        g_strv_builder_add (candidates, *m);
    }

  probe = g_new0 (Request, 1);
  probe->kind = REQ_PROBE;
  probe->readers = g_strv_builder_end (candidates);
  if (!probe->readers[0])
    {
      request_free (probe);
      g_autofree char *msg = NULL;

      if (!names[0])
        msg = g_strdup_printf ("modem %s: no smart-card reader (pcscd has none)", pcsc->name);
      else if (!matching[0])
        {
          g_autofree char *list = g_strjoinv ("\", \"", names);

          msg = g_strdup_printf ("modem %s: no reader matches Reader=%s (readers: \"%s\")",
                                 pcsc->name, config->device, list);
        }
      else
        msg = g_strdup_printf ("modem %s: %s", pcsc->name, why->str);
      set_waiting (pcsc, msg);
      return;
    }
  probe->aid = g_bytes_ref (config->isdr_aid);
  pcsc->state = STATE_PROBING;
  send_request (pcsc, probe);
  /* A probe sends a few commands to each candidate: give it more than one command's time. */
  probe->timeout_id = g_timeout_add_seconds (config->command_timeout * 4, request_timed_out, probe);
}

/* ---- the transport's operations ------------------------------------------------------------ */

static EsimdPcsc *
from_modem (EsimdModem *modem)
{
  return (EsimdPcsc *) modem;
}

static void
pcsc_start (EsimdModem *modem)
{
  EsimdPcsc *pcsc = from_modem (modem);
  IoThread *io = g_new0 (IoThread, 1);

  pcsc->name = modem->config->name;
  io->io.modem = pcsc->name;
  io->queue = g_async_queue_ref (pcsc->queue);
  io->context = g_main_context_ref (pcsc->context);
  pcsc->io_thread = g_thread_new ("pcsc-io", io_thread_main, io);
  pcsc->watch =
      esimd_pcsc_watch_new ("pcsc-watch", RETRY_FIRST, SERVICE_RETRY_MAX, watch_look, pcsc);
}

static gboolean
request_timed_out (gpointer data)
{
  Request *req = data;
  EsimdPcsc *pcsc = req->anchor->pcsc;
  g_autoptr (GError) error = NULL;

  req->timeout_id = 0;
  if (req->kind == REQ_PROBE)
    {
      /* The I/O thread is stuck in pcscd: its late answer will be dropped. */
      g_warning ("modem %s: looking for the eUICC took more than %u s", pcsc->name,
                 pcsc->parent.config->command_timeout * 4);
      req->answered = TRUE;
      pcsc->generation++;
      pcsc->state = STATE_IDLE;
      schedule_retry (pcsc);
      return G_SOURCE_REMOVE;
    }
  error = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                       "modem %s: no answer from reader \"%s\" within %u s", pcsc->name,
                       pcsc->reader ? pcsc->reader : "?", pcsc->parent.config->command_timeout);
  answer (pcsc, req, error);
  if (pcsc->state == STATE_READY)
    {
      lose (pcsc, error);
      evaluate (pcsc);
    }
  return G_SOURCE_REMOVE;
}

/* Sends a card request for a caller, or answers at once (later, from the loop) when there is no
 * card to send it to. */
static void
card_request (EsimdPcsc *pcsc, Request *req)
{
  if (pcsc->state != STATE_READY)
    {
      g_autoptr (GError) error = not_available_error (pcsc);

      if (req->callback)
        {
          /* The APDU contract forbids answering from inside the call (g_main_context_invoke()
           * would: this thread holds the context). */
          esimd_modem_fail_transmit_later (req->callback, req->user_data, g_steal_pointer (&error));
          request_free (req);
          return;
        }
      g_task_return_error (req->task, g_steal_pointer (&error));
      request_free (req);
      return;
    }
  send_request (pcsc, req);
  req->timeout_id =
      g_timeout_add_seconds (pcsc->parent.config->command_timeout, request_timed_out, req);
}

static void
pcsc_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  EsimdPcsc *pcsc = from_modem (modem);
  Request *req = g_new0 (Request, 1);

  req->kind = REQ_OPEN;
  req->aid = g_bytes_ref (aid);
  req->task = task;
  card_request (pcsc, req);
}

static void
pcsc_close_channel (EsimdModem *modem, GTask *task)
{
  EsimdPcsc *pcsc = from_modem (modem);
  Request *req;

  if (!pcsc->open)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  req = g_new0 (Request, 1);
  req->kind = REQ_CLOSE;
  req->channel = pcsc->channel;
  req->task = task;
  card_request (pcsc, req);
}

static void
pcsc_forget_channel (EsimdModem *modem)
{
  from_modem (modem)->open = FALSE;
}

static void
pcsc_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdPcsc *pcsc = from_modem (modem);
  Request *req = g_new0 (Request, 1);

  req->kind = REQ_TRANSMIT;
  req->command = g_bytes_ref (command);
  req->sent = g_bytes_get_size (command);
  req->callback = callback;
  req->user_data = user_data;
  card_request (pcsc, req);
}

static void
pcsc_reset_card (EsimdModem *modem, GTask *task)
{
  EsimdPcsc *pcsc = from_modem (modem);
  Request *req = g_new0 (Request, 1);

  req->kind = REQ_RESET;
  req->task = task;
  card_request (pcsc, req);
}

static void
pcsc_stop (EsimdModem *modem, GTask *task)
{
  EsimdPcsc *pcsc = from_modem (modem);
  Request *quit;

  g_clear_handle_id (&pcsc->retry_id, g_source_remove);
  if (pcsc->state == STATE_STOPPED || !pcsc->io_thread)
    {
      pcsc->state = STATE_STOPPED;
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  if (pcsc->state == STATE_READY && pcsc->open)
    {
      /* The card keeps no channel of ours: close it first; the I/O thread runs in order. */
      Request *close = g_new0 (Request, 1);

      close->kind = REQ_CLOSE;
      close->channel = pcsc->channel;
      send_request (pcsc, close);
      pcsc->open = FALSE;
    }
  pcsc->state = STATE_STOPPING;
  pcsc->stop_task = task;
  quit = g_new0 (Request, 1);
  quit->kind = REQ_QUIT;
  send_request (pcsc, quit);
  esimd_pcsc_watch_stop (pcsc->watch, watch_stopped, pcsc);
}

static void
pcsc_free (EsimdModem *modem)
{
  EsimdPcsc *pcsc = from_modem (modem);

  if (pcsc->io_thread && !pcsc->io_exited)
    {
      /* Freed without a stop: end the threads now, blocking (only at teardown). */
      Request *quit = g_new0 (Request, 1);

      quit->kind = REQ_QUIT;
      quit->anchor = anchor_ref (pcsc->anchor);
      g_async_queue_push (pcsc->queue, quit);
    }
  if (pcsc->io_thread)
    g_thread_join (pcsc->io_thread);
  /* Ends its thread first if it still runs (cancelled until it is out). */
  g_clear_pointer (&pcsc->watch, esimd_pcsc_watch_free);
  /* Posts still queued in the context find the anchor empty and only free themselves. */
  pcsc->anchor->pcsc = NULL;
  anchor_unref (pcsc->anchor);
  g_clear_handle_id (&pcsc->retry_id, g_source_remove);
  for (guint i = 0; i < pcsc->pending->len; i++)
    g_clear_handle_id (&((Request *) pcsc->pending->pdata[i])->timeout_id, g_source_remove);
  g_ptr_array_unref (pcsc->pending);
  g_async_queue_unref (pcsc->queue);
  esimd_pcsc_snapshot_free (pcsc->last);
  g_free (pcsc->reader);
  g_free (pcsc->waiting_reason);
  g_hash_table_unref (pcsc->no_isdr);
  g_main_context_unref (pcsc->context);
  g_clear_object (&pcsc->stop_task);
  g_free (pcsc);
}

static const EsimdModemOps pcsc_ops = {
  .name = "pcsc",
  .start = pcsc_start,
  .stop = pcsc_stop,
  .free = pcsc_free,
  .open_channel = pcsc_open_channel,
  .close_channel = pcsc_close_channel,
  .forget_channel = pcsc_forget_channel,
  .transmit = pcsc_transmit,
  .reset_card = pcsc_reset_card,
  .reset_name = "card-reset",
  .read_imei = NULL, /* a reader has no IMEI */
  .list_slots = NULL,
  .switch_slot = NULL,
};

EsimdModem *esimd_modem_pcsc_new (const EsimdModemConfig *config);

EsimdModem *
esimd_modem_pcsc_new (const EsimdModemConfig *config)
{
  EsimdPcsc *pcsc = g_new0 (EsimdPcsc, 1);

  pcsc->parent.ops = &pcsc_ops;
  pcsc->parent.config = config;
  pcsc->name = config->name;
  pcsc->anchor = g_atomic_rc_box_new0 (Anchor);
  pcsc->anchor->pcsc = pcsc;
  pcsc->context = g_main_context_ref_thread_default ();
  pcsc->queue = g_async_queue_new ();
  pcsc->pending = g_ptr_array_new ();
  pcsc->no_isdr =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) verdict_free);
  pcsc->state = STATE_IDLE;
  return &pcsc->parent;
}
