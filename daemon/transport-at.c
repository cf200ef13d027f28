/* transport-at.c — the eUICC through a modem's AT command port (Transport=at): a tty, 3GPP TS
 * 27.007 AT+CCHO/AT+CGLA/AT+CCHC, or AT+CSIM with MANAGE CHANNEL where a modem has no CGLA.
 *
 * Everything runs on the GLib main loop: the tty is non-blocking, read through a GUnixFDSource,
 * and commands go out one at a time from a queue, each with its own timeout. at-parser.c cuts
 * the answers into lines; at-quirks.c says what a modem family needs.
 *
 * A command line that would be longer than the modem takes (MaxCommandLength=, or the family's
 * limit) is not sent: the APDU is answered 6700 (wrong length) at once, and a modem that answers
 * ERROR (or +CME ERROR: 24/50) to an APDU line longer than any it accepted on this connection
 * is answered 6700 too. liblpa takes 6700 to a STORE DATA block as "too big" and steps the
 * segment size down (lpa/apdu.c), which is how the adaptive size applies over AT. An APDU that
 * gets no answer at all (AT+CSIM dropping big APDUs) fails as a transport error, which liblpa
 * also takes for a size problem while the size is unproven.
 *
 * After a timeout the port is resynchronised: AT+CGMI is sent and everything is skipped until
 * its answer (the manufacturer, known from the start) and OK, so a late answer to the command
 * that timed out is never taken for the next command's. A second timeout in a row, a hang-up, a
 * read error or a line no modem would send (framing) is a lost device: it is closed and reopened
 * with back-off, and as soon as its node comes back. */
#include "modem.h"

#include "apdu.h"
#include "at-parser.h"
#include "at-quirks.h"
#include "log.h"
#include "lpa-error.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SHORT_TIMEOUT    5  /* seconds: ATE0, AT+CMEE, AT+CGMI, the resync */
#define CFUN_TIMEOUT_MIN 30 /* seconds: AT+CFUN may take a while on a busy modem */
#define RETRY_FIRST      1  /* seconds */
#define RETRY_MAX        60
#define SIM_WAIT_TRIES   10 /* AT+CCHO while the SIM is busy or not up yet after a restart */
#define GET_RESPONSE_MAX 64 /* GET RESPONSEs for one APDU */
#define EMPTY_6100_MAX   3  /* 6100 answers without data in a row: the modem loops */
#define RESPONSE_MAX     (64 * 1024)

typedef enum
{
  AT_IDLE,
  AT_OPENING, /* the tty is open, the set-up commands run */
  AT_READY,
  AT_WAITING, /* lost or not there: a retry is scheduled */
  AT_STOPPED,
} AtState;

/* How APDUs reach the card. */
typedef enum
{
  MODE_CGLA,     /* AT+CCHO/AT+CGLA/AT+CCHC: the modem manages the channel */
  MODE_CSIM,     /* AT+CSIM: the host opens the channel and codes it in the CLA */
  MODE_SESSION0, /* AT+CGLA=0,…: like AT+CSIM, through the basic channel's session */
} AtMode;

typedef struct _EsimdAt EsimdAt;

/* @response is the whole answer when the command ended (with any final result code), NULL with
 * @error when it did not (timeout, device lost, stopped). */
typedef void (*CmdDone) (EsimdAt *at, EsimdAtResponse *response, const GError *error,
                         gpointer data);

typedef struct
{
  char *line;
  char *prefix;
  gboolean bare;
  gboolean sync; /* the resync after a timeout: done only at the manufacturer's line + OK */
  gboolean log_verb_only;
  guint timeout; /* seconds */
  CmdDone done;
  gpointer data;
} Cmd;

struct _EsimdAt
{
  EsimdModem parent;

  AtState state;
  int fd;
  guint read_id;
  guint write_id;
  GByteArray *out; /* what is still to be written: an APDU's line may carry a secret (secret.h) */
  gsize out_cap;
  EsimdAtReader *reader;

  GQueue queue; /* Cmd* not yet sent */
  Cmd *current;
  EsimdAtResponse *response;
  guint timer_id;
  guint timeouts; /* in a row */

  guint retry_id;
  guint retry_delay;
  GFileMonitor *monitor;

  char *manufacturer;
  char *model;
  const EsimdAtModemInfo *info;
  guint quirks;
  guint max_line;
  gsize longest_ok; /* the longest APDU line the modem accepted since it was opened */
  AtMode mode;
  gboolean lpa_switched_off; /* the Quectel internal LPA dance was done on this connection */
  guint connection; /* counts the opens of the tty: a set-up step of an older one is void */

  char *session;  /* MODE_CGLA: as AT+CCHO wrote it */
  guint8 channel; /* 0: none open */

  GTask *stop_task;
  GList *laters; /* Later*: callbacks scheduled on the main loop that need this EsimdAt */
};

/* A callback for later (an idle answer, a retry after a second) that refers to the EsimdAt:
 * listed, so that at_free() can run each one's cancel (which answers its caller) before the
 * EsimdAt goes, instead of leaving a source that would find it freed. */
typedef struct
{
  EsimdAt *at;
  guint id;
  void (*run) (EsimdAt *at, gpointer data);
  void (*cancel) (EsimdAt *at, gpointer data);
  gpointer data;
} Later;

static gboolean
later_cb (gpointer user_data)
{
  Later *l = user_data;
  EsimdAt *at = l->at;

  at->laters = g_list_remove (at->laters, l);
  l->run (at, l->data);
  g_free (l);
  return G_SOURCE_REMOVE;
}

static void
later (EsimdAt *at, guint seconds, void (*run) (EsimdAt *, gpointer),
       void (*cancel) (EsimdAt *, gpointer), gpointer data)
{
  Later *l = g_new0 (Later, 1);

  l->at = at;
  l->run = run;
  l->cancel = cancel;
  l->data = data;
  l->id = seconds ? g_timeout_add_seconds (seconds, later_cb, l) : g_idle_add (later_cb, l);
  at->laters = g_list_prepend (at->laters, l);
}

static void
cancel_laters (EsimdAt *at)
{
  while (at->laters)
    {
      Later *l = at->laters->data;

      at->laters = g_list_delete_link (at->laters, at->laters);
      g_source_remove (l->id);
      l->cancel (at, l->data);
      g_free (l);
    }
}

static void connect_start (EsimdAt *at);
static void lost (EsimdAt *at, const GError *reason);
static void pump (EsimdAt *at);

static const char *
name_of (EsimdAt *at)
{
  return at->parent.config->name;
}

static GError *
not_ready_error (EsimdAt *at)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s is not available", name_of (at));
}

/* ---- commands ------------------------------------------------------------------------------ */

static void
cmd_free (Cmd *cmd)
{
  lpa_secret_free (cmd->line); /* an APDU's line may carry a secret */
  g_free (cmd->prefix);
  g_free (cmd);
}

static void
late_failure (EsimdAt *at, gpointer data)
{
  Cmd *cmd = data;
  g_autoptr (GError) error = not_ready_error (at);

  cmd->done (at, NULL, error, cmd->data);
  cmd_free (cmd);
}

/* Queues one command line (without CR). A command the device cannot take now fails from an idle
 * callback, never from inside the call. */
