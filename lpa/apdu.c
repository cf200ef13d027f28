/* apdu.c — ES10 over APDUs: STORE DATA chunking, GET RESPONSE, status words, channel coding. */
#include "apdu.h"

#include <string.h>

#include "lpa-error.h"
#include "secret.h"

#define INS_STORE_DATA   0xE2
#define INS_GET_RESPONSE 0xC0
#define P1_MORE_BLOCKS   0x11
#define P1_LAST_BLOCK    0x91
#define MAX_BLOCKS       256
/* Bounds a card that keeps answering 61xx: 4096 GET RESPONSEs or 1 MiB, far above any real ES10
 * response (a full GetProfilesInfo with icons is tens of KiB). */
#define MAX_GET_RESPONSES 4096
#define MAX_RESPONSE_SIZE (1024 * 1024)

typedef enum
{
  PHASE_STORE_DATA,
  PHASE_GET_RESPONSE,
} Phase;

typedef struct
{
  GBytes *request;
  LpaEs10Callback callback;
  gpointer user_data;

  Phase phase;
  gsize offset;    /* start of the block in flight */
  gsize block_len; /* its length */
  guint block;     /* its P2 */
  gint retry_le;   /* -1, or the Le a 6Cxx asked for */
  guint get_responses;
  /* What the eUICC answered: may hold a secret (AuthenticateServer's answer carries ctxParams1 and
   * its matching ID), like the request: both are wiped (secret.h). */
  GByteArray *response;
  gsize response_cap;
} Call;

struct _LpaEs10
{
  gint ref_count;
  const LpaApduOps *ops;
  gpointer ops_self;
  guint channel;
  guint segment_size;
  guint min_segment_size;
  LpaEs10SegmentSizeCallback size_callback;
  gpointer size_user_data;
  /* A step-down is on trial until a block at the smaller size is accepted: only then is it
   * reported (and remembered by the daemon). If the command fails anyway, the failure was not
   * about size (a modem that vanished, a genuinely malformed command) and the size before the
   * trial comes back. */
  guint size_before_trial; /* 0 = no trial running */
  guint proven_size;       /* a STORE DATA block of this size was accepted on this channel */

  Call *active;
  GQueue pending;

  guint64 apdus_sent;
  guint64 bytes_sent;
  guint64 bytes_received;
};

static void start_call (LpaEs10 *self);
static void send_block (LpaEs10 *self);

static void
call_free (Call *call)
{
  g_bytes_unref (call->request);
  lpa_secret_byte_array_free (call->response);
  g_free (call);
}

LpaEs10 *
lpa_es10_new (const LpaApduOps *ops, gpointer ops_self, guint channel)
{
  LpaEs10 *self;

  g_return_val_if_fail (ops != NULL && ops->transmit != NULL, NULL);
  g_return_val_if_fail (channel <= 19, NULL);
  self = g_new0 (LpaEs10, 1);
  self->ref_count = 1;
  self->ops = ops;
  self->ops_self = ops_self;
  self->channel = channel;
  self->segment_size = LPA_SEGMENT_SIZE_DEFAULT;
  self->min_segment_size = LPA_SEGMENT_SIZE_FLOOR;
  g_queue_init (&self->pending);
  return self;
}

