/* fuzz-apdu.c — libFuzzer harness of liblpa's ES10 APDU layer against a card answering fuzz bytes
 * (status words, 61xx/6Cxx chains, data on intermediate blocks, transport failures). */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

#define INPUT_CAP (64 * 1024)
/* Far more exchanges than any input can pay for: reaching it means the layer loops on its own. */
#define MAX_EXCHANGES 100000
#define N_CALLS       2

typedef struct
{
  LpaApduCallback callback;
  gpointer user_data;
} Pending;

typedef struct
{
  const guint8 *data;
  gsize len, pos;
  guint channel;
  GQueue pending;
  /* The STORE DATA blocks of the command in flight, by block number (P2). */
  GPtrArray *blocks;
  guint last_reported_size;
} Card;

typedef struct
{
  Card *card;
  GBytes *request;
  guint calls;
} Call;

/* Every command is well formed for the channel, and the blocks of one command come in order,
 * restarting from 0 after a step-down and repeating one only for a 6Cxx retry. */
static void
card_transmit (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  Card *card = self;
  gsize len;
  const guint8 *apdu = g_bytes_get_data (command, &len);
  Pending *p = g_new0 (Pending, 1);

  FUZZ_CHECK (len >= 5);
  if (apdu[1] == 0xE2)
    {
      guint lc = apdu[4], block = apdu[3];
      g_autoptr (GBytes) payload = NULL;

      FUZZ_CHECK (apdu[0] == lpa_apdu_cla (card->channel, TRUE));
      FUZZ_CHECK (apdu[2] == 0x11 || apdu[2] == 0x91);
      FUZZ_CHECK (lc >= 1 && (len == 5 + lc || len == 6 + lc));
      payload = g_bytes_new (apdu + 5, lc);
      if (block == 0)
        g_ptr_array_set_size (card->blocks, 0);
      FUZZ_CHECK (block <= card->blocks->len);
      if (block == card->blocks->len)
        g_ptr_array_add (card->blocks, g_steal_pointer (&payload));
      else
        FUZZ_CHECK (g_bytes_equal (payload, g_ptr_array_index (card->blocks, block)));
    }
  else
    {
      FUZZ_CHECK (apdu[1] == 0xC0 && len == 5);
      FUZZ_CHECK (apdu[0] == lpa_apdu_cla (card->channel, FALSE));
    }
  p->callback = callback;
  p->user_data = user_data;
  g_queue_push_tail (&card->pending, p);
}

static const LpaApduOps card_ops = { card_transmit };

/* The next answer from the input: a big-endian 16-bit length and that many bytes (data + SW), or
 * the length FFFF for a transport failure; an exhausted input fails every further exchange. */
static void
card_answer (Card *card, Pending *p)
{
  gboolean have = card->pos + 2 <= card->len;
  gsize n = 0;

  if (have)
    {
      n = (gsize) card->data[card->pos] << 8 | card->data[card->pos + 1];
      card->pos += 2;
    }
  if (!have || n == 0xFFFF || n > card->len - card->pos)
    {
      g_autoptr (GError) error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "gone");
      card->pos = card->len;
      p->callback (NULL, error, p->user_data);
    }
  else
    {
      g_autoptr (GBytes) response = g_bytes_new (card->data + card->pos, n);
      card->pos += n;
      p->callback (response, NULL, p->user_data);
    }
}

static void
on_size (guint size, gpointer user_data)
{
  Card *card = user_data;

  /* The step-down only goes down. */
  FUZZ_CHECK (size >= 1 && size < card->last_reported_size);
  card->last_reported_size = size;
}

static void
on_done (GBytes *response, const GError *error, gpointer user_data)
{
  Call *call = user_data;
  Card *card = call->card;

  call->calls++;
  FUZZ_CHECK ((response == NULL) != (error == NULL));
  if (error)
    fuzz_check_error (error);
  else
    {
      /* What the card received, block by block, is exactly the request. */
      g_autoptr (GByteArray) sent = g_byte_array_new ();
      for (guint i = 0; i < card->blocks->len; i++)
        {
          gsize len;
          const guint8 *d = g_bytes_get_data (g_ptr_array_index (card->blocks, i), &len);
          g_byte_array_append (sent, d, (guint) len);
        }
      FUZZ_CHECK (fuzz_bytes_equal (call->request, sent->data, sent->len));
      FUZZ_CHECK (g_bytes_get_size (response) <= 1024 * 1024);
    }
  g_ptr_array_set_size (card->blocks, 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Card card = { 0 };
  Call calls[N_CALLS] = { { 0 } };
  gboolean queued[N_CALLS];
  g_autoptr (LpaEs10) es10 = NULL;
  guint exchanges = 0;
  guint segment, min_segment;

  fuzz_setup ();
  if (size < 4 || size > INPUT_CAP)
    return 0;
  /* Four bytes of set-up: request length, segment size, step-down floor, channel. */
  card.data = data + 4;
  card.len = size - 4;
  card.channel = data[3] % 20;
  card.blocks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  card.last_reported_size = 256;
  g_queue_init (&card.pending);
  segment = data[1] ? data[1] : LPA_SEGMENT_SIZE_DEFAULT;
  min_segment = data[2] % 255 + 1;

  es10 = lpa_es10_new (&card_ops, &card, card.channel);
  lpa_es10_set_min_segment_size (es10, min_segment);
  lpa_es10_set_segment_size (es10, segment);
  lpa_es10_set_segment_size_callback (es10, on_size, &card);

  /* Two calls, so the second waits in the queue behind the first. */
  for (guint i = 0; i < N_CALLS; i++)
    {
      gsize len = i == 0 ? 1 + (gsize) data[0] * 3 : 3;
      g_autofree guint8 *request = g_malloc (len);
      g_autoptr (GError) error = NULL;

      for (gsize k = 0; k < len; k++)
        request[k] = (guint8) (k * 7 + i);
      calls[i].card = &card;
      calls[i].request = g_bytes_new_take (g_steal_pointer (&request), len);
      queued[i] = lpa_es10_call (es10, calls[i].request, on_done, &calls[i], &error);
      FUZZ_CHECK (queued[i] == (len <= lpa_es10_max_request_size (es10)));
      if (!queued[i])
        fuzz_check_error (error);
    }

  while (!g_queue_is_empty (&card.pending))
    {
      Pending *p = g_queue_pop_head (&card.pending);

      FUZZ_CHECK (++exchanges < MAX_EXCHANGES);
      card_answer (&card, p);
      g_free (p);
    }

  for (guint i = 0; i < N_CALLS; i++)
    {
      /* Exactly one answer per accepted call, none for a refused one. */
      FUZZ_CHECK (calls[i].calls == (queued[i] ? 1u : 0u));
      g_bytes_unref (calls[i].request);
    }
  FUZZ_CHECK (lpa_es10_get_apdus_sent (es10) == exchanges);
  g_ptr_array_unref (card.blocks);
  return 0;
}