static void
command (EsimdAt *at, const char *line, const char *prefix, gboolean bare, guint timeout,
         CmdDone done, gpointer data)
{
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->line = g_strdup (line);
  cmd->prefix = g_strdup (prefix);
  cmd->bare = bare;
  cmd->timeout = timeout;
  cmd->done = done;
  cmd->data = data;
  cmd->log_verb_only = g_str_has_prefix (line, "AT+CGLA=") || g_str_has_prefix (line, "AT+CSIM=");
  if (at->state != AT_READY && at->state != AT_OPENING)
    {
      later (at, 0, late_failure, late_failure, cmd);
      return;
    }
  g_queue_push_tail (&at->queue, cmd);
  pump (at);
}

static gboolean on_writable (gint fd, GIOCondition condition, gpointer data);

static void
flush_out (EsimdAt *at)
{
  while (at->out->len)
    {
      ssize_t n = write (at->fd, at->out->data, at->out->len);

      if (n > 0)
        {
          at->parent.stats.line_bytes_sent += (guint64) n;
          g_byte_array_remove_range (at->out, 0, (guint) n);
          /* The bytes moved down leave their old copy after the end. */
          lpa_secret_wipe (at->out->data + at->out->len, (gsize) n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (!at->write_id)
            at->write_id = g_unix_fd_add (at->fd, G_IO_OUT, on_writable, at);
          return;
        }
      {
        g_autoptr (GError) reason =
            g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: writing to %s: %s",
                         name_of (at), at->parent.config->device, g_strerror (errno));
        lost (at, reason);
      }
      return;
    }
}

static gboolean
on_writable (gint fd, GIOCondition condition, gpointer data)
{
  EsimdAt *at = data;

  at->write_id = 0;
  flush_out (at);
  return G_SOURCE_REMOVE;
}

static gboolean on_timeout (gpointer data);

static void
pump (EsimdAt *at)
{
  Cmd *cmd;

  if (at->current || at->fd < 0)
    return;
  cmd = g_queue_pop_head (&at->queue);
  if (!cmd)
    return;
  at->current = cmd;
  at->response = esimd_at_response_new (cmd->line, cmd->prefix, cmd->bare);
  if (cmd->log_verb_only)
    g_debug ("modem %s: → %.8s… (%" G_GSIZE_FORMAT " characters)", name_of (at), cmd->line,
             strlen (cmd->line) + 1);
  else
    g_debug ("modem %s: → %s", name_of (at), cmd->line);
  lpa_secret_byte_array_reserve (&at->out, &at->out_cap, strlen (cmd->line) + 1);
  g_byte_array_append (at->out, (const guint8 *) cmd->line, (guint) strlen (cmd->line));
  g_byte_array_append (at->out, (const guint8 *) "\r", 1);
  at->timer_id = g_timeout_add_seconds (cmd->timeout, on_timeout, at);
  flush_out (at);
}

/* Ends the current command and sends the next. The callback may queue more. */
static void
finish_current (EsimdAt *at, const GError *error)
{
  Cmd *cmd = at->current;
  EsimdAtResponse *response = at->response;

  at->current = NULL;
  at->response = NULL;
  g_clear_handle_id (&at->timer_id, g_source_remove);
  cmd->done (at, error ? NULL : response, error, cmd->data);
  cmd_free (cmd);
  esimd_at_response_free (response);
  pump (at);
}

static void sync_done (EsimdAt *at, EsimdAtResponse *response, const GError *error, gpointer data);

static gboolean
on_timeout (gpointer data)
{
  EsimdAt *at = data;
  Cmd *cmd = at->current;
  g_autoptr (GError) error = NULL;
  g_autofree char *what = g_strndup (cmd->line, cmd->log_verb_only ? 8 : strlen (cmd->line));

  at->timer_id = 0;
  at->timeouts++;
  error = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: no answer to %s%s within %u s",
                       name_of (at), what, cmd->log_verb_only ? "…" : "", cmd->timeout);
  if (at->timeouts >= 2 || cmd->sync)
    {
      g_autoptr (GError) reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                               "modem %s: no answer twice in a row", name_of (at));
      lost (at, reason);
      return G_SOURCE_REMOVE;
    }
  g_info ("modem %s: %s; resynchronising", name_of (at), error->message);
  /* The resync goes first, ahead of whatever the callback queues. */
  {
    Cmd *sync = g_new0 (Cmd, 1);

    sync->line = g_strdup (at->manufacturer ? "AT+CGMI" : "AT");
    sync->prefix = g_strdup ("+CGMI:");
    sync->bare = TRUE;
    sync->sync = TRUE;
    sync->timeout = SHORT_TIMEOUT;
    sync->done = sync_done;
    g_queue_push_head (&at->queue, sync);
  }
  finish_current (at, error);
  return G_SOURCE_REMOVE;
}

static void
sync_done (EsimdAt *at, EsimdAtResponse *response, const GError *error, gpointer data)
{
  if (response)
    g_debug ("modem %s: back in step", name_of (at));
}

/* Whether the answer so far is the resync's own: the manufacturer's line and OK. */
static gboolean
is_sync_answer (EsimdAt *at, EsimdAtResponse *r)
{
  if (r->final != ESIMD_AT_FINAL_OK)
    return FALSE;
  if (!at->manufacturer)
    return TRUE;
  /* The manufacturer may not be the first line of the answer (a notice no list knows before
   * it): any line that is the manufacturer's is the resync's answer. */
  return esimd_at_response_has_line (r, at->manufacturer);
}

static void
setup_again_done (EsimdAt *at, EsimdAtResponse *response, const GError *error, gpointer data)
{
  /* Nothing hangs on it: a modem that did not take it answers errors in fewer words. */
  if (!response || response->final != ESIMD_AT_FINAL_OK)
    g_debug ("modem %s: set-up after the restart not taken", name_of (at));
}

/* The modem restarted while the tty stayed (a UART; a USB port would have hung up): the command
 * it was given is lost, and with it every logical channel; its echo and AT+CMEE are back at their
 * defaults. Fail that command now rather than at its timeout, set the modem up again ahead of
 * anything queued, and leave no session to send APDUs to: the next job opens one, and AT+CCHO
 * answered +CME ERROR: 10/14 while the SIM comes up is waited out (ccho_done), where a plain
 * ERROR (AT+CMEE=0) would have been taken for a modem without logical channels. */
static void
restarted (EsimdAt *at, const char *line)
{
  static const char *const setup[] = { "AT+CMEE=1", "ATE0" }; /* pushed to the head: reversed */

  g_info ("modem %s: the modem restarted (%s); its logical channels are gone", name_of (at), line);
  at->channel = 0;
  g_clear_pointer (&at->session, g_free);
  /* A modem that restarts again before its set-up went out gets one set-up, not one more per
   * restart: a boot loop must not grow the queue. */
  for (GList *l = at->queue.head; l;)
    {
      GList *next = l->next;

      if (((Cmd *) l->data)->done == setup_again_done)
        {
          cmd_free (l->data);
          g_queue_delete_link (&at->queue, l);
        }
      l = next;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (setup); i++)
    {
      Cmd *cmd = g_new0 (Cmd, 1);

      cmd->line = g_strdup (setup[i]);
      cmd->timeout = SHORT_TIMEOUT;
      cmd->done = setup_again_done;
      g_queue_push_head (&at->queue, cmd);
    }
  at->timeouts = 0;
  if (at->current)
    {
      g_autofree char *what = g_strndup (
          at->current->line, at->current->log_verb_only ? 8 : strlen (at->current->line));
      g_autoptr (GError) error =
          g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                       "modem %s: the modem restarted (%s) before it answered %s%s", name_of (at),
                       line, what, at->current->log_verb_only ? "…" : "");

      finish_current (at, error);
    }
  else
    pump (at);
}