LpaEs10 *
lpa_es10_ref (LpaEs10 *self)
{
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
lpa_es10_unref (LpaEs10 *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;
  /* In-flight transmits hold a reference, so nothing is active here; queued calls die with the
   * channel (their owner dropped the last reference, so nobody waits for them). */
  g_queue_clear_full (&self->pending, (GDestroyNotify) call_free);
  g_free (self);
}

void
lpa_es10_set_segment_size (LpaEs10 *self, guint segment_size)
{
  g_return_if_fail (segment_size >= 1 && segment_size <= 255);
  self->segment_size = segment_size;
}

guint
lpa_es10_get_segment_size (LpaEs10 *self)
{
  return self->segment_size;
}

void
lpa_es10_set_min_segment_size (LpaEs10 *self, guint min_segment_size)
{
  g_return_if_fail (min_segment_size >= 1 && min_segment_size <= 255);
  self->min_segment_size = min_segment_size;
}

void
lpa_es10_set_segment_size_callback (LpaEs10 *self, LpaEs10SegmentSizeCallback callback,
                                    gpointer user_data)
{
  self->size_callback = callback;
  self->size_user_data = user_data;
}

gsize
lpa_es10_max_request_size (LpaEs10 *self)
{
  return (gsize) self->segment_size * MAX_BLOCKS;
}

guint64
lpa_es10_get_apdus_sent (LpaEs10 *self)
{
  return self->apdus_sent;
}

guint64
lpa_es10_get_bytes_sent (LpaEs10 *self)
{
  return self->bytes_sent;
}

guint64
lpa_es10_get_bytes_received (LpaEs10 *self)
{
  return self->bytes_received;
}

guint8
lpa_apdu_cla (guint channel, gboolean proprietary)
{
  if (channel <= 3)
    return (guint8) ((proprietary ? 0x80 : 0x00) | channel);
  return (guint8) ((proprietary ? 0xC0 : 0x40) | ((channel - 4) & 0x0F));
}

static const struct
{
  guint16 sw;
  guint16 mask;
  const char *name;
} status_words[] = {
  { 0x9000, 0xFFFF, "success" },
  { 0x9100, 0xFF00, "success, a proactive command pending" },
  { 0x9200, 0xFF00, "success, data transfer information" },
  { 0x6100, 0xFF00, "response bytes available" },
  { 0x6200, 0xFF00, "warning, memory unchanged" },
  { 0x6300, 0xFF00, "warning, memory changed" },
  { 0x6400, 0xFF00, "execution error, memory unchanged" },
  { 0x6581, 0xFFFF, "memory failure" },
  { 0x6500, 0xFF00, "execution error, memory changed" },
  { 0x6600, 0xFF00, "security-related issue" },
  { 0x6700, 0xFFFF, "wrong length" },
  { 0x6881, 0xFFFF, "logical channel not supported" },
  { 0x6882, 0xFFFF, "secure messaging not supported" },
  { 0x6883, 0xFFFF, "last command of the chain expected" },
  { 0x6884, 0xFFFF, "command chaining not supported" },
  { 0x6800, 0xFF00, "function in CLA not supported" },
  { 0x6982, 0xFFFF, "security status not satisfied" },
  { 0x6985, 0xFFFF, "conditions of use not satisfied" },
  { 0x6986, 0xFFFF, "command not allowed" },
  { 0x6900, 0xFF00, "command not allowed" },
  { 0x6A80, 0xFFFF, "incorrect data" },
  { 0x6A81, 0xFFFF, "function not supported" },
  { 0x6A82, 0xFFFF, "application not found" },
  { 0x6A84, 0xFFFF, "not enough memory" },
  { 0x6A86, 0xFFFF, "incorrect P1-P2" },
  { 0x6A88, 0xFFFF, "referenced data not found" },
  { 0x6A00, 0xFF00, "wrong parameters" },
  { 0x6B00, 0xFFFF, "wrong parameters P1-P2" },
  { 0x6C00, 0xFF00, "wrong Le" },
  { 0x6D00, 0xFFFF, "instruction not supported" },
  { 0x6E00, 0xFFFF, "class not supported" },
  /* ISO 7816-4: 6Fxx is "no precise diagnosis" whatever xx (cards put their own code there). */
  { 0x6F00, 0xFF00, "technical problem" },
};

const char *
lpa_status_word_name (guint16 sw)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_words); i++)
    if ((sw & status_words[i].mask) == status_words[i].sw)
      return status_words[i].name;
  return "unknown status";
}

gboolean
lpa_status_word_is_normal (guint16 sw)
{
  return sw == 0x9000 || (sw & 0xFF00) == 0x9100 || (sw & 0xFF00) == 0x9200;
}

guint16
lpa_status_word_from_error (const GError *error)
{
  guint16 sw = 0;

  if (error == NULL || !g_error_matches (error, LPA_ERROR, LPA_ERROR_STATUS_WORD))
    return 0;
  for (guint i = 0; i < 4; i++)
    {
      gint d = g_ascii_xdigit_value (error->message[i]);
      if (d < 0)
        return 0;
      sw = (guint16) (sw << 4 | d);
    }
  return sw;
}

/* Ends the active call and starts the next queued one. */
static void
finish (LpaEs10 *self, GBytes *response, const GError *error)
{
  Call *call = self->active;

  if (error && self->size_before_trial)
    self->segment_size = self->size_before_trial;
  self->size_before_trial = 0;
  self->active = NULL;
  call->callback (response, error, call->user_data);
  call_free (call);
  if (self->active == NULL && !g_queue_is_empty (&self->pending))
    start_call (self);
}

