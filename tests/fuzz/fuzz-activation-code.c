/* fuzz-activation-code.c — libFuzzer harness of activation code parsing and building. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

/* Codes are at most 255 characters; a little more reaches the length rule from both sides. */
#define INPUT_CAP 1024

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaActivationCode) ac = NULL;
  g_autoptr (LpaActivationCode) again = NULL;
  g_autofree char *built = NULL;
  g_autofree char *built_qr = NULL;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  /* The code arrives as a C string (QR scanner, D-Bus argument): up to the first NUL. */
  text = g_strndup ((const char *) data, size);
  lpa_host_name_is_valid (text);

  if (!(ac = lpa_activation_code_parse (text, &error)))
    {
      fuzz_check_error (error);
      FUZZ_CHECK (error->code == LPA_ERROR_INVALID_ACTIVATION_CODE);
      return 0;
    }
  FUZZ_CHECK (ac->smdp_address && lpa_host_name_is_valid (ac->smdp_address));
  FUZZ_CHECK (ac->matching_id != NULL);
  for (const char *p = ac->matching_id; *p; p++)
    FUZZ_CHECK (g_ascii_isalnum (*p) || *p == '-');

  /* Whatever parses builds back into a code that parses to the same fields. */
  built = lpa_activation_code_to_string (ac, FALSE, &error);
  FUZZ_CHECK (built != NULL);
  built_qr = lpa_activation_code_to_string (ac, TRUE, &error);
  FUZZ_CHECK (built_qr && g_str_has_prefix (built_qr, "LPA:") && strcmp (built_qr + 4, built) == 0);
  again = lpa_activation_code_parse (built_qr, &error);
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (strcmp (again->smdp_address, ac->smdp_address) == 0);
  FUZZ_CHECK (strcmp (again->matching_id, ac->matching_id) == 0);
  FUZZ_CHECK (g_strcmp0 (again->smdp_oid, ac->smdp_oid) == 0);
  FUZZ_CHECK (again->cc_required == ac->cc_required);
  return 0;
}