static void
handle_line (EsimdAt *at, const char *line)
{
  if (at->state == AT_READY && esimd_at_line_is_restart (line))
    {
      restarted (at, line);
      return;
    }
  if (!at->current)
    {
      g_debug ("modem %s: unsolicited: %.24s", name_of (at), line);
      return;
    }
  if (!esimd_at_response_add_line (at->response, line))
    return;
  if (at->current->sync && !is_sync_answer (at, at->response))
    {
      /* A late answer of the command that timed out: skip it, wait for ours. */
      g_debug ("modem %s: skipping a late answer", name_of (at));
      esimd_at_response_free (at->response);
      at->response = esimd_at_response_new (at->current->line, at->current->prefix, TRUE);
      return;
    }
  at->timeouts = 0;
  finish_current (at, NULL);
}

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer data)
{
  EsimdAt *at = data;
  guint8 buf[4096];
  g_autoptr (GError) error = NULL;
  ssize_t n;
  char *line;

  n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* A USB modem unplugged, a UART gone, the far end of a pty closed: EIO or end of file. */
      error =
          g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s went away (%s)", name_of (at),
                       at->parent.config->device, n < 0 ? g_strerror (errno) : "hang-up");
      at->read_id = 0;
      lost (at, error);
      return G_SOURCE_REMOVE;
    }
  at->parent.stats.line_bytes_received += (guint64) n;
  if (!esimd_at_reader_feed (at->reader, buf, (gsize) n, &error))
    {
      g_autoptr (GError) reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s",
                                               name_of (at), error->message);
      at->read_id = 0;
      lost (at, reason);
      return G_SOURCE_REMOVE;
    }
  lpa_secret_wipe (buf, (gsize) n); /* the reader has its copy, wiped in turn */
  /* The tty may be closed by a callback (a lost device, stop): stop at once then. */
  while (at->fd == fd && (line = esimd_at_reader_next_line (at->reader)))
    {
      handle_line (at, line);
      lpa_secret_free (line);
    }
  return at->fd == fd ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- the device: open, lose, retry --------------------------------------------------------- */

/* Fails the current and every queued command: the device they were for is gone. */
static void
fail_all (EsimdAt *at, const GError *error)
{
  while (at->current || !g_queue_is_empty (&at->queue))
    {
      if (!at->current)
        {
          at->current = g_queue_pop_head (&at->queue);
          at->response = esimd_at_response_new (at->current->line, NULL, FALSE);
        }
      finish_current (at, error);
    }
}

static void
close_tty (EsimdAt *at)
{
  if (at->read_id)
    g_source_remove (at->read_id);
  at->read_id = 0;
  g_clear_handle_id (&at->write_id, g_source_remove);
  if (at->fd >= 0)
    close (at->fd);
  at->fd = -1;
  lpa_secret_wipe (at->out->data, at->out->len);
  g_byte_array_set_size (at->out, 0);
  esimd_at_reader_reset (at->reader);
  g_clear_pointer (&at->session, g_free);
  at->channel = 0;
  at->longest_ok = 0;
  at->timeouts = 0;
  at->lpa_switched_off = FALSE;
}

static gboolean
retry_cb (gpointer data)
{
  EsimdAt *at = data;

  at->retry_id = 0;
  if (at->state == AT_WAITING)
    connect_start (at);
  return G_SOURCE_REMOVE;
}

static void
on_node_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                 gpointer data)
{
  EsimdAt *at = data;

  if (at->state != AT_WAITING)
    return;
  if (event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN ||
      event == G_FILE_MONITOR_EVENT_RENAMED || event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED)
    {
      g_info ("modem %s: %s is back", name_of (at), at->parent.config->device);
      g_clear_handle_id (&at->retry_id, g_source_remove);
      connect_start (at);
    }
}

/* Retries run only while the modem is missing, with back-off; the device node is watched so a
 * returning modem is picked up at once. */
static void
schedule_retry (EsimdAt *at)
{
  at->state = AT_WAITING;
  at->retry_delay = at->retry_delay ? MIN (at->retry_delay * 2, RETRY_MAX) : RETRY_FIRST;
  g_clear_handle_id (&at->retry_id, g_source_remove);
  at->retry_id = g_timeout_add_seconds (at->retry_delay, retry_cb, at);
  if (!at->monitor)
    {
      g_autoptr (GFile) file = g_file_new_for_path (at->parent.config->device);

      at->monitor = g_file_monitor_file (file, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
      if (at->monitor)
        g_signal_connect (at->monitor, "changed", G_CALLBACK (on_node_changed), at);
    }
}

static void
lost (EsimdAt *at, const GError *reason)
{
  gboolean was_ready = at->state == AT_READY;

  close_tty (at);
  if (at->state != AT_STOPPED)
    schedule_retry (at);
  fail_all (at, reason);
  if (at->state == AT_STOPPED)
    return;
  if (was_ready)
    g_warning ("modem %s: lost: %s", name_of (at), reason->message);
  else
    g_debug ("modem %s: not reachable (%s); retrying in %u s", name_of (at), reason->message,
             at->retry_delay);
  esimd_modem_set_available (&at->parent, FALSE, reason);
}

static speed_t
speed_of (guint baud)
{
  switch (baud)
    {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    case 1000000:
      return B1000000;
    case 1500000:
      return B1500000;
    case 2000000:
      return B2000000;
    case 3000000:
      return B3000000;
    case 4000000:
      return B4000000;
    default:
      return B115200;
    }
}

/* Raw 8N1 at the configured speed, no flow control, no echo of our own: the line discipline
 * must not touch AT traffic (a canonical tty would wait for newlines and eat control bytes). */
static gboolean
setup_tty (EsimdAt *at, GError **error)
{
  struct termios t;

  if (!isatty (at->fd))
    return TRUE; /* a socket or FIFO in a test rig: nothing to set */
  if (tcgetattr (at->fd, &t) < 0)
    goto fail;
  cfmakeraw (&t);
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~(CRTSCTS | CSTOPB);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (cfsetispeed (&t, speed_of (at->parent.config->baud)) < 0 ||
      cfsetospeed (&t, speed_of (at->parent.config->baud)) < 0 ||
      tcsetattr (at->fd, TCSANOW, &t) < 0)
    goto fail;
  tcflush (at->fd, TCIOFLUSH);
  return TRUE;

fail:
  g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: setting up %s: %s", name_of (at),
               at->parent.config->device, g_strerror (errno));
  return FALSE;
}

/* -- the set-up sequence: ATE0, AT+CMEE=1, AT+CGMI, AT+CGMM -------------------------------- */