static void
fail_status (LpaEs10 *self, guint16 sw)
{
  g_autoptr (GError) error =
      g_error_new (LPA_ERROR, LPA_ERROR_STATUS_WORD, "%04X %s", sw, lpa_status_word_name (sw));
  finish (self, NULL, error);
}

static void
fail_literal (LpaEs10 *self, LpaError code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (LPA_ERROR, code, message);
  finish (self, NULL, error);
}

/* The next size below @current, or 0 if there is none. */
static guint
next_step (LpaEs10 *self, guint current)
{
  static const guint steps[] = { 120, LPA_SEGMENT_SIZE_FLOOR };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (steps[i] < current && steps[i] >= self->min_segment_size)
      return steps[i];
  if (self->min_segment_size < current && self->min_segment_size < LPA_SEGMENT_SIZE_FLOOR)
    return self->min_segment_size;
  return 0;
}

/* Steps the segment size down and restarts the active command, if a smaller size would have cut
 * the failed block. A transport failure is only taken for a size problem while this channel has
 * not yet carried a block of that size. */
static gboolean
try_step_down (LpaEs10 *self, gboolean transport_failure)
{
  Call *call = self->active;
  guint next = next_step (self, self->segment_size);

  if (next == 0 || call->block_len <= next)
    return FALSE;
  if (transport_failure && self->proven_size >= call->block_len)
    return FALSE;
  if (!self->size_before_trial)
    self->size_before_trial = self->segment_size;
  self->segment_size = next;
  call->offset = 0;
  call->block = 0;
  call->retry_le = -1;
  lpa_secret_wipe (call->response->data, call->response->len);
  g_byte_array_set_size (call->response, 0);
  send_block (self);
  return TRUE;
}

static void on_response (GBytes *response, const GError *error, gpointer user_data);

static void
transmit (LpaEs10 *self, GBytes *apdu)
{
  self->apdus_sent++;
  self->bytes_sent += g_bytes_get_size (apdu);
  self->ops->transmit (self->ops_self, apdu, on_response, lpa_es10_ref (self));
}

static void
send_block (LpaEs10 *self)
{
  Call *call = self->active;
  gsize total;
  const guint8 *data = g_bytes_get_data (call->request, &total);
  gsize len = MIN ((gsize) self->segment_size, total - call->offset);
  gboolean last = call->offset + len == total;
  guint8 apdu[5 + 255 + 1];
  gsize n = 0;

  if (call->block >= MAX_BLOCKS)
    {
      /* Only reachable when the size stepped down under a request queued at a larger size. */
      fail_literal (self, LPA_ERROR_INVALID_ARGUMENT,
                    "ES10 request too long for the current STORE DATA segment size");
      return;
    }
  call->phase = PHASE_STORE_DATA;
  call->block_len = len;
  apdu[n++] = lpa_apdu_cla (self->channel, TRUE);
  apdu[n++] = INS_STORE_DATA;
  apdu[n++] = last ? P1_LAST_BLOCK : P1_MORE_BLOCKS;
  apdu[n++] = (guint8) call->block;
  apdu[n++] = (guint8) len;
  memcpy (apdu + n, data + call->offset, len);
  n += len;
  if (call->retry_le >= 0)
    apdu[n++] = (guint8) call->retry_le;
  {
    /* The block may be part of a secret (a matching ID): the transport gets a copy that is wiped
     * when it lets go of it. */
    g_autoptr (GBytes) bytes = lpa_secret_bytes_new (apdu, n);

    lpa_secret_wipe (apdu, n);
    transmit (self, bytes);
  }
}

static void
send_get_response (LpaEs10 *self, guint8 le)
{
  Call *call = self->active;
  guint8 apdu[5] = { lpa_apdu_cla (self->channel, FALSE), INS_GET_RESPONSE, 0x00, 0x00, le };
  g_autoptr (GBytes) bytes = NULL;

  if (++call->get_responses > MAX_GET_RESPONSES)
    {
      fail_literal (self, LPA_ERROR_MALFORMED, "the eUICC keeps announcing more response data");
      return;
    }
  call->phase = PHASE_GET_RESPONSE;
  bytes = g_bytes_new (apdu, sizeof apdu);
  transmit (self, bytes);
}

static void
start_call (LpaEs10 *self)
{
  self->active = g_queue_pop_head (&self->pending);
  send_block (self);
}

static void
complete (LpaEs10 *self)
{
  Call *call = self->active;
  g_autoptr (GBytes) response = lpa_secret_bytes_new (call->response->data, call->response->len);

  finish (self, response, NULL);
}

