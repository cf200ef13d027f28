/* fuzz-es11.c — libFuzzer harness of the ES11 authenticateClient response parser (event list). */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

#define INPUT_CAP (64 * 1024)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) r = NULL;
  g_autofree char *hex = NULL;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  /* ES11's status handling is es9p.c's (fuzz-es9p covers it): the body is the whole input. */
  body = fuzz_bytes (data, size);
  if (!(r = lpa_es11_parse_authenticate_client (200, body, &error)))
    {
      fuzz_check_error (error);
      return 0;
    }
  FUZZ_CHECK (r->transaction_id && r->transaction_id_bin && r->events);
  hex = lpa_hex_encode_bytes (r->transaction_id_bin);
  FUZZ_CHECK (g_ascii_strcasecmp (hex, r->transaction_id) == 0);
  /* At most LPA_ES11_MAX_EVENTS kept; an answer whose every entry is unusable is refused, not
   * an empty list with the entries counted as skipped. */
  FUZZ_CHECK (r->events->len <= LPA_ES11_MAX_EVENTS);
  FUZZ_CHECK (r->events->len > 0 || r->skipped == 0);
  for (guint i = 0; i < r->events->len; i++)
    {
      const LpaEventEntry *e = g_ptr_array_index (r->events, i);
      g_autoptr (LpaActivationCode) ac = NULL;
      g_autofree char *text = NULL;

      FUZZ_CHECK (e->event_id != NULL);
      /* Discover returns it over D-Bus: text D-Bus takes, on one line. */
      FUZZ_CHECK (lpa_text_is_clean (e->event_id, -1, LPA_TEXT_ONE_LINE));
      /* A download takes it as its matching ID: one the download's check accepts. */
      FUZZ_CHECK (*e->event_id != '\0' && lpa_matching_id_problem (e->event_id) == NULL);
      FUZZ_CHECK (e->rsp_server_address && lpa_host_name_is_valid (e->rsp_server_address));
      /* The discovery turns each event into a download from that server: the address must make
       * an activation code the parser takes back. */
      text = g_strdup_printf ("1$%s$", e->rsp_server_address);
      ac = lpa_activation_code_parse (text, NULL);
      FUZZ_CHECK (ac && strcmp (ac->smdp_address, e->rsp_server_address) == 0);
    }
  return 0;
}