static void
become_ready (EsimdAt *at)
{
  const EsimdModemConfig *config = at->parent.config;
  g_autofree char *quirks = NULL;

  if (g_strcmp0 (config->at_family, "auto") == 0 || !config->at_family)
    at->info = esimd_at_quirks_lookup (at->manufacturer, at->model);
  else
    at->info = esimd_at_quirks_family (config->at_family);
  if (!at->info)
    at->info = esimd_at_quirks_lookup (NULL, NULL);
  at->quirks = (at->info->quirks | config->at_quirks_add) & ~config->at_quirks_remove;
  at->max_line = config->at_max_line ? config->at_max_line : at->info->max_line;
  at->mode = (at->quirks & ESIMD_AT_QUIRK_CSIM_ONLY)       ? MODE_CSIM
             : (at->quirks & ESIMD_AT_QUIRK_CGLA_SESSION0) ? MODE_SESSION0
                                                           : MODE_CGLA;
  quirks = esimd_at_quirks_to_string (at->quirks);
  at->state = AT_READY;
  at->retry_delay = 0;
  g_clear_object (&at->monitor);
  g_info ("modem %s: AT port %s ready: %s %s, family %s (%s), quirks: %s%s", name_of (at),
          config->device, at->manufacturer ? at->manufacturer : "?", at->model ? at->model : "?",
          at->info->family, at->info->note, quirks,
          at->mode == MODE_CSIM ? "; APDUs through AT+CSIM" : "");
  esimd_modem_set_available (&at->parent, TRUE, NULL);
}

static gboolean
known_manufacturer (const char *line, gpointer data)
{
  return esimd_at_quirks_knows_manufacturer (line);
}

static gboolean
known_model (const char *line, gpointer data)
{
  EsimdAt *at = data;

  return esimd_at_quirks_knows_model (at->manufacturer, line);
}

/* The free-text answer of AT+CGMI or AT+CGMM (@known: a line naming what the family table
 * knows), or NULL. A line without a sigil that no list knows may come before the answer
 * (SIMCom SIM7670G's QCRDY, espressif/esp-protocols issue #669): taken for the manufacturer,
 * it would cost the modem its family and its quirks. */
static char *
text_or_null (EsimdAt *at, EsimdAtResponse *r, EsimdAtLineKnown known)
{
  const char *text = r ? esimd_at_response_text (r, known, at) : NULL;

  return text && r->final == ESIMD_AT_FINAL_OK ? g_strdup (text) : NULL;
}

/* A set-up command to send again once the SIM is no longer busy. */
typedef struct
{
  const char *line; /* static */
  const char *prefix;
  CmdDone done;
  guint tries;
  guint connection;
} SetupAgain;

static void
setup_again_run (EsimdAt *at, gpointer data)
{
  g_autofree SetupAgain *s = data;

  if (at->state == AT_OPENING && at->connection == s->connection)
    command (at, s->line, s->prefix, s->prefix != NULL, SHORT_TIMEOUT, s->done,
             GUINT_TO_POINTER (s->tries));
}

static void
setup_again_cancel (EsimdAt *at, gpointer data)
{
  g_free (data);
}

/* A modem that has just started answers commands that have nothing to do with its SIM "SIM
 * busy" while the SIM comes up (u-blox SARA-R422S answers AT&C1 so, u-blox/ubxlib issue #287).
 * Taken for the answer, AT+CGMI's would leave the modem without its family (its quirks), and
 * AT+CMEE=1's without numeric errors: the set-up command is sent again a second later, as
 * AT+CCHO is while the SIM is busy. TRUE if it was. */
static gboolean
setup_sim_busy (EsimdAt *at, EsimdAtResponse *r, const char *line, const char *prefix, CmdDone done,
                gpointer data)
{
  guint tries = GPOINTER_TO_UINT (data);
  SetupAgain *s;

  if (!r || r->final != ESIMD_AT_FINAL_CME_ERROR || r->error_code != ESIMD_AT_CME_SIM_BUSY ||
      tries + 1 >= SIM_WAIT_TRIES)
    return FALSE;
  g_debug ("modem %s: %s: SIM busy; trying again", name_of (at), line);
  s = g_new0 (SetupAgain, 1);
  s->line = line;
  s->prefix = prefix;
  s->done = done;
  s->tries = tries + 1;
  s->connection = at->connection;
  later (at, 1, setup_again_run, setup_again_cancel, s);
  return TRUE;
}

static void
model_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  if (at->state != AT_OPENING || setup_sim_busy (at, r, "AT+CGMM", "+CGMM:", model_done, data))
    return;
  at->model = text_or_null (at, r, known_model);
  become_ready (at);
}

static void
manufacturer_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  if (at->state != AT_OPENING ||
      setup_sim_busy (at, r, "AT+CGMI", "+CGMI:", manufacturer_done, data))
    return;
  at->manufacturer = text_or_null (at, r, known_manufacturer);
  command (at, "AT+CGMM", "+CGMM:", TRUE, SHORT_TIMEOUT, model_done, NULL);
}

static void
cmee_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  if (at->state != AT_OPENING || setup_sim_busy (at, r, "AT+CMEE=1", NULL, cmee_done, data))
    return;
  /* Without numeric +CME ERROR the modem says ERROR: less to tell, nothing breaks. */
  command (at, "AT+CGMI", "+CGMI:", TRUE, SHORT_TIMEOUT, manufacturer_done, NULL);
}

static void
echo_off_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  guint tries = GPOINTER_TO_UINT (data);

  if (at->state != AT_OPENING)
    return;
  if (!r || r->final != ESIMD_AT_FINAL_OK)
    {
      /* A modem still booting prints RDY and ignores the first command: one more try. */
      if (r && tries < 3)
        {
          command (at, "ATE0", NULL, FALSE, SHORT_TIMEOUT, echo_off_done,
                   GUINT_TO_POINTER (tries + 1));
          return;
        }
      if (r)
        {
          g_autoptr (GError) reason = esimd_at_response_error (r, name_of (at), "ATE0");
          lost (at, reason);
        }
      return; /* a timeout is already on its way to lost() or a resync */
    }
  command (at, "AT+CMEE=1", NULL, FALSE, SHORT_TIMEOUT, cmee_done, NULL);
}

static void
connect_start (EsimdAt *at)
{
  const EsimdModemConfig *config = at->parent.config;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&at->manufacturer, g_free);
  g_clear_pointer (&at->model, g_free);
  at->state = AT_OPENING;
  at->connection++;
  at->fd = open (config->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (at->fd < 0)
    {
      int err = errno;

      error = err == ENOENT ? esimd_modem_node_missing (config) : NULL;
      if (!error)
        error = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: opening %s: %s",
                             name_of (at), config->device, g_strerror (err));
      lost (at, error);
      return;
    }
  if (!setup_tty (at, &error))
    {
      lost (at, error);
      return;
    }
  at->read_id = g_unix_fd_add (at->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, at);
  g_debug ("modem %s: %s open at %u baud", name_of (at), config->device, config->baud);
  command (at, "ATE0", NULL, FALSE, SHORT_TIMEOUT, echo_off_done, GUINT_TO_POINTER (1));
}

/* ---- APDUs ------------------------------------------------------------------------------- */

typedef void (*ApduDone) (EsimdAt *at, GBytes *response, const GError *error, gpointer data);

