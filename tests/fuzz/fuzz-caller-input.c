/* fuzz-caller-input.c — libFuzzer harness of what esimd reads from a D-Bus caller's strings:
 * the confirmation code (Manager.Download, Job.SupplyConfirmationCode), the matching ID and
 * SM-DP+ address options, a nickname, an ICCID naming a profile, and the text echoed back. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

/* Every argument is short (a code 32 bytes, a nickname 64, an activation code 255); a little
 * more reaches each length rule from both sides. */
#define INPUT_CAP 1024

/* A valid ICCID for requests built around the caller's text. */
#define ICCID "89000123456789012341"

static void
check_strip (const char *text, char **stripped)
{
  g_autofree char *again = NULL;

  *stripped = lpa_text_strip (text);
  FUZZ_CHECK (*stripped != NULL);
  /* A piece of the text, and nothing more to strip from it. */
  FUZZ_CHECK (strstr (text, *stripped) != NULL);
  again = lpa_text_strip (*stripped);
  FUZZ_CHECK (strcmp (again, *stripped) == 0);
}

/* As bus-job.c and job-download.c read a code: stripped, then checked; a code that passes can
 * be hashed with a transaction ID (what goes to the server). */
static void
check_confirmation_code (const char *stripped)
{
  static const guint8 tid[] = { 0x01, 0x02, 0x03, 0x04 };
  g_autoptr (GBytes) transaction_id = g_bytes_new_static (tid, sizeof tid);
  guint8 hash[32];

  if (lpa_confirmation_code_problem (stripped))
    return;
  FUZZ_CHECK (*stripped != '\0' && strlen (stripped) <= LPA_CONFIRMATION_CODE_MAX);
  FUZZ_CHECK (lpa_text_is_clean (stripped, -1, LPA_TEXT_ONE_LINE));
  lpa_hash_cc (stripped, transaction_id, hash);
}

/* "1$address$matching-id": what an activation code of these fields needs. */
static gsize
ac_length (const LpaActivationCode *ac)
{
  return strlen ("1$$") + strlen (ac->smdp_address) + strlen (ac->matching_id);
}

/* A matching ID and address the download accepts make an activation code that reads back. */
static void
check_matching_id (const char *stripped)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaActivationCode) again = NULL;
  g_autofree char *built = NULL;
  LpaActivationCode ac = { 0 };

  if (lpa_matching_id_problem (stripped))
    return;
  ac.smdp_address = (char *) "smdp.example.com";
  ac.matching_id = (char *) stripped;
  /* The options reach the server without an activation code, whose 255 characters they may
   * exceed together; a code is only refused for that. */
  if (!(built = lpa_activation_code_to_string (&ac, FALSE, &error)))
    {
      FUZZ_CHECK (ac_length (&ac) > 255);
      return;
    }
  again = lpa_activation_code_parse (built, &error);
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (strcmp (again->matching_id, stripped) == 0);
}

static void
check_address (const char *stripped)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaActivationCode) again = NULL;
  g_autofree char *built = NULL;
  LpaActivationCode ac = { 0 };

  if (!lpa_host_name_is_valid (stripped))
    return;
  FUZZ_CHECK (lpa_text_is_clean (stripped, -1, LPA_TEXT_ONE_LINE));
  ac.smdp_address = (char *) stripped;
  ac.matching_id = (char *) "";
  if (!(built = lpa_activation_code_to_string (&ac, FALSE, &error)))
    {
      FUZZ_CHECK (ac_length (&ac) > 255);
      return;
    }
  again = lpa_activation_code_parse (built, &error);
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (strcmp (again->smdp_address, stripped) == 0);
}

/* A nickname that passes is sent to the card byte for byte in SetNickname's request. */
static void
check_nickname (const char *nickname)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) request = NULL;
  const char *problem = lpa_nickname_problem (nickname);
  LpaTlv outer, child;

  request = lpa_es10c_set_nickname_request (ICCID, nickname, &error);
  if (problem)
    {
      FUZZ_CHECK (request == NULL);
      fuzz_check_error (error);
      FUZZ_CHECK (error->code == LPA_ERROR_INVALID_ARGUMENT);
      return;
    }
  FUZZ_CHECK (request != NULL);
  FUZZ_CHECK (
      lpa_der_parse (g_bytes_get_data (request, NULL), g_bytes_get_size (request), &outer, NULL));
  FUZZ_CHECK (outer.tag == 0xBF29u);
  FUZZ_CHECK (lpa_der_get_child (&outer, 0x90, &child, NULL));
  FUZZ_CHECK (child.value_len == strlen (nickname) &&
              (child.value_len == 0 || memcmp (child.value, nickname, child.value_len) == 0));
}

/* A caller's ICCID is the listed form or nothing; the listed form is a fixed point and goes to
 * the card's BCD and back unchanged. */
static void
check_iccid (const char *text)
{
  g_autofree char *canonical = lpa_iccid_canonical (text);
  g_autofree char *again = NULL;
  g_autofree char *back = NULL;
  guint8 bcd[LPA_ICCID_BCD_LEN];

  if (!canonical)
    return;
  FUZZ_CHECK (lpa_iccid_is_valid (canonical));
  again = lpa_iccid_canonical (canonical);
  FUZZ_CHECK (again && strcmp (again, canonical) == 0);
  FUZZ_CHECK (lpa_iccid_to_bcd (canonical, bcd, NULL));
  back = lpa_iccid_from_bcd (bcd, sizeof bcd);
  FUZZ_CHECK (back && strcmp (back, canonical) == 0);
}

/* What is echoed of a caller's text in an error: clean, one line, cut. */
static void
check_shown (const char *text)
{
  g_autofree char *shown = lpa_text_sanitize (text, -1, 64, LPA_TEXT_ONE_LINE);

  FUZZ_CHECK (shown != NULL);
  FUZZ_CHECK (lpa_text_is_clean (shown, -1, LPA_TEXT_ONE_LINE));
  FUZZ_CHECK (strlen (shown) <= 64 + strlen ("…"));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (LpaSecret) stripped = NULL;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  /* A D-Bus string: up to the first NUL. sd-bus refuses a string that is not UTF-8, but esimctl
   * and liblpa's other users may hand over anything: the checks must refuse it, not trip. */
  text = g_strndup ((const char *) data, size);
  check_strip (text, &stripped);
  check_confirmation_code (stripped);
  check_matching_id (stripped);
  check_address (stripped);
  check_nickname (text);
  check_iccid (text);
  check_shown (text);
  return 0;
}