/* A STORE DATA block was accepted: its size works here; a size on trial becomes the size. */
static void
block_accepted (LpaEs10 *self, gsize block_len)
{
  self->proven_size = MAX (self->proven_size, (guint) block_len);
  if (self->size_before_trial && block_len > 0)
    {
      self->size_before_trial = 0;
      if (self->size_callback)
        self->size_callback (self->segment_size, self->size_user_data);
    }
}

/* Handles the status word of a response whose data has been collected. */
static void
handle_status (LpaEs10 *self, guint16 sw, gsize data_len)
{
  Call *call = self->active;
  gboolean store_data = call->phase == PHASE_STORE_DATA;
  gboolean last = !store_data || call->offset + call->block_len == g_bytes_get_size (call->request);

  if (store_data && (lpa_status_word_is_normal (sw) || (sw & 0xFF00) == 0x6100))
    block_accepted (self, call->block_len);

  if (store_data && !last)
    {
      /* An intermediate block only acknowledges. */
      if (lpa_status_word_is_normal (sw) && data_len == 0)
        {
          call->offset += call->block_len;
          call->block++;
          send_block (self);
        }
      else if (lpa_status_word_is_normal (sw))
        fail_literal (self, LPA_ERROR_UNEXPECTED, "eUICC answered an intermediate block with data");
      else if (!((sw == 0x6700 || sw == 0x6A80) && try_step_down (self, FALSE)))
        fail_status (self, sw);
      return;
    }

  if (lpa_status_word_is_normal (sw))
    complete (self);
  else if ((sw & 0xFF00) == 0x6100)
    send_get_response (self, (guint8) (sw & 0xFF));
  else if ((sw & 0xFF00) == 0x6C00 && store_data && call->retry_le < 0)
    {
      /* Wrong Le on the last block: ISO 7816-4 says repeat the command with the given Le. */
      call->retry_le = sw & 0xFF;
      send_block (self);
    }
  else if ((sw & 0xFF00) == 0x6C00 && !store_data)
    send_get_response (self, (guint8) (sw & 0xFF));
  else if (!(store_data && (sw == 0x6700 || sw == 0x6A80) && try_step_down (self, FALSE)))
    fail_status (self, sw);
}

static void
on_response (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaEs10) self = user_data;
  Call *call = self->active;
  gsize len;
  const guint8 *data;
  guint16 sw;

  g_return_if_fail (call != NULL);
  if (error)
    {
      if (call->phase == PHASE_STORE_DATA && try_step_down (self, TRUE))
        return;
      finish (self, NULL, error);
      return;
    }
  data = g_bytes_get_data (response, &len);
  self->bytes_received += len;
  if (len < 2)
    {
      fail_literal (self, LPA_ERROR_MALFORMED, "response APDU shorter than a status word");
      return;
    }
  sw = (guint16) (data[len - 2] << 8 | data[len - 1]);
  if (call->response->len + (len - 2) > MAX_RESPONSE_SIZE)
    {
      fail_literal (self, LPA_ERROR_MALFORMED, "ES10 response larger than 1 MiB");
      return;
    }
  /* Data that comes with an error status is discarded with the command. */
  if (lpa_status_word_is_normal (sw) || (sw & 0xFF00) == 0x6100)
    {
      lpa_secret_byte_array_reserve (&call->response, &call->response_cap, len - 2);
      g_byte_array_append (call->response, data, (guint) (len - 2));
    }
  handle_status (self, sw, len - 2);
}

gboolean
lpa_es10_call (LpaEs10 *self, GBytes *request, LpaEs10Callback callback, gpointer user_data,
               GError **error)
{
  Call *call;
  gsize len;

  g_return_val_if_fail (self != NULL && request != NULL && callback != NULL, FALSE);
  len = g_bytes_get_size (request);
  if (len == 0 || len > lpa_es10_max_request_size (self))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "ES10 request of %" G_GSIZE_FORMAT " bytes cannot be sent in STORE DATA blocks "
                   "of %u bytes",
                   len, self->segment_size);
      return FALSE;
    }
  call = g_new0 (Call, 1);
  call->request = g_bytes_ref (request);
  call->callback = callback;
  call->user_data = user_data;
  call->retry_le = -1;
  call->response_cap = 256;
  call->response = lpa_secret_byte_array_new (call->response_cap);
  g_queue_push_tail (&self->pending, call);
  if (self->active == NULL)
    start_call (self);
  return TRUE;
}