/* One command APDU to the card, with 61xx/6Cxx resolved. */
typedef struct
{
  GBytes *command;  /* as sent (CLA adapted) */
  GByteArray *data; /* collected response data (wiped: secret.h) */
  gsize data_cap;
  guint get_responses;
  guint empty_6100;
  gboolean le_retried;
  gboolean in_get_response; /* the last line sent was our GET RESPONSE, not @command */
  ApduDone done;
  gpointer user_data;
} Apdu;

static void apdu_send (EsimdAt *at, Apdu *a, GBytes *apdu);

static void
apdu_free (Apdu *a)
{
  g_bytes_unref (a->command);
  lpa_secret_byte_array_free (a->data);
  g_free (a);
}

static void
apdu_finish (EsimdAt *at, Apdu *a, GBytes *response, const GError *error)
{
  a->done (at, response, error, a->user_data);
  apdu_free (a);
}

/* The answer to an APDU line known too long: ISO 7816-4's "wrong length". */
static void
apdu_wrong_length (EsimdAt *at, gpointer data)
{
  static const guint8 wrong_length[] = { 0x67, 0x00 };
  g_autoptr (GBytes) sw = g_bytes_new_static (wrong_length, 2);

  apdu_finish (at, data, sw, NULL);
}

/* The CLA of @cla with the logical channel coded (ETSI TS 102 221 §10.1.1), for the modes where
 * the host codes it; or cleared, for AT+CGLA where the modem does (27.007 §8.43). */
static guint8
cla_for_channel (guint8 cla, guint channel)
{
  guint8 proprietary = cla & 0x80;

  if (channel == 0)
    return (guint8) (proprietary | ((cla & 0x40) ? 0 : (cla & 0x0C)));
  if (channel <= 3)
    return (guint8) (proprietary | ((cla & 0x40) ? 0 : (cla & 0x0C)) | channel);
  return (guint8) ((proprietary ? 0xC0 : 0x40) | (channel - 4));
}

/* GET RESPONSE goes in the interindustry class on the command's channel. */
static guint8
get_response_cla (Apdu *a)
{
  const guint8 *cmd = g_bytes_get_data (a->command, NULL);

  return (guint8) ((cmd[0] & 0x40) ? (cmd[0] & 0x4F) : (cmd[0] & 0x03));
}

static void
apdu_answered (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  Apdu *a = data;
  gsize line_len = r ? strlen (r->command) + 1 : 0;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) rapdu = NULL;
  const guint8 *bytes;
  gsize len;
  guint8 sw1, sw2;

  if (!r)
    {
      apdu_finish (at, a, NULL, error);
      return;
    }
  if (r->final != ESIMD_AT_FINAL_OK)
    {
      gboolean length_error = r->final == ESIMD_AT_FINAL_ERROR ||
                              (r->final == ESIMD_AT_FINAL_CME_ERROR &&
                               (r->error_code == ESIMD_AT_CME_TEXT_TOO_LONG ||
                                r->error_code == ESIMD_AT_CME_INCORRECT_PARAMETERS));

      /* A line longer than any the modem took, refused: that is a length the modem does not
       * take, which liblpa handles as "wrong length" by stepping the STORE DATA size down. */
      if (length_error && line_len > at->longest_ok && a->get_responses == 0)
        {
          static const guint8 wrong_length[] = { 0x67, 0x00 };
          g_autoptr (GBytes) sw = g_bytes_new_static (wrong_length, 2);

          g_info ("modem %s: a command line of %" G_GSIZE_FORMAT " characters refused "
                  "(longest accepted: %" G_GSIZE_FORMAT "): answering 6700",
                  name_of (at), line_len, at->longest_ok);
          apdu_finish (at, a, sw, NULL);
          return;
        }
      local =
          esimd_at_response_error (r, name_of (at), at->mode == MODE_CSIM ? "AT+CSIM" : "AT+CGLA");
      apdu_finish (at, a, NULL, local);
      return;
    }
  if (!(rapdu = esimd_at_response_apdu (r, &local)))
    {
      g_prefix_error (&local, "modem %s: %s: ", name_of (at),
                      at->mode == MODE_CSIM ? "AT+CSIM" : "AT+CGLA");
      apdu_finish (at, a, NULL, local);
      return;
    }
  at->longest_ok = MAX (at->longest_ok, line_len);
  bytes = g_bytes_get_data (rapdu, &len);
  at->parent.stats.bytes_received += len;
  sw1 = bytes[len - 2];
  sw2 = bytes[len - 1];

  if (sw1 == 0x61)
    {
      /* The modem handed over what T=0 leaves to the terminal: fetch it. */
      guint8 gr[5] = { 0, 0xC0, 0x00, 0x00, sw2 };
      g_autoptr (GBytes) get_response = NULL;

      lpa_secret_byte_array_reserve (&a->data, &a->data_cap, len - 2);
      g_byte_array_append (a->data, bytes, (guint) (len - 2));
      a->empty_6100 = (sw2 == 0 && len == 2) ? a->empty_6100 + 1 : 0;
      if (a->empty_6100 >= EMPTY_6100_MAX || ++a->get_responses > GET_RESPONSE_MAX ||
          a->data->len > RESPONSE_MAX)
        {
          local = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: the modem keeps answering 61%02X to GET RESPONSE",
                               name_of (at), sw2);
          apdu_finish (at, a, NULL, local);
          return;
        }
      gr[0] = get_response_cla (a);
      get_response = g_bytes_new (gr, sizeof gr);
      a->in_get_response = TRUE;
      a->le_retried = FALSE;
      apdu_send (at, a, get_response);
      return;
    }
  if (sw1 == 0x6C && !a->le_retried && a->in_get_response)
    {
      /* The GET RESPONSE's Le was wrong (ISO/IEC 7816-3 §10.3.3): ask again for what the card
       * says it has. Sending the command itself again would run it a second time. */
      guint8 gr[5] = { get_response_cla (a), 0xC0, 0x00, 0x00, sw2 };
      g_autoptr (GBytes) get_response = g_bytes_new (gr, sizeof gr);

      a->le_retried = TRUE;
      apdu_send (at, a, get_response);
      return;
    }
  if (sw1 == 0x6C && !a->le_retried)
    {
      /* Wrong Le: the same command again with the Le the card asks for. */
      gsize n;
      const guint8 *cmd = g_bytes_get_data (a->command, &n);
      GByteArray *again = lpa_secret_byte_array_new (n + 1);
      gboolean has_le = n == 5 || (n > 5 && n == 6 + (gsize) cmd[4]);

      g_byte_array_append (again, cmd, (guint) (has_le ? n - 1 : n));
      g_byte_array_append (again, &sw2, 1);
      a->le_retried = TRUE;
      g_bytes_unref (a->command);
      a->command = lpa_secret_byte_array_free_to_bytes (again);
      apdu_send (at, a, a->command);
      return;
    }
  lpa_secret_byte_array_reserve (&a->data, &a->data_cap, len);
  g_byte_array_append (a->data, bytes, (guint) len);
  {
    g_autoptr (GBytes) whole = lpa_secret_bytes_new (a->data->data, a->data->len);

    apdu_finish (at, a, whole, NULL);
  }
}

