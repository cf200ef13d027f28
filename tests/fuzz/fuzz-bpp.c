/* fuzz-bpp.c — libFuzzer harness of Bound Profile Package segmentation and metadata extraction. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

#define INPUT_CAP (256 * 1024)

/* The segments are slices of the BPP in order and, put together, are the BPP: not a byte is
 * dropped, repeated or re-encoded (the eUICC MACs and hashes exactly what the server sent). */
static void
check_segments (GBytes *bpp, GPtrArray *segments)
{
  gsize bpp_len, offset = 0;
  const guint8 *base = g_bytes_get_data (bpp, &bpp_len);
  LpaTlv first;

  FUZZ_CHECK (segments->len >= 5);
  for (guint i = 0; i < segments->len; i++)
    {
      gsize len;
      const guint8 *seg = g_bytes_get_data (g_ptr_array_index (segments, i), &len);

      FUZZ_CHECK (len > 0);
      FUZZ_CHECK (seg == base + offset);
      offset += len;
    }
  FUZZ_CHECK (offset == bpp_len);
  /* The first segment is BF36's header followed by the whole BF23. */
  {
    gsize len;
    const guint8 *seg = g_bytes_get_data (g_ptr_array_index (segments, 0), &len);
    LpaTlv bf23;

    FUZZ_CHECK (lpa_der_parse (base, bpp_len, &first, NULL) && first.tag == 0xBF36);
    FUZZ_CHECK (len > first.header_len);
    FUZZ_CHECK (
        lpa_der_parse_expect (seg + first.header_len, len - first.header_len, 0xBF23, &bf23, NULL));
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bpp = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (GBytes) bf25 = NULL;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  bpp = fuzz_bytes (data, size);

  if ((segments = lpa_bpp_segments (bpp, &error)))
    check_segments (bpp, segments);
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((bf25 = lpa_bpp_metadata (bpp, &error)))
    {
      g_autoptr (LpaProfileInfo) metadata = NULL;
      LpaTlv tlv;

      /* Metadata comes only from a BPP that segments. */
      FUZZ_CHECK (segments != NULL);
      FUZZ_CHECK (lpa_der_parse_expect (g_bytes_get_data (bf25, NULL), g_bytes_get_size (bf25),
                                        0xBF25, &tlv, NULL));
      if ((metadata = lpa_profile_metadata_parse (bf25, &error)))
        FUZZ_CHECK (metadata->iccid && metadata->service_provider_name && metadata->profile_name);
      else
        fuzz_check_error (error);
    }
  else
    fuzz_check_error (error);
  return 0;
}