static void
apdu_send (EsimdAt *at, Apdu *a, GBytes *apdu)
{
  g_autoptr (LpaSecret) line = NULL;
  const char *session = NULL;
  gsize line_len;

  if (at->mode == MODE_CGLA)
    session = at->session;
  else if (at->mode == MODE_SESSION0)
    session = "0";
  line_len = esimd_at_apdu_line_length (session, g_bytes_get_size (apdu));
  if (at->max_line && line_len > at->max_line)
    {
      /* Known too long for this modem: not sent; liblpa steps the block size down. */
      g_debug ("modem %s: an APDU line of %" G_GSIZE_FORMAT " characters is over the limit of %u",
               name_of (at), line_len, at->max_line);
      later (at, 0, apdu_wrong_length, apdu_wrong_length, a);
      return;
    }
  line = esimd_at_format_apdu (session, apdu);
  at->parent.stats.apdus++;
  at->parent.stats.bytes_sent += g_bytes_get_size (apdu);
  /* Bare lines are kept: esimd_at_response_apdu() takes one only where the modem wrote the
   * answer without its prefix. */
  command (at, line, at->mode == MODE_CSIM ? "+CSIM:" : "+CGLA:", TRUE,
           at->parent.config->command_timeout, apdu_answered, a);
}

/* Sends @command (the CLA as liblpa coded it for @channel) and calls @done with the whole
 * R-APDU. */
static void
apdu_start (EsimdAt *at, GBytes *command, ApduDone done, gpointer user_data)
{
  Apdu *a = g_new0 (Apdu, 1);
  gsize n;
  const guint8 *bytes = g_bytes_get_data (command, &n);
  guint8 *copy = g_memdup2 (bytes, n);

  /* AT+CGLA: the modem codes its channel into the CLA (27.007 §8.43), so the host sends the
   * channel bits clear, unless the family passes the CLA through. */
  if (n && at->mode == MODE_CGLA && !(at->quirks & ESIMD_AT_QUIRK_CLA_CHANNEL))
    copy[0] = cla_for_channel (copy[0], 0);
  a->command = lpa_secret_bytes_new_take (copy, n);
  a->data_cap = 258;
  a->data = lpa_secret_byte_array_new (a->data_cap);
  a->done = done;
  a->user_data = user_data;
  apdu_send (at, a, a->command);
}

typedef struct
{
  LpaApduCallback callback;
  gpointer user_data;
} Transmit;

static void
transmit_done (EsimdAt *at, GBytes *response, const GError *error, gpointer data)
{
  Transmit *t = data;

  t->callback (response, error, t->user_data);
  g_free (t);
}

static gboolean
transmit_fail_later (gpointer data)
{
  Transmit *t = data;
  g_autoptr (GError) error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                                  "no logical channel is open to the eUICC");

  t->callback (NULL, error, t->user_data);
  g_free (t);
  return G_SOURCE_REMOVE;
}

static void
at_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdAt *at = (EsimdAt *) modem;
  Transmit *t = g_new0 (Transmit, 1);

  t->callback = callback;
  t->user_data = user_data;
  if (at->state != AT_READY || at->channel == 0 || g_bytes_get_size (command) < 4)
    {
      g_idle_add (transmit_fail_later, t); /* never answer inside the call */
      return;
    }
  apdu_start (at, command, transmit_done, t);
}

/* ---- logical channels ---------------------------------------------------------------------- */

static gboolean
task_ready (EsimdAt *at, GTask *task)
{
  if (at->state == AT_READY)
    return TRUE;
  g_task_return_error (task, not_ready_error (at));
  g_object_unref (task);
  return FALSE;
}

static void open_cgla (EsimdAt *at, GTask *task);
static void open_basic (EsimdAt *at, GTask *task);

typedef struct
{
  GBytes *aid;
  guint sim_waits;
  guint8 channel; /* basic modes: the channel MANAGE CHANNEL gave */
} OpenData;

static void
open_data_free (OpenData *o)
{
  g_bytes_unref (o->aid);
  g_free (o);
}

static void
open_again (EsimdAt *at, gpointer data)
{
  GTask *task = data;

  if (task_ready (at, task))
    open_cgla (at, task);
}

static void
open_cancelled (EsimdAt *at, gpointer data)
{
  GTask *task = data;

  g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_CANCELLED, "modem %s: esimd is stopping",
                           name_of (at));
  g_object_unref (task);
}

static void
lpa_restarted (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r || r->final != ESIMD_AT_FINAL_OK)
    {
      g_task_return_error (task, r ? esimd_at_response_error (r, name_of (at), "AT+CFUN=1")
                                   : g_error_copy (error));
      g_object_unref (task);
      return;
    }
  later (at, 1, open_again, open_cancelled, task);
}

static void
lpa_radio_off (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  command (at, "AT+CFUN=1", NULL, FALSE, MAX (at->parent.config->command_timeout, CFUN_TIMEOUT_MIN),
           lpa_restarted, task);
}

static void
lpa_disabled (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r || r->final != ESIMD_AT_FINAL_OK)
    {
      g_task_return_error (
          task, r ? esimd_at_response_error (r, name_of (at), "AT+QESIM=\"lpa_enable\",0")
                  : g_error_copy (error));
      g_object_unref (task);
      return;
    }
  g_info ("modem %s: the module's own LPA is off; restarting the radio for it to let go of "
          "the ISD-R",
          name_of (at));
  command (at, "AT+CFUN=0", NULL, FALSE, MAX (at->parent.config->command_timeout, CFUN_TIMEOUT_MIN),
           lpa_radio_off, task);
}

/* The SIM's state after AT+CCHO answered "SIM failure": READY, and the card has no such
 * application; anything else, and it is still coming up: AT+CCHO again a second later. */
static void
ccho_cpin_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;
  const char *info = r && r->final == ESIMD_AT_FINAL_OK ? esimd_at_response_info (r) : NULL;

  if (!r)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  if (info && g_ascii_strcasecmp (info, "READY") == 0)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: AT+CCHO: +CME ERROR: %d (%s) while the SIM is ready: "
                               "the card has no ISD-R (not an eUICC)",
                               name_of (at), ESIMD_AT_CME_SIM_FAILURE,
                               esimd_at_cme_name (ESIMD_AT_CME_SIM_FAILURE));
      g_object_unref (task);
      return;
    }
  g_debug ("modem %s: SIM not ready (+CME ERROR: 13); trying again", name_of (at));
  later (at, 1, open_again, open_cancelled, task);
}

static void
ccho_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;
  OpenData *o = g_object_get_data (G_OBJECT (task), "open");
  g_autoptr (GError) local = NULL;
  char *session;
  guint64 number = 0;

  if (!r)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  if (r->final == ESIMD_AT_FINAL_CME_ERROR && r->error_code == ESIMD_AT_CME_SIM_FAILURE &&
      o->sim_waits + 1 < SIM_WAIT_TRIES)
    {
      /* "SIM failure" is also how some firmware refuses AT+CCHO of an AID the card does not
       * have: a plain SIM, no ISD-R (commaai/openpilot pull request #37979 takes it so). Which
       * one it is, AT+CPIN? tells: a SIM that is up answers READY. */
      o->sim_waits++;
      command (at, "AT+CPIN?", "+CPIN:", FALSE, SHORT_TIMEOUT, ccho_cpin_done, task);
      return;
    }
  /* (SIM failure is asked about above, as long as tries are left.) */
  if (r->final == ESIMD_AT_FINAL_CME_ERROR &&
      (r->error_code == ESIMD_AT_CME_SIM_BUSY || r->error_code == ESIMD_AT_CME_SIM_NOT_INSERTED) &&
      ++o->sim_waits < SIM_WAIT_TRIES)
    {
      /* Right after a CFUN cycle or a profile switch the SIM is not up yet. */
      g_debug ("modem %s: SIM not ready (+CME ERROR: %d); trying again", name_of (at),
               r->error_code);
      later (at, 1, open_again, open_cancelled, task);
      return;
    }
  if (r->final == ESIMD_AT_FINAL_CME_ERROR && r->error_code == ESIMD_AT_CME_OPERATION_NOT_ALLOWED &&
      (at->quirks & ESIMD_AT_QUIRK_QUECTEL_LPA) && !at->lpa_switched_off)
    {
      at->lpa_switched_off = TRUE;
      g_info ("modem %s: AT+CCHO of the ISD-R refused: switching the module's own LPA off",
              name_of (at));
      command (at, "AT+QESIM=\"lpa_enable\",0", NULL, FALSE, SHORT_TIMEOUT, lpa_disabled, task);
      return;
    }
  if (r->final == ESIMD_AT_FINAL_ERROR || (r->final == ESIMD_AT_FINAL_CME_ERROR &&
                                           (r->error_code == ESIMD_AT_CME_OPERATION_NOT_SUPPORTED ||
                                            r->error_code == ESIMD_AT_CME_OPERATION_NOT_ALLOWED)))
    {
      /* No 27.007 logical channels on this firmware: AT+CSIM with MANAGE CHANNEL. */
      g_info ("modem %s: AT+CCHO refused; using AT+CSIM for this modem", name_of (at));
      at->mode = MODE_CSIM;
      open_basic (at, task);
      return;
    }
  if (r->final != ESIMD_AT_FINAL_OK)
    {
      g_task_return_error (task, esimd_at_response_error (r, name_of (at), "AT+CCHO"));
      g_object_unref (task);
      return;
    }
  session = esimd_at_response_session (r, &local);
  if (!session)
    {
      g_prefix_error (&local, "modem %s: AT+CCHO: ", name_of (at));
      g_task_return_error (task, g_steal_pointer (&local));
      g_object_unref (task);
      return;
    }
  g_free (at->session);
  at->session = session;
  /* The channel liblpa codes into the CLA: the session id where it is a channel number (the
   * modems that want it in the CLA number sessions that way), else 1, cleared again on the way
   * out unless the family passes the CLA through. */
  if (g_ascii_string_to_unsigned (session, 10, 1, 19, &number, NULL))
    at->channel = (guint8) number;
  else
    at->channel = 1;
  if ((at->quirks & ESIMD_AT_QUIRK_CLA_CHANNEL) && number == 0)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: session id \"%s\" is no channel number to code in the "
                               "CLA (remove the cla-channel quirk)",
                               name_of (at), session);
      g_object_unref (task);
      return;
    }
  g_debug ("modem %s: session %s open to the ISD-R", name_of (at), session);
  g_task_return_int (task, at->channel);
  g_object_unref (task);
}

static void
open_cgla (EsimdAt *at, GTask *task)
{
  OpenData *o = g_object_get_data (G_OBJECT (task), "open");
  g_autofree char *line = NULL;
  gsize len;
  const guint8 *aid = g_bytes_get_data (o->aid, &len);
  GString *hex = g_string_new ("AT+CCHO=\"");

  if (at->mode != MODE_CGLA)
    {
      g_string_free (hex, TRUE);
      open_basic (at, task);
      return;
    }
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", aid[i]);
  g_string_append_c (hex, '"');
  line = g_string_free (hex, FALSE);
  command (at, line, "+CCHO:", TRUE, at->parent.config->command_timeout, ccho_done, task);
}

static void
ignore_apdu (EsimdAt *at, GBytes *response, const GError *error, gpointer data)
{
}

static void
basic_selected (EsimdAt *at, GBytes *response, const GError *error, gpointer data)
{
  GTask *task = data;
  OpenData *o = g_object_get_data (G_OBJECT (task), "open");
  gsize len;
  const guint8 *r;

  if (!response)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  r = g_bytes_get_data (response, &len);
  if (!lpa_status_word_is_normal ((guint16) (r[len - 2] << 8 | r[len - 1])))
    {
      guint8 close[5] = { 0x00, 0x70, 0x80, o->channel, 0x00 };
      g_autoptr (GBytes) c = g_bytes_new (close, sizeof close);

      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: SELECT of the ISD-R answered %02X%02X", name_of (at),
                               r[len - 2], r[len - 1]);
      g_object_unref (task);
      /* Give the channel back; nobody waits for the answer. */
      at->channel = o->channel;
      apdu_start (at, c, ignore_apdu, NULL);
      return;
    }
  at->channel = o->channel;
  g_debug ("modem %s: channel %u open to the ISD-R (%s)", name_of (at), at->channel,
           at->mode == MODE_CSIM ? "AT+CSIM" : "AT+CGLA on session 0");
  g_task_return_int (task, at->channel);
  g_object_unref (task);
}

static void
basic_opened (EsimdAt *at, GBytes *response, const GError *error, gpointer data)
{
  GTask *task = data;
  OpenData *o = g_object_get_data (G_OBJECT (task), "open");
  gsize len, aid_len;
  const guint8 *r;
  const guint8 *aid = g_bytes_get_data (o->aid, &aid_len);
  g_autoptr (GByteArray) select = NULL;
  g_autoptr (GBytes) select_bytes = NULL;
  guint8 header[5];

  if (!response)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  r = g_bytes_get_data (response, &len);
  if (len != 3 || !lpa_status_word_is_normal ((guint16) (r[1] << 8 | r[2])) || r[0] < 1 ||
      r[0] > 19)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: MANAGE CHANNEL answered %02X%02X", name_of (at),
                               r[len - 2], r[len - 1]);
      g_object_unref (task);
      return;
    }
  o->channel = r[0];
  header[0] = cla_for_channel (0x00, o->channel);
  header[1] = 0xA4;
  header[2] = 0x04;
  header[3] = 0x00;
  header[4] = (guint8) aid_len;
  select = g_byte_array_new ();
  g_byte_array_append (select, header, sizeof header);
  g_byte_array_append (select, aid, (guint) aid_len);
  g_byte_array_append (select, (const guint8 *) "", 1); /* Le 00 */
  select_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&select));
  apdu_start (at, select_bytes, basic_selected, task);
}

static void
open_basic (EsimdAt *at, GTask *task)
{
  static const guint8 manage_open[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
  g_autoptr (GBytes) open = g_bytes_new_static (manage_open, sizeof manage_open);

  apdu_start (at, open, basic_opened, task);
}

static void
at_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  EsimdAt *at = (EsimdAt *) modem;
  OpenData *o;

  if (!task_ready (at, task))
    return;
  o = g_new0 (OpenData, 1);
  o->aid = g_bytes_ref (aid);
  g_object_set_data_full (G_OBJECT (task), "open", o, (GDestroyNotify) open_data_free);
  open_cgla (at, task);
}

static void
cchc_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r)
    g_task_return_error (task, g_error_copy (error));
  else if (r->final != ESIMD_AT_FINAL_OK)
    g_task_return_error (task, esimd_at_response_error (r, name_of (at), "AT+CCHC"));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
manage_closed (EsimdAt *at, GBytes *response, const GError *error, gpointer data)
{
  GTask *task = data;
  gsize len = 0;
  const guint8 *r = response ? g_bytes_get_data (response, &len) : NULL;

  if (!response)
    g_task_return_error (task, g_error_copy (error));
  else if (!lpa_status_word_is_normal ((guint16) (r[len - 2] << 8 | r[len - 1])))
    g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                             "modem %s: MANAGE CHANNEL close answered %02X%02X", name_of (at),
                             r[len - 2], r[len - 1]);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
at_close_channel (EsimdModem *modem, GTask *task)
{
  EsimdAt *at = (EsimdAt *) modem;
  guint8 channel = at->channel;
  g_autofree char *session = g_steal_pointer (&at->session);

  at->channel = 0;
  if (channel == 0 || at->state != AT_READY)
    {
      g_task_return_boolean (task, TRUE); /* nothing left to close */
      g_object_unref (task);
      return;
    }
  if (at->mode == MODE_CGLA)
    {
      g_autofree char *line = g_strdup_printf ("AT+CCHC=%s", session);

      command (at, line, NULL, FALSE, at->parent.config->command_timeout, cchc_done, task);
    }
  else
    {
      guint8 close[5] = { 0x00, 0x70, 0x80, channel, 0x00 };
      g_autoptr (GBytes) c = g_bytes_new (close, sizeof close);

      apdu_start (at, c, manage_closed, task);
    }
}

static void
at_forget_channel (EsimdModem *modem)
{
  EsimdAt *at = (EsimdAt *) modem;

  at->channel = 0;
  g_clear_pointer (&at->session, g_free);
}

/* ---- CFUN, IMEI ------------------------------------------------------------------------------ */

static void
cfun_on_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r)
    g_task_return_error (task, g_error_copy (error));
  else if (r->final != ESIMD_AT_FINAL_OK)
    g_task_return_error (task, esimd_at_response_error (r, name_of (at), "AT+CFUN=1"));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
cfun_off_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;

  if (!r || r->final != ESIMD_AT_FINAL_OK)
    {
      g_task_return_error (task, r ? esimd_at_response_error (r, name_of (at), "AT+CFUN=0")
                                   : g_error_copy (error));
      g_object_unref (task);
      return;
    }
  command (at, "AT+CFUN=1", NULL, FALSE, MAX (at->parent.config->command_timeout, CFUN_TIMEOUT_MIN),
           cfun_on_done, task);
}

/* The refresh the existing API's FAQ tells users to do by hand after an install: radio and SIM
 * off, then on, so the modem reads the card again. Every channel is gone afterwards. */
static void
at_reset_card (EsimdModem *modem, GTask *task)
{
  EsimdAt *at = (EsimdAt *) modem;

  if (!task_ready (at, task))
    return;
  at_forget_channel (modem);
  command (at, "AT+CFUN=0", NULL, FALSE, MAX (at->parent.config->command_timeout, CFUN_TIMEOUT_MIN),
           cfun_off_done, task);
}

static void
cgsn_done (EsimdAt *at, EsimdAtResponse *r, const GError *error, gpointer data)
{
  GTask *task = data;
  g_autoptr (GError) local = NULL;
  char *imei;

  if (!r)
    g_task_return_error (task, g_error_copy (error));
  else if (r->final != ESIMD_AT_FINAL_OK)
    g_task_return_error (task, esimd_at_response_error (r, name_of (at), "AT+CGSN"));
  else if (!(imei = esimd_at_response_imei (r, &local)))
    {
      g_prefix_error (&local, "modem %s: AT+CGSN: ", name_of (at));
      g_task_return_error (task, g_steal_pointer (&local));
    }
  else
    g_task_return_pointer (task, imei, g_free);
  g_object_unref (task);
}

static void
at_read_imei (EsimdModem *modem, GTask *task)
{
  EsimdAt *at = (EsimdAt *) modem;

  if (!task_ready (at, task))
    return;
  command (at, "AT+CGSN", "+CGSN:", TRUE, at->parent.config->command_timeout, cgsn_done, task);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void
at_start (EsimdModem *modem)
{
  EsimdAt *at = (EsimdAt *) modem;

  if (at->state == AT_IDLE)
    connect_start (at);
}

static gboolean
stop_return (gpointer data)
{
  g_task_return_boolean (G_TASK (data), TRUE);
  return G_SOURCE_REMOVE;
}

static void
stop_channel_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdAt *at = data;
  g_autoptr (GError) error = NULL;
  GTask *task = g_steal_pointer (&at->stop_task);

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_debug ("modem %s: closing the channel: %s", name_of (at), error->message);
  at->state = AT_STOPPED;
  close_tty (at);
  {
    g_autoptr (GError) reason =
        g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "modem %s: esimd is stopping", name_of (at));
    fail_all (at, reason);
  }
  /* We are deep in on_readable (the channel's close was a line read): the caller may free the
   * modem as soon as it hears, so it hears once that stack has unwound. */
  g_idle_add_full (G_PRIORITY_DEFAULT, stop_return, task, g_object_unref);
}

static void
at_stop (EsimdModem *modem, GTask *task)
{
  EsimdAt *at = (EsimdAt *) modem;
  gboolean ready = at->state == AT_READY;

  g_clear_handle_id (&at->retry_id, g_source_remove);
  g_clear_object (&at->monitor);
  if (!ready || at->channel == 0)
    {
      g_autoptr (GError) reason =
          g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "modem %s: esimd is stopping", name_of (at));

      at->state = AT_STOPPED;
      close_tty (at);
      fail_all (at, reason);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  /* Close our channel so the modem keeps no state of ours, then let go of the tty. */
  at->stop_task = task;
  {
    GTask *close = g_task_new (NULL, NULL, stop_channel_closed, at);

    at_close_channel (modem, close);
  }
}

static void
at_free (EsimdModem *modem)
{
  EsimdAt *at = (EsimdAt *) modem;
  g_autoptr (GError) reason = NULL;

  at->state = AT_STOPPED;
  g_clear_handle_id (&at->retry_id, g_source_remove);
  g_clear_object (&at->monitor);
  close_tty (at);
  reason =
      g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "modem %s: esimd is stopping", name_of (at));
  fail_all (at, reason);
  cancel_laters (at);
  lpa_secret_byte_array_free (at->out);
  esimd_at_reader_free (at->reader);
  g_free (at->manufacturer);
  g_free (at->model);
  g_free (at);
}

static const EsimdModemOps at_ops = {
  .name = "at",
  .start = at_start,
  .stop = at_stop,
  .free = at_free,
  .open_channel = at_open_channel,
  .close_channel = at_close_channel,
  .forget_channel = at_forget_channel,
  .transmit = at_transmit,
  .reset_card = at_reset_card,
  .reset_name = "cfun",
  .read_imei = at_read_imei,
};

EsimdModem *
esimd_modem_at_new (const EsimdModemConfig *config)
{
  EsimdAt *at = g_new0 (EsimdAt, 1);

  at->parent.ops = &at_ops;
  at->fd = -1;
  at->out_cap = 1024;
  at->out = lpa_secret_byte_array_new (at->out_cap);
  at->reader = esimd_at_reader_new ();
  g_queue_init (&at->queue);
  return &at->parent;
}
